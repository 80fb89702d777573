// Byte-pair encoding of single words (see cook/text/bpe.h): the merge table and the two merge loops.
#include "cook/text/bpe.h"

#include <algorithm>

namespace cook::text {
namespace {

inline std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
  return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}

inline std::uint64_t hash_key(std::uint64_t key) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ull;
  key ^= key >> 32;
  return key;
}

}  // namespace

BpeModel::BpeModel(const std::array<std::int32_t, 256>& byte_ids, const std::vector<BpeMerge>& merges)
    : byte_ids_(byte_ids), merge_count_(merges.size()) {
  std::size_t capacity = 16;
  while (capacity < merges.size() * 2 + 1) capacity *= 2;  // load factor <= 1/2
  slots_.assign(capacity, Slot{kEmptyKey, kNoRank, -1});
  mask_ = capacity - 1;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const BpeMerge& m = merges[rank];
    const std::uint64_t key = pair_key(m.left, m.right);
    std::uint64_t i = hash_key(key) & mask_;
    while (slots_[i].key != kEmptyKey && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == key) continue;  // duplicate pair: the first (best) rank stays
    slots_[i] = Slot{key, std::uint32_t(rank), m.merged};
  }
}

const BpeModel::Slot* BpeModel::find(std::int32_t left, std::int32_t right) const {
  const std::uint64_t key = pair_key(left, right);
  std::uint64_t i = hash_key(key) & mask_;
  for (;;) {
    const Slot& s = slots_[i];
    if (s.key == key) return &s;
    if (s.key == kEmptyKey) return nullptr;
    i = (i + 1) & mask_;
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<std::int32_t>* out) const {
  if (word.size() == 1) {
    out->push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
  } else if (word.size() <= kRoundsMaxLength) {
    encode_word_rounds(word, out);
  } else {
    encode_word_heap(word, out);
  }
}

void BpeModel::encode_word_rounds(std::string_view word, std::vector<std::int32_t>* out) const {
  // Per-word arrays on the stack for short words; a heap buffer only for long ones.
  constexpr std::size_t kInline = kRoundsMaxLength;
  std::int32_t sym_inline[kInline], merged_inline[kInline];
  std::uint32_t rank_inline[kInline], from_inline[kInline];
  bool fresh_inline[kInline];
  std::vector<std::int32_t> sym_heap, merged_heap;
  std::vector<std::uint32_t> rank_heap, from_heap;
  std::vector<char> fresh_heap;
  std::int32_t* sym = sym_inline;
  std::int32_t* merged = merged_inline;
  std::uint32_t* rank = rank_inline;  // rank[k]: the rank of the pair (sym[k], sym[k + 1])
  std::uint32_t* from = from_inline;  // during a round: where an unchanged symbol was before it
  bool* fresh = fresh_inline;         // during a round: whether a symbol was just made by a merge
  std::size_t n = word.size();
  if (n > kInline) {
    sym_heap.resize(n), merged_heap.resize(n), rank_heap.resize(n), from_heap.resize(n), fresh_heap.resize(n);
    sym = sym_heap.data(), merged = merged_heap.data(), rank = rank_heap.data(), from = from_heap.data();
    fresh = reinterpret_cast<bool*>(fresh_heap.data());
  }

  auto look_up = [&](std::size_t k) {
    const Slot* s = find(sym[k], sym[k + 1]);
    rank[k] = s ? s->rank : kNoRank;
    merged[k] = s ? s->merged : -1;
  };
  for (std::size_t k = 0; k < n; ++k) sym[k] = byte_ids_[static_cast<unsigned char>(word[k])];
  for (std::size_t k = 0; k + 1 < n; ++k) look_up(k);

  while (n > 1) {
    const std::uint32_t best = *std::min_element(rank, rank + n - 1);
    if (best == kNoRank) break;
    // Merge every occurrence of the best pair, left to right, compacting in place.
    std::size_t w = 0;
    for (std::size_t k = 0; k < n; ++w) {
      if (k + 1 < n && rank[k] == best) {
        sym[w] = merged[k];
        fresh[w] = true;
        k += 2;
      } else {
        sym[w] = sym[k];
        fresh[w] = false;
        from[w] = std::uint32_t(k);
        k += 1;
      }
    }
    // Two unchanged neighbours were neighbours before, so their pair's rank carries over (from[w] >=
    // w, so reading the old entry in increasing w never sees an overwritten one).
    for (std::size_t k = 0; k + 1 < w; ++k) {
      if (!fresh[k] && !fresh[k + 1]) {
        rank[k] = rank[from[k]];
        merged[k] = merged[from[k]];
      } else {
        look_up(k);
      }
    }
    n = w;
  }
  out->insert(out->end(), sym, sym + n);
}

void BpeModel::encode_word_heap(std::string_view word, std::vector<std::int32_t>* out) const {
  const std::size_t n = word.size();
  if (n == 0) return;
  // 12 bytes a byte of input, and 8 per live candidate pair (stale ones are dropped before the heap
  // would grow): a 50 MB word needs about 1 GB.
  struct Symbol {
    std::int32_t id;    // kMergedAway once merged into its left neighbour
    std::int32_t prev;  // -1 at the start
    std::int32_t next;  // -1 at the end
  };
  constexpr std::int32_t kMergedAway = -1;
  std::vector<Symbol> symbols(n);
  for (std::size_t k = 0; k < n; ++k) {
    symbols[k] = Symbol{byte_ids_[static_cast<unsigned char>(word[k])], std::int32_t(k) - 1,
                        k + 1 < n ? std::int32_t(k + 1) : -1};
  }
  // A candidate merge of the pair starting at symbol `pos`, ordered by rank, then leftmost first.
  struct Candidate {
    std::uint32_t rank;
    std::int32_t pos;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  // A min-heap (std::push_heap/pop_heap with greater) rather than std::priority_queue, so that it can
  // drop its stale entries instead of doubling its storage (see push_all below).
  std::vector<Candidate> queue;
  const auto after = std::greater<Candidate>();
  // Pairs created during a round wait here until the round ends: the reference algorithm merges all
  // occurrences of one pair before it looks at any other (even a better-ranked new one).
  std::vector<Candidate> pending;
  auto consider = [&](std::int32_t pos, std::vector<Candidate>* into) {
    const std::int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Slot* s = find(symbols[pos].id, symbols[next].id)) into->push_back(Candidate{s->rank, pos});
  };
  {
    std::vector<Candidate> initial;
    std::size_t pairs = 0;
    for (std::size_t k = 0; k + 1 < n; ++k) pairs += find(symbols[k].id, symbols[k + 1].id) != nullptr;
    initial.reserve(pairs);  // exactly: no doubling of a vector the size of the word
    for (std::size_t k = 0; k + 1 < n; ++k) consider(std::int32_t(k), &initial);
    queue = std::move(initial);
    std::make_heap(queue.begin(), queue.end(), after);
  }
  // A candidate is stale once its left symbol was merged away or its pair changed; a pair never
  // comes back (its tokens only grow), so a stale entry stays stale and is skipped when popped.
  auto live = [&](const Candidate& c) {
    const Symbol& left = symbols[c.pos];
    if (left.id == kMergedAway || left.next < 0) return false;
    const Slot* s = find(left.id, symbols[left.next].id);
    return s != nullptr && s->rank == c.rank;
  };
  auto push_all = [&](const std::vector<Candidate>& fresh) {
    if (queue.size() + fresh.size() > queue.capacity()) {  // drop the stale before growing
      queue.erase(std::remove_if(queue.begin(), queue.end(), [&](const Candidate& c) { return !live(c); }), queue.end());
      std::make_heap(queue.begin(), queue.end(), after);
    }
    for (const Candidate& c : fresh) {
      queue.push_back(c);
      std::push_heap(queue.begin(), queue.end(), after);
    }
  };

  std::uint32_t round = kNoRank;
  for (;;) {
    if (!pending.empty() && (queue.empty() || queue.front().rank != round)) {
      push_all(pending);
      pending.clear();
    }
    if (queue.empty()) break;
    std::pop_heap(queue.begin(), queue.end(), after);
    const Candidate top = queue.back();
    queue.pop_back();
    round = top.rank;
    if (!live(top)) continue;
    Symbol& left = symbols[top.pos];
    Symbol& right = symbols[left.next];
    const Slot* s = find(left.id, right.id);
    left.id = s->merged;
    right.id = kMergedAway;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev, &pending);
    consider(top.pos, &pending);
  }
  for (std::int32_t k = 0; k >= 0; k = symbols[k].next) out->push_back(symbols[k].id);
}

}  // namespace cook::text

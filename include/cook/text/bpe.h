// Byte-pair encoding of one pre-token, on token ids: the word starts as one token per byte, then the
// best-ranked (earliest) merge among adjacent pairs is applied, to every non-overlapping occurrence
// left to right, round after round, until no adjacent pair has a merge. This is the reference
// algorithm of GPT-2's encoder.py / gpt-3-encoder's bpe(), done on ids instead of strings.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cook::text {

// One merge rule: the pair (left, right) becomes `merged`. A merge's rank is its index in the list.
struct BpeMerge {
  std::int32_t left;
  std::int32_t right;
  std::int32_t merged;
};

class BpeModel {
 public:
  BpeModel() = default;
  // byte_ids[b] is the id of the one-byte token b. A pair listed twice keeps its first rank.
  BpeModel(const std::array<std::int32_t, 256>& byte_ids, const std::vector<BpeMerge>& merges);

  // Appends the token ids of `word` (raw bytes, one pre-token) to *out.
  void encode_word(std::string_view word, std::vector<std::int32_t>* out) const;

  // The two implementations encode_word chooses between by word length; they give the same ids
  // (tested). Rounds: re-scans the word per round, fastest on short words. Heap: a priority queue
  // of candidate pairs, O(n log n) on long words (e.g. a 100 kB run of digits or dashes).
  void encode_word_rounds(std::string_view word, std::vector<std::int32_t>* out) const;
  void encode_word_heap(std::string_view word, std::vector<std::int32_t>* out) const;

  std::size_t merge_count() const { return merge_count_; }

  // Words longer than this (in bytes) use the heap implementation.
  static constexpr std::size_t kRoundsMaxLength = 64;

 private:
  static constexpr std::uint32_t kNoRank = 0xFFFFFFFFu;
  struct Slot {
    std::uint64_t key;  // (left << 32) | right, or kEmptyKey
    std::uint32_t rank;
    std::int32_t merged;
  };
  static constexpr std::uint64_t kEmptyKey = ~std::uint64_t{0};

  // The slot of the merge of (left, right), or nullptr when that pair does not merge.
  const Slot* find(std::int32_t left, std::int32_t right) const;

  std::array<std::int32_t, 256> byte_ids_{};
  std::vector<Slot> slots_;  // open addressing, linear probing, power-of-two size
  std::uint64_t mask_ = 0;
  std::size_t merge_count_ = 0;
};

}  // namespace cook::text

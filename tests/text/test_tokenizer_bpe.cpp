// The BPE merge loops: both implementations against a direct transcription of the reference
// algorithm (encoder.py's bpe(), on ids), with random merge lists, including ones whose ranks no
// trained BPE would give; and on GPT-2's own merges for long words.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cook/core/paths.h"
#include "cook/core/resources.h"
#include "cook/text/bpe.h"
#include "cook/text/byte_level.h"
#include "cook/text/vocab_files.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

// encoder.py's bpe(): each round finds the best-ranked adjacent pair and merges every occurrence,
// left to right.
std::vector<int32_t> reference_bpe(const std::string& word, const std::array<int32_t, 256>& byte_ids,
                                   const std::map<std::pair<int32_t, int32_t>, std::pair<size_t, int32_t>>& ranks) {
  std::vector<int32_t> w;
  for (unsigned char b : word) w.push_back(byte_ids[b]);
  while (w.size() > 1) {
    size_t best = SIZE_MAX;
    std::pair<int32_t, int32_t> bigram;
    int32_t merged = -1;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      auto it = ranks.find({w[i], w[i + 1]});
      if (it != ranks.end() && it->second.first < best) {
        best = it->second.first;
        bigram = it->first;
        merged = it->second.second;
      }
    }
    if (best == SIZE_MAX) break;
    std::vector<int32_t> next;
    for (size_t i = 0; i < w.size();) {
      if (i + 1 < w.size() && w[i] == bigram.first && w[i + 1] == bigram.second) {
        next.push_back(merged);
        i += 2;
      } else {
        next.push_back(w[i++]);
      }
    }
    w = next;
  }
  return w;
}

struct RandomBpe {
  std::array<int32_t, 256> byte_ids{};
  std::vector<BpeMerge> merges;
  std::map<std::pair<int32_t, int32_t>, std::pair<size_t, int32_t>> ranks;
};

// A 4-letter alphabet (bytes 'a'..'d'), and merges built from random pairs of existing tokens,
// then shuffled so that ranks need not follow creation order.
RandomBpe make_random_bpe(std::mt19937& rng, int merge_count, bool shuffle) {
  RandomBpe r;
  for (int b = 0; b < 256; ++b) r.byte_ids[b] = b;
  std::vector<int32_t> tokens = {'a', 'b', 'c', 'd'};
  int32_t next_id = 256;
  while (int(r.merges.size()) < merge_count) {
    const int32_t left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
    if (r.ranks.count({left, right})) continue;
    r.ranks[{left, right}] = {0, next_id};
    r.merges.push_back({left, right, next_id});
    tokens.push_back(next_id++);
  }
  if (shuffle) std::shuffle(r.merges.begin(), r.merges.end(), rng);
  for (size_t i = 0; i < r.merges.size(); ++i) r.ranks[{r.merges[i].left, r.merges[i].right}] = {i, r.merges[i].merged};
  return r;
}

std::string random_word(std::mt19937& rng, size_t length) {
  std::string w(length, 'a');
  for (char& c : w) c = char('a' + rng() % 4);
  return w;
}

TEST(TokenizerBpe, BothLoopsMatchTheReferenceOnRandomMerges) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 60; ++trial) {
    const RandomBpe r = make_random_bpe(rng, 8 + int(rng() % 60), /*shuffle=*/trial % 2 == 1);
    const BpeModel model(r.byte_ids, r.merges);
    for (int k = 0; k < 200; ++k) {
      const std::string word = random_word(rng, 1 + rng() % 40);
      const std::vector<int32_t> expected = reference_bpe(word, r.byte_ids, r.ranks);
      std::vector<int32_t> rounds, heap, chosen;
      model.encode_word_rounds(word, &rounds);
      model.encode_word_heap(word, &heap);
      model.encode_word(word, &chosen);
      ASSERT_EQ(rounds, expected) << "trial " << trial << " word " << word;
      ASSERT_EQ(heap, expected) << "trial " << trial << " word " << word;
      ASSERT_EQ(chosen, expected) << "trial " << trial << " word " << word;
    }
  }
}

TEST(TokenizerBpe, RepeatedPairsMergeLeftToRight) {
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) byte_ids[b] = b;
  const BpeModel model(byte_ids, {{'a', 'a', 300}, {300, 'a', 301}});
  for (auto encode : {&BpeModel::encode_word_rounds, &BpeModel::encode_word_heap}) {
    std::vector<int32_t> out;
    (model.*encode)("aaa", &out);  // (aa)a, not a(aa); then (aa)a merges
    EXPECT_EQ(out, (std::vector<int32_t>{301}));
    out.clear();
    (model.*encode)("aaaa", &out);
    EXPECT_EQ(out, (std::vector<int32_t>{300, 300}));
    out.clear();
    (model.*encode)("aaaaa", &out);
    EXPECT_EQ(out, (std::vector<int32_t>{300, 301}));
  }
}

TEST(TokenizerBpe, DuplicatePairKeepsFirstRank) {
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) byte_ids[b] = b;
  const BpeModel model(byte_ids, {{'x', 'y', 300}, {'x', 'y', 301}});
  std::vector<int32_t> out;
  model.encode_word("xy", &out);
  EXPECT_EQ(out, (std::vector<int32_t>{300}));
}

// GPT-2's merges, as ids, built here from the raw files.
struct Gpt2Bpe {
  BpeModel model;
  std::array<int32_t, 256> byte_ids{};
  std::map<std::pair<int32_t, int32_t>, std::pair<size_t, int32_t>> ranks;
};

const Gpt2Bpe& gpt2_bpe() {
  static const Gpt2Bpe bpe = [] {
    const std::string dir = cook::default_tokenizer_dir();
    const VocabData data = read_gpt2_vocab(dir + "/encoder.json", dir + "/vocab.bpe");
    std::map<std::string, int32_t> id_of;
    for (size_t i = 0; i < data.spellings.size(); ++i) id_of[data.spellings[i]] = int32_t(i);
    Gpt2Bpe g;
    for (int b = 0; b < 256; ++b) g.byte_ids[b] = id_of.at(bytes_to_spelling(std::string(1, char(b))));
    std::vector<BpeMerge> merges;
    for (size_t i = 0; i < data.merges.size(); ++i) {
      const auto& m = data.merges[i];
      merges.push_back({id_of.at(m.left), id_of.at(m.right), id_of.at(m.left + m.right)});
      g.ranks.emplace(std::make_pair(merges.back().left, merges.back().right), std::make_pair(i, merges.back().merged));
    }
    g.model = BpeModel(g.byte_ids, merges);
    return g;
  }();
  return bpe;
}

TEST(TokenizerBpe, Gpt2MergesLongWords) {
  const Gpt2Bpe& g = gpt2_bpe();
  EXPECT_EQ(g.model.merge_count(), 50000u);
  std::mt19937 rng(99);
  std::vector<std::string> words = {std::string(300, '-'), std::string(257, '='), std::string(500, '9'),
                                    " " + std::string(200, 'a'), "Supercalifragilisticexpialidocious"};
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  for (int k = 0; k < 50; ++k) {
    std::string w = " ";
    for (size_t i = 0, n = 60 + rng() % 200; i < n; ++i) w += letters[rng() % letters.size()];
    words.push_back(w);
    std::string d;
    for (size_t i = 0, n = 65 + rng() % 300; i < n; ++i) d += char('0' + rng() % 10);
    words.push_back(d);
  }
  for (const std::string& w : words) {
    const std::vector<int32_t> expected = reference_bpe(w, g.byte_ids, g.ranks);
    std::vector<int32_t> rounds, heap;
    g.model.encode_word_rounds(w, &rounds);
    g.model.encode_word_heap(w, &heap);
    EXPECT_EQ(rounds, expected) << w;
    EXPECT_EQ(heap, expected) << w;
  }
}

// One enormous pre-token (a 50 MB word took 2.4 GiB to tokenize): the heap loop holds 12 bytes a
// byte and its candidate pairs, dropping stale ones rather than doubling its storage. Measured on
// an 8 MB word: 35 bytes a byte of input before, 25 after; the bound leaves room for the
// allocator.
TEST(TokenizerBpe, AnEnormousWordNeedsBoundedMemory) {
  if (!cook::reset_peak_resident_memory()) GTEST_SKIP() << "the kernel does not reset the peak resident size here";
  const std::size_t n = 8u << 20;
  std::string word(n, 'a');
  for (std::size_t i = 0; i < n; ++i) word[i] = "etaoinshrdlu"[(i * 7 + i / 3) % 12];
  const Tokenizer& tokenizer = tok_test::gpt2();
  const int64_t before = cook::resident_memory_bytes();
  ASSERT_TRUE(cook::reset_peak_resident_memory());
  const std::vector<std::int32_t> ids = tokenizer.encode(word);
  const double per_byte = double(cook::peak_resident_memory_bytes() - before) / double(n);
  EXPECT_GT(ids.size(), n / 4);
  EXPECT_LT(per_byte, 30.0) << "bytes of memory per byte of input";
}

}  // namespace
}  // namespace cook::text

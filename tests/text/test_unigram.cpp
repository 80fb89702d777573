// The unigram baseline against its formula computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/text/unigram.h"
#include "test_token_data_util.h"

namespace cook::text {
namespace {

using namespace test_util;

TEST(Unigram, IsTheAddOneSmoothedTrainFrequency) {
  TempDir dir;
  // train: id 1 ×3, id 2 ×1 (4 tokens); vocabulary 10; validation: 1, 2, 5.
  write_splits(dir.path(), {{1, 1, 2}, {1}}, {{1, 2, 5}}, 8, /*vocab_size=*/10);
  const auto u = unigram_baseline(TokenDataset::open(dir.path(), kTrainSplit),
                                  TokenDataset::open(dir.path(), kValidationSplit), 10);
  const double expected = -(std::log(4.0 / 14) + std::log(2.0 / 14) + std::log(1.0 / 14)) / 3.0;
  EXPECT_EQ(u.tokens, 3);
  EXPECT_NEAR(u.loss, expected, 1e-12);
  EXPECT_NEAR(u.perplexity, std::exp(expected), 1e-9);
}

TEST(Unigram, RejectsIdsBeyondTheVocabularyAndAnEmptySplit) {
  TempDir dir;
  write_splits(dir.path(), {{1, 7}}, {}, 8, /*vocab_size=*/10);
  const auto train = TokenDataset::open(dir.path(), kTrainSplit);
  const auto valid = TokenDataset::open(dir.path(), kValidationSplit);
  EXPECT_THROW(unigram_baseline(train, valid, 5), Error);
  EXPECT_THROW(unigram_baseline(train, valid, 10), Error);  // empty validation split
}

}  // namespace
}  // namespace cook::text

#include "cook/text/unigram.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cook/core/error.h"

namespace cook::text {

namespace {

// Calls visit(id) for every token of `data`, reading in chunks.
template <typename Visit>
void for_each_token(const TokenDataset& data, Visit visit) {
  constexpr int64_t kChunk = 1 << 16;
  std::vector<int64_t> buffer(kChunk);
  for (int64_t start = 0; start < data.num_tokens(); start += kChunk) {
    const int64_t n = std::min(kChunk, data.num_tokens() - start);
    data.read(start, n, buffer.data());
    for (int64_t i = 0; i < n; ++i) visit(buffer[i]);
  }
}

}  // namespace

UnigramBaseline unigram_baseline(const TokenDataset& train, const TokenDataset& eval, int64_t vocab_size) {
  if (vocab_size <= 0) throw Error("unigram baseline", "vocabulary size must be positive");
  std::vector<int64_t> counts(vocab_size, 0);
  for_each_token(train, [&](int64_t id) {
    if (id < 0 || id >= vocab_size)
      throw Error(train.dir() + " (" + train.split() + ")", "token id " + std::to_string(id) + " is outside the vocabulary");
    ++counts[id];
  });
  const double denominator = static_cast<double>(train.num_tokens() + vocab_size);
  UnigramBaseline result;
  double nll = 0.0;
  for_each_token(eval, [&](int64_t id) {
    if (id < 0 || id >= vocab_size)
      throw Error(eval.dir() + " (" + eval.split() + ")", "token id " + std::to_string(id) + " is outside the vocabulary");
    nll -= std::log((static_cast<double>(counts[id]) + 1.0) / denominator);
    ++result.tokens;
  });
  if (result.tokens == 0) throw Error(eval.dir() + " (" + eval.split() + ")", "the split is empty");
  result.loss = nll / static_cast<double>(result.tokens);
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace cook::text

// The simplest language model worth beating: each token's probability is its frequency in the
// training split (add-one smoothed over the vocabulary), whatever came before it. A trained model's
// validation perplexity is judged against this one's.
#pragma once
#include <cstdint>

#include "cook/text/token_dataset.h"

namespace cook::text {

struct UnigramBaseline {
  double loss = 0.0;        // mean negative log-likelihood of the evaluated tokens, in nats
  double perplexity = 0.0;  // exp(loss)
  int64_t tokens = 0;       // tokens evaluated
};

// Fits on every token of `train`, evaluates on every token of `eval`. Token ids must be below
// `vocab_size` (an Error names the split otherwise).
UnigramBaseline unigram_baseline(const TokenDataset& train, const TokenDataset& eval, int64_t vocab_size);

}  // namespace cook::text

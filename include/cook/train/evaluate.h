// Mean next-token cross-entropy and perplexity of a model over an evaluation source.
#pragma once
#include <cstdint>

#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::train {

struct EvalResult {
  double loss = 0.0;  // mean token cross-entropy (nats)
  double perplexity = 0.0;
  int64_t tokens = 0;
};

// Runs in eval mode under no-grad on the model's device; restores the training mode after.
// `max_batches` 0 evaluates every batch of the source.
EvalResult evaluate(model::GptJ& model, const EvalSource& source, int64_t max_batches = 0);

// Cross-entropy of (B, T, V) logits against (B, T) labels, mean over the labels that are not
// kIgnoreLabel, computed in fp32.
torch::Tensor language_model_loss(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace cook::train

// How far a compressed model is from its reference on the same tokens (llama.cpp's
// --kl-divergence): both losses, the mean KL(reference ‖ model) of the next-token distributions
// and how often both put the same token first.
#pragma once
#include <cstdint>

#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::infer {

struct Comparison {
  double loss = 0.0;            // the model's mean next-token cross-entropy (nats)
  double reference_loss = 0.0;  // the reference's
  double kl = 0.0;              // mean over tokens of KL(reference ‖ model), nats
  double top1_agreement = 0.0;  // fraction of tokens whose argmax agrees
  int64_t tokens = 0;
};

// Over the labelled tokens of `source` (at most `max_batches`, 0 = all), in eval mode, no grad.
Comparison compare_to_reference(model::GptJ& model, model::GptJ& reference, const train::EvalSource& source,
                                int64_t max_batches = 0);

}  // namespace cook::infer

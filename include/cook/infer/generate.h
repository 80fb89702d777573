// Autoregressive generation of one sequence: the prompt, then one chosen token at a time until the
// stop token, max_new_tokens, or the end of the model's context.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "cook/infer/sampling.h"
#include "cook/model/gptj.h"

namespace cook::infer {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  int64_t stop_id = -1;        // generation ends when this token is chosen (it is not returned); -1: none
  int64_t vocab_limit = 0;     // only ids < vocab_limit are chosen (a tokenizer smaller than the model); 0: all
  bool use_cache = true;       // KV cache (forward_cached); false recomputes the full forward each step
  SamplingOptions sampling;
};

// The new tokens after `prompt` (at most max_new_tokens, fewer when the stop token comes or the
// context of n_positions is full). Runs without gradients. Throws cook::Error naming --prompt for an
// empty prompt or one that leaves no room in the context, --max-new-tokens when negative, and the
// sampling option at fault (see SamplingOptions::validate).
std::vector<int64_t> generate(model::GptJImpl& model, const std::vector<int64_t>& prompt, const GenerateOptions& options,
                              at::Generator& generator);

}  // namespace cook::infer

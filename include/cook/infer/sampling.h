// Choosing the next token from a model's logits: greedy (argmax), or sampling after temperature,
// top-k and top-p (nucleus) filtering, in that order, from a seeded generator.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace cook::infer {

struct SamplingOptions {
  bool greedy = false;       // argmax; also what temperature 0 means
  double temperature = 1.0;  // logits / temperature; ≥ 0
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = all
  double top_p = 1.0;        // keep the smallest set of most likely tokens with mass ≥ p; in (0, 1]

  bool is_greedy() const { return greedy || temperature == 0.0; }
  // Throws cook::Error naming the option (--temperature, --top-k, --top-p) of an impossible value.
  void validate() const;
};

// logits (B, V) → float32 (B, V) divided by the temperature, with every token that top-k or top-p
// leaves out set to -inf. At least one token per row (the most likely) always remains. Top-k keeps
// exactly k tokens (ties broken by index); top-p keeps the most likely tokens up to and including
// the first that brings their probability mass to ≥ p.
torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& options);

// The next token of each row, (B) int64 on the CPU: argmax when greedy, else drawn from
// softmax(filter_logits(logits)) with `generator` (a CPU generator; the same seed gives the same
// tokens).
torch::Tensor choose_next(const torch::Tensor& logits, const SamplingOptions& options, at::Generator& generator);

}  // namespace cook::infer

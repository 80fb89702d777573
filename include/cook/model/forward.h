// What a forward pass takes and returns. Callers ask for the intermediate tensors they need
// (distillation, MoEfication); plain training pays for nothing it did not ask for.
#pragma once
#include <vector>

#include <torch/torch.h>

namespace cook::model {

struct ForwardRequest {
  bool embedding = false;          // the token-embedding output
  bool hidden_states = false;      // every block's output (before ln_f), n_layer tensors
  bool final_hidden = false;       // the last hidden state after ln_f
  bool attention_scores = false;   // every block's pre-softmax scores q·kᵀ/√d, (B, H, T, T)
  bool ffn_inputs = false;         // every FFN's input (the ln_1 output), n_layer tensors
  bool logits = true;
};

struct ForwardInput {
  torch::Tensor input_ids;         // (B, T) int64
  // (B, T), 1 = token, 0 = padding; undefined means no padding. Masks keys; positions are 0..T-1.
  torch::Tensor attention_mask;
  ForwardRequest request;

  // Right padding described by per-sequence lengths (B) int64.
  static torch::Tensor mask_from_lengths(const torch::Tensor& lengths, int64_t seq_len);
};

struct ForwardOutput {
  torch::Tensor logits;                         // (B, T, vocab)
  torch::Tensor embedding;                      // (B, T, d)
  std::vector<torch::Tensor> hidden_states;     // n_layer × (B, T, d)
  torch::Tensor final_hidden;                   // (B, T, d)
  std::vector<torch::Tensor> attention_scores;  // n_layer × (B, H, T, T)
  std::vector<torch::Tensor> ffn_inputs;        // n_layer × (B, T, d)
};

}  // namespace cook::model

// GPT-J as Hugging Face's GPTJForCausalLM computes it: token embedding, n_layer parallel-residual
// blocks, ln_f, an untied LM head with bias.
//
// Parameter names (what checkpoints and compression methods see):
//   embed.weight
//   blocks.{i}.ln.weight|bias
//   blocks.{i}.attn.{q_proj,k_proj,v_proj,out_proj}.weight
//   blocks.{i}.ffn.fc_in.weight (F, d) and .bias (absent when fc_in_bias is false)
//   blocks.{i}.ffn.fc_out.weight (d, F) and .bias
//   ln_f.weight|bias
//   lm_head.weight|bias
//
// Dtypes: the model computes in its parameters' dtype (float32, or bfloat16 on a GPU); attention
// scores and softmax are always float32.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "cook/model/block.h"
#include "cook/model/config.h"
#include "cook/model/forward.h"
#include "cook/model/linear.h"

namespace cook::model {

class GptJImpl : public torch::nn::Module {
 public:
  // Validates the config (throws cook::Error) and initializes with init_weights(init_std, 0).
  explicit GptJImpl(const ModelConfig& config);

  // input_ids (B, T) integer, T ≤ n_positions, ids in [0, vocab_size); attention_mask (B, T) or
  // undefined. Throws cook::Error naming the input at fault.
  ForwardOutput forward(const ForwardInput& input);

  const ModelConfig& config() const { return config_; }
  // The blocks in order: holders that share the modules in block_list.
  std::vector<GptJBlock> blocks() const { return blocks_; }

  // normal(0, std) for every Linear's weight and the embedding, zeros for biases, ones/zeros for
  // the layer norms. Drawn on the CPU from `seed`, so the same on every device.
  void init_weights(double std, uint64_t seed);
  // The number of parameters this module holds now (a replaced FFN counts as what replaced it).
  int64_t parameter_count() const;

  torch::nn::Embedding embed{nullptr};
  torch::nn::ModuleList block_list{nullptr};  // registered as "blocks"
  torch::nn::LayerNorm ln_f{nullptr};
  cook::nn::Linear lm_head{nullptr};

 private:
  ModelConfig config_;
  std::vector<GptJBlock> blocks_;
};

TORCH_MODULE(GptJ);

}  // namespace cook::model

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

// The keys and values of the tokens a model has seen so far, for incremental decoding with
// GptJImpl::forward_cached. One entry per block, each (B, H, T_cached, head_dim) in the model's
// dtype, keys after rotary; empty until the first call. Holds tensors of one batch; clear() it
// (or use a new one) for another.
struct KvCache {
  struct Layer {
    torch::Tensor k, v;
  };
  std::vector<Layer> layers;

  // T_cached: the tokens seen so far, which is also the position of the next one.
  int64_t length() const { return layers.empty() || !layers[0].k.defined() ? 0 : layers[0].k.size(2); }
  void clear() { layers.clear(); }
};

class GptJImpl : public torch::nn::Module {
 public:
  // Validates the config (throws cook::Error) and initializes with init_weights(init_std, 0).
  explicit GptJImpl(const ModelConfig& config);

  // input_ids (B, T) integer, T ≤ n_positions, ids in [0, vocab_size); attention_mask (B, T) or
  // undefined. Throws cook::Error naming the input at fault.
  ForwardOutput forward(const ForwardInput& input);

  // Incremental decoding: runs input_ids (B, T_new) as the tokens at positions
  // cache.length()..cache.length()+T_new-1, attending causally over the cached tokens and the
  // new ones, and appends the new keys and values to the cache. Prefill (an empty cache, the
  // whole prompt) then one token at a time computes the logits forward() computes for the whole
  // sequence. No padding; the batch must match the cache's. Returns logits (B, T_new, vocab) only.
  // Throws cook::Error naming input_ids for a bad input or a position ≥ n_positions.
  ForwardOutput forward_cached(const torch::Tensor& input_ids, KvCache& cache);

  const ModelConfig& config() const { return config_; }
  // The blocks in order: holders that share the modules in block_list.
  std::vector<GptJBlock> blocks() const { return blocks_; }

  // Activation checkpointing for training: each block's intermediates are recomputed in backward
  // instead of kept (see recompute.h). Applies in training mode with gradients on, unless the
  // forward asks for attention scores or FFN inputs (which then keep their activations).
  void set_activation_checkpointing(bool on) { recompute_blocks_ = on; }
  bool activation_checkpointing() const { return recompute_blocks_; }

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
  // input_ids checked (2-D, non-empty, integer, ids in the vocabulary), as int64 on the model's device.
  torch::Tensor checked_ids(const torch::Tensor& input_ids) const;

  ModelConfig config_;
  std::vector<GptJBlock> blocks_;
  bool recompute_blocks_ = false;
};

TORCH_MODULE(GptJ);

}  // namespace cook::model

// GPT-J self-attention as Hugging Face's GPTJAttention computes it: q/k/v/out projections
// without bias, rotary position embedding on the first rotary_dim channels of each head in the
// interleaved ("rotate every two") form, scores q·kᵀ in float32 divided by √head_dim, causal and
// key-padding mask, softmax in float32.
#pragma once
#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "cook/model/config.h"
#include "cook/model/linear.h"

namespace cook::model {

// True when this LibTorch has at::scaled_dot_product_attention (PyTorch ≥ 2.0); the fused path
// is then taken whenever the pre-softmax scores were not asked for.
bool fused_attention_available();

// What every block's attention needs to know about one forward pass; built once per forward.
struct AttentionContext {
  torch::Tensor sin, cos;    // (T, rotary_dim/2) float32 at the query positions
  // (B or 1, 1, T_q, T_k) bool, true where the query may attend the key: causal, not padding.
  // A padding query also attends itself, so that no row is empty and nothing turns NaN; what is
  // computed at padding positions is meaningless either way.
  torch::Tensor allowed;
  bool padded = false;       // some key is padding (else `allowed` is plain causal)
  bool need_scores = false;  // return the masked pre-softmax scores (takes the explicit path)
};

// Positions 0..seq_len-1. key_mask: (B, seq_len), nonzero = token; undefined = no padding.
AttentionContext make_attention_context(const ModelConfig& config, int64_t seq_len, const torch::Tensor& key_mask,
                                        torch::Device device, bool need_scores);

// For incremental decoding (a KV cache): n_new queries at positions past..past+n_new-1 against
// past+n_new keys (the cached ones first); query i may attend keys 0..past+i. No padding.
AttentionContext make_cached_attention_context(const ModelConfig& config, int64_t past, int64_t n_new,
                                               torch::Device device);

// sin and cos (P, rotary_dim/2) float32 for positions (P) int64, inv_freq = 1/10000^(2i/rotary_dim).
std::pair<torch::Tensor, torch::Tensor> rotary_sin_cos(const torch::Tensor& positions, int64_t rotary_dim);
// (x0, x1, x2, x3, ...) → (-x1, x0, -x3, x2, ...) along the last dimension.
torch::Tensor rotate_every_two(const torch::Tensor& x);
// x (B, T, H, head_dim): rotates the first rotary_dim channels of each head (in float32, then
// back to x's dtype) and passes the rest through.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& sin, const torch::Tensor& cos,
                           int64_t rotary_dim);

struct AttentionOutput {
  torch::Tensor output;  // (B, T, d_model)
  torch::Tensor scores;  // (B, H, T, T_k) float32 masked pre-softmax scores, when asked for
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);

  AttentionOutput forward(const torch::Tensor& x, const AttentionContext& ctx);

  // forward() is project() then attend(). A KV cache (generation) goes between the two: it
  // appends this step's k and v to the cached ones and hands the longer keys to attend().
  struct Projected {
    torch::Tensor q, k, v;  // (B, H, T, head_dim), q and k rotated
  };
  Projected project(const torch::Tensor& x, const AttentionContext& ctx);
  AttentionOutput attend(const Projected& qkv, const AttentionContext& ctx);

  // forward() with a KV cache: projects x (B, T_new, d), appends its rotated keys and its values to
  // k_cache and v_cache ((B, H, T_cached, head_dim), undefined when empty; replaced by the longer
  // tensors) and attends over all of them. ctx comes from make_cached_attention_context.
  AttentionOutput forward_cached(const torch::Tensor& x, const AttentionContext& ctx, torch::Tensor& k_cache,
                                 torch::Tensor& v_cache);

  int64_t n_head() const { return n_head_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t rotary_dim() const { return rotary_dim_; }

  cook::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t d_model_, n_head_, head_dim_, rotary_dim_;
};

TORCH_MODULE(Attention);

}  // namespace cook::model

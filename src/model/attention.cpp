#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "cook/core/error.h"
#include "cook/model/attention.h"

#if defined(COOK_TORCH_MAJOR) && COOK_TORCH_MAJOR >= 2
#define COOK_HAVE_SDPA 1
#else
#define COOK_HAVE_SDPA 0
#endif

namespace cook::model {

bool fused_attention_available() { return COOK_HAVE_SDPA != 0; }

std::pair<torch::Tensor, torch::Tensor> rotary_sin_cos(const torch::Tensor& positions, int64_t rotary_dim) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  // As GPT-J's create_sinusoidal_positions: every step in float32.
  const torch::Tensor exponent = torch::arange(0, rotary_dim, 2, f32) / static_cast<double>(rotary_dim);
  const torch::Tensor inv_freq = 1.0 / torch::pow(10000.0, exponent);
  const torch::Tensor angles = torch::outer(positions.to(torch::kFloat32), inv_freq);  // (P, rotary_dim/2)
  return {torch::sin(angles), torch::cos(angles)};
}

torch::Tensor rotate_every_two(const torch::Tensor& x) {
  const int64_t n = x.size(-1);
  const torch::Tensor even = x.slice(-1, 0, n, 2);
  const torch::Tensor odd = x.slice(-1, 1, n, 2);
  return torch::stack({-odd, even}, -1).flatten(-2);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& sin, const torch::Tensor& cos,
                           int64_t rotary_dim) {
  const int64_t head_dim = x.size(-1);
  const int64_t T = x.size(1);
  // (T, r/2) → (1, T, 1, r), each frequency repeated for its pair of channels.
  const torch::Tensor s = sin.repeat_interleave(2, -1).view({1, T, 1, rotary_dim});
  const torch::Tensor c = cos.repeat_interleave(2, -1).view({1, T, 1, rotary_dim});
  const torch::Tensor rot = x.narrow(-1, 0, rotary_dim).to(torch::kFloat32);
  torch::Tensor rotated = (rot * c + rotate_every_two(rot) * s).to(x.scalar_type());
  if (rotary_dim == head_dim) return rotated;
  return torch::cat({rotated, x.narrow(-1, rotary_dim, head_dim - rotary_dim)}, -1);
}

AttentionContext make_attention_context(const ModelConfig& config, int64_t seq_len, const torch::Tensor& key_mask,
                                        torch::Device device, bool need_scores) {
  AttentionContext ctx;
  ctx.need_scores = need_scores;
  const torch::Tensor positions = torch::arange(seq_len, torch::TensorOptions().dtype(torch::kInt64).device(device));
  std::tie(ctx.sin, ctx.cos) = rotary_sin_cos(positions, config.rotary_dim);
  const auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(device);
  const torch::Tensor causal = torch::ones({seq_len, seq_len}, bool_opts).tril();
  if (key_mask.defined()) {
    const torch::Tensor keys = key_mask.to(device).ne(0);  // (B, T)
    ctx.padded = !keys.all().item<bool>();
    if (ctx.padded) {
      const torch::Tensor eye = torch::eye(seq_len, bool_opts);
      ctx.allowed = causal.view({1, 1, seq_len, seq_len})
                        .logical_and(keys.view({keys.size(0), 1, 1, seq_len}))
                        .logical_or(eye.view({1, 1, seq_len, seq_len}));
      return ctx;
    }
  }
  ctx.allowed = causal.view({1, 1, seq_len, seq_len});
  return ctx;
}

AttentionContext make_cached_attention_context(const ModelConfig& config, int64_t past, int64_t n_new,
                                               torch::Device device) {
  AttentionContext ctx;
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  std::tie(ctx.sin, ctx.cos) = rotary_sin_cos(torch::arange(past, past + n_new, i64), config.rotary_dim);
  // Query i sits at position past+i and may attend key j when j ≤ past+i.
  const torch::Tensor q_pos = torch::arange(past, past + n_new, i64).view({n_new, 1});
  const torch::Tensor k_pos = torch::arange(past + n_new, i64).view({1, past + n_new});
  ctx.allowed = k_pos.le(q_pos).view({1, 1, n_new, past + n_new});
  return ctx;
}

AttentionImpl::AttentionImpl(const ModelConfig& config)
    : d_model_(config.d_model),
      n_head_(config.n_head),
      head_dim_(config.head_dim()),
      rotary_dim_(config.rotary_dim) {
  q_proj = register_module("q_proj", cook::nn::Linear(d_model_, d_model_, false));
  k_proj = register_module("k_proj", cook::nn::Linear(d_model_, d_model_, false));
  v_proj = register_module("v_proj", cook::nn::Linear(d_model_, d_model_, false));
  out_proj = register_module("out_proj", cook::nn::Linear(d_model_, d_model_, false));
}

AttentionImpl::Projected AttentionImpl::project(const torch::Tensor& x, const AttentionContext& ctx) {
  const int64_t B = x.size(0), T = x.size(1);
  const std::vector<int64_t> split{B, T, n_head_, head_dim_};
  torch::Tensor q = apply_rotary(q_proj->forward(x).view(split), ctx.sin, ctx.cos, rotary_dim_);
  torch::Tensor k = apply_rotary(k_proj->forward(x).view(split), ctx.sin, ctx.cos, rotary_dim_);
  torch::Tensor v = v_proj->forward(x).view(split);
  return {q.permute({0, 2, 1, 3}), k.permute({0, 2, 1, 3}), v.permute({0, 2, 1, 3})};
}

AttentionOutput AttentionImpl::attend(const Projected& qkv, const AttentionContext& ctx) {
  const int64_t B = qkv.q.size(0), T = qkv.q.size(2);
  AttentionOutput result;
  torch::Tensor context;  // (B, H, T, head_dim)
#if COOK_HAVE_SDPA
  if (!ctx.need_scores) {
    if (!ctx.padded && qkv.q.size(2) == qkv.k.size(2)) {
      context = at::scaled_dot_product_attention(qkv.q, qkv.k, qkv.v, {}, 0.0, /*is_causal=*/true);
    } else {
      context = at::scaled_dot_product_attention(qkv.q, qkv.k, qkv.v, ctx.allowed, 0.0, /*is_causal=*/false);
    }
  }
#endif
  if (!context.defined()) {
    // The explicit path, as GPT-J's _attn: float32 scores, float32 softmax, then the value dtype.
    torch::Tensor scores = torch::matmul(qkv.q.to(torch::kFloat32), qkv.k.to(torch::kFloat32).transpose(-1, -2));
    scores = scores / std::sqrt(static_cast<double>(head_dim_));
    scores = scores.masked_fill(ctx.allowed.logical_not(), std::numeric_limits<float>::lowest());
    const torch::Tensor probs = torch::softmax(scores, -1).to(qkv.v.scalar_type());
    context = torch::matmul(probs, qkv.v);
    if (ctx.need_scores) result.scores = scores;
  }
  result.output = out_proj->forward(context.permute({0, 2, 1, 3}).reshape({B, T, d_model_}));
  return result;
}

AttentionOutput AttentionImpl::forward(const torch::Tensor& x, const AttentionContext& ctx) {
  return attend(project(x, ctx), ctx);
}

AttentionOutput AttentionImpl::forward_cached(const torch::Tensor& x, const AttentionContext& ctx,
                                              torch::Tensor& k_cache, torch::Tensor& v_cache) {
  Projected qkv = project(x, ctx);
  if (k_cache.defined()) {
    qkv.k = torch::cat({k_cache, qkv.k}, 2);
    qkv.v = torch::cat({v_cache, qkv.v}, 2);
  }
  k_cache = qkv.k;
  v_cache = qkv.v;
  return attend(qkv, ctx);
}

}  // namespace cook::model

#include "cook/compress/quant/fake_quant.h"

#include "cook/compress/quant/numerics.h"

namespace cook::quant {

namespace {

// x in the forward, gradient 1 in the backward.
torch::Tensor straight_through(const torch::Tensor& x, const torch::Tensor& quantized) {
  return x + (quantized - x).detach();
}

// cpm_kernels' GEMMInt8 (cpm_kernels/torch/gemm.py and cuda/gemm.cu) as BMCook's linears call it:
// y (B, N, T) = W (N, K) · x (B, K, T), one batch entry per sequence. In Cook's (tokens, channels)
// layout, with X_q, s_x the per-token int8 input and W_q, s_w the per-channel int8 weight:
//   forward   y  = (X_q · W_qᵀ) · diag(s_x) ⊗ diag(s_w)
//   backward  dX = Q_tok(G · diag(s_w)) · W_q          the gradient rescaled by the weight's scales,
//                                                     quantized per token (gemm_backward_scale_round)
//             dW = Σ_seq Q_chan(diag(s_x) · G)ᵀ · X_q  the gradient rescaled by the input's scales,
//                                                     quantized per output channel over the tokens of
//                                                     one sequence (gemm_backward_round_scale)
// The backward reuses the forward's int8 operands. Products run in float64 on the int8 values (an
// int32 GEMM's exact accumulation); scales stay in the input's dtype (cpm_kernels rounds them to fp16).
class BmcookInt8Function : public torch::autograd::Function<BmcookInt8Function> {
 public:
  // x3d (S, T, K): S sequences of T tokens.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x3d,
                               const torch::Tensor& weight) {
    const int64_t S = x3d.size(0), T = x3d.size(1), K = x3d.size(2);
    const Quantized qx = quantize_rows(x3d.reshape({S * T, K}));
    const Quantized qw = quantize_rows(weight);
    ctx->save_for_backward({qx.values, qx.scales, qw.values, qw.scales});
    const torch::Tensor acc = torch::matmul(qx.values.to(torch::kFloat64), qw.values.to(torch::kFloat64).t());
    const torch::Tensor y = acc * qx.scales.to(torch::kFloat64) * qw.scales.to(torch::kFloat64).t();
    return y.to(x3d.scalar_type()).reshape({S, T, weight.size(0)});
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x_q = saved[0], &s_x = saved[1], &w_q = saved[2], &s_w = saved[3];
    const torch::Tensor g3d = grads[0];  // (S, T, N)
    const int64_t S = g3d.size(0), T = g3d.size(1), N = g3d.size(2), K = x_q.size(1);
    const auto dtype = g3d.scalar_type();
    const torch::Tensor g = g3d.reshape({S * T, N});

    const Quantized g_tok = quantize_rows(g * s_w.to(dtype).t());  // (S·T, N), scale per token
    const torch::Tensor dx = torch::matmul(g_tok.values.to(torch::kFloat64), w_q.to(torch::kFloat64)) *
                             g_tok.scales.to(torch::kFloat64);

    const torch::Tensor g_chan_in = (g * s_x.to(dtype)).reshape({S, T, N}).transpose(1, 2);  // (S, N, T)
    const Quantized g_chan = quantize_rows(g_chan_in.contiguous());  // scale per (sequence, channel)
    const torch::Tensor dw = (torch::matmul(g_chan.values.to(torch::kFloat64),
                                            x_q.to(torch::kFloat64).reshape({S, T, K})) *
                              g_chan.scales.to(torch::kFloat64))
                                 .sum(0);
    return {dx.to(dtype).reshape({S, T, K}), dw.to(dtype)};
  }
};

}  // namespace

FakeQuantTransform::FakeQuantTransform(Scheme scheme, int64_t group_size) : scheme_(scheme), group_size_(group_size) {}

std::string FakeQuantTransform::name() const { return std::string("fake-quant-") + scheme_name(scheme_); }

torch::Tensor FakeQuantTransform::transform_weight(const nn::LinearImpl& layer, const torch::Tensor& weight) const {
  const torch::Tensor q = scheme_ == Scheme::W4 ? fake_quant_groups(weight, group_size_, 4) : fake_quant_rows(weight, 8);
  return straight_through(weight, q);
}

torch::Tensor FakeQuantTransform::transform_input(const nn::LinearImpl& layer, const torch::Tensor& x) const {
  if (scheme_ != Scheme::W8A8) return x;
  return straight_through(x, fake_quant_rows(x, 8));
}

torch::Tensor bmcook_int8_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const int64_t in = weight.size(1);
  // (..., T, K): every leading index is one sequence; a 2-D x is one sequence of tokens.
  const int64_t tokens = x.dim() >= 2 ? x.size(-2) : 1;
  torch::Tensor y = BmcookInt8Function::apply(x.reshape({-1, tokens, in}), weight);
  if (bias.defined()) y = y + bias;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  return y.reshape(shape);
}

torch::Tensor BmcookInt8Kernel::forward(const nn::LinearImpl& layer, const torch::Tensor& x) const {
  torch::Tensor w = layer.weight;
  if (layer.has_mask()) w = w * layer.mask();
  return bmcook_int8_linear(x, w, layer.bias);
}

}  // namespace cook::quant

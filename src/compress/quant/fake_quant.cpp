#include "cook/compress/quant/fake_quant.h"

#include "cook/compress/quant/numerics.h"

namespace cook::quant {

namespace {

// x in the forward, gradient 1 in the backward.
torch::Tensor straight_through(const torch::Tensor& x, const torch::Tensor& quantized) {
  return x + (quantized - x).detach();
}

// a (M, K) · b (N, K)ᵀ with both operands quantized per row (along K), as an int8 GEMM with int32
// accumulation and rescaling computes it.
torch::Tensor int8_product(const torch::Tensor& a, const torch::Tensor& b) {
  Quantized qa = quantize_rows(a), qb = quantize_rows(b);
  torch::Tensor acc = torch::matmul(qa.values.to(torch::kFloat64), qb.values.to(torch::kFloat64).t());
  return (acc * qa.scales.to(torch::kFloat64) * qb.scales.to(torch::kFloat64).t()).to(a.scalar_type());
}

class BmcookInt8Function : public torch::autograd::Function<BmcookInt8Function> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x2d,
                               const torch::Tensor& weight) {
    ctx->save_for_backward({x2d, weight});
    return int8_product(x2d, weight);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[1];
    const torch::Tensor g = grads[0].contiguous();
    // dx (M, K) = g (M, N) · W (N, K): reduction over N: g per row, W per column.
    torch::Tensor dx = int8_product(g, w.t().contiguous());
    // dW (N, K) = gᵀ (N, M) · x (M, K): reduction over M: g and x per column.
    torch::Tensor dw = int8_product(g.t().contiguous(), x.t().contiguous());
    return {dx, dw};
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
  torch::Tensor x2d = x.reshape({-1, in});
  torch::Tensor y = BmcookInt8Function::apply(x2d, weight);
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

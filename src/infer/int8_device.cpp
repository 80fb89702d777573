#include "cook/infer/int8_device.h"

#include <algorithm>

#include "cook/compress/quant/numerics.h"
#include "cook/core/error.h"

#if COOK_TORCH_MAJOR > 2 || (COOK_TORCH_MAJOR == 2 && COOK_TORCH_MINOR >= 1)
#define COOK_HAVE_INT_MM 1
#endif

namespace cook::infer {

namespace {

constexpr int64_t kMinRows = 32;  // at::_int_mm needs more than 16; 32 keeps cuBLASLt's tiles whole
constexpr int64_t kMinInner = 16;

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }
int64_t padded_inner(int64_t k) { return std::max(kMinInner, round_up(k, 8)); }

// t (rows, cols) → (rows', cols') with zeros after, or t itself when nothing is added.
torch::Tensor pad_to(const torch::Tensor& t, int64_t rows, int64_t cols) {
  if (t.size(0) == rows && t.size(1) == cols) return t.contiguous();
  return torch::constant_pad_nd(t, {0, cols - t.size(1), 0, rows - t.size(0)}, 0);
}

}  // namespace

bool device_int8_matmul_available() {
#ifdef COOK_HAVE_INT_MM
  return true;
#else
  return false;
#endif
}

DeviceInt8Weight::DeviceInt8Weight(const torch::Tensor& weight, const torch::Tensor& scales, torch::Device device) {
  if (!weight.defined() || weight.scalar_type() != torch::kInt8 || weight.dim() != 2)
    throw Error("DeviceInt8Weight", "the weight must be a 2-D int8 tensor (out, in)");
  n_ = weight.size(0);
  k_ = weight.size(1);
  if (!scales.defined() || scales.numel() != n_)
    throw Error("DeviceInt8Weight", "needs one scale per output channel (" + std::to_string(n_) + ")");
  weight_ = pad_to(weight.to(device), round_up(n_, 8), padded_inner(k_));
  scales_ = scales.to(device, torch::kFloat32).reshape({n_}).contiguous();
}

torch::Tensor DeviceInt8Weight::multiply(const torch::Tensor& q) const {
  if (q.dim() != 2 || q.size(1) != k_ || q.scalar_type() != torch::kInt8)
    throw Error("DeviceInt8Weight", "activations of " + std::to_string(q.size(-1)) + " int8 features for a weight of " +
                                        std::to_string(k_));
  const int64_t m = q.size(0);
  if (m == 0) return torch::zeros({0, n_}, q.options().dtype(torch::kInt32));
  torch::Tensor acc;
#ifdef COOK_HAVE_INT_MM
  if (q.is_cuda()) {
    const torch::Tensor a = pad_to(q, std::max(m, kMinRows), weight_.size(1));
    acc = at::_int_mm(a, weight_.t());  // (K', N') column-major: cuBLASLt's preferred layout
  }
#endif
  if (!acc.defined()) {
    if (q.is_cuda()) throw Error("DeviceInt8Weight", "int8 products on CUDA need LibTorch ≥ 2.1 (at::_int_mm)");
    const torch::Tensor a = pad_to(q, m, weight_.size(1));
    acc = a.to(torch::kFloat64).mm(weight_.t().to(torch::kFloat64)).to(torch::kInt32);
  }
  return acc.narrow(0, 0, m).narrow(1, 0, n_);
}

torch::Tensor DeviceInt8Weight::forward(const torch::Tensor& x, const torch::Tensor& bias) const {
  const quant::Quantized q = quant::quantize_rows(x.to(torch::kFloat32));  // scales (M, 1)
  torch::Tensor y = multiply(q.values).to(torch::kFloat32) * (q.scales * scales_.unsqueeze(0));
  if (bias.defined()) y = y + bias.to(torch::kFloat32);
  return y;
}

}  // namespace cook::infer

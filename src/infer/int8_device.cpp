#include "cook/infer/int8_device.h"

#include <algorithm>

#include "cook/compress/quant/numerics.h"
#include "cook/core/error.h"

#if COOK_TORCH_MAJOR > 2 || (COOK_TORCH_MAJOR == 2 && COOK_TORCH_MINOR >= 1)
#define COOK_HAVE_INT_MM 1
#endif

#if defined(COOK_HAVE_CUDA_KERNELS) && defined(COOK_HAVE_INT_MM)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda/int8_device_kernels.h"
#define COOK_FUSED_INT8 1
#endif

namespace cook::infer {

namespace {

constexpr int64_t kMinRows = 32;  // at::_int_mm needs more than 16; 32 keeps cuBLASLt's tiles whole
constexpr int64_t kMinInner = 16;

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }
int64_t padded_inner(int64_t k) { return std::max(kMinInner, round_up(k, 8)); }
[[maybe_unused]] int64_t padded_rows(int64_t m) { return std::max(m, kMinRows); }

// t (rows, cols) → (rows', cols') with zeros after, or t itself when nothing is added.
torch::Tensor pad_to(const torch::Tensor& t, int64_t rows, int64_t cols) {
  if (t.size(0) == rows && t.size(1) == cols) return t.contiguous();
  return torch::constant_pad_nd(t, {0, cols - t.size(1), 0, rows - t.size(0)}, 0);
}

#ifdef COOK_FUSED_INT8
cuda::FloatType float_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return cuda::FloatType::f32;
    case torch::kBFloat16: return cuda::FloatType::bf16;
    case torch::kFloat16: return cuda::FloatType::f16;
    default: throw Error("DeviceInt8Weight", std::string("no fused kernel for ") + c10::toString(t.scalar_type()));
  }
}

bool has_fused_type(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kFloat16;
}

void check_launch(const char* error, const char* kernel) {
  if (error) throw Error("DeviceInt8Weight", std::string(kernel) + " failed to launch: " + error);
}

// Quantize kernel, at::_int_mm, rescale kernel: three launches on the current stream.
torch::Tensor forward_fused(const torch::Tensor& weight, const torch::Tensor& scales, int64_t n, int64_t k,
                            const torch::Tensor& x, const torch::Tensor& bias) {
  const c10::cuda::CUDAGuard guard(x.device());
  void* stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  const int64_t m = x.size(0), rows = padded_rows(m), inner = weight.size(1);
  const torch::Tensor q = torch::empty({rows, inner}, x.options().dtype(torch::kInt8));
  const torch::Tensor sx = torch::empty({m}, x.options().dtype(torch::kFloat32));
  check_launch(cuda::quantize_rows_int8(x.data_ptr(), float_type(x), m, k, rows, inner, q.data_ptr<int8_t>(),
                                        sx.data_ptr<float>(), stream),
               "the quantization kernel");
  const torch::Tensor acc = at::_int_mm(q, weight.t());  // (rows, N')
  torch::Tensor y = torch::empty({m, n}, x.options());
  check_launch(cuda::rescale_accumulators(acc.data_ptr<int32_t>(), acc.stride(0), m, n, sx.data_ptr<float>(),
                                          scales.data_ptr<float>(), bias.defined() ? bias.data_ptr() : nullptr,
                                          bias.defined() ? float_type(bias) : cuda::FloatType::f32, y.data_ptr(),
                                          float_type(y), stream),
               "the rescale kernel");
  return y;
}
#endif

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
    const torch::Tensor a = pad_to(q, padded_rows(m), weight_.size(1));
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
  if (x.dim() != 2 || x.size(1) != k_ || !x.is_floating_point())
    throw Error("DeviceInt8Weight", "activations of " + std::to_string(x.size(-1)) + " floating features for a weight of " +
                                        std::to_string(k_));
  if (bias.defined() && bias.numel() != n_)
    throw Error("DeviceInt8Weight", "a bias of " + std::to_string(bias.numel()) + " values for " + std::to_string(n_) + " outputs");
#ifdef COOK_FUSED_INT8
  if (x.is_cuda() && has_fused_type(x) && (!bias.defined() || has_fused_type(bias))) {
    const torch::Tensor b = bias.defined() ? bias.to(x.device()).contiguous() : bias;
    return forward_fused(weight_, scales_, n_, k_, x.contiguous(), b);
  }
#endif
  const quant::Quantized q = quant::quantize_rows(x.to(torch::kFloat32));  // scales (M, 1)
  torch::Tensor y = multiply(q.values).to(torch::kFloat32) * (q.scales * scales_.unsqueeze(0));
  if (bias.defined()) y = y + bias.to(torch::kFloat32);
  return y.to(x.scalar_type());
}

}  // namespace cook::infer

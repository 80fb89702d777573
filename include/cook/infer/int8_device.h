// W8A8 inference of a linear layer on a device other than the CPU (CUDA):
//   per-token quantization, the s8 × s8 → s32 product through at::_int_mm (cuBLASLt) with the
//   weight stored (N, K) and passed transposed (the fast layout: the other one is 3-10× slower),
//   and the rescale acc · (s_x · s_w) + b. Every step is exact or rounds as the CPU kernel
//   (int8_linear.cpp) does, so the result has the CPU kernel's bits.
// Where Cook was built with CUDA kernels (a CUDA LibTorch and nvcc: COOK_HAVE_CUDA_KERNELS), the
// quantization and the rescale are one fused kernel each (src/infer/cuda/), three launches per
// call in all; elsewhere they are LibTorch operations (quant::quantize_rows, then separate
// elementwise products and sums), about fifteen launches, whose host time dominates below a few
// thousand tokens.
//
// at::_int_mm (PyTorch ≥ 2.1) wants more than 16 rows, K a multiple of 8 and at least 16, N a
// multiple of 8: the weight is zero-padded once when it is placed on the device, the activations
// per call (zero rows and columns add nothing to an integer sum), and the result is cut back.
// Where at::_int_mm is absent (LibTorch < 2.1) or the tensors are on the CPU, the product runs as
// a float64 matmul, exact for int8 operands (|sum| ≤ K · 127² < 2⁵³): the CPU tests check the
// padding and the epilogue through it.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace cook::infer {

// True when this LibTorch has at::_int_mm (≥ 2.1).
bool device_int8_matmul_available();

class DeviceInt8Weight {
 public:
  // weight (N, K) int8 and scales (N) float32 (any device): copied, padded, onto `device`.
  DeviceInt8Weight(const torch::Tensor& weight, const torch::Tensor& scales, torch::Device device);

  torch::Device device() const { return weight_.device(); }
  int64_t out_features() const { return n_; }
  int64_t in_features() const { return k_; }

  // acc (M, N) int32 = q (M, K) int8 · weightᵀ, exact.
  torch::Tensor multiply(const torch::Tensor& q) const;
  // y (M, N) in x's dtype = W8A8 product of x (M, K) (float32, bfloat16 or float16; computed in
  // float32 and rounded once at the end) on this device, plus bias (N) if defined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias) const;

 private:
  int64_t n_, k_;
  torch::Tensor weight_;  // (N', K') int8, N' and K' padded for at::_int_mm, contiguous
  torch::Tensor scales_;  // (N) float32
};

}  // namespace cook::infer

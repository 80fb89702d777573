// int8 inference of a linear layer (BMCook's W8A8):
//   x (M, K) float32 → per-token int8 (one pass per row: absmax, scale = absmax / 127, round half
//   to even, clamp ±127) → s8 × s8 GEMM with int32 accumulation → y = acc · s_x[m] · s_w[n] + b[n].
// The numerics are what FakeQuantTransform simulates, so a QAT model runs the same function in
// int8, and every path below gives the same bits for the same input.
//   - CPU with VNNI (AVX-512 VNNI or AVX-VNNI) and a build with oneDNN: oneDNN's s8 matmul; its
//     primitive and the weights in its packed layout are made once per layer and token count M (a
//     small cache), never per call.
//   - other CPUs (or no oneDNN): PackedInt8Weight (packed_int8.h), exact and packed once at
//     construction. oneDNN 2.6 without VNNI falls back to a `gemm:jit` whose int16 intermediate
//     sums saturate (errors of ~0.3 against the exact product, measured on an AVX2-only AMD EPYC)
//     and which is 4-5× slower than fp32 there.
//   - CUDA: DeviceInt8Weight (int8_device.h, at::_int_mm), the weight copied to the device on the
//     first call there.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <torch/torch.h>

#include "cook/infer/int8_device.h"
#include "cook/infer/packed_int8.h"
#include "cook/model/linear.h"

namespace cook::infer {

// Per-token quantization of x (M, K) contiguous float32 into q (M, K) int8 and scales (M); rows run
// in parallel, each in one vectorized pass (AVX-512 when the CPU has it).
void quantize_tokens(const float* x, int64_t rows, int64_t cols, int8_t* q, float* scales);

// The rescale that ends an int8 product: y (rows, cols) = acc · (row_scales[r] · col_scales[c])
// + bias[c] (bias may be null), in float32, evaluated exactly in this form (no fused multiply-add)
// so that every int8 path that goes through it gives the same bits for the same integers.
void rescale_accumulators(const int32_t* acc, int64_t rows, int64_t cols, const float* row_scales,
                          const float* col_scales, const float* bias, float* y);

class Int8LinearKernel : public nn::LinearKernel {
 public:
  // weight (N, K) int8 and its per-output-channel scales (N) or (N, 1) float32, as the exporter
  // writes them; the layer's bias (if any) is added in float32. Throws cook::Error naming `where`
  // on a shape or dtype that does not fit.
  Int8LinearKernel(torch::Tensor weight, torch::Tensor scales, const std::string& where = "Int8LinearKernel");
  ~Int8LinearKernel() override;

  // The CPU path: "int8-onednn" or "int8-packed" (the exact loop used on CPUs without VNNI).
  std::string name() const override { return packed_ ? "int8-packed" : "int8-onednn"; }
  // x (..., K) float32 (bfloat16 is converted) on the CPU or a CUDA device → (..., N) in x's dtype.
  torch::Tensor forward(const nn::LinearImpl& layer, const torch::Tensor& x) const override;

  const torch::Tensor& weight() const { return weight_; }
  const torch::Tensor& scales() const { return scales_; }

 private:
  struct Cache;
  torch::Tensor weight_;  // (N, K) int8, contiguous
  torch::Tensor scales_;  // (N) float32
  std::unique_ptr<Cache> cache_;                     // oneDNN's state, where the CPU has VNNI
  std::shared_ptr<const PackedInt8Weight> packed_;  // otherwise: the exact packed loop
  mutable std::mutex device_mutex_;
  mutable std::shared_ptr<const DeviceInt8Weight> device_;  // the copy on the last device used
};

}  // namespace cook::infer

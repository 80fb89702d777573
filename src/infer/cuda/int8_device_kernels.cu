#include "int8_device_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

namespace cook::infer::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kQmax = 127.0f;

__device__ inline float load(const void* p, FloatType type, int64_t i) {
  switch (type) {
    case FloatType::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case FloatType::f16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ inline void store(void* p, FloatType type, int64_t i, float v) {
  switch (type) {
    case FloatType::bf16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    case FloatType::f16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

// One block per padded row. The maximum is exact in any order; fmaxf skips NaN as the CPU's
// std::max(amax, |x|) does.
__global__ void quantize_rows_kernel(const void* x, FloatType type, int64_t rows, int64_t cols, int64_t padded_cols,
                                     int8_t* q, float* scales) {
  const int64_t row = blockIdx.x;
  int8_t* qr = q + row * padded_cols;
  if (row >= rows) {
    for (int64_t c = threadIdx.x; c < padded_cols; c += blockDim.x) qr[c] = 0;
    return;
  }
  const int64_t base = row * cols;
  float amax = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) amax = fmaxf(amax, fabsf(load(x, type, base + c)));
  for (int offset = 16; offset > 0; offset /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  __shared__ float warp_max[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  if (threadIdx.x < 32) {
    amax = threadIdx.x < blockDim.x / 32 ? warp_max[threadIdx.x] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
    if (threadIdx.x == 0) warp_max[0] = amax;
  }
  __syncthreads();
  const float s = __fdiv_rn(warp_max[0], kQmax);
  if (threadIdx.x == 0) scales[row] = s;
  const float d = s == 0.0f ? 1.0f : s;
  for (int64_t c = threadIdx.x; c < padded_cols; c += blockDim.x) {
    if (c < cols) {
      const float v = rintf(__fdiv_rn(load(x, type, base + c), d));
      qr[c] = static_cast<int8_t>(fminf(kQmax, fmaxf(-kQmax, v)));
    } else {
      qr[c] = 0;
    }
  }
}

__global__ void rescale_kernel(const int32_t* acc, int64_t acc_stride, int64_t rows, int64_t cols,
                               const float* row_scales, const float* col_scales, const void* bias, FloatType bias_type,
                               void* y, FloatType y_type) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const float cs = col_scales[c];
  const float b = bias ? load(bias, bias_type, c) : 0.0f;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float v = __fmul_rn(__int2float_rn(acc[r * acc_stride + c]), __fmul_rn(row_scales[r], cs));
    if (bias) v = __fadd_rn(v, b);
    store(y, y_type, r * cols + c, v);
  }
}

const char* launched() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace

const char* quantize_rows_int8(const void* x, FloatType type, int64_t rows, int64_t cols, int64_t padded_rows,
                               int64_t padded_cols, int8_t* q, float* scales, void* stream) {
  if (padded_rows <= 0) return nullptr;
  quantize_rows_kernel<<<static_cast<unsigned>(padded_rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, type, rows, cols, padded_cols, q, scales);
  return launched();
}

const char* rescale_accumulators(const int32_t* acc, int64_t acc_stride, int64_t rows, int64_t cols,
                                 const float* row_scales, const float* col_scales, const void* bias,
                                 FloatType bias_type, void* y, FloatType y_type, void* stream) {
  if (rows <= 0 || cols <= 0) return nullptr;
  const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
                  static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  rescale_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(acc, acc_stride, rows, cols, row_scales,
                                                                          col_scales, bias, bias_type, y, y_type);
  return launched();
}

}  // namespace cook::infer::cuda

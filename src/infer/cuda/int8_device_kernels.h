// The two fused CUDA kernels of the W8A8 device path (int8_device.h), kept free of LibTorch so that
// nvcc compiles them alone. Each mirrors the CPU kernel's arithmetic (int8_linear.cpp) operation
// for operation, rounding included, so that the result has the CPU kernel's bits:
//   quantize: amax = max |x|, s = amax / 127 (true division), q = clamp(rint(x / (s ? s : 1)), ±127)
//   rescale:  y = float(acc) · (s_x · s_w) + b, each product and sum rounded on its own (no FMA),
//             then rounded once to the output type.
// Both return nullptr on success, else CUDA's message for the launch error.
#pragma once
#include <cstdint>

namespace cook::infer::cuda {

enum class FloatType { f32, bf16, f16 };

// x (rows, cols) row-major of `type` → q (padded_rows, padded_cols) int8, zero beyond rows and
// cols (at::_int_mm's padding), and scales (rows) float32.
const char* quantize_rows_int8(const void* x, FloatType type, int64_t rows, int64_t cols, int64_t padded_rows,
                               int64_t padded_cols, int8_t* q, float* scales, void* stream);

// acc (rows, ≥ cols) int32 with row stride acc_stride → y (rows, cols) of y_type; bias (cols) of
// bias_type or nullptr.
const char* rescale_accumulators(const int32_t* acc, int64_t acc_stride, int64_t rows, int64_t cols,
                                 const float* row_scales, const float* col_scales, const void* bias,
                                 FloatType bias_type, void* y, FloatType y_type, void* stream);

}  // namespace cook::infer::cuda

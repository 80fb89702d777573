// BMCook's int8 numerics, as plain tensor functions (no autograd tricks here; see fake_quant.h).
//
//   weights:      symmetric, one scale per output channel (row of the (out, in) weight),
//                 scale = absmax / 127, q = clamp(round_half_even(w / scale), -127, 127)
//   activations:  the same formula per token (per row of the (..., in) input), computed anew on
//                 every call (dynamic)
//   int4 weights: the same formula with 7 in place of 127, one scale per group of `group` input
//                 channels of a row (group 128 by default)
// A row (or group) of zeros gets scale 0 and quantizes to zeros; dequantizing gives zeros back.
// Every function works in the input's floating dtype and device; scales have that dtype too.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace cook::quant {

// The largest quantized magnitude for `bits` (8 → 127, 4 → 7).
int64_t quant_max(int64_t bits);

struct Quantized {
  torch::Tensor values;  // int8, the shape of the input
  torch::Tensor scales;  // per row: (..., 1); per group: (rows, in / group)
};

// Per row of the last dimension (weights per output channel, activations per token).
Quantized quantize_rows(const torch::Tensor& x, int64_t bits = 8);
// With given scales (..., 1) instead of the row's absmax (static scales): values past ±qmax·scale
// saturate at ±qmax.
Quantized quantize_rows_with_scales(const torch::Tensor& x, const torch::Tensor& scales, int64_t bits = 8);
// Per group of `group` consecutive columns of a 2-D (rows, cols) tensor; cols % group == 0.
Quantized quantize_groups(const torch::Tensor& w, int64_t group, int64_t bits = 4);

// values · scale, in `dtype`.
torch::Tensor dequantize_rows(const Quantized& q, torch::ScalarType dtype = torch::kFloat32);
torch::Tensor dequantize_groups(const Quantized& q, int64_t group, torch::ScalarType dtype = torch::kFloat32);

// quantize then dequantize (what the int8 model computes with), without gradients.
torch::Tensor fake_quant_rows(const torch::Tensor& x, int64_t bits = 8);
torch::Tensor fake_quant_groups(const torch::Tensor& w, int64_t group, int64_t bits = 4);

}  // namespace cook::quant

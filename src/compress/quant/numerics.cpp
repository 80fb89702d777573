#include "cook/compress/quant/numerics.h"

#include "cook/core/error.h"

namespace cook::quant {

namespace {

// round half to even (torch::round is nearbyint), then clamp to ±qmax.
Quantized quantize_with_scale(const torch::Tensor& x, const torch::Tensor& scale, int64_t bits) {
  const double qmax = static_cast<double>(quant_max(bits));
  // A row of zeros keeps scale 0; dividing by 1 there maps it to zeros.
  torch::Tensor divisor = torch::where(scale == 0, torch::ones_like(scale), scale);
  torch::Tensor q = torch::round(x / divisor).clamp_(-qmax, qmax).to(torch::kInt8);
  return {q, scale};
}

// The divisor is a tensor, not a scalar: CUDA divides by a scalar as a product with its reciprocal,
// which is one ulp off true division for some values, and the CPU kernel divides.
Quantized quantize_with_amax(const torch::Tensor& x, const torch::Tensor& amax, int64_t bits) {
  return quantize_with_scale(x, amax / torch::full_like(amax, static_cast<double>(quant_max(bits))), bits);
}

void check_floating(const torch::Tensor& x, const char* where) {
  if (!x.defined() || !x.is_floating_point() || x.dim() < 1)
    throw Error(where, "needs a floating tensor of at least one dimension");
}

}  // namespace

int64_t quant_max(int64_t bits) {
  if (bits == 8) return 127;
  if (bits == 4) return 7;
  throw Error("cook::quant", "only 8 and 4 bits are supported, got " + std::to_string(bits));
}

Quantized quantize_rows(const torch::Tensor& x, int64_t bits) {
  check_floating(x, "cook::quant::quantize_rows");
  torch::NoGradGuard no_grad;
  torch::Tensor amax = x.detach().abs().amax(-1, /*keepdim=*/true);
  return quantize_with_amax(x.detach(), amax, bits);
}

Quantized quantize_rows_with_scales(const torch::Tensor& x, const torch::Tensor& scales, int64_t bits) {
  check_floating(x, "cook::quant::quantize_rows_with_scales");
  if (!scales.defined() || scales.dim() != x.dim() || scales.size(-1) != 1 || (scales < 0).any().item<bool>())
    throw Error("cook::quant::quantize_rows_with_scales", "needs non-negative scales of shape (..., 1)");
  torch::NoGradGuard no_grad;
  return quantize_with_scale(x.detach(), scales.to(x.scalar_type()), bits);
}

Quantized quantize_groups(const torch::Tensor& w, int64_t group, int64_t bits) {
  check_floating(w, "cook::quant::quantize_groups");
  if (w.dim() != 2 || group <= 0 || w.size(1) % group != 0)
    throw Error("cook::quant::quantize_groups", "needs a 2-D tensor whose columns (" +
                                                    std::to_string(w.dim() == 2 ? w.size(1) : -1) +
                                                    ") are a multiple of the group size " + std::to_string(group));
  torch::NoGradGuard no_grad;
  const int64_t rows = w.size(0), groups = w.size(1) / group;
  torch::Tensor g = w.detach().reshape({rows, groups, group});
  Quantized q = quantize_with_amax(g, g.abs().amax(-1, true), bits);
  return {q.values.reshape({rows, groups * group}), q.scales.reshape({rows, groups})};
}

torch::Tensor dequantize_rows(const Quantized& q, torch::ScalarType dtype) {
  return q.values.to(dtype) * q.scales.to(dtype);
}

torch::Tensor dequantize_groups(const Quantized& q, int64_t group, torch::ScalarType dtype) {
  const int64_t rows = q.values.size(0), groups = q.scales.size(1);
  if (groups * group != q.values.size(1))
    throw Error("cook::quant::dequantize_groups", "scales of " + std::to_string(groups) + " groups of " +
                                                      std::to_string(group) + " do not cover " +
                                                      std::to_string(q.values.size(1)) + " columns");
  return (q.values.to(dtype).reshape({rows, groups, group}) * q.scales.to(dtype).unsqueeze(-1))
      .reshape({rows, groups * group});
}

torch::Tensor fake_quant_rows(const torch::Tensor& x, int64_t bits) {
  return dequantize_rows(quantize_rows(x, bits), x.scalar_type());
}

torch::Tensor fake_quant_groups(const torch::Tensor& w, int64_t group, int64_t bits) {
  return dequantize_groups(quantize_groups(w, group, bits), group, w.scalar_type());
}

}  // namespace cook::quant

// What to quantize and how: the options of the quantization pass, readable from BMCook's JSON
// `quantization` section.
//
//   {"is_quant": true,                 BMCook: turn quantization on
//    "quantized_module": ["attn"],     BMCook: name patterns (substrings, as BMCook matches them)
//                                      of the linears to quantize; empty = every block linear
//    "scheme": "w8a8",                 Cook: w8a8 (BMCook's), w8 or w4 (weight-only)
//    "group_size": 128,                Cook: input channels per int4 scale
//    "backward": "ste"}                Cook: ste (default) or bmcook (int8 gradients)
//
// Unknown keys and wrong types are errors naming the key path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cook::quant {

enum class Scheme {
  W8A8,  // int8 weights per output channel × int8 activations per token (BMCook)
  W8,    // int8 weights per output channel, activations in floating point
  W4,    // int4 weights per group of input channels, activations in floating point
};

// How gradients get through the simulated product.
enum class Backward {
  // Straight-through: the forward uses the fake-quantized operands, the gradients are those of
  // the floating-point product at them. The default: no noise is added to the gradients (they
  // stay exact for the simulated forward), and it is what the int8 model is exported from.
  Ste,
  // BMCook's cpm_kernels int8 GEMM (GEMMInt8.backward): both products of the backward reuse the
  // forward's int8 weight and input, and quantize the gradient, rescaled by the other operand's
  // scales, to int8 (per token for dX, per output channel and sequence for dW; fake_quant.h).
  Bmcook,
};

struct QuantOptions {
  bool is_quant = false;
  std::vector<std::string> quantized_module;
  Scheme scheme = Scheme::W8A8;
  int64_t group_size = 128;
  Backward backward = Backward::Ste;

  int64_t weight_bits() const { return scheme == Scheme::W4 ? 4 : 8; }
  bool quantizes_activations() const { return scheme == Scheme::W8A8; }
  // Throws cook::Error naming `where` for an impossible combination.
  void validate(const std::string& where) const;
};

const char* scheme_name(Scheme s);
Scheme parse_scheme(const std::string& name, const std::string& where);
const char* backward_name(Backward b);
Backward parse_backward(const std::string& name, const std::string& where);

// The `quantization` section (its object, not the whole config); `where` names it in errors.
QuantOptions quant_options_from_json(const nlohmann::json& section, const std::string& where);
nlohmann::json to_json(const QuantOptions& o);

}  // namespace cook::quant

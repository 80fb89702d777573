#include "cook/compress/prune/mask_method.h"

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/core/error.h"

namespace cook::prune {

MaskMethod parse_mask_method(const std::string& name, const std::string& where) {
  if (name == "m4n2_1d") return MaskMethod::M4N2_1d;
  if (name == "m4n2_2d" || name == "m4n2_2d_greedy") return MaskMethod::M4N2_2dGreedy;
  if (name == "m4n2_2d_best") return MaskMethod::M4N2_2dBest;
  if (name == "magnitude") return MaskMethod::Magnitude;
  if (name == "wanda") return MaskMethod::Wanda;
  if (name == "sparsegpt") return MaskMethod::SparseGpt;
  if (name == "sprune")
    throw Error(where, "mask method 'sprune' (BMCook's structured L0 pruning) is not supported by Cook");
  throw Error(where, "unknown mask method '" + name + "' (known: " + mask_method_names() + ")");
}

const char* method_name(MaskMethod m) {
  switch (m) {
    case MaskMethod::M4N2_1d: return "m4n2_1d";
    case MaskMethod::M4N2_2dGreedy: return "m4n2_2d_greedy";
    case MaskMethod::M4N2_2dBest: return "m4n2_2d_best";
    case MaskMethod::Magnitude: return "magnitude";
    case MaskMethod::Wanda: return "wanda";
    case MaskMethod::SparseGpt: return "sparsegpt";
  }
  return "?";
}

std::string mask_method_names() { return "m4n2_1d, m4n2_2d (= m4n2_2d_greedy), m4n2_2d_best, magnitude, wanda, sparsegpt"; }

Pattern parse_pattern(const std::string& name, const std::string& where) {
  if (name == "2:4") return Pattern::TwoFour;
  if (name == "2:4-2d") return Pattern::TwoFour2d;
  if (name == "unstructured") return Pattern::Unstructured;
  throw Error(where, "unknown sparsity pattern '" + name + "' (known: 2:4, 2:4-2d, unstructured)");
}

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::TwoFour: return "2:4";
    case Pattern::TwoFour2d: return "2:4-2d";
    case Pattern::Unstructured: return "unstructured";
  }
  return "?";
}

MaskSpec make_mask_spec(const std::string& method, const std::string& pattern, double sparsity, bool global,
                        const MaskSpecKeys& keys) {
  const std::string& where = keys.method;
  MaskSpec spec;
  spec.method = parse_mask_method(method, where);
  spec.global = global;
  Pattern fixed = Pattern::TwoFour;
  switch (spec.method) {
    case MaskMethod::M4N2_1d: fixed = Pattern::TwoFour; break;
    case MaskMethod::M4N2_2dGreedy:
    case MaskMethod::M4N2_2dBest: fixed = Pattern::TwoFour2d; break;
    case MaskMethod::Magnitude: fixed = Pattern::Unstructured; break;
    case MaskMethod::Wanda:
    case MaskMethod::SparseGpt:
      fixed = pattern.empty() ? Pattern::TwoFour : parse_pattern(pattern, keys.pattern);
      if (fixed == Pattern::TwoFour2d)
        throw Error(keys.pattern, std::string(method_name(spec.method)) + " makes 2:4 or unstructured masks, not 2:4-2d");
      break;
  }
  if (!pattern.empty() && parse_pattern(pattern, keys.pattern) != fixed)
    throw Error(keys.pattern, "method '" + method + "' makes " + pattern_name(fixed) + " masks, not " + pattern);
  spec.pattern = fixed;
  if (global && spec.method != MaskMethod::Magnitude)
    throw Error(where, "a global threshold applies to the magnitude method only");
  if (spec.pattern == Pattern::Unstructured) {
    if (!(sparsity > 0.0 && sparsity < 1.0))
      throw Error(keys.sparsity, "must be in (0, 1) for unstructured pruning, got " + std::to_string(sparsity));
    spec.sparsity = sparsity;
  } else {
    spec.sparsity = 0.5;
  }
  return spec;
}

bool needs_calibration(MaskMethod m) { return m == MaskMethod::Wanda || m == MaskMethod::SparseGpt; }

torch::Tensor data_free_mask(const MaskSpec& spec, const torch::Tensor& weight, const std::string& where) {
  switch (spec.method) {
    case MaskMethod::M4N2_1d: return m4n2_1d(weight, where);
    case MaskMethod::M4N2_2dGreedy: return m4n2_2d_greedy(weight, where);
    case MaskMethod::M4N2_2dBest: return m4n2_2d_best(weight, where);
    case MaskMethod::Magnitude:
      if (spec.global) throw Error(where, "a global magnitude mask needs every layer at once (use data_free_masks)");
      return unstructured_mask(weight, spec.sparsity, where);
    case MaskMethod::Wanda:
    case MaskMethod::SparseGpt:
      throw Error(where, std::string(method_name(spec.method)) + " needs calibration data");
  }
  throw Error(where, "unknown mask method");
}

}  // namespace cook::prune

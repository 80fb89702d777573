// The ways Cook computes pruning masks, by name (BMCook's "mask_method" values are accepted as
// they are: "m4n2_1d", "m4n2_2d" = greedy), and the pattern each produces.
//
//   m4n2_1d, m4n2_2d_greedy, m4n2_2d_best   2:4 by magnitude (see nm_masks.h)
//   magnitude                               unstructured by |w| at `sparsity`, per layer or global
//   wanda                                   |w|·‖x‖ from calibration inputs, 2:4 or unstructured
//   sparsegpt                               OBS updates with the inputs' Hessian, 2:4 or unstructured
#pragma once
#include <string>

#include <torch/torch.h>

namespace cook::prune {

enum class MaskMethod { M4N2_1d, M4N2_2dGreedy, M4N2_2dBest, Magnitude, Wanda, SparseGpt };
// The sparsity a mask has: 2:4 along the inputs, 2:4 along inputs and outputs, or any.
enum class Pattern { TwoFour, TwoFour2d, Unstructured };

struct MaskSpec {
  MaskMethod method = MaskMethod::M4N2_1d;
  Pattern pattern = Pattern::TwoFour;  // fixed by the m4n2 methods; a choice for wanda/sparsegpt
  double sparsity = 0.5;               // unstructured only (2:4 is always 0.5)
  bool global = false;                 // magnitude only: one threshold over every selected layer
};

// Throws cook::Error naming `where` and listing the known names.
MaskMethod parse_mask_method(const std::string& name, const std::string& where);
const char* method_name(MaskMethod m);
std::string mask_method_names();
// "2:4", "2:4-2d", "unstructured".
Pattern parse_pattern(const std::string& name, const std::string& where);
const char* pattern_name(Pattern p);

// The spec for `method` with its fixed pattern filled in; `pattern` is the requested one for
// wanda/sparsegpt ("" = 2:4) and must be empty or agree for the others. Checks the sparsity.
// Errors name the option or key of the value at fault: `keys` {method, pattern, sparsity}.
struct MaskSpecKeys {
  std::string method, pattern, sparsity;
};
MaskSpec make_mask_spec(const std::string& method, const std::string& pattern, double sparsity, bool global,
                        const MaskSpecKeys& keys);

// True for wanda and sparsegpt, which need the inputs of each layer.
bool needs_calibration(MaskMethod m);

// The mask of one weight by a data-free method (m4n2_*, per-layer magnitude). Errors name `where`.
torch::Tensor data_free_mask(const MaskSpec& spec, const torch::Tensor& weight, const std::string& where);

}  // namespace cook::prune

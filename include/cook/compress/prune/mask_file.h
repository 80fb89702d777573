// Pruning masks on disk (BMCook's pruning_mask_path, made by `cook prune masks` or by the first
// training run): a safetensors file with one BOOL tensor per pruned weight, named as the weight
// ("blocks.0.attn.q_proj.weight"), true = kept, and metadata
//   "cook.masks.format"  "1"
//   "method"             the mask method ("m4n2_1d", "sparsegpt", ...)
//   "pattern"            "2:4", "2:4-2d" or "unstructured"
//   "sparsity"           the fraction of the masked weights that is pruned, e.g. "0.5"
// Written atomically.
#pragma once
#include <map>
#include <string>

#include <torch/torch.h>

#include "cook/compress/prune/layer_selection.h"

namespace cook::prune {

struct MaskSet {
  std::map<std::string, torch::Tensor> masks;  // weight name → bool mask
  std::string method;
  std::string pattern;
  double sparsity = 0.0;  // overall, over every mask
};

// The overall sparsity of a set of masks.
double overall_sparsity(const std::map<std::string, torch::Tensor>& masks);

void save_masks(const std::string& path, const MaskSet& set);
// Reads and checks a mask file: the format marker, metadata, bool tensors. Errors name the file
// and the tensor or field.
MaskSet load_masks(const std::string& path);
// Checks that the masks fit `layers` exactly: one mask per selected weight with the weight's
// shape, and no mask for a weight that is not selected. Errors name the file and the tensor.
void check_masks_fit(const MaskSet& set, const std::vector<PrunedLayer>& layers, const std::string& path);

}  // namespace cook::prune

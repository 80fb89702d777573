// Pruning a whole model once: compute the masks of the selected layers by any method and apply
// them (weights zeroed where pruned; SparseGPT also updates the kept weights). The calibration
// methods go block by block when `sequential` is set: block i is calibrated on what the already
// pruned blocks 0..i-1 produce, as Wanda and SparseGPT do, so later blocks correct for the
// earlier ones' error (costs one forward pass over the calibration batches per block).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cook/compress/prune/layer_selection.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/compress/prune/mask_method.h"
#include "cook/model/gptj.h"

namespace cook::prune {

struct OneShotOptions {
  MaskSpec spec;
  double dampening = 0.01;   // SparseGPT
  int64_t block_size = 128;  // SparseGPT
  bool sequential = true;    // wanda/sparsegpt: calibrate block by block on the pruned prefix
  bool progress = true;
};

// The masks of a data-free method (m4n2_*, magnitude per layer or global) from the current weights.
std::map<std::string, torch::Tensor> data_free_masks(const std::vector<PrunedLayer>& layers, const MaskSpec& spec);

// Computes and applies the masks; `calibration` holds input-id batches (B, T) and is required
// by wanda and sparsegpt. Returns the masks with their metadata. Does not attach the masks to the
// layers (the training pass does that); the weights themselves end up pruned.
MaskSet prune_model(model::GptJ& model, const std::vector<PrunedLayer>& layers, const OneShotOptions& options,
                    const std::vector<torch::Tensor>& calibration = {});

}  // namespace cook::prune

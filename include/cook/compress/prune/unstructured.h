// Unstructured pruning: remove the weights of smallest score until a target sparsity is reached,
// per layer or with one threshold over all layers, and an optional gradual ramp of the target
// over training steps. Masks are bool tensors of the weight's shape (true = kept). Exactly
// round(sparsity · numel) entries are pruned; among equal scores the lower flat index (and, for
// the global threshold, the earlier layer) goes first, so the result is deterministic. Scores are
// compared as float32 magnitudes, NaN the largest (should the cut fall among NaNs, nothing is
// pruned). The per-layer and global masks find the cut by a radix select on the magnitude bits,
// with no sort and no copy of float32 scores: about 0.3 s for a 16384×4096 matrix on one core.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace cook::prune {

// Prunes round(sparsity · numel) entries of `score`; sparsity in [0, 1). Errors name `where`.
torch::Tensor unstructured_mask(const torch::Tensor& score, double sparsity, const std::string& where = "unstructured");
// The same with one threshold over all the scores (any shapes): the layers that matter least lose
// most. Returns one mask per score, in order. The scores are compared as float32.
std::vector<torch::Tensor> unstructured_masks_global(const std::vector<torch::Tensor>& scores, double sparsity,
                                                     const std::string& where = "unstructured global");
// Prunes round(sparsity · in) entries of every row (Wanda compares the weights of one output).
torch::Tensor unstructured_mask_per_row(const torch::Tensor& score, double sparsity,
                                        const std::string& where = "unstructured per row");

// Gradual pruning (Zhu & Gupta): the target sparsity rises from `initial` at `start_step` to
// `final` at `end_step` along s(t) = final + (initial − final)·(1 − (t − start)/(end − start))³,
// the masks recomputed every `interval` steps; `initial` before the ramp, `final` after it.
// Masks only ever grow sparser: a weight pruned once stays pruned.
struct SparsityRamp {
  double initial = 0.0;
  int64_t start_step = 0;
  int64_t end_step = 0;   // 0: no ramp (the final sparsity from the start)
  int64_t interval = 1;

  bool enabled() const { return end_step > 0; }
  // The target at `step` for a final sparsity `final_sparsity`.
  double at(int64_t step, double final_sparsity) const;
  // True when the masks are due to be recomputed after `step`.
  bool due(int64_t step) const;
  // Throws cook::Error naming `where` and the field for an impossible ramp.
  void validate(const std::string& where, double final_sparsity) const;
};

// The fraction of entries a mask prunes.
double sparsity_of(const torch::Tensor& mask);

}  // namespace cook::prune

// SparseGPT (Frantar & Alistarh, 2023): prune one layer so that its outputs on the calibration
// inputs change least. Columns are visited left to right in blocks; each pruned weight's error
// is spread over the not-yet-visited weights of its row through the inverse Hessian
// H⁻¹ (H = Σ x xᵀ + λI, λ = dampening · mean(diag H)), which is the row-wise Optimal Brain Surgeon
// update. Which weights go is decided by w²/[H⁻¹]_jj²: per block of columns for unstructured
// sparsity, per group of 4 inputs for 2:4.
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "cook/compress/prune/mask_method.h"

namespace cook::prune {

struct SparseGptOptions {
  Pattern pattern = Pattern::TwoFour;  // 2:4 or unstructured
  double sparsity = 0.5;               // unstructured only
  double dampening = 0.01;             // fraction of the mean diagonal added to H
  int64_t block_size = 128;            // columns per lazy-update block
};

struct SparseGptResult {
  torch::Tensor weight;  // the updated weight, pruned entries exactly 0, in the input's dtype
  torch::Tensor mask;    // bool, true = kept
};

// weight (out, in); gram (in, in) = Σ x xᵀ over calibration tokens. Errors name `where`.
SparseGptResult sparsegpt_prune(const torch::Tensor& weight, const torch::Tensor& gram, const SparseGptOptions& options,
                                const std::string& where);

}  // namespace cook::prune

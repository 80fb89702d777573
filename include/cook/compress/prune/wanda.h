// Wanda (Sun et al., 2023): prune by |w_ij|·‖x_j‖, the weight's magnitude times the norm of its
// input over calibration tokens; no weight update. Unstructured masks compare the weights of one
// output row; 2:4 masks compare groups of 4 inputs, as m4n2_1d does on the score.
#pragma once
#include <string>

#include <torch/torch.h>

#include "cook/compress/prune/mask_method.h"

namespace cook::prune {

// |W| · sqrt(sum_squares) broadcast over rows; sum_squares (in) from InputStatistics.
torch::Tensor wanda_score(const torch::Tensor& weight, const torch::Tensor& sum_squares, const std::string& where);
// The keep mask for `pattern` (2:4 or unstructured at `sparsity`).
torch::Tensor wanda_mask(const torch::Tensor& weight, const torch::Tensor& sum_squares, Pattern pattern,
                         double sparsity, const std::string& where);

}  // namespace cook::prune

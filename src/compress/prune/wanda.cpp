#include "cook/compress/prune/wanda.h"

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/core/error.h"

namespace cook::prune {

torch::Tensor wanda_score(const torch::Tensor& weight, const torch::Tensor& sum_squares, const std::string& where) {
  if (weight.dim() != 2 || sum_squares.dim() != 1 || sum_squares.size(0) != weight.size(1))
    throw Error(where, "Wanda needs input statistics of " + std::to_string(weight.size(1)) + " features");
  torch::NoGradGuard no_grad;
  const torch::Tensor norms = sum_squares.to(torch::kFloat32).sqrt().to(weight.device());
  return weight.detach().abs().to(torch::kFloat32) * norms.unsqueeze(0);
}

torch::Tensor wanda_mask(const torch::Tensor& weight, const torch::Tensor& sum_squares, Pattern pattern,
                         double sparsity, const std::string& where) {
  const torch::Tensor score = wanda_score(weight, sum_squares, where);
  switch (pattern) {
    case Pattern::TwoFour: return m4n2_1d(score, where);
    case Pattern::TwoFour2d: return m4n2_2d_best(score, where);
    case Pattern::Unstructured: return unstructured_mask_per_row(score, sparsity, where);
  }
  throw Error(where, "unknown pattern");
}

}  // namespace cook::prune

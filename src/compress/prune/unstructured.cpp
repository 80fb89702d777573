#include "cook/compress/prune/unstructured.h"

#include <cmath>

#include "cook/core/error.h"
#include "smallest_magnitudes.h"

namespace cook::prune {

namespace {

void check_sparsity(double sparsity, const std::string& where) {
  if (!(sparsity >= 0.0 && sparsity < 1.0))
    throw Error(where, "sparsity must be in [0, 1), got " + std::to_string(sparsity));
}

int64_t pruned_count(int64_t numel, double sparsity) { return static_cast<int64_t>(std::llround(sparsity * numel)); }

// The score as a contiguous CPU float32 array (scores are compared as float32; the kernel takes |x|).
torch::Tensor float_scores(const torch::Tensor& score) { return score.detach().cpu().to(torch::kFloat32).contiguous(); }

kernels::FloatArray array_of(const torch::Tensor& contiguous_float) {
  return {contiguous_float.data_ptr<float>(), contiguous_float.numel()};
}

torch::Tensor empty_mask(const torch::Tensor& score) {
  return torch::empty(score.sizes(), torch::TensorOptions().dtype(torch::kBool));
}

}  // namespace

torch::Tensor unstructured_mask(const torch::Tensor& score, double sparsity, const std::string& where) {
  check_sparsity(sparsity, where);
  if (!score.defined() || !score.is_floating_point() || score.numel() == 0)
    throw Error(where, "unstructured pruning needs a non-empty floating-point score");
  const torch::Tensor s = float_scores(score);
  torch::Tensor keep = empty_mask(s);
  kernels::prune_smallest_magnitudes({array_of(s)}, pruned_count(s.numel(), sparsity), {keep.data_ptr<bool>()});
  return keep.to(score.device());
}

std::vector<torch::Tensor> unstructured_masks_global(const std::vector<torch::Tensor>& scores, double sparsity,
                                                     const std::string& where) {
  check_sparsity(sparsity, where);
  if (scores.empty()) throw Error(where, "no weights to prune");
  std::vector<torch::Tensor> floats, masks;
  std::vector<kernels::FloatArray> arrays;
  std::vector<bool*> keeps;
  int64_t total = 0;
  for (const auto& s : scores) {
    if (!s.defined() || !s.is_floating_point()) throw Error(where, "scores must be floating-point tensors");
    floats.push_back(float_scores(s));
    masks.push_back(empty_mask(s));
    arrays.push_back(array_of(floats.back()));
    keeps.push_back(masks.back().data_ptr<bool>());
    total += s.numel();
  }
  kernels::prune_smallest_magnitudes(arrays, pruned_count(total, sparsity), keeps);
  for (size_t i = 0; i < scores.size(); ++i) masks[i] = masks[i].to(scores[i].device());
  return masks;
}

torch::Tensor unstructured_mask_per_row(const torch::Tensor& score, double sparsity, const std::string& where) {
  check_sparsity(sparsity, where);
  if (!score.defined() || score.dim() != 2 || !score.is_floating_point())
    throw Error(where, "per-row pruning needs a 2-D floating-point score");
  torch::NoGradGuard no_grad;
  const int64_t k = pruned_count(score.size(1), sparsity);
  torch::Tensor keep = torch::ones(score.sizes(), score.options().dtype(torch::kBool));
  if (k == 0) return keep;
  // Ascending stable sort: the smallest scores first, equal ones in index order.
  const torch::Tensor order = std::get<1>(score.detach().abs().sort(/*stable=*/true, /*dim=*/1, /*descending=*/false));
  keep.scatter_(1, order.narrow(1, 0, k), false);
  return keep;
}

double SparsityRamp::at(int64_t step, double final_sparsity) const {
  if (!enabled() || step >= end_step) return final_sparsity;
  if (step <= start_step) return initial;
  const double progress = double(step - start_step) / double(end_step - start_step);
  return final_sparsity + (initial - final_sparsity) * std::pow(1.0 - progress, 3.0);
}

bool SparsityRamp::due(int64_t step) const {
  if (!enabled() || step < start_step || step > end_step) return false;
  return (step - start_step) % interval == 0 || step == end_step;
}

void SparsityRamp::validate(const std::string& where, double final_sparsity) const {
  if (!enabled()) return;
  if (!(initial >= 0.0 && initial <= final_sparsity))
    throw Error(where + ".initial_sparsity", "must be in [0, final sparsity " + std::to_string(final_sparsity) + "]");
  if (start_step < 0) throw Error(where + ".start_step", "must be >= 0");
  if (end_step <= start_step) throw Error(where + ".end_step", "must be greater than start_step");
  if (interval <= 0) throw Error(where + ".interval", "must be positive");
}

double sparsity_of(const torch::Tensor& mask) {
  if (mask.numel() == 0) return 0.0;
  return 1.0 - mask.to(torch::kFloat64).sum().item<double>() / double(mask.numel());
}

}  // namespace cook::prune

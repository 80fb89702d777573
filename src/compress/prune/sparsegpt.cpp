#include "cook/compress/prune/sparsegpt.h"

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/core/error.h"

namespace cook::prune {

namespace {

// The upper Cholesky factor of H⁻¹ after dampening; dead inputs (never non-zero) get H_jj = 1.
torch::Tensor inverse_hessian_factor(torch::Tensor h, double dampening, const torch::Tensor& dead,
                                     const std::string& where) {
  const int64_t n = h.size(0);
  h.index_put_({dead, dead}, 1.0);
  const double mean_diag = h.diagonal().mean().item<double>();
  h.diagonal().add_(dampening * mean_diag);
  // Cholesky of H, then of H⁻¹ (upper): H⁻¹'s rows from the diagonal on drive the updates.
  auto [l, info] = torch::linalg_cholesky_ex(h);
  if (info.item<int64_t>() != 0)
    throw Error(where, "the calibration Hessian is not positive definite even with dampening " +
                           std::to_string(dampening) + " (raise the dampening or use more calibration data)");
  const torch::Tensor h_inv = torch::cholesky_inverse(l);
  auto [u, info2] = torch::linalg_cholesky_ex(h_inv, /*upper=*/true);
  if (info2.item<int64_t>() != 0) throw Error(where, "the inverse Hessian lost positive definiteness (n = " + std::to_string(n) + ")");
  return u;
}

}  // namespace

SparseGptResult sparsegpt_prune(const torch::Tensor& weight, const torch::Tensor& gram, const SparseGptOptions& options,
                                const std::string& where) {
  if (weight.dim() != 2) throw Error(where, "SparseGPT prunes 2-D weights");
  const int64_t rows = weight.size(0), cols = weight.size(1);
  if (gram.dim() != 2 || gram.size(0) != cols || gram.size(1) != cols)
    throw Error(where, "SparseGPT needs a " + std::to_string(cols) + "×" + std::to_string(cols) + " input Hessian");
  if (options.pattern == Pattern::TwoFour && cols % 4 != 0)
    throw Error(where, "2:4 needs the input dimension divisible by 4, it is " + std::to_string(cols));
  if (options.pattern == Pattern::TwoFour2d) throw Error(where, "SparseGPT makes 2:4 or unstructured masks, not 2:4-2d");
  if (options.block_size <= 0 || (options.pattern == Pattern::TwoFour && options.block_size % 4 != 0))
    throw Error(where, "block size must be positive (and a multiple of 4 for 2:4)");
  if (!(options.dampening > 0.0)) throw Error(where, "dampening must be positive");
  torch::NoGradGuard no_grad;

  torch::Tensor h = gram.to(weight.device(), torch::kFloat64).clone();
  torch::Tensor w = weight.detach().to(torch::kFloat64).clone();
  const torch::Tensor dead = h.diagonal().eq(0);
  w.index_put_({torch::indexing::Slice(), dead}, 0.0);
  const torch::Tensor u = inverse_hessian_factor(h, options.dampening, dead, where);
  torch::Tensor keep = torch::ones({rows, cols}, w.options().dtype(torch::kBool));

  for (int64_t i1 = 0; i1 < cols; i1 += options.block_size) {
    const int64_t count = std::min(options.block_size, cols - i1);
    torch::Tensor w1 = w.narrow(1, i1, count).clone();
    torch::Tensor err1 = torch::zeros_like(w1);
    const torch::Tensor u1 = u.narrow(0, i1, count).narrow(1, i1, count);
    const torch::Tensor d1 = u1.diagonal();
    torch::Tensor keep1 = torch::ones_like(w1, torch::kBool);
    if (options.pattern == Pattern::Unstructured)
      keep1 = unstructured_mask(w1.square() / d1.square().unsqueeze(0), options.sparsity, where);
    for (int64_t i = 0; i < count; ++i) {
      if (options.pattern == Pattern::TwoFour && i % 4 == 0) {
        const torch::Tensor group = w1.narrow(1, i, 4);
        keep1.narrow(1, i, 4).copy_(m4n2_1d(group.square() / d1.narrow(0, i, 4).square().unsqueeze(0), where));
      }
      const torch::Tensor col = w1.select(1, i);
      const torch::Tensor q = col * keep1.select(1, i);
      const torch::Tensor err = (col - q) / d1[i];
      // Spread this column's error over the columns still to come in the block.
      w1.narrow(1, i, count - i).sub_(err.unsqueeze(1) * u1.select(0, i).narrow(0, i, count - i).unsqueeze(0));
      w1.select(1, i).copy_(q);
      err1.select(1, i).copy_(err);
    }
    w.narrow(1, i1, count).copy_(w1);
    keep.narrow(1, i1, count).copy_(keep1);
    if (i1 + count < cols)
      w.narrow(1, i1 + count, cols - i1 - count).sub_(err1.matmul(u.narrow(0, i1, count).narrow(1, i1 + count, cols - i1 - count)));
  }
  w.mul_(keep);
  return {w.to(weight.scalar_type()), keep};
}

}  // namespace cook::prune

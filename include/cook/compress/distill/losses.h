// The distillation loss terms as pure functions of student and teacher tensors. Each computes in
// float32 at least (float64 inputs stay float64), takes the teacher side as a constant, and counts
// only the positions that carry a token, so padding never changes a value or a gradient.
#pragma once
#include <torch/torch.h>

namespace cook::compress::distill {

// Soft cross-entropy of the student's logits against the teacher's at temperature T, scaled by T²,
// averaged over the positions whose label is not -100. Computed as KL(teacher ‖ student), i.e. the
// soft cross-entropy minus the teacher's entropy (a constant): the gradient is the same and the term
// is zero when the student equals the teacher. Logits (B, T, V), labels (B, T).
torch::Tensor soft_ce_logits(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                             const torch::Tensor& labels, double temperature);

// Mean squared error of (B, T, d) states over the tokens where token_mask (B, T) is nonzero (an
// undefined mask counts every position) and over the channels.
torch::Tensor masked_mse(const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& token_mask);

// x divided by the mean L2 norm of its tokens (those where token_mask is nonzero): BMCook V3's
// normalization, which makes a hidden-state MSE independent of each model's scale.
torch::Tensor normalize_by_mean_token_norm(const torch::Tensor& x, const torch::Tensor& token_mask);

// masked_mse of two hidden states, each side first normalized by its mean token norm when asked.
torch::Tensor hidden_mse(const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& token_mask,
                         bool normalize);

// Mean squared error of pre-softmax attention scores (B, H, T, T) over the valid entries only:
// query i and key j with j ≤ i, both tokens. Masked entries (whatever value the model put there)
// take no part.
torch::Tensor attention_score_mse(const torch::Tensor& student_scores, const torch::Tensor& teacher_scores,
                                  const torch::Tensor& token_mask);

}  // namespace cook::compress::distill

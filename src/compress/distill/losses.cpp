#include "cook/compress/distill/losses.h"

#include "cook/core/error.h"
#include "cook/train/batch.h"

namespace cook::compress::distill {

namespace {

torch::ScalarType compute_type(const torch::Tensor& x) { return at::promote_types(x.scalar_type(), torch::kFloat32); }

void require_same_shape(const torch::Tensor& s, const torch::Tensor& t, const char* what) {
  if (s.sizes() != t.sizes())
    throw Error(what, "student shape " + c10::str(s.sizes()) + " differs from teacher shape " + c10::str(t.sizes()));
}

// (B, T) in the compute type: 1 where a token is, 0 at padding.
torch::Tensor token_weights(const torch::Tensor& token_mask, const torch::Tensor& like, torch::ScalarType type) {
  if (!token_mask.defined())
    return torch::ones({like.size(0), like.size(1)}, torch::TensorOptions().dtype(type).device(like.device()));
  if (token_mask.dim() != 2 || token_mask.size(0) != like.size(0) || token_mask.size(1) != like.size(1))
    throw Error("distillation", "token mask of shape " + c10::str(token_mask.sizes()) + " does not fit states of shape " +
                                    c10::str(like.sizes()));
  return token_mask.to(like.device()).ne(0).to(type);
}

}  // namespace

torch::Tensor soft_ce_logits(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                             const torch::Tensor& labels, double temperature) {
  require_same_shape(student_logits, teacher_logits, "kd logits");
  if (!(temperature > 0)) throw Error("ce_temp", "the temperature must be > 0");
  const auto type = compute_type(student_logits);
  const torch::Tensor log_p_s = torch::log_softmax(student_logits.to(type) / temperature, -1);
  const torch::Tensor log_p_t = torch::log_softmax(teacher_logits.detach().to(type) / temperature, -1);
  const torch::Tensor kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1);  // (B, T)
  const torch::Tensor valid = labels.to(kl.device()).ne(train::kIgnoreLabel).to(type);
  return (kl * valid).sum() / valid.sum().clamp_min(1.0) * (temperature * temperature);
}

torch::Tensor masked_mse(const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& token_mask) {
  require_same_shape(student, teacher, "kd hidden state");
  const auto type = compute_type(student);
  const torch::Tensor w = token_weights(token_mask, student, type);
  const torch::Tensor sq = (student.to(type) - teacher.detach().to(type)).pow(2).sum(-1);  // (B, T)
  return (sq * w).sum() / (w.sum().clamp_min(1.0) * static_cast<double>(student.size(-1)));
}

torch::Tensor normalize_by_mean_token_norm(const torch::Tensor& x, const torch::Tensor& token_mask) {
  const auto type = compute_type(x);
  const torch::Tensor w = token_weights(token_mask, x, type);
  const torch::Tensor xf = x.to(type);
  const torch::Tensor mean_norm = (xf.norm(2, -1) * w).sum() / w.sum().clamp_min(1.0);
  return xf / mean_norm.clamp_min(1e-12);
}

torch::Tensor hidden_mse(const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& token_mask,
                         bool normalize) {
  if (!normalize) return masked_mse(student, teacher, token_mask);
  return masked_mse(normalize_by_mean_token_norm(student, token_mask),
                    normalize_by_mean_token_norm(teacher.detach(), token_mask), token_mask);
}

torch::Tensor attention_score_mse(const torch::Tensor& student_scores, const torch::Tensor& teacher_scores,
                                  const torch::Tensor& token_mask) {
  require_same_shape(student_scores, teacher_scores, "kd attention scores");
  if (student_scores.dim() != 4 || student_scores.size(2) != student_scores.size(3))
    throw Error("kd attention scores", "expected (B, H, T, T), got " + c10::str(student_scores.sizes()));
  const auto type = compute_type(student_scores);
  const int64_t B = student_scores.size(0), T = student_scores.size(2);
  const auto opts = torch::TensorOptions().dtype(torch::kBool).device(student_scores.device());
  torch::Tensor valid = torch::ones({T, T}, opts).tril().view({1, 1, T, T});
  if (token_mask.defined()) {
    if (token_mask.dim() != 2 || token_mask.size(0) != B || token_mask.size(1) != T)
      throw Error("kd attention scores", "token mask of shape " + c10::str(token_mask.sizes()) + " does not fit scores " +
                                             c10::str(student_scores.sizes()));
    const torch::Tensor tokens = token_mask.to(student_scores.device()).ne(0);
    valid = valid.logical_and(tokens.view({B, 1, T, 1})).logical_and(tokens.view({B, 1, 1, T}));
  }
  valid = valid.expand(student_scores.sizes());
  const torch::Tensor diff = student_scores.to(type) - teacher_scores.detach().to(type);
  const torch::Tensor sq = torch::where(valid, diff, torch::zeros_like(diff)).pow(2);
  return sq.sum() / valid.sum().to(type).clamp_min(1.0);
}

}  // namespace cook::compress::distill

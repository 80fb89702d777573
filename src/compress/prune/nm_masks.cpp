#include "cook/compress/prune/nm_masks.h"

#include <sstream>
#include <vector>

#include "cook/core/error.h"
#include "nm_kernels.h"

namespace cook::prune {

namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void check_score(const torch::Tensor& score, const std::string& where, bool both_dims) {
  if (!score.defined() || score.dim() != 2 || !score.is_floating_point())
    throw Error(where, "a 2:4 mask needs a 2-D floating-point matrix, got " +
                           (score.defined() ? shape_of(score) + " " + std::string(c10::toString(score.scalar_type()))
                                            : std::string("an undefined tensor")));
  if (score.size(1) % 4 != 0 || (both_dims && score.size(0) % 4 != 0))
    throw Error(where, std::string("a ") + (both_dims ? "2-D 2:4 mask needs both dimensions" : "2:4 mask needs the input dimension") +
                           " divisible by 4, the matrix is " + shape_of(score));
}

// (R, C) → (R/4 · C/4, 16): each row one 4×4 block, row-major within the block.
torch::Tensor to_blocks(const torch::Tensor& m) {
  const int64_t r = m.size(0), c = m.size(1);
  return m.reshape({r / 4, 4, c / 4, 4}).permute({0, 2, 1, 3}).reshape({-1, 16});
}

bool within_2d_limit(int v) {
  int row_sum[4] = {0, 0, 0, 0}, col_sum[4] = {0, 0, 0, 0};
  for (int e = 0; e < 16; ++e) {
    if ((v >> (15 - e)) & 1) {
      ++row_sum[e / 4];
      ++col_sum[e % 4];
    }
  }
  for (int i = 0; i < 4; ++i)
    if (row_sum[i] > 2 || col_sum[i] > 2) return false;
  return true;
}

// Every maximal pattern (no entry can be added without a third in a row or column): the 90 with
// 8 entries first, then the 96 with 7, each group in lexicographic order (entry 0 the most
// significant bit).
torch::Tensor make_patterns() {
  std::vector<int> full, seven;
  for (int v = 0; v <= 0xFFFF; ++v) {
    if (!within_2d_limit(v)) continue;
    bool maximal = true;
    for (int e = 0; e < 16 && maximal; ++e) {
      const int bit = 1 << (15 - e);
      if (!(v & bit) && within_2d_limit(v | bit)) maximal = false;
    }
    if (!maximal) continue;
    (__builtin_popcount(v) == 8 ? full : seven).push_back(v);
  }
  std::vector<float> rows;
  for (const auto* group : {&full, &seven})
    for (int v : *group)
      for (int e = 0; e < 16; ++e) rows.push_back(static_cast<float>((v >> (15 - e)) & 1));
  const int64_t count = static_cast<int64_t>(rows.size() / 16);
  return torch::from_blob(rows.data(), {count, 16}, torch::kFloat32).clone();
}

// The score as a contiguous CPU array of float or double (half and bfloat16 widen exactly).
torch::Tensor cpu_scores(const torch::Tensor& score) {
  torch::Tensor s = score.detach().cpu();
  if (s.scalar_type() != torch::kFloat32 && s.scalar_type() != torch::kFloat64) s = s.to(torch::kFloat32);
  return s.contiguous();
}

torch::Tensor empty_mask(const torch::Tensor& score) {
  return torch::empty(score.sizes(), torch::TensorOptions().dtype(torch::kBool));
}

// valid_2d_patterns() as 16-bit masks, bit e = entry e of the block.
std::vector<uint16_t> pattern_bits() {
  const torch::Tensor p = valid_2d_patterns().to(torch::kBool).contiguous();
  const bool* b = p.data_ptr<bool>();
  std::vector<uint16_t> bits(p.size(0), 0);
  for (int64_t k = 0; k < p.size(0); ++k)
    for (int e = 0; e < 16; ++e)
      if (b[k * 16 + e]) bits[k] |= uint16_t(1u << e);
  return bits;
}

}  // namespace

const torch::Tensor& valid_2d_patterns() {
  static const torch::Tensor patterns = make_patterns();  // immutable table, built once
  return patterns;
}

torch::Tensor m4n2_1d(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, false);
  const torch::Tensor s = cpu_scores(score);
  torch::Tensor keep = empty_mask(s);
  if (s.scalar_type() == torch::kFloat64)
    kernels::keep_2_of_4(s.data_ptr<double>(), s.numel() / 4, keep.data_ptr<bool>());
  else
    kernels::keep_2_of_4(s.data_ptr<float>(), s.numel() / 4, keep.data_ptr<bool>());
  return keep.to(score.device());
}

torch::Tensor m4n2_2d_greedy(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, true);
  const torch::Tensor s = cpu_scores(score);
  torch::Tensor keep = empty_mask(s);
  if (s.scalar_type() == torch::kFloat64)
    kernels::greedy_2d(s.data_ptr<double>(), s.size(0), s.size(1), keep.data_ptr<bool>());
  else
    kernels::greedy_2d(s.data_ptr<float>(), s.size(0), s.size(1), keep.data_ptr<bool>());
  return keep.to(score.device());
}

torch::Tensor m4n2_2d_best(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, true);
  // Compared as float32 whatever the score's type.
  const torch::Tensor s = score.detach().cpu().to(torch::kFloat32).contiguous();
  torch::Tensor keep = empty_mask(s);
  kernels::best_2d(s.data_ptr<float>(), s.size(0), s.size(1), pattern_bits(), keep.data_ptr<bool>());
  return keep.to(score.device());
}

bool is_2to4_along_inputs(const torch::Tensor& mask) {
  if (mask.dim() != 2 || mask.size(1) % 4 != 0) return false;
  return mask.to(torch::kInt32).reshape({-1, 4}).sum(1).le(2).all().item<bool>();
}

bool is_2to4_2d(const torch::Tensor& mask) {
  if (mask.dim() != 2 || mask.size(0) % 4 != 0 || mask.size(1) % 4 != 0) return false;
  const torch::Tensor b = to_blocks(mask.to(torch::kInt32)).reshape({-1, 4, 4});
  return b.sum(1).le(2).all().item<bool>() && b.sum(2).le(2).all().item<bool>();
}

}  // namespace cook::prune

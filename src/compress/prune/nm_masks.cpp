#include "cook/compress/prune/nm_masks.h"

#include <sstream>
#include <vector>

#include "cook/core/error.h"

namespace cook::prune {

namespace {

// Blocks are processed this many at a time, so the temporaries stay a few tens of MB whatever
// the matrix.
constexpr int64_t kBlocksPerChunk = 1 << 18;

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

torch::Tensor from_blocks(const torch::Tensor& blocks, int64_t r, int64_t c) {
  return blocks.reshape({r / 4, c / 4, 4, 4}).permute({0, 2, 1, 3}).reshape({r, c});
}

// Greedy on a chunk of blocks (n, 16) of scores: 16 vectorized steps, one per rank.
torch::Tensor greedy_blocks(const torch::Tensor& blocks) {
  const int64_t n = blocks.size(0);
  // A stable descending sort keeps equal scores in index order: the lower index is visited first.
  const torch::Tensor order = std::get<1>(blocks.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
  const auto opts = torch::TensorOptions().dtype(torch::kInt8).device(blocks.device());
  torch::Tensor row_count = torch::zeros({n, 4}, opts);
  torch::Tensor col_count = torch::zeros({n, 4}, opts);
  torch::Tensor keep = torch::zeros({n, 16}, opts);
  for (int64_t k = 0; k < 16; ++k) {
    const torch::Tensor idx = order.select(1, k).unsqueeze(1);
    const torch::Tensor row = idx.div(4, "floor");
    const torch::Tensor col = idx.remainder(4);
    const torch::Tensor ok = row_count.gather(1, row).lt(2).logical_and_(col_count.gather(1, col).lt(2)).to(torch::kInt8);
    keep.scatter_(1, idx, ok);
    row_count.scatter_add_(1, row, ok);
    col_count.scatter_add_(1, col, ok);
  }
  return keep.to(torch::kBool);
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

}  // namespace

const torch::Tensor& valid_2d_patterns() {
  static const torch::Tensor patterns = make_patterns();  // immutable table, built once
  return patterns;
}

torch::Tensor m4n2_1d(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, false);
  torch::NoGradGuard no_grad;
  const torch::Tensor a = score.detach().abs().reshape({-1, 4});
  // An entry is kept when fewer than 2 of its group beat it (larger, or equal at a lower index).
  std::vector<torch::Tensor> kept;
  for (int64_t j = 0; j < 4; ++j) {
    const torch::Tensor aj = a.select(1, j);
    torch::Tensor beaten = torch::zeros_like(aj, torch::kInt8);
    for (int64_t k = 0; k < 4; ++k) {
      if (k == j) continue;
      const torch::Tensor ak = a.select(1, k);
      beaten.add_(k < j ? ak.ge(aj) : ak.gt(aj));
    }
    kept.push_back(beaten.lt(2));
  }
  return torch::stack(kept, 1).reshape(score.sizes());
}

torch::Tensor m4n2_2d_greedy(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, true);
  torch::NoGradGuard no_grad;
  const torch::Tensor blocks = to_blocks(score.detach().abs());
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < blocks.size(0); start += kBlocksPerChunk)
    parts.push_back(greedy_blocks(blocks.narrow(0, start, std::min(kBlocksPerChunk, blocks.size(0) - start))));
  return from_blocks(torch::cat(parts, 0), score.size(0), score.size(1));
}

torch::Tensor m4n2_2d_best(const torch::Tensor& score, const std::string& where) {
  check_score(score, where, true);
  torch::NoGradGuard no_grad;
  const torch::Tensor blocks = to_blocks(score.detach().abs().to(torch::kFloat32));
  const torch::Tensor patterns = valid_2d_patterns().to(blocks.device());
  const torch::Tensor patterns_t = patterns.t().contiguous();
  const torch::Tensor pattern_bools = patterns.to(torch::kBool);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < blocks.size(0); start += kBlocksPerChunk) {
    const torch::Tensor chunk = blocks.narrow(0, start, std::min(kBlocksPerChunk, blocks.size(0) - start));
    // Kept score of every pattern for every block in one product; argmax takes the first maximum.
    const torch::Tensor best = chunk.matmul(patterns_t).argmax(1);
    parts.push_back(pattern_bools.index_select(0, best));
  }
  return from_blocks(torch::cat(parts, 0), score.size(0), score.size(1));
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

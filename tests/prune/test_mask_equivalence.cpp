// The C++ mask loops give the same masks as the earlier tensor-op versions (copied here as
// `legacy`), on random matrices full of ties, with NaN and inf, in several dtypes.
#include <gtest/gtest.h>

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"

using namespace cook::prune;

namespace legacy {

constexpr int64_t kBlocksPerChunk = 1 << 18;

torch::Tensor to_blocks(const torch::Tensor& m) {
  const int64_t r = m.size(0), c = m.size(1);
  return m.reshape({r / 4, 4, c / 4, 4}).permute({0, 2, 1, 3}).reshape({-1, 16});
}

torch::Tensor from_blocks(const torch::Tensor& blocks, int64_t r, int64_t c) {
  return blocks.reshape({r / 4, c / 4, 4, 4}).permute({0, 2, 1, 3}).reshape({r, c});
}

torch::Tensor greedy_blocks(const torch::Tensor& blocks) {
  const int64_t n = blocks.size(0);
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

torch::Tensor m4n2_1d(const torch::Tensor& score) {
  torch::NoGradGuard no_grad;
  const torch::Tensor a = score.detach().abs().reshape({-1, 4});
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

torch::Tensor m4n2_2d_greedy(const torch::Tensor& score) {
  torch::NoGradGuard no_grad;
  const torch::Tensor blocks = to_blocks(score.detach().abs());
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < blocks.size(0); start += kBlocksPerChunk)
    parts.push_back(greedy_blocks(blocks.narrow(0, start, std::min(kBlocksPerChunk, blocks.size(0) - start))));
  return from_blocks(torch::cat(parts, 0), score.size(0), score.size(1));
}

torch::Tensor m4n2_2d_best(const torch::Tensor& score) {
  torch::NoGradGuard no_grad;
  const torch::Tensor blocks = to_blocks(score.detach().abs().to(torch::kFloat32));
  const torch::Tensor patterns = valid_2d_patterns().to(blocks.device());
  const torch::Tensor patterns_t = patterns.t().contiguous();
  const torch::Tensor pattern_bools = patterns.to(torch::kBool);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < blocks.size(0); start += kBlocksPerChunk) {
    const torch::Tensor chunk = blocks.narrow(0, start, std::min(kBlocksPerChunk, blocks.size(0) - start));
    const torch::Tensor best = chunk.matmul(patterns_t).argmax(1);
    parts.push_back(pattern_bools.index_select(0, best));
  }
  return from_blocks(torch::cat(parts, 0), score.size(0), score.size(1));
}

int64_t pruned_count(int64_t numel, double sparsity) { return static_cast<int64_t>(std::llround(sparsity * numel)); }

torch::Tensor keep_flat(const torch::Tensor& flat, int64_t k) {
  if (k <= 0) return torch::ones(flat.sizes(), flat.options().dtype(torch::kBool));
  const torch::Tensor threshold = std::get<0>(flat.kthvalue(k));
  const torch::Tensor below = flat.lt(threshold);
  const torch::Tensor tied = flat.eq(threshold);
  const int64_t still = k - below.sum().item<int64_t>();
  const torch::Tensor tied_pruned = tied.logical_and(tied.to(torch::kInt64).cumsum(0).le(still));
  return below.logical_or(tied_pruned).logical_not();
}

torch::Tensor unstructured_mask(const torch::Tensor& score, double sparsity) {
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = score.detach().abs().to(torch::kFloat32).reshape({-1});
  return keep_flat(flat, pruned_count(flat.numel(), sparsity)).reshape(score.sizes());
}

std::vector<torch::Tensor> unstructured_masks_global(const std::vector<torch::Tensor>& scores, double sparsity) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flats;
  for (const auto& s : scores) flats.push_back(s.detach().abs().to(torch::kFloat32).reshape({-1}).cpu());
  const torch::Tensor all = torch::cat(flats);
  const torch::Tensor keep = keep_flat(all, pruned_count(all.numel(), sparsity));
  std::vector<torch::Tensor> masks;
  int64_t offset = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    masks.push_back(keep.narrow(0, offset, flats[i].numel()).reshape(scores[i].sizes()));
    offset += flats[i].numel();
  }
  return masks;
}

}  // namespace legacy

namespace {

enum class Values { Normal, SmallIntegers, ZerosAndOnes, CoarseGrid, WithNaNAndInf };

torch::Tensor matrix(int64_t r, int64_t c, Values kind, uint64_t seed, torch::Dtype dtype = torch::kFloat32) {
  auto gen = at::detail::createCPUGenerator(seed);
  torch::Tensor m = torch::randn({r, c}, gen, torch::kFloat64);
  switch (kind) {
    case Values::Normal: break;
    case Values::SmallIntegers: m = torch::randint(-3, 4, {r, c}, gen, torch::kFloat64); break;
    case Values::ZerosAndOnes: m = torch::randint(0, 2, {r, c}, gen, torch::kFloat64); break;
    case Values::CoarseGrid: m = (m * 2).round() / 2; break;
    case Values::WithNaNAndInf: {
      const torch::Tensor u = torch::rand({r, c}, gen, torch::kFloat64);
      m = torch::where(u < 0.02, torch::full_like(m, std::nan("")), m);
      m = torch::where(u > 0.98, torch::full_like(m, -INFINITY), m);
      m = torch::where((u > 0.5) & (u < 0.52), torch::full_like(m, INFINITY), m);
      break;
    }
  }
  return m.to(dtype);
}

const std::vector<Values> kAllValues = {Values::Normal, Values::SmallIntegers, Values::ZerosAndOnes, Values::CoarseGrid,
                                        Values::WithNaNAndInf};
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{4, 4}, {8, 12}, {64, 64}, {32, 260}, {128, 36}};
const std::vector<torch::Dtype> kDtypes = {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kFloat16};

std::string label(int64_t r, int64_t c, Values v, torch::Dtype d, uint64_t seed) {
  return std::to_string(r) + "x" + std::to_string(c) + " values " + std::to_string(int(v)) + " dtype " +
         std::string(c10::toString(d)) + " seed " + std::to_string(seed);
}

}  // namespace

TEST(MaskEquivalence, OneDimensionalEqualsLegacy) {
  uint64_t seed = 100;
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes) {
        const torch::Tensor w = matrix(r, c, v, ++seed, d);
        EXPECT_TRUE(torch::equal(m4n2_1d(w), legacy::m4n2_1d(w))) << label(r, c, v, d, seed);
      }
  const torch::Tensor odd_rows = matrix(3, 8, Values::SmallIntegers, 7);
  EXPECT_TRUE(torch::equal(m4n2_1d(odd_rows), legacy::m4n2_1d(odd_rows)));
  const torch::Tensor transposed = matrix(16, 8, Values::SmallIntegers, 8).t();
  EXPECT_TRUE(torch::equal(m4n2_1d(transposed), legacy::m4n2_1d(transposed)));
}

TEST(MaskEquivalence, GreedyEqualsLegacy) {
  uint64_t seed = 200;
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes) {
        const torch::Tensor w = matrix(r, c, v, ++seed, d);
        EXPECT_TRUE(torch::equal(m4n2_2d_greedy(w), legacy::m4n2_2d_greedy(w))) << label(r, c, v, d, seed);
      }
  // Every order of 16 distinct magnitudes that a block can be visited in is some random block.
  const torch::Tensor w = matrix(256, 256, Values::Normal, 9);
  EXPECT_TRUE(torch::equal(m4n2_2d_greedy(w), legacy::m4n2_2d_greedy(w)));
}

TEST(MaskEquivalence, BestEqualsLegacy) {
  uint64_t seed = 300;
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes) {
        const torch::Tensor w = matrix(r, c, v, ++seed, d);
        EXPECT_TRUE(torch::equal(m4n2_2d_best(w), legacy::m4n2_2d_best(w))) << label(r, c, v, d, seed);
      }
}

TEST(MaskEquivalence, BestOnALargeNormalMatrix) {
  const torch::Tensor w = matrix(1024, 1024, Values::Normal, 10);
  const torch::Tensor differ = m4n2_2d_best(w).ne(legacy::m4n2_2d_best(w));
  std::cout << "blocks that differ from the float32 product: " << legacy::to_blocks(differ).any(1).sum().item<int64_t>()
            << " of " << (1024 / 4) * (1024 / 4) << "\n";
  EXPECT_FALSE(differ.any().item<bool>());
}

TEST(MaskEquivalence, UnstructuredEqualsLegacy) {
  uint64_t seed = 400;
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes)
        for (double s : {0.0, 0.1, 0.5, 0.9, 0.97}) {
          const torch::Tensor w = matrix(r, c, v, ++seed, d);
          EXPECT_TRUE(torch::equal(unstructured_mask(w, s), legacy::unstructured_mask(w, s)))
              << label(r, c, v, d, seed) << " sparsity " << s;
        }
  // Over a million entries: several chunks, ties spread over them.
  for (Values v : {Values::Normal, Values::SmallIntegers, Values::ZerosAndOnes})
    for (double s : {0.3, 0.5}) {
      const torch::Tensor w = matrix(1024, 1100, v, ++seed);
      EXPECT_TRUE(torch::equal(unstructured_mask(w, s), legacy::unstructured_mask(w, s))) << int(v) << " " << s;
    }
}

TEST(MaskEquivalence, GlobalEqualsLegacy) {
  uint64_t seed = 500;
  for (Values v : kAllValues)
    for (double s : {0.0, 0.2, 0.5, 0.95}) {
      const std::vector<torch::Tensor> scores = {matrix(300, 400, v, ++seed), matrix(8, 12, v, ++seed, torch::kFloat64),
                                                 matrix(500, 250, v, ++seed, torch::kBFloat16), matrix(1, 3, v, ++seed)};
      const auto got = unstructured_masks_global(scores, s);
      const auto want = legacy::unstructured_masks_global(scores, s);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(torch::equal(got[i], want[i])) << "values " << int(v) << " sparsity " << s << " layer " << i;
    }
}

// Unstructured magnitude masks, Wanda and SparseGPT on synthetic layers: exact sparsities,
// deterministic ties, and SparseGPT's reconstruction beating magnitude pruning's.
#include <gtest/gtest.h>

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/sparsegpt.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/compress/prune/wanda.h"
#include "cook/core/error.h"

using namespace cook;
using namespace cook::prune;

namespace {

torch::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// Correlated inputs of uneven scale, as a layer's real inputs are.
torch::Tensor synthetic_inputs(int64_t n, int64_t in, uint64_t seed) {
  auto g = gen(seed);
  torch::Tensor z = torch::randn({n, in}, g, torch::kFloat64);
  torch::Tensor mix = torch::eye(in, torch::kFloat64) + 0.5 * torch::randn({in, in}, g, torch::kFloat64) / std::sqrt(double(in));
  torch::Tensor scale = torch::exp(torch::randn({in}, g, torch::kFloat64));
  return z.matmul(mix) * scale;
}

double reconstruction_error(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& pruned) {
  return (x.matmul(w.to(torch::kFloat64).t()) - x.matmul(pruned.to(torch::kFloat64).t())).square().sum().item<double>();
}

}  // namespace

TEST(Unstructured, PrunesExactlyTheSmallest) {
  auto w = torch::randn({16, 24}, gen(1));
  auto mask = unstructured_mask(w, 0.3);
  const int64_t pruned = w.numel() - mask.sum().item<int64_t>();
  EXPECT_EQ(pruned, std::llround(0.3 * w.numel()));
  const float max_pruned = torch::where(mask, torch::zeros_like(w), w.abs()).max().item<float>();
  const float min_kept = torch::where(mask, w.abs(), torch::full_like(w, 1e9)).min().item<float>();
  EXPECT_LE(max_pruned, min_kept);
  EXPECT_NEAR(sparsity_of(mask), 0.3, 1.0 / w.numel());
}

TEST(Unstructured, TiesGoInIndexOrder) {
  auto w = torch::ones({2, 4});
  auto mask = unstructured_mask(w, 0.25);
  EXPECT_TRUE(torch::equal(mask, torch::tensor({{0, 0, 1, 1}, {1, 1, 1, 1}}).to(torch::kBool))) << mask;
  EXPECT_TRUE(torch::equal(mask, unstructured_mask(w.clone(), 0.25)));
  EXPECT_THROW(unstructured_mask(w, 1.0), Error);
  EXPECT_THROW(unstructured_mask(w, -0.1), Error);
}

TEST(Unstructured, GlobalThresholdTakesMostFromTheSmallLayer) {
  auto big = torch::randn({8, 8}, gen(2)) * 10.0;
  auto small = torch::randn({8, 8}, gen(3)) * 0.1;
  auto masks = unstructured_masks_global({big, small}, 0.5);
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ((masks[0].numel() - masks[0].sum().item<int64_t>()) + (masks[1].numel() - masks[1].sum().item<int64_t>()), 64);
  EXPECT_GT(sparsity_of(masks[1]), sparsity_of(masks[0]));
}

TEST(Unstructured, PerRowPrunesTheSameCountInEveryRow) {
  auto w = torch::randn({6, 20}, gen(4));
  auto mask = unstructured_mask_per_row(w, 0.5);
  EXPECT_TRUE(mask.sum(1).eq(10).all().item<bool>());
}

TEST(SparsityRamp, RisesCubicallyAndOnlyOnItsSchedule) {
  SparsityRamp r{0.0, 10, 110, 10};
  EXPECT_DOUBLE_EQ(r.at(5, 0.8), 0.0);
  EXPECT_DOUBLE_EQ(r.at(10, 0.8), 0.0);
  EXPECT_NEAR(r.at(60, 0.8), 0.8 - 0.8 * 0.125, 1e-12);
  EXPECT_DOUBLE_EQ(r.at(110, 0.8), 0.8);
  EXPECT_DOUBLE_EQ(r.at(500, 0.8), 0.8);
  EXPECT_TRUE(r.due(20));
  EXPECT_FALSE(r.due(21));
  EXPECT_FALSE(r.due(120));
  EXPECT_THROW((SparsityRamp{0.9, 0, 10, 1}.validate("ramp", 0.5)), Error);
  EXPECT_THROW((SparsityRamp{0.0, 10, 5, 1}.validate("ramp", 0.5)), Error);
}

TEST(Wanda, KeepsSmallWeightsOnLoudInputs) {
  // Column 0 sees inputs 100× louder: its weights matter although they are the smallest.
  auto w = torch::randn({8, 8}, gen(5)).abs() + 1.0;
  w.select(1, 0).fill_(0.1);
  auto sum_squares = torch::ones({8}, torch::kFloat64);
  sum_squares[0] = 1e4;
  EXPECT_FALSE(m4n2_1d(w).select(1, 0).any().item<bool>());
  auto mask = wanda_mask(w, sum_squares, Pattern::TwoFour, 0.5, "layer");
  EXPECT_TRUE(mask.select(1, 0).all().item<bool>());
  EXPECT_TRUE(is_2to4_along_inputs(mask));
  auto unstructured = wanda_mask(w, sum_squares, Pattern::Unstructured, 0.5, "layer");
  EXPECT_TRUE(unstructured.select(1, 0).all().item<bool>());
  EXPECT_TRUE(unstructured.sum(1).eq(4).all().item<bool>());
  EXPECT_THROW(wanda_mask(w, torch::ones({7}, torch::kFloat64), Pattern::TwoFour, 0.5, "layer"), Error);
}

TEST(SparseGpt, ReconstructsTheLayerBetterThanMagnitude) {
  const int64_t in = 64, out = 32;
  auto x = synthetic_inputs(1024, in, 6);
  auto w = torch::randn({out, in}, gen(7));
  auto gram = x.t().matmul(x);
  for (Pattern pattern : {Pattern::TwoFour, Pattern::Unstructured}) {
    SparseGptOptions o;
    o.pattern = pattern;
    o.sparsity = 0.5;
    o.block_size = 16;
    SparseGptResult r = sparsegpt_prune(w, gram, o, "layer");
    ASSERT_EQ(r.weight.sizes(), w.sizes());
    EXPECT_EQ(r.weight.scalar_type(), torch::kFloat32);
    // Pruned entries are exactly zero and the mask has the pattern's sparsity.
    EXPECT_TRUE(r.weight.masked_select(r.mask.logical_not()).eq(0).all().item<bool>());
    EXPECT_NEAR(sparsity_of(r.mask), 0.5, 1e-9);
    if (pattern == Pattern::TwoFour) EXPECT_TRUE(is_2to4_along_inputs(r.mask));
    auto magnitude_mask = pattern == Pattern::TwoFour ? m4n2_1d(w) : unstructured_mask(w, 0.5);
    const double e_magnitude = reconstruction_error(x, w, w * magnitude_mask);
    const double e_sparsegpt = reconstruction_error(x, w, r.weight);
    EXPECT_LT(e_sparsegpt, 0.8 * e_magnitude) << pattern_name(pattern) << ": " << e_sparsegpt << " vs " << e_magnitude;
  }
}

TEST(SparseGpt, DeadInputsAndBadShapes) {
  auto x = synthetic_inputs(256, 16, 8);
  x.select(1, 3).zero_();  // an input that is never active
  auto gram = x.t().matmul(x);
  auto w = torch::randn({8, 16}, gen(9));
  SparseGptOptions o;
  SparseGptResult r = sparsegpt_prune(w, gram, o, "layer");
  EXPECT_TRUE(r.weight.select(1, 3).eq(0).all().item<bool>());
  EXPECT_TRUE(torch::equal(r.mask, sparsegpt_prune(w, gram, o, "layer").mask));  // deterministic
  EXPECT_THROW(sparsegpt_prune(w, torch::eye(15, torch::kFloat64), o, "layer"), Error);
  o.pattern = Pattern::TwoFour2d;
  EXPECT_THROW(sparsegpt_prune(w, gram, o, "layer"), Error);
}

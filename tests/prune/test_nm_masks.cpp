// The 2:4 masks: their patterns, BMCook's greedy rule against a direct per-block reference, the
// exhaustive best against greedy on every block, and determinism on ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "cook/compress/prune/nm_masks.h"
#include "cook/core/error.h"

using namespace cook;
using namespace cook::prune;

namespace {

torch::Tensor random_matrix(int64_t r, int64_t c, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn({r, c}, gen, torch::kFloat32);
}

// BMCook's greedy rule on one 4×4 block, written the plain way: visit by descending |w| (ties by
// index), keep while the row and the column hold fewer than 2.
std::array<bool, 16> greedy_reference(const std::array<float, 16>& a) {
  std::array<int, 16> order;
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return std::abs(a[x]) > std::abs(a[y]); });
  std::array<bool, 16> keep{};
  int rows[4] = {0, 0, 0, 0}, cols[4] = {0, 0, 0, 0};
  for (int e : order) {
    if (rows[e / 4] < 2 && cols[e % 4] < 2) {
      keep[e] = true;
      ++rows[e / 4];
      ++cols[e % 4];
    }
  }
  return keep;
}

std::array<float, 16> block(const torch::Tensor& m, int64_t br, int64_t bc) {
  std::array<float, 16> out;
  auto acc = m.accessor<float, 2>();
  for (int i = 0; i < 16; ++i) out[i] = acc[br * 4 + i / 4][bc * 4 + i % 4];
  return out;
}

double kept_magnitude(const torch::Tensor& w, const torch::Tensor& mask, int64_t br, int64_t bc) {
  auto a = block(w, br, bc);
  auto m = mask.narrow(0, br * 4, 4).narrow(1, bc * 4, 4).contiguous();
  auto acc = m.accessor<bool, 2>();
  double sum = 0.0;
  for (int i = 0; i < 16; ++i) sum += acc[i / 4][i % 4] ? std::abs(double(a[i])) : 0.0;
  return sum;
}

}  // namespace

TEST(Patterns, NinetyFullThenNinetySixMaximalSevens) {
  const torch::Tensor& p = valid_2d_patterns();
  ASSERT_EQ(p.size(0), 186);
  ASSERT_EQ(p.size(1), 16);
  auto b = p.reshape({186, 4, 4});
  EXPECT_TRUE(b.sum(1).le(2).all().item<bool>());
  EXPECT_TRUE(b.sum(2).le(2).all().item<bool>());
  auto full = b.narrow(0, 0, kFull2dPatterns);
  EXPECT_TRUE(full.sum(1).eq(2).all().item<bool>());
  EXPECT_TRUE(full.sum(2).eq(2).all().item<bool>());
  EXPECT_TRUE(p.narrow(0, kFull2dPatterns, 96).sum(1).eq(7).all().item<bool>());
  std::set<std::vector<float>> distinct;
  for (int64_t i = 0; i < 186; ++i) {
    auto row = p[i].contiguous();
    distinct.insert(std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + 16));
  }
  EXPECT_EQ(distinct.size(), 186u);
}

TEST(M4N2_1d, KeepsTheTwoLargestOfEveryGroup) {
  torch::Tensor w = random_matrix(16, 32, 1);
  torch::Tensor mask = m4n2_1d(w);
  ASSERT_EQ(mask.sizes(), w.sizes());
  ASSERT_EQ(mask.scalar_type(), torch::kBool);
  EXPECT_TRUE(mask.reshape({-1, 4}).sum(1).eq(2).all().item<bool>());
  // Every kept entry is at least as large as every pruned one of its group.
  auto a = w.abs().reshape({-1, 4});
  auto m = mask.reshape({-1, 4});
  auto min_kept = torch::where(m, a, torch::full_like(a, 1e9)).amin(1);
  auto max_pruned = torch::where(m, torch::full_like(a, -1.0), a).amax(1);
  EXPECT_TRUE(min_kept.ge(max_pruned).all().item<bool>());
  EXPECT_TRUE(is_2to4_along_inputs(mask));
}

TEST(M4N2_1d, TiesGoToTheLowerIndex) {
  torch::Tensor w = torch::tensor({{1.0f, -1.0f, 1.0f, 1.0f, 0.0f, 2.0f, 2.0f, 2.0f}});
  torch::Tensor mask = m4n2_1d(w);
  torch::Tensor expected = torch::tensor({{true, true, false, false, false, true, true, false}});
  EXPECT_TRUE(torch::equal(mask, expected)) << mask;
  EXPECT_TRUE(torch::equal(m4n2_1d(torch::zeros({2, 8})), torch::tensor({{1, 1, 0, 0, 1, 1, 0, 0}}).to(torch::kBool).expand({2, 8})));
}

TEST(M4N2_2dGreedy, MatchesBMCooksRuleOnEveryBlock) {
  torch::Tensor w = random_matrix(32, 48, 2);
  // Some exact ties too: rounding to a coarse grid makes many equal magnitudes.
  w.narrow(0, 0, 8).copy_((w.narrow(0, 0, 8) * 2).round() / 2);
  torch::Tensor mask = m4n2_2d_greedy(w);
  EXPECT_TRUE(is_2to4_2d(mask));
  for (int64_t br = 0; br < 8; ++br) {
    for (int64_t bc = 0; bc < 12; ++bc) {
      auto expected = greedy_reference(block(w, br, bc));
      auto got = mask.narrow(0, br * 4, 4).narrow(1, bc * 4, 4).contiguous();
      for (int i = 0; i < 16; ++i)
        ASSERT_EQ(got[i / 4][i % 4].item<bool>(), expected[i]) << "block " << br << "," << bc << " entry " << i;
    }
  }
}

TEST(M4N2_2dGreedy, IsDeterministicOnTies) {
  torch::Tensor w = torch::ones({8, 8});
  torch::Tensor a = m4n2_2d_greedy(w), b = m4n2_2d_greedy(w.clone());
  EXPECT_TRUE(torch::equal(a, b));
  // All equal, visited in index order: rows 0 and 1 take columns 0 and 1, which are then full, so
  // rows 2 and 3 take columns 2 and 3.
  torch::Tensor block0 = a.narrow(0, 0, 4).narrow(1, 0, 4);
  EXPECT_TRUE(torch::equal(block0, torch::tensor({{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 1}, {0, 0, 1, 1}}).to(torch::kBool)));
}

TEST(M4N2_2dBest, KeepsAtLeastGreedysMagnitudeOnEveryBlock) {
  torch::Tensor w = random_matrix(64, 64, 3);
  torch::Tensor best = m4n2_2d_best(w), greedy = m4n2_2d_greedy(w);
  EXPECT_TRUE(is_2to4_2d(best));
  // Greedy stuck with 7 entries that no full pattern contains: best must match it.
  torch::Tensor stuck = torch::full({4, 4}, 0.01f);
  for (auto [r, c] : std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 2}, {3, 3}})
    stuck[r][c] = 10.0f - r - 0.1f * c;
  EXPECT_GE(kept_magnitude(stuck, m4n2_2d_best(stuck), 0, 0), kept_magnitude(stuck, m4n2_2d_greedy(stuck), 0, 0) - 1e-5);
  EXPECT_EQ(m4n2_2d_greedy(stuck).sum().item<int64_t>(), 7);
  int strictly_better = 0;
  for (int64_t br = 0; br < 16; ++br) {
    for (int64_t bc = 0; bc < 16; ++bc) {
      const double kb = kept_magnitude(w, best, br, bc), kg = kept_magnitude(w, greedy, br, bc);
      ASSERT_GE(kb, kg - 1e-5) << "block " << br << "," << bc;
      strictly_better += kb > kg + 1e-5;
    }
  }
  EXPECT_GT(strictly_better, 0);  // greedy is not optimal, so some block must show it
}

TEST(M4N2_2dBest, EqualsTheOptimumOverEveryPattern) {
  torch::Tensor w = random_matrix(8, 8, 4);
  torch::Tensor best = m4n2_2d_best(w);
  const torch::Tensor& p = valid_2d_patterns();
  for (int64_t br = 0; br < 2; ++br) {
    for (int64_t bc = 0; bc < 2; ++bc) {
      auto a = block(w, br, bc);
      double optimum = 0.0;
      for (int64_t k = 0; k < p.size(0); ++k) {
        double s = 0.0;
        for (int i = 0; i < 16; ++i) s += p[k][i].item<float>() * std::abs(double(a[i]));
        optimum = std::max(optimum, s);
      }
      EXPECT_NEAR(kept_magnitude(w, best, br, bc), optimum, 1e-5);
    }
  }
  EXPECT_TRUE(torch::equal(best, m4n2_2d_best(w.clone())));
}

TEST(NmMasks, ShapeErrorsNameTheWeight) {
  try {
    m4n2_2d_best(torch::randn({6, 8}), "blocks.0.attn.q_proj.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.attn.q_proj.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[6, 8]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m4n2_1d(torch::randn({4, 6})), Error);
  EXPECT_THROW(m4n2_2d_greedy(torch::randn({4})), Error);
  EXPECT_NO_THROW(m4n2_1d(torch::randn({3, 8})));
}

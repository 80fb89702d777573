// The split: exact balanced assignment and balanced k-means.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <functional>
#include <limits>

#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/experts.h"
#include "moe_test_util.h"

namespace cook::compress::moe {
namespace {

using test::error_of;

// The best total benefit over every balanced assignment, by enumeration (small cases only).
double brute_force_best(const torch::Tensor& a, int64_t cap) {
  const int64_t n = a.size(0), e = a.size(1);
  std::vector<int64_t> used(e, 0);
  double best = -std::numeric_limits<double>::infinity();
  std::function<void(int64_t, double)> go = [&](int64_t i, double sum) {
    if (i == n) {
      best = std::max(best, sum);
      return;
    }
    for (int64_t j = 0; j < e; ++j) {
      if (used[j] == cap) continue;
      ++used[j];
      go(i + 1, sum + a[i][j].item<double>());
      --used[j];
    }
  };
  go(0, 0.0);
  return best;
}

double total(const torch::Tensor& a, const torch::Tensor& labels) {
  return a.to(torch::kFloat64).gather(1, labels.unsqueeze(1)).sum().item<double>();
}

TEST(BalancedAssignment, EveryClusterGetsExactlyItsShare) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  const torch::Tensor a = torch::randn({96, 8}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  const torch::Tensor labels = balanced_assignment(a);
  ASSERT_EQ(labels.size(0), 96);
  EXPECT_TRUE(torch::bincount(labels, {}, 8).eq(12).all().item<bool>());
}

TEST(BalancedAssignment, IsOptimalOnSmallProblems) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const torch::Tensor a = torch::rand({8, 4}, gen, torch::TensorOptions().dtype(torch::kFloat64));
    const torch::Tensor labels = balanced_assignment(a);
    EXPECT_TRUE(torch::bincount(labels, {}, 4).eq(2).all().item<bool>());
    EXPECT_NEAR(total(a, labels), brute_force_best(a, 2), 1e-6) << "seed " << seed;
  }
}

TEST(BalancedAssignment, WarmPricesFromAnotherProblemStillGiveTheOptimum) {
  AuctionPrices prices;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const torch::Tensor a = torch::rand({8, 4}, gen, torch::TensorOptions().dtype(torch::kFloat64));
    const torch::Tensor labels = balanced_assignment(a, 1e-7, &prices);
    ASSERT_EQ(prices.seat_price.size(), 8u);
    EXPECT_TRUE(torch::bincount(labels, {}, 4).eq(2).all().item<bool>());
    EXPECT_NEAR(total(a, labels), brute_force_best(a, 2), 1e-6) << "seed " << seed;
  }
}

TEST(BalancedAssignment, OverridesGreedyWhenBalanceForcesIt) {
  // Every point prefers cluster 0; only half may have it: those that lose least elsewhere move.
  const torch::Tensor a = torch::tensor({{1.0, 0.0}, {1.0, 0.9}, {1.0, 0.1}, {1.0, 0.8}}, torch::kFloat64);
  const torch::Tensor labels = balanced_assignment(a);
  EXPECT_EQ(labels[0].item<int64_t>(), 0);
  EXPECT_EQ(labels[1].item<int64_t>(), 1);
  EXPECT_EQ(labels[2].item<int64_t>(), 0);
  EXPECT_EQ(labels[3].item<int64_t>(), 1);
}

TEST(BalancedAssignment, RejectsCountsThatDoNotDivide) {
  const std::string msg = error_of([] { balanced_assignment(torch::zeros({10, 4})); });
  EXPECT_NE(msg.find("do not divide"), std::string::npos) << msg;
}

TEST(BalancedKMeans, ClustersAreExactlyBalanced) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  const torch::Tensor x = torch::randn({256, 16}, gen);
  BalancedKMeansOptions o;
  o.clusters = 16;
  const BalancedKMeansResult r = balanced_kmeans(x, o);
  EXPECT_TRUE(torch::bincount(r.labels, {}, 16).eq(16).all().item<bool>());
  EXPECT_EQ(r.centroids.sizes(), (std::vector<int64_t>{16, 16}));
  const torch::Tensor experts = experts_from_labels(r.labels, 16);
  EXPECT_NO_THROW(check_experts(experts, 256, "test"));
}

TEST(BalancedKMeans, SameSeedSameSplitOtherSeedOtherStart) {
  at::Generator gen = at::detail::createCPUGenerator(12);
  const torch::Tensor x = torch::randn({128, 8}, gen);
  BalancedKMeansOptions o;
  o.clusters = 8;
  o.restarts = 1;
  o.seed = 5;
  const BalancedKMeansResult a = balanced_kmeans(x, o), b = balanced_kmeans(x, o);
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.centroids, b.centroids));
  EXPECT_DOUBLE_EQ(a.inertia, b.inertia);
  o.seed = 6;
  const BalancedKMeansResult c = balanced_kmeans(x, o);
  EXPECT_FALSE(torch::equal(a.labels, c.labels));  // random data: another start ends elsewhere
}

TEST(BalancedKMeans, RecoversPlantedEqualClusters) {
  // 8 tight groups of 4 points around orthogonal directions, shuffled.
  at::Generator gen = at::detail::createCPUGenerator(13);
  const torch::Tensor truth = torch::arange(8).repeat_interleave(4);
  torch::Tensor x = torch::eye(8).index_select(0, truth) * 5 + 0.05 * torch::randn({32, 8}, gen);
  const torch::Tensor perm = torch::randperm(32, gen, torch::TensorOptions().dtype(torch::kInt64));
  x = x.index_select(0, perm);
  const torch::Tensor t = truth.index_select(0, perm);
  BalancedKMeansOptions o;
  o.clusters = 8;
  const BalancedKMeansResult r = balanced_kmeans(x, o);
  // Same partition: points of one planted group share a label and different groups differ.
  for (int64_t i = 0; i < 32; ++i)
    for (int64_t j = 0; j < 32; ++j)
      EXPECT_EQ(t[i].item<int64_t>() == t[j].item<int64_t>(), r.labels[i].item<int64_t>() == r.labels[j].item<int64_t>());
}

TEST(BalancedKMeans, MoreRestartsNeverWorse) {
  at::Generator gen = at::detail::createCPUGenerator(14);
  const torch::Tensor x = torch::randn({192, 12}, gen);
  BalancedKMeansOptions o;
  o.clusters = 12;
  o.restarts = 1;
  const double one = balanced_kmeans(x, o).inertia;
  o.restarts = 4;
  EXPECT_LE(balanced_kmeans(x, o).inertia, one + 1e-9);
}

TEST(BalancedKMeans, ClearErrorWhenExpertsDoNotDivideTheWidth) {
  BalancedKMeansOptions o;
  o.clusters = 48;
  const std::string msg = error_of([&] { balanced_kmeans(torch::randn({256, 8}), o); });
  EXPECT_NE(msg.find("48 experts do not divide 256 neurons"), std::string::npos) << msg;
}

TEST(Experts, LabelsToPartitionAndChecks) {
  const torch::Tensor labels = torch::tensor({1, 0, 1, 0, 2, 2}, torch::kInt64);
  const torch::Tensor e = experts_from_labels(labels, 3);
  EXPECT_TRUE(torch::equal(e, torch::tensor({1, 3, 0, 2, 4, 5}, torch::kInt64).view({3, 2})));
  EXPECT_TRUE(torch::equal(expert_of_neuron(e), labels));
  EXPECT_NE(error_of([&] { check_experts(torch::tensor({0, 0, 1, 2}, torch::kInt64).view({2, 2}), 4, "x"); })
                .find("not a partition"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_experts(e, 8, "x"); }).find("do not cover"), std::string::npos);
}

}  // namespace
}  // namespace cook::compress::moe

// The expert FFN, the routers and MoEfying a model.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/experts.h"
#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/moefy.h"
#include "cook/compress/moe/router.h"
#include "moe_test_util.h"

namespace cook::compress::moe {
namespace {

using test::error_of;
using test::max_abs_diff;

struct Split {
  torch::Tensor experts, centroids;
};

Split split_of(const model::DenseFeedForwardImpl& ffn, int64_t e) {
  BalancedKMeansOptions o;
  o.clusters = e;
  o.restarts = 1;
  const BalancedKMeansResult r = balanced_kmeans(ffn.fc_in->weight, o);
  return {experts_from_labels(r.labels, e), r.centroids};
}

torch::Tensor inputs(int64_t n, int64_t d, uint64_t seed = 21) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return torch::randn({n, d}, gen);
}

TEST(ExpertFfn, AllExpertsEqualsTheDenseFfn) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 8);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<CentroidRouterImpl>(s.centroids), 8);
  ffn->set_path(ExpertFeedForwardImpl::Path::Grouped);
  const torch::Tensor x = inputs(2 * 5, 64).view({2, 5, 64});
  torch::NoGradGuard no_grad;
  const torch::Tensor want = dense->forward(x);
  const torch::Tensor got = ffn->forward(x);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT(max_abs_diff(got, want), 1e-5);
  // One token at a time (the batch-1 path) too.
  EXPECT_LT(max_abs_diff(ffn->forward(x[0][0].view({1, 1, 64})), want[0][0].view({1, 1, 64})), 1e-5);
}

TEST(ExpertFfn, SparseAndMaskedDensePathsAgree) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[1]->dense_ffn();
  const Split s = split_of(*dense, 16);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<MlpRouterImpl>(s.centroids), 3);
  ffn->set_path(ExpertFeedForwardImpl::Path::Grouped);
  const torch::Tensor x = inputs(37, 64);
  torch::Tensor sparse;
  {
    torch::NoGradGuard no_grad;
    sparse = ffn->forward(x);
  }
  const torch::Tensor masked = ffn->forward(x);  // the weights need gradients: the masked path
  ASSERT_TRUE(masked.requires_grad());
  EXPECT_LT(max_abs_diff(sparse, masked.detach()), 1e-5);
  // Fewer experts than all: differs from dense.
  torch::NoGradGuard no_grad;
  EXPECT_GT(max_abs_diff(sparse, dense->forward(x)), 1e-3);
}

TEST(ExpertFfn, SkippedExpertsReallyContributeNothing) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 8);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<CentroidRouterImpl>(s.centroids), 2);
  const torch::Tensor x = inputs(1, 64);
  torch::NoGradGuard no_grad;
  const torch::Tensor chosen = ffn->route(x);
  // The dense FFN with every neuron outside the chosen experts zeroed.
  torch::Tensor h = dense->intermediate(x);
  torch::Tensor keep = torch::zeros({256});
  for (int64_t j = 0; j < 2; ++j) keep.index_fill_(0, s.experts[chosen[0][j].item<int64_t>()], 1.0);
  const torch::Tensor want = dense->fc_out->forward(h * keep);
  EXPECT_LT(max_abs_diff(ffn->forward(x), want), 1e-5);
}

TEST(ExpertFfn, AutoPathMatchesBothForcedPaths) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 16);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<CentroidRouterImpl>(s.centroids), 4);
  torch::NoGradGuard no_grad;
  for (int64_t n : {1, 4, 9}) {  // 1·4, 4·4 ≤ 16: grouped; 9·4 > 16: masked dense
    const torch::Tensor x = inputs(n, 64);
    const torch::Tensor automatic = ffn->forward(x);
    ffn->set_path(ExpertFeedForwardImpl::Path::Grouped);
    EXPECT_LT(max_abs_diff(ffn->forward(x), automatic), 1e-5);
    ffn->set_path(ExpertFeedForwardImpl::Path::MaskedDense);
    EXPECT_LT(max_abs_diff(ffn->forward(x), automatic), 1e-5);
    ffn->set_path(ExpertFeedForwardImpl::Path::Auto);
  }
}

TEST(ExpertFfn, RepacksWhenTheWeightsChange) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 4);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<CentroidRouterImpl>(s.centroids), 4);
  ffn->set_path(ExpertFeedForwardImpl::Path::Grouped);
  const torch::Tensor x = inputs(3, 64);
  torch::NoGradGuard no_grad;
  ffn->forward(x);
  dense->fc_in->weight.mul_(2.0);
  EXPECT_LT(max_abs_diff(ffn->forward(x), dense->forward(x)), 1e-5);
}

TEST(ExpertFfn, ClearErrors) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 8);
  auto router = std::make_shared<CentroidRouterImpl>(s.centroids);
  EXPECT_NE(error_of([&] { (void)ExpertFeedForward(*dense, s.experts, router, 9); }).find("topk"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)ExpertFeedForward(*dense, s.experts, router, 0); }).find("topk"), std::string::npos);
  const torch::Tensor wrong = torch::arange(255, torch::kInt64).view({5, 51});
  EXPECT_NE(error_of([&] { (void)ExpertFeedForward(*dense, wrong, router, 2); }).find("do not cover"), std::string::npos);
  auto other = std::make_shared<CentroidRouterImpl>(torch::randn({4, 64}));
  EXPECT_NE(error_of([&] { (void)ExpertFeedForward(*dense, s.experts, other, 2); }).find("scores 4 experts"),
            std::string::npos);
}

TEST(Routers, OracleChoosesTheExpertsOfLargestMass) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  const Split s = split_of(*dense, 16);
  ExpertFeedForward ffn(*dense, s.experts, std::make_shared<OracleRouterImpl>(dense->fc_in.ptr(), dense->activation(), s.experts), 4);
  const torch::Tensor x = inputs(50, 64);
  torch::NoGradGuard no_grad;
  const torch::Tensor mass = expert_mass(dense->intermediate(x), s.experts);
  const torch::Tensor chosen = ffn->route(x);
  // The chosen experts hold the 4 largest masses: the smallest chosen ≥ the largest unchosen.
  const torch::Tensor chosen_mass = mass.gather(1, chosen);
  const torch::Tensor rest = mass.scatter(1, chosen, -1.0);
  EXPECT_TRUE(std::get<0>(chosen_mass.min(1)).ge(std::get<0>(rest.max(1))).all().item<bool>());
  // Its coverage is the best any 4 experts reach, and more than a random choice's.
  const double oracle = coverage(mass, chosen);
  const double first4 = coverage(mass, torch::arange(4, torch::kInt64).repeat({50, 1}));
  EXPECT_GE(oracle, first4);
}

// Centroids as a split makes them: means of unit rows, each of its own length below 1.
torch::Tensor centroids_of_unequal_length(int64_t e, int64_t d) {
  const torch::Tensor unit = torch::randn({e, d}) / std::sqrt(static_cast<double>(d));
  return unit / unit.norm(2, -1, true) * torch::linspace(0.2, 0.9, e).unsqueeze(1);
}

TEST(Routers, CentroidRouterRanksByDistanceAsMoeficationDoes) {
  // MoEfication's ParamCenter: dist = −‖x/‖x‖ − c‖, top-k of dist; here in float64, one pair at a time.
  torch::manual_seed(5);
  const torch::Tensor c = centroids_of_unequal_length(8, 64), x = inputs(200, 64);
  const auto x64 = x.to(torch::kFloat64), c64 = c.to(torch::kFloat64);
  torch::Tensor reference = torch::empty({200, 8}, torch::kFloat64);
  for (int64_t i = 0; i < 200; ++i)
    for (int64_t e = 0; e < 8; ++e)
      reference[i][e] = -(x64[i] / x64[i].norm() - c64[e]).norm().item<double>();
  CentroidRouter cen(c);
  auto top3 = [](const torch::Tensor& scores) { return std::get<0>(std::get<1>(scores.topk(3, 1)).sort(1)); };
  const torch::Tensor chosen = top3(cen->scores(x));
  EXPECT_TRUE(torch::equal(chosen, top3(reference)));
  // Ranking by the dot product x·c instead chooses other experts for some tokens.
  EXPECT_FALSE(torch::equal(chosen, top3(torch::mm(x, c.t()))));
}

TEST(Routers, MlpRouterStartsRankingByTheDotProductWithTheCentroids) {
  // MoEfication initializes its MLP's first layer with the centroids and the second with the
  // identity: tanh keeps the order of x/‖x‖·c.
  const torch::Tensor c = centroids_of_unequal_length(8, 64);
  MlpRouter mlp(c);
  const torch::Tensor x = inputs(20, 64);
  EXPECT_TRUE(torch::equal(std::get<1>(mlp->scores(x).sort(1)), std::get<1>(torch::mm(x, c.t()).sort(1))));
}

TEST(MoefyModel, AllExpertsLeaveTheLogitsUnchanged) {
  model::GptJ m = test::tiny_relu_model();
  MoeFile file;
  file.num_expert = 8;
  file.d_model = 64;
  file.d_ff = 256;
  for (int64_t i = 0; i < 2; ++i) {
    const Split s = split_of(*m->blocks()[i]->dense_ffn(), 8);
    file.layers[i] = {s.experts, s.centroids, {}};
  }
  model::ForwardInput in;
  in.input_ids = torch::randint(0, 1000, {2, 9}, torch::kInt64);
  torch::NoGradGuard no_grad;
  const torch::Tensor dense_logits = m->forward(in).logits;
  MoeOptions o;
  o.is_moefy = true;
  o.topk = 8;
  EXPECT_EQ(moefy(*m, file, o, "test.safetensors"), 2);
  EXPECT_TRUE(std::dynamic_pointer_cast<ExpertFeedForwardImpl>(m->blocks()[0]->ffn()) != nullptr);
  EXPECT_LT(max_abs_diff(m->forward(in).logits, dense_logits), 1e-4);
  // The checkpoint names stay the dense ones: no router tensor is a parameter.
  for (const auto& p : m->named_parameters()) EXPECT_EQ(p.key().find("router"), std::string::npos) << p.key();
  EXPECT_NE(error_of([&] { moefy(*m, file, o, "test.safetensors"); }).find("not dense"), std::string::npos);
  EXPECT_EQ(unmoefy(*m), 2);
  EXPECT_LT(max_abs_diff(m->forward(in).logits, dense_logits), 1e-6);
}

TEST(MoefyModel, ClearErrorsForAMismatchedFile) {
  model::GptJ m = test::tiny_relu_model();
  MoeFile file;
  file.num_expert = 8;
  file.d_model = 64;
  file.d_ff = 256;
  const Split s = split_of(*m->blocks()[0]->dense_ffn(), 8);
  file.layers[0] = {s.experts, s.centroids, {}};
  MoeOptions o;
  o.is_moefy = true;
  o.topk = 2;
  o.num_expert = 16;
  EXPECT_NE(error_of([&] { moefy(*m, file, o, "f"); }).find("splits each FFN into 8 experts"), std::string::npos);
  o.num_expert = 0;
  o.router = RouterKind::Mlp;
  EXPECT_NE(error_of([&] { moefy(*m, file, o, "f"); }).find("no MLP router"), std::string::npos);
  o.router = RouterKind::Auto;
  file.layers[5] = file.layers[0];
  EXPECT_NE(error_of([&] { moefy(*m, file, o, "f"); }).find("layer 5 does not exist"), std::string::npos);
  file.layers.erase(5);
  file.d_ff = 512;
  EXPECT_NE(error_of([&] { moefy(*m, file, o, "f"); }).find("d_ff 512"), std::string::npos);
}

}  // namespace
}  // namespace cook::compress::moe

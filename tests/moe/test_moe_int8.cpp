// The int8 grouped expert FFN computes what the int8 masked dense FFN computes: what the W8A8
// simulation of it computes (up to float rounding), and bit for bit what the layers' int8 kernels
// compute (exact on every CPU: oneDNN with VNNI, the packed int8 loop without).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/router.h"
#include "cook/compress/quant/fake_quant.h"
#include "cook/compress/quant/numerics.h"
#include "cook/infer/int8_linear.h"
#include "moe_test_util.h"

namespace cook::compress::moe {
namespace {

using Path = ExpertFeedForwardImpl::Path;
using test::max_abs_diff;

// What loading an int8 artefact does to a linear: the int8 kernel from its quantized weight.
void attach_int8(nn::LinearImpl& linear, double weight_factor = 1.0) {
  const quant::Quantized q = quant::quantize_rows(linear.weight.detach() * weight_factor);
  linear.set_kernel(std::make_shared<infer::Int8LinearKernel>(q.values, q.scales));
}

// The same FFN simulated in float: the W8A8 fake-quant transform on both linears, no kernel.
model::DenseFeedForward simulated_copy(const model::DenseFeedForwardImpl& ffn) {
  const bool bias = ffn.fc_in->has_bias();
  model::DenseFeedForward sim(64, 256, model::Activation::Relu, bias);
  torch::NoGradGuard no_grad;
  for (auto [to, from] : {std::pair{sim->fc_in.get(), ffn.fc_in.get()}, std::pair{sim->fc_out.get(), ffn.fc_out.get()}}) {
    to->weight.copy_(from->weight);
    if (from->has_bias()) to->bias.copy_(from->bias);
    to->set_weight_transform(std::make_shared<quant::FakeQuantTransform>(quant::Scheme::W8A8, 128));
  }
  return sim;
}

double tolerance(const torch::Tensor& want) { return 2e-5 * (1 + want.abs().max().item<double>()); }

// A random balanced split of d_ff neurons into e experts (the numerics do not depend on which).
torch::Tensor random_split(int64_t d_ff, int64_t e, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const torch::Tensor perm = torch::randperm(d_ff, gen, torch::kInt64).view({e, d_ff / e});
  return std::get<0>(perm.sort(1)).contiguous();
}

torch::Tensor inputs(int64_t n, int64_t d, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return torch::randn({n, d}, gen) * 2;
}

// An FFN of d 64, F 256 with int8 kernels on both linears, with or without fc_in bias.
model::DenseFeedForward int8_ffn(bool fc_in_bias) {
  torch::manual_seed(fc_in_bias ? 11 : 12);
  model::DenseFeedForward ffn(64, 256, model::Activation::Relu, fc_in_bias);
  torch::NoGradGuard no_grad;
  ffn->fc_in->weight.normal_(0, 0.1);
  ffn->fc_out->weight.normal_(0, 0.1);
  if (fc_in_bias) ffn->fc_in->bias.normal_(0, 0.1);
  ffn->fc_out->bias.normal_(0, 0.1);
  attach_int8(*ffn->fc_in);
  attach_int8(*ffn->fc_out);
  return ffn;
}

torch::Tensor run(ExpertFeedForward& ffn, Path path, const torch::Tensor& x) {
  ffn->set_path(path);
  return ffn->forward(x);
}

// Every split, k and token count the tests use: (fc_in bias, E, k, tokens).
template <class F>
void for_each_case(F&& check) {
  for (bool bias : {false, true})
    for (int64_t e : {8, 16})  // experts of 32 and 16 neurons
      for (int64_t k : {int64_t{1}, int64_t{3}, e})
        for (int64_t n : {1, 5, 37}) check(bias, e, k, n);
}

TEST(Int8ExpertFfn, GroupedEqualsTheSimulatedMaskedDenseFfn) {
  torch::InferenceMode inference;
  for_each_case([](bool bias, int64_t e, int64_t k, int64_t n) {
    model::DenseFeedForward dense = int8_ffn(bias);
    model::DenseFeedForward sim = simulated_copy(*dense);
    const torch::Tensor experts = random_split(256, e, 30 + e);
    auto router = std::make_shared<CentroidRouterImpl>(inputs(e, 64, 40 + e));
    ExpertFeedForward ffn(*dense, experts, router, k), ffn_sim(*sim, experts, router, k);
    const torch::Tensor x = inputs(n, 64, 50 + n);
    const torch::Tensor grouped = run(ffn, Path::Grouped, x), want = run(ffn_sim, Path::MaskedDense, x);
    EXPECT_LT(max_abs_diff(grouped, want), tolerance(want)) << "bias " << bias << " E " << e << " k " << k << " tokens " << n;
  });
}

TEST(Int8ExpertFfn, GroupedEqualsTheKernelsMaskedDenseFfnBitForBit) {
  torch::InferenceMode inference;
  for_each_case([](bool bias, int64_t e, int64_t k, int64_t n) {
    model::DenseFeedForward dense = int8_ffn(bias);
    ExpertFeedForward ffn(*dense, random_split(256, e, 30 + e), std::make_shared<CentroidRouterImpl>(inputs(e, 64, 40 + e)), k);
    const torch::Tensor x = inputs(n, 64, 50 + n);
    const torch::Tensor grouped = run(ffn, Path::Grouped, x), masked = run(ffn, Path::MaskedDense, x);
    EXPECT_TRUE(torch::equal(grouped, masked))
        << "bias " << bias << " E " << e << " k " << k << " tokens " << n << ": max |diff| " << max_abs_diff(grouped, masked);
  });
}

TEST(Int8ExpertFfn, AllExpertsEqualTheDenseInt8Ffn) {
  torch::InferenceMode inference;
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  attach_int8(*dense->fc_in);
  attach_int8(*dense->fc_out);
  const torch::Tensor experts = random_split(256, 8, 3);
  ExpertFeedForward ffn(*dense, experts, std::make_shared<CentroidRouterImpl>(inputs(8, 64, 4)), 8);
  const torch::Tensor x = inputs(2 * 5, 64, 5).view({2, 5, 64});
  const torch::Tensor grouped = run(ffn, Path::Grouped, x);
  const torch::Tensor one_token = run(ffn, Path::Grouped, x[1][2].view({1, 1, 64}));
  // The simulated dense int8 FFN, up to float rounding.
  model::DenseFeedForward sim = simulated_copy(*dense);
  const torch::Tensor want = sim->forward(x);
  EXPECT_LT(max_abs_diff(grouped, want), tolerance(want));
  EXPECT_LT(max_abs_diff(one_token, want[1][2].view({1, 1, 64})), tolerance(want));
  // It really is the int8 function: the float FFN differs by the quantization error.
  sim->fc_in->set_weight_transform(nullptr);
  sim->fc_out->set_weight_transform(nullptr);
  const double float_diff = max_abs_diff(sim->forward(x), want);
  EXPECT_GT(float_diff, 1e-4);
  EXPECT_LT(float_diff, 0.05 * want.abs().max().item<double>());
  // The dense FFN on the int8 kernels, bit for bit.
  EXPECT_TRUE(torch::equal(grouped, dense->forward(x))) << max_abs_diff(grouped, dense->forward(x));
}

TEST(Int8ExpertFfn, RepacksWhenTheKernelsChange) {
  torch::InferenceMode inference;
  model::DenseFeedForward dense = int8_ffn(true);
  ExpertFeedForward ffn(*dense, random_split(256, 8, 6), std::make_shared<CentroidRouterImpl>(inputs(8, 64, 7)), 2);
  const torch::Tensor x = inputs(3, 64, 8);
  const torch::Tensor before = run(ffn, Path::Grouped, x);
  attach_int8(*dense->fc_in, 2.0);
  const torch::Tensor after = run(ffn, Path::Grouped, x);
  EXPECT_FALSE(torch::equal(before, after));
  ExpertFeedForward fresh(*dense, ffn->experts(), ffn->router(), 2);
  EXPECT_TRUE(torch::equal(after, run(fresh, Path::Grouped, x)));
}

TEST(Int8ExpertFfn, OneInt8LayerAloneRunsTheMaskedDenseProduct) {
  torch::InferenceMode inference;
  model::DenseFeedForward dense = int8_ffn(false);
  dense->fc_out->set_kernel(nullptr);
  ExpertFeedForward ffn(*dense, random_split(256, 8, 9), std::make_shared<CentroidRouterImpl>(inputs(8, 64, 10)), 2);
  const torch::Tensor x = inputs(1, 64, 11);
  EXPECT_TRUE(torch::equal(run(ffn, Path::Grouped, x), run(ffn, Path::MaskedDense, x)));
}

}  // namespace
}  // namespace cook::compress::moe

// cook::nn::Linear and its attachments: mask, weight transform, kernel.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>

#include "cook/core/error.h"
#include "cook/model/gptj.h"
#include "cook/model/linear.h"

namespace cook::nn {
namespace {

TEST(Linear, RegistersWeightAndOptionalBias) {
  Linear with(8, 4, true);
  Linear without(8, 4, false);
  auto p = with->named_parameters();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p["weight"].sizes(), (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(p["bias"].sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(without->named_parameters().size(), 1u);
  EXPECT_FALSE(without->has_bias());
  EXPECT_EQ(with->named_buffers().size(), 0u);  // no mask until one is set
  EXPECT_THROW(Linear(0, 4), cook::Error);
}

TEST(Linear, DefaultForwardIsFunctionalLinear) {
  torch::manual_seed(3);
  Linear l(8, 4, true);
  const torch::Tensor x = torch::randn({2, 3, 8});
  const torch::Tensor y = l->forward(x);
  EXPECT_TRUE(torch::allclose(y, torch::matmul(x, l->weight.t()) + l->bias, 1e-5, 1e-6));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 4}));
}

TEST(Linear, MaskIsABufferMultipliedIntoTheWeight) {
  torch::manual_seed(4);
  Linear l(6, 4, false);
  const torch::Tensor mask = (torch::rand({4, 6}) > 0.5).to(torch::kFloat32);
  l->set_mask(mask);
  ASSERT_TRUE(l->has_mask());
  auto buffers = l->named_buffers();
  ASSERT_EQ(buffers.size(), 1u);
  EXPECT_TRUE(buffers.contains("mask"));
  const torch::Tensor x = torch::randn({5, 6});
  EXPECT_TRUE(torch::allclose(l->forward(x), torch::matmul(x, (l->weight * mask).t()), 1e-5, 1e-6));

  // The gradient of a pruned weight is zero.
  l->forward(x).sum().backward();
  EXPECT_EQ(l->weight.grad().masked_select(mask.eq(0)).abs().sum().item<double>(), 0.0);

  // Row masks broadcast; the mask moves with the module.
  l->set_mask(torch::tensor({1.f, 0.f, 1.f, 0.f}).view({4, 1}));
  EXPECT_EQ(l->forward(x).select(1, 1).abs().sum().item<double>(), 0.0);
  l->to(torch::kFloat64);
  EXPECT_EQ(l->mask().scalar_type(), torch::kFloat64);

  l->clear_mask();
  EXPECT_FALSE(l->has_mask());
  EXPECT_EQ(l->named_buffers().size(), 0u);
  EXPECT_THROW(l->set_mask(torch::ones({6, 4})), cook::Error);
}

struct RoundTransform : WeightTransform {
  std::string name() const override { return "round"; }
  torch::Tensor transform_weight(const LinearImpl&, const torch::Tensor& w) const override {
    // Fake quantization to multiples of 1/4 with a straight-through gradient.
    return w + (torch::round(w * 4) / 4 - w).detach();
  }
};

TEST(Linear, WeightTransformChangesTheProductAndKeepsGradients) {
  torch::manual_seed(5);
  Linear l(6, 3, false);
  l->set_weight_transform(std::make_shared<RoundTransform>());
  const torch::Tensor x = torch::randn({2, 6});
  const torch::Tensor q = torch::round(l->weight.detach() * 4) / 4;
  EXPECT_TRUE(torch::allclose(l->forward(x), torch::matmul(x, q.t()), 1e-5, 1e-6));
  l->forward(x).sum().backward();
  // Straight-through: d(sum(x·Wᵀ))/dW = column sums of x, for every row.
  EXPECT_TRUE(torch::allclose(l->weight.grad(), x.sum(0).expand({3, 6}), 1e-5, 1e-6));
  std::ostringstream s;
  l->pretty_print(s);
  EXPECT_NE(s.str().find("transform=round"), std::string::npos);
}

// A kernel that computes the product from a copy it keeps and counts its calls.
struct CountingKernel : LinearKernel {
  explicit CountingKernel(torch::Tensor w) : packed(std::move(w)) {}
  std::string name() const override { return "counting"; }
  torch::Tensor forward(const LinearImpl& layer, const torch::Tensor& x) const override {
    ++calls;
    torch::Tensor y = torch::matmul(x, packed.t());
    return layer.has_bias() ? y + layer.bias : y;
  }
  torch::Tensor packed;
  mutable std::atomic<int> calls{0};
};

TEST(Linear, KernelReplacesTheProduct) {
  Linear l(4, 2, true);
  auto kernel = std::make_shared<CountingKernel>(torch::zeros({2, 4}));
  l->set_kernel(kernel);
  const torch::Tensor y = l->forward(torch::randn({3, 4}));
  EXPECT_EQ(kernel->calls.load(), 1);
  EXPECT_TRUE(torch::allclose(y, l->bias.detach().expand({3, 2})));
  l->set_kernel(nullptr);
  EXPECT_FALSE(l->forward(torch::ones({1, 4})).detach().equal(l->bias.detach().view({1, 2})));
}

TEST(Linear, KernelOnOneLayerOfTheModelIsUsedAndOnlyThere) {
  using namespace cook::model;
  GptJ model(preset("tiny"));
  model->eval();
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.input_ids = torch::randint(0, 1000, {2, 9});
  const torch::Tensor before = model->forward(in).logits;

  auto ffn = model->blocks()[1]->dense_ffn();
  ASSERT_TRUE(ffn);
  // Same product as the default: the logits must not move, and the kernel must be called.
  auto same = std::make_shared<CountingKernel>(ffn->fc_out->weight.clone());
  ffn->fc_out->set_kernel(same);
  const torch::Tensor with_same = model->forward(in).logits;
  EXPECT_EQ(same->calls.load(), 1);
  EXPECT_TRUE(torch::allclose(with_same, before, 1e-5, 1e-5));

  // A kernel with other weights changes the output.
  auto other = std::make_shared<CountingKernel>(torch::zeros_like(ffn->fc_out->weight));
  ffn->fc_out->set_kernel(other);
  const torch::Tensor with_other = model->forward(in).logits;
  EXPECT_EQ(other->calls.load(), 1);
  EXPECT_GT((with_other - before).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(model->blocks()[0]->dense_ffn()->fc_out->kernel(), nullptr);
}

TEST(Linear, TwoModelsKeepTheirOwnAttachments) {
  using namespace cook::model;
  GptJ a(preset("tiny")), b(preset("tiny"));
  a->blocks()[0]->attn->q_proj->set_mask(torch::zeros({64, 64}));
  EXPECT_TRUE(a->blocks()[0]->attn->q_proj->has_mask());
  EXPECT_FALSE(b->blocks()[0]->attn->q_proj->has_mask());
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.input_ids = torch::randint(0, 1000, {1, 5});
  // Same seed, same weights: only the mask makes them differ.
  EXPECT_GT((a->forward(in).logits - b->forward(in).logits).abs().max().item<double>(), 1e-6);
  a->blocks()[0]->attn->q_proj->clear_mask();
  EXPECT_TRUE(torch::allclose(a->forward(in).logits, b->forward(in).logits));
}

}  // namespace
}  // namespace cook::nn

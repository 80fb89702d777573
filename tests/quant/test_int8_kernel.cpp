// The oneDNN int8 kernel computes what the QAT simulation computes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cook/compress/quant/fake_quant.h"
#include "cook/compress/quant/numerics.h"
#include "cook/core/error.h"
#include "cook/infer/int8_linear.h"
#include "quant_test_util.h"

namespace cook::infer {
namespace {

using quant::test::max_abs_diff;

TEST(Int8Kernel, QuantizeTokensEqualsTheSimulation) {
  torch::manual_seed(4);
  for (int64_t cols : {1, 15, 16, 17, 100, 4096}) {
    torch::Tensor x = torch::randn({9, cols}) * torch::logspace(-3, 2, 9).unsqueeze(1);
    x[3].zero_();
    torch::Tensor q = torch::empty({9, cols}, torch::kInt8), s = torch::empty({9}, torch::kFloat32);
    quantize_tokens(x.data_ptr<float>(), 9, cols, q.data_ptr<int8_t>(), s.data_ptr<float>());
    const quant::Quantized ref = quant::quantize_rows(x);
    EXPECT_TRUE(torch::equal(s, ref.scales.reshape({9}))) << cols;
    EXPECT_TRUE(torch::equal(q, ref.values)) << cols;
  }
  // ties: absmax 127 gives scale 1
  torch::Tensor t = torch::tensor({127.0f, 0.5f, 1.5f, 2.5f, -2.5f, -127.0f});
  torch::Tensor q = torch::empty({6}, torch::kInt8);
  float s = 0;
  quantize_tokens(t.data_ptr<float>(), 1, 6, q.data_ptr<int8_t>(), &s);
  EXPECT_EQ(s, 1.0f);
  EXPECT_TRUE(torch::equal(q, torch::tensor({127, 0, 2, 2, -2, -127}, torch::kInt8)));
}

TEST(Int8Kernel, EqualsTheSimulatedQatOutput) {
  torch::manual_seed(6);
  for (bool bias : {true, false}) {
    nn::Linear sim(200, 72, bias);
    sim->set_weight_transform(std::make_shared<quant::FakeQuantTransform>(quant::Scheme::W8A8, 128));
    nn::Linear fast(200, 72, bias);
    {
      torch::NoGradGuard g;
      fast->weight.copy_(sim->weight);
      if (bias) fast->bias.copy_(sim->bias);
    }
    const quant::Quantized qw = quant::quantize_rows(sim->weight);
    fast->set_kernel(std::make_shared<Int8LinearKernel>(qw.values, qw.scales));
    for (int64_t m : {1, 3, 16, 130}) {
      torch::NoGradGuard g;
      const torch::Tensor x = torch::randn({m, 200}) * 2;
      const torch::Tensor expected = sim->forward(x), got = fast->forward(x);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_LT(max_abs_diff(got, expected), 2e-5 * (1 + expected.abs().max().item<double>())) << "M=" << m;
      // Calling again (a cached primitive) gives the same bits.
      EXPECT_TRUE(torch::equal(fast->forward(x), got));
    }
    torch::NoGradGuard g;
    const torch::Tensor x3 = torch::randn({2, 5, 200});
    EXPECT_LT(max_abs_diff(fast->forward(x3), sim->forward(x3)), 1e-4);
  }
}

TEST(Int8Kernel, RejectsBadWeightsAndScales) {
  const torch::Tensor w = torch::zeros({4, 8}, torch::kInt8);
  EXPECT_THROW(Int8LinearKernel(w.to(torch::kFloat32), torch::ones({4})), Error);
  EXPECT_THROW(Int8LinearKernel(w, torch::ones({3})), Error);
  EXPECT_THROW(Int8LinearKernel(w, torch::ones({4, 2})), Error);
  EXPECT_THROW(Int8LinearKernel(w, torch::Tensor()), Error);
  Int8LinearKernel k(w, torch::ones({4, 1}));
  nn::Linear l(8, 4, false);
  EXPECT_THROW(k.forward(*l, torch::ones({2, 7})), Error);
}

}  // namespace
}  // namespace cook::infer

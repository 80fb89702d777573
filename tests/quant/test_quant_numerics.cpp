// BMCook's int8 numerics against a float64 reference of the formulas: per-row scales, round half
// to even, saturation, zero rows, int4 groups.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "cook/compress/quant/numerics.h"
#include "cook/core/error.h"
#include "quant_test_util.h"

namespace cook::quant {
namespace {

using test::reference_quantize_rows;

TEST(QuantNumerics, TiesRoundHalfToEven) {
  // absmax 127 → scale exactly 1, so x / scale is x and every .5 is a true tie.
  const torch::Tensor x =
      torch::tensor({127.0f, 0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, 126.5f, -125.5f}).reshape({1, -1});
  Quantized q = quantize_rows(x);
  EXPECT_EQ(q.values.scalar_type(), torch::kInt8);
  EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.0f);
  const std::vector<int64_t> expected = {127, 0, 2, 2, 4, 0, -2, -2, 126, -126};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(q.values[0][static_cast<int64_t>(i)].item<int64_t>(), expected[i]) << "element " << i;
  const auto ref = reference_quantize_rows(x);
  EXPECT_TRUE(torch::equal(q.values.to(torch::kFloat64), ref.q));
}

TEST(QuantNumerics, TiesAtAPowerOfTwoScale) {
  // absmax 63.5 → scale 0.5: x = 0.25 is the tie 0.5 → 0, x = 0.75 → 1.5 → 2, x = 1.25 → 2.5 → 2.
  const torch::Tensor x = torch::tensor({63.5f, 0.25f, 0.75f, 1.25f, -0.75f}).reshape({1, -1});
  Quantized q = quantize_rows(x);
  EXPECT_FLOAT_EQ(q.scales.item<float>(), 0.5f);
  const std::vector<int64_t> expected = {127, 0, 2, 2, -2};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(q.values[0][static_cast<int64_t>(i)].item<int64_t>(), expected[i]) << "element " << i;
}

TEST(QuantNumerics, RandomRowsMatchTheFloat64Reference) {
  torch::manual_seed(11);
  // Rows of very different magnitudes, as per-token activations have.
  const torch::Tensor x = torch::randn({64, 300}) * torch::logspace(-4, 3, 64).unsqueeze(1);
  Quantized q = quantize_rows(x);
  const auto ref = reference_quantize_rows(x);
  ASSERT_EQ(q.scales.sizes(), (std::vector<int64_t>{64, 1}));
  // Scales: the float32 division absmax / 127, within one rounding of the exact quotient.
  EXPECT_LE(((q.scales.to(torch::kFloat64) - ref.scale).abs() / ref.scale).max().item<double>(), 1.2e-7);
  // Values: equal, except where float32 rounding moves a quotient across a half (|diff| 1 there).
  const torch::Tensor diff = (q.values.to(torch::kFloat64) - ref.q).abs();
  EXPECT_LE(diff.max().item<double>(), 1.0);
  const torch::Tensor quotient = x.to(torch::kFloat64) / ref.scale;
  const torch::Tensor near_half = ((quotient - quotient.floor()) - 0.5).abs() < 1e-4;
  EXPECT_TRUE((diff == 0).logical_or(near_half).all().item<bool>());
  EXPECT_LT(diff.sum().item<double>(), 3.0);  // at most a couple of near-ties in 19 200 values
  // Absmax maps to exactly ±127, nothing beyond.
  EXPECT_EQ(q.values.abs().amax(1).min().item<int64_t>(), 127);
  EXPECT_LE(q.values.to(torch::kInt32).abs().max().item<int64_t>(), 127);
}

TEST(QuantNumerics, SaturatesAtPlusMinus127) {
  // Static scale 0.25 (exact in binary): 40 and -100 lie far beyond ±31.75 and clamp;
  // 31.625 → 126.5 → 126 (tie to even); 31.5 → 126.
  const torch::Tensor x = torch::tensor({40.0, -100.0, 31.625, -31.75, 31.5, 0.0}, torch::kFloat64).reshape({1, -1});
  Quantized q = quantize_rows_with_scales(x, torch::full({1, 1}, 0.25, torch::kFloat64));
  const std::vector<int64_t> expected = {127, -127, 126, -127, 126, 0};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(q.values[0][static_cast<int64_t>(i)].item<int64_t>(), expected[i]) << "element " << i;
  // -128 is never produced: the range is symmetric.
  Quantized q2 = quantize_rows_with_scales(torch::full({1, 4}, -1e9), torch::full({1, 1}, 1.0));
  EXPECT_EQ(q2.values.min().item<int64_t>(), -127);
  EXPECT_THROW(quantize_rows_with_scales(x, torch::full({1, 2}, 0.25, torch::kFloat64)), Error);
  EXPECT_THROW(quantize_rows_with_scales(x, torch::full({1, 1}, -1.0, torch::kFloat64)), Error);
}

TEST(QuantNumerics, ZeroRowsGiveZeroScaleAndZeros) {
  torch::Tensor x = torch::randn({3, 8});
  x[1].zero_();
  Quantized q = quantize_rows(x);
  EXPECT_EQ(q.scales[1][0].item<float>(), 0.0f);
  EXPECT_EQ(q.values[1].abs().sum().item<int64_t>(), 0);
  const torch::Tensor back = dequantize_rows(q);
  EXPECT_TRUE(torch::isfinite(back).all().item<bool>());
  EXPECT_EQ(back[1].abs().sum().item<float>(), 0.0f);
}

TEST(QuantNumerics, FakeQuantIsDequantizedQuantizeAndWithinHalfAStep) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({2, 5, 40});
  Quantized q = quantize_rows(x);
  EXPECT_EQ(q.scales.sizes(), (std::vector<int64_t>{2, 5, 1}));
  const torch::Tensor fq = fake_quant_rows(x);
  EXPECT_TRUE(torch::equal(fq, q.values.to(torch::kFloat32) * q.scales));
  EXPECT_TRUE(((fq - x).abs() <= q.scales * 0.5 * (1 + 1e-5)).all().item<bool>());
}

TEST(QuantNumerics, Int4GroupsMatchTheReferencePerGroup) {
  torch::manual_seed(9);
  const int64_t rows = 6, group = 128, groups = 3;
  const torch::Tensor w = torch::randn({rows, group * groups});
  Quantized q = quantize_groups(w, group, 4);
  ASSERT_EQ(q.scales.sizes(), (std::vector<int64_t>{rows, groups}));
  EXPECT_LE(q.values.to(torch::kInt32).abs().max().item<int64_t>(), 7);
  for (int64_t g = 0; g < groups; ++g) {
    const torch::Tensor block = w.slice(1, g * group, (g + 1) * group);
    const auto ref = reference_quantize_rows(block, 7.0);
    EXPECT_LE((q.values.slice(1, g * group, (g + 1) * group).to(torch::kFloat64) - ref.q).abs().max().item<double>(), 1.0);
    EXPECT_LE(((q.scales.slice(1, g, g + 1).to(torch::kFloat64) - ref.scale).abs() / ref.scale).max().item<double>(), 1.2e-7);
  }
  const torch::Tensor back = dequantize_groups(q, group);
  EXPECT_TRUE(torch::allclose(back, fake_quant_groups(w, group, 4)));
  EXPECT_THROW(quantize_groups(torch::randn({2, 100}), 128, 4), Error);  // 100 is not a multiple of 128
  EXPECT_THROW(quant_max(3), Error);
}

TEST(QuantNumerics, RejectsNonFloatingInput) {
  EXPECT_THROW(quantize_rows(torch::ones({2, 2}, torch::kInt64)), Error);
  EXPECT_THROW(quantize_rows(torch::Tensor()), Error);
}

}  // namespace
}  // namespace cook::quant

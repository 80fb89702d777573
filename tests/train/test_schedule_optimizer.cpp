#include <gtest/gtest.h>

#include <cmath>

#include "cook/core/error.h"
#include "cook/train/adamw.h"
#include "cook/train/lr_schedule.h"

using namespace cook::train;

TEST(LrSchedule, NoamMatchesBMTrain) {
  LrSchedule s{ScheduleKind::Noam, 0.01, 100, 0, 0.0};
  // Warm-up: start_lr / sqrt(W) * k / W; then start_lr / sqrt(k).
  EXPECT_DOUBLE_EQ(s.at(1), 0.01 / 10.0 * 1 / 100.0);
  EXPECT_DOUBLE_EQ(s.at(50), 0.01 / 10.0 * 50 / 100.0);
  EXPECT_DOUBLE_EQ(s.at(100), 0.01 / 10.0);
  EXPECT_DOUBLE_EQ(s.at(400), 0.01 / 20.0);
  LrSchedule no_warmup{ScheduleKind::Noam, 0.01, 0, 0, 0.0};
  EXPECT_DOUBLE_EQ(no_warmup.at(4), 0.005);
}

TEST(LrSchedule, CosineWarmsUpThenDecaysToMin) {
  LrSchedule s{ScheduleKind::Cosine, 1e-3, 10, 110, 1e-4};
  EXPECT_DOUBLE_EQ(s.at(5), 5e-4);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);
  EXPECT_NEAR(s.at(60), 1e-4 + 0.5 * 9e-4, 1e-15);
  EXPECT_DOUBLE_EQ(s.at(110), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(500), 1e-4);
}

TEST(LrSchedule, UnknownKindNamesTheOption) {
  try {
    parse_schedule_kind("linear", "--schedule");
    FAIL();
  } catch (const cook::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--schedule"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("noam, cosine, constant"), std::string::npos);
  }
}

TEST(AdamW, MatchesTheClosedFormFirstStep) {
  // After one step from zero state, Adam moves each weight by lr * sign(g) (bias-corrected).
  auto w = torch::tensor({1.0f, -2.0f, 3.0f}).requires_grad_(true);
  AdamW opt({{"g", {{"w", w}}, 0.1, 1.0}}, {});
  w.mutable_grad() = torch::tensor({0.5f, -1.0f, 2.0f});
  opt.step(0.01);
  // Decoupled decay first: w *= 1 - lr*wd, then w -= lr * m̂/(√v̂ + eps) ≈ lr * sign(g).
  auto expected = torch::tensor({1.0f * (1 - 0.001f) - 0.01f, -2.0f * (1 - 0.001f) + 0.01f, 3.0f * (1 - 0.001f) - 0.01f});
  EXPECT_TRUE(torch::allclose(w.detach(), expected, 1e-6, 1e-6));
}

TEST(AdamW, KeepsFp32MasterWeightsForBf16Parameters) {
  auto w = torch::full({4}, 1.0, torch::kBFloat16).requires_grad_(true);
  AdamW opt({{"g", {{"w", w}}, 0.0, 1.0}}, {});
  // Steps far below bf16's resolution at 1.0 (2^-7): the parameter cannot move, the master must.
  for (int i = 0; i < 50; ++i) {
    w.mutable_grad() = torch::ones({4}, torch::kBFloat16);
    opt.step(1e-4);
  }
  auto state = opt.state_tensors();
  ASSERT_TRUE(state.count("optimizer.w.master"));
  EXPECT_EQ(state["optimizer.w.master"].scalar_type(), torch::kFloat32);
  EXPECT_NEAR(state["optimizer.w.master"][0].item<double>(), 1.0 - 50 * 1e-4, 1e-5);
  EXPECT_EQ(w.scalar_type(), torch::kBFloat16);
  EXPECT_LT(w[0].item<float>(), 1.0f);  // 0.995 rounds to the bf16 below 1.0
}

TEST(AdamW, StateRoundTripsByName) {
  auto a = torch::randn({3, 2}).requires_grad_(true);
  auto b = torch::randn({2}).requires_grad_(true);
  AdamW opt({{"g", {{"a", a}, {"b", b}}, 0.0, 1.0}}, {});
  a.mutable_grad() = torch::ones({3, 2});
  b.mutable_grad() = torch::ones({2});
  opt.step(0.1);
  auto saved = opt.state_tensors();
  AdamW other({{"g", {{"a", a}, {"b", b}}, 0.0, 1.0}}, {});
  other.load_state_tensors(saved, opt.steps_taken(), "test");
  EXPECT_EQ(other.steps_taken(), 1);
  EXPECT_TRUE(torch::equal(other.state_tensors()["optimizer.a.exp_avg"], saved["optimizer.a.exp_avg"]));
  saved.erase("optimizer.b.exp_avg_sq");
  EXPECT_THROW(other.load_state_tensors(saved, 1, "test"), cook::Error);
}

TEST(ClipGradNorm, ScalesToTheLimitAndReportsTheNormBefore) {
  auto a = torch::zeros({2}).requires_grad_(true);
  auto b = torch::zeros({1}).requires_grad_(true);
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  const double norm = clip_grad_norm({a, b}, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  const double after = std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().pow(2).sum().item<double>());
  EXPECT_NEAR(after, 1.0, 1e-5);
  EXPECT_NEAR(clip_grad_norm({a, b}, 10.0), after, 1e-6);  // below the limit: untouched
  b.mutable_grad() = torch::tensor({std::nanf("")});
  EXPECT_TRUE(std::isnan(clip_grad_norm({a, b}, 1.0)));
}

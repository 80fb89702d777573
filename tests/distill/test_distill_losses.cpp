// Each distillation loss against a direct float64 computation written out element by element,
// gradients against finite differences, zero when student equals teacher, and padding without effect.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "cook/compress/distill/losses.h"
#include "cook/core/error.h"

using namespace cook::compress::distill;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor randn(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, gen, f64);
}

// Central finite differences of f at x (float64), compared with autograd's gradient.
void expect_gradient_matches(const std::function<torch::Tensor(const torch::Tensor&)>& f, torch::Tensor x) {
  x = x.clone().set_requires_grad(true);
  torch::Tensor analytic = torch::autograd::grad({f(x)}, {x})[0];
  torch::Tensor flat = x.detach().clone().view(-1);
  const double eps = 1e-6;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    torch::Tensor plus = flat.clone(), minus = flat.clone();
    plus[i] += eps;
    minus[i] -= eps;
    const double numeric = (f(plus.view(x.sizes())).item<double>() - f(minus.view(x.sizes())).item<double>()) / (2 * eps);
    EXPECT_NEAR(analytic.view(-1)[i].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "element " << i;
  }
}

double ref_soft_ce(const torch::Tensor& s, const torch::Tensor& t, const torch::Tensor& labels, double T) {
  auto sa = s.accessor<double, 3>();
  auto ta = t.accessor<double, 3>();
  auto la = labels.accessor<int64_t, 2>();
  double total = 0;
  int64_t count = 0;
  for (int64_t b = 0; b < s.size(0); ++b)
    for (int64_t p = 0; p < s.size(1); ++p) {
      if (la[b][p] == -100) continue;
      double zs = 0, zt = 0;
      for (int64_t v = 0; v < s.size(2); ++v) {
        zs += std::exp(sa[b][p][v] / T);
        zt += std::exp(ta[b][p][v] / T);
      }
      double kl = 0;
      for (int64_t v = 0; v < s.size(2); ++v) {
        const double pt = std::exp(ta[b][p][v] / T) / zt;
        const double ps = std::exp(sa[b][p][v] / T) / zs;
        kl += pt * (std::log(pt) - std::log(ps));
      }
      total += kl;
      ++count;
    }
  return total / count * T * T;
}

double ref_hidden_mse(const torch::Tensor& s, const torch::Tensor& t, const torch::Tensor& mask, bool normalize) {
  auto sa = s.accessor<double, 3>();
  auto ta = t.accessor<double, 3>();
  auto ma = mask.accessor<int64_t, 2>();
  auto mean_norm = [&](const torch::TensorAccessor<double, 3>& a) {
    double sum = 0;
    int64_t n = 0;
    for (int64_t b = 0; b < s.size(0); ++b)
      for (int64_t p = 0; p < s.size(1); ++p) {
        if (!ma[b][p]) continue;
        double sq = 0;
        for (int64_t c = 0; c < s.size(2); ++c) sq += a[b][p][c] * a[b][p][c];
        sum += std::sqrt(sq);
        ++n;
      }
    return sum / n;
  };
  const double ns = normalize ? mean_norm(sa) : 1.0, nt = normalize ? mean_norm(ta) : 1.0;
  double total = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < s.size(0); ++b)
    for (int64_t p = 0; p < s.size(1); ++p) {
      if (!ma[b][p]) continue;
      for (int64_t c = 0; c < s.size(2); ++c) {
        const double d = sa[b][p][c] / ns - ta[b][p][c] / nt;
        total += d * d;
        ++n;
      }
    }
  return total / n;
}

double ref_attention_mse(const torch::Tensor& s, const torch::Tensor& t, const torch::Tensor& mask) {
  auto sa = s.accessor<double, 4>();
  auto ta = t.accessor<double, 4>();
  auto ma = mask.accessor<int64_t, 2>();
  double total = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < s.size(0); ++b)
    for (int64_t h = 0; h < s.size(1); ++h)
      for (int64_t i = 0; i < s.size(2); ++i)
        for (int64_t j = 0; j <= i; ++j) {
          if (!ma[b][i] || !ma[b][j]) continue;
          const double d = sa[b][h][i][j] - ta[b][h][i][j];
          total += d * d;
          ++n;
        }
  return total / n;
}

// Two sequences of 5: the first whole, the second with its last two positions padding.
torch::Tensor padding_mask() { return torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 5}); }
torch::Tensor padded_labels() {
  return torch::tensor({3, 1, 4, 1, -100, 5, 9, 2, -100, -100}, torch::kInt64).view({2, 5});
}

}  // namespace

TEST(DistillLosses, SoftCrossEntropyMatchesFloat64Reference) {
  const torch::Tensor s = randn({2, 5, 7}, 1) * 2, t = randn({2, 5, 7}, 2) * 2, labels = padded_labels();
  for (double T : {1.0, 2.0, 4.5}) {
    const double expected = ref_soft_ce(s, t, labels, T);
    EXPECT_NEAR(soft_ce_logits(s, t, labels, T).item<double>(), expected, 1e-12) << "T " << T;
    EXPECT_NEAR(soft_ce_logits(s.to(torch::kFloat32), t.to(torch::kFloat32), labels, T).item<double>(), expected,
                1e-5 * std::max(1.0, expected));
    EXPECT_GT(expected, 0.0);
  }
  EXPECT_EQ(soft_ce_logits(s.to(torch::kFloat32), t.to(torch::kFloat32), labels, 2.0).scalar_type(), torch::kFloat32);
}

TEST(DistillLosses, HiddenMseMatchesFloat64Reference) {
  const torch::Tensor s = randn({2, 5, 6}, 3), t = randn({2, 5, 6}, 4) * 3, mask = padding_mask();
  for (bool normalize : {false, true}) {
    const double expected = ref_hidden_mse(s, t, mask, normalize);
    EXPECT_NEAR(hidden_mse(s, t, mask, normalize).item<double>(), expected, 1e-12) << normalize;
    EXPECT_NEAR(hidden_mse(s.to(torch::kFloat32), t.to(torch::kFloat32), mask, normalize).item<double>(), expected,
                1e-5 * std::max(1.0, expected));
  }
  // No mask: every position counts, i.e. plain MSE.
  EXPECT_NEAR(masked_mse(s, t, {}).item<double>(), (s - t).pow(2).mean().item<double>(), 1e-12);
  // Normalization divides by the mean token norm: a scaled copy has the same normalized MSE.
  EXPECT_NEAR(hidden_mse(s * 7.0, t, mask, true).item<double>(), hidden_mse(s, t, mask, true).item<double>(), 1e-12);
}

TEST(DistillLosses, AttentionScoreMseMatchesFloat64Reference) {
  torch::Tensor s = randn({2, 3, 5, 5}, 5), t = randn({2, 3, 5, 5}, 6);
  const torch::Tensor mask = padding_mask();
  const double expected = ref_attention_mse(s, t, mask);
  EXPECT_NEAR(attention_score_mse(s, t, mask).item<double>(), expected, 1e-12);
  // Masked entries as the model leaves them (the lowest float) take no part.
  const torch::Tensor masked = torch::ones({5, 5}, torch::kBool).triu(1).view({1, 1, 5, 5}).expand({2, 3, 5, 5});
  const double lowest = std::numeric_limits<float>::lowest();
  torch::Tensor s32 = s.to(torch::kFloat32).masked_fill(masked, lowest);
  torch::Tensor t32 = t.to(torch::kFloat32).masked_fill(masked, lowest);
  const torch::Tensor loss32 = attention_score_mse(s32, t32, mask);
  EXPECT_TRUE(std::isfinite(loss32.item<double>()));
  EXPECT_NEAR(loss32.item<double>(), expected, 1e-5 * std::max(1.0, expected));
}

TEST(DistillLosses, GradientsMatchFiniteDifferences) {
  const torch::Tensor labels = padded_labels(), mask = padding_mask();
  const torch::Tensor t_logits = randn({2, 5, 4}, 7);
  expect_gradient_matches([&](const torch::Tensor& x) { return soft_ce_logits(x, t_logits, labels, 2.0); },
                          randn({2, 5, 4}, 8));
  const torch::Tensor t_hidden = randn({2, 5, 3}, 9);
  for (bool normalize : {false, true})
    expect_gradient_matches([&](const torch::Tensor& x) { return hidden_mse(x, t_hidden, mask, normalize); },
                            randn({2, 5, 3}, 10));
  const torch::Tensor t_scores = randn({2, 2, 5, 5}, 11);
  expect_gradient_matches([&](const torch::Tensor& x) { return attention_score_mse(x, t_scores, mask); },
                          randn({2, 2, 5, 5}, 12));
}

TEST(DistillLosses, EveryTermIsZeroWhenStudentEqualsTeacher) {
  const torch::Tensor logits = randn({2, 5, 7}, 13), hidden = randn({2, 5, 6}, 14), scores = randn({2, 3, 5, 5}, 15);
  EXPECT_NEAR(soft_ce_logits(logits, logits.clone(), padded_labels(), 3.0).item<double>(), 0.0, 1e-14);
  EXPECT_EQ(hidden_mse(hidden, hidden.clone(), padding_mask(), false).item<double>(), 0.0);
  EXPECT_NEAR(hidden_mse(hidden, hidden.clone(), padding_mask(), true).item<double>(), 0.0, 1e-14);
  EXPECT_EQ(attention_score_mse(scores, scores.clone(), padding_mask()).item<double>(), 0.0);
}

TEST(DistillLosses, PaddedPositionsHaveNoEffect) {
  const torch::Tensor labels = padded_labels(), mask = padding_mask();
  const torch::Tensor ignored = labels.eq(-100), pad = mask.eq(0);
  // Changing anything at a padded (or label -100) position changes neither value nor gradient.
  auto scramble = [](const torch::Tensor& x, const torch::Tensor& where, uint64_t seed) {
    torch::Tensor w = where;
    while (w.dim() < x.dim()) w = w.unsqueeze(-1);
    return torch::where(w.expand(x.sizes()), randn(x.sizes().vec(), seed) * 100, x);
  };
  auto value_and_grad = [](const std::function<torch::Tensor(const torch::Tensor&)>& f, const torch::Tensor& x) {
    torch::Tensor v = x.clone().set_requires_grad(true);
    torch::Tensor loss = f(v);
    return std::make_pair(loss.item<double>(), torch::autograd::grad({loss}, {v})[0]);
  };
  {
    const torch::Tensor s = randn({2, 5, 7}, 16), t = randn({2, 5, 7}, 17);
    auto a = value_and_grad([&](const torch::Tensor& x) { return soft_ce_logits(x, t, labels, 2.0); }, s);
    const torch::Tensor t2 = scramble(t, ignored, 18);
    auto b = value_and_grad([&](const torch::Tensor& x) { return soft_ce_logits(x, t2, labels, 2.0); },
                            scramble(s, ignored, 19));
    EXPECT_NEAR(a.first, b.first, 1e-12);
    EXPECT_TRUE(torch::allclose(a.second, b.second, 0, 1e-12));
    EXPECT_TRUE(b.second.masked_select(ignored.unsqueeze(-1).expand({2, 5, 7})).eq(0).all().item<bool>());
  }
  for (bool normalize : {false, true}) {
    const torch::Tensor s = randn({2, 5, 6}, 20), t = randn({2, 5, 6}, 21);
    auto a = value_and_grad([&](const torch::Tensor& x) { return hidden_mse(x, t, mask, normalize); }, s);
    const torch::Tensor t2 = scramble(t, pad, 22);
    auto b = value_and_grad([&](const torch::Tensor& x) { return hidden_mse(x, t2, mask, normalize); },
                            scramble(s, pad, 23));
    EXPECT_NEAR(a.first, b.first, 1e-12);
    EXPECT_TRUE(torch::allclose(a.second, b.second, 0, 1e-12));
  }
  {
    const torch::Tensor s = randn({2, 3, 5, 5}, 24), t = randn({2, 3, 5, 5}, 25);
    // Padding keys (columns) and padding queries (rows) of sequence 1.
    const torch::Tensor pad_entries = pad.view({2, 1, 1, 5}).logical_or(pad.view({2, 1, 5, 1})).expand({2, 3, 5, 5});
    auto a = value_and_grad([&](const torch::Tensor& x) { return attention_score_mse(x, t, mask); }, s);
    const torch::Tensor t2 = torch::where(pad_entries, randn({2, 3, 5, 5}, 26) * 100, t);
    auto b = value_and_grad([&](const torch::Tensor& x) { return attention_score_mse(x, t2, mask); },
                            torch::where(pad_entries, randn({2, 3, 5, 5}, 27) * 100, s));
    EXPECT_NEAR(a.first, b.first, 1e-12);
    EXPECT_TRUE(torch::allclose(a.second, b.second, 0, 1e-12));
  }
}

TEST(DistillLosses, ShapeMismatchIsAnError) {
  EXPECT_THROW(masked_mse(randn({1, 2, 3}, 1), randn({1, 2, 4}, 2), {}), cook::Error);
  EXPECT_THROW(soft_ce_logits(randn({1, 2, 3}, 1), randn({1, 2, 3}, 2), padded_labels().narrow(1, 0, 2).narrow(0, 0, 1), 0.0),
               cook::Error);
  EXPECT_THROW(attention_score_mse(randn({1, 2, 3, 4}, 1), randn({1, 2, 3, 4}, 2), {}), cook::Error);
}

// The QAT pass: fake-quant forward, straight-through and BMCook gradients, selection by name
// patterns, the options' JSON form, and the errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "cook/compress/quant/fake_quant.h"
#include "cook/compress/quant/numerics.h"
#include "cook/compress/quant/options.h"
#include "cook/compress/quant/qat.h"
#include "cook/core/error.h"
#include "quant_test_util.h"

namespace cook::quant {
namespace {

using test::max_abs_diff;

QuantOptions on(Scheme scheme = Scheme::W8A8, Backward backward = Backward::Ste) {
  QuantOptions o;
  o.is_quant = true;
  o.scheme = scheme;
  o.backward = backward;
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(QuantQat, W8A8ForwardIsTheInt8ProductRescaled) {
  torch::manual_seed(1);
  nn::Linear l(48, 24, true);
  l->set_weight_transform(std::make_shared<FakeQuantTransform>(Scheme::W8A8, 128));
  const torch::Tensor x = torch::randn({3, 5, 48});
  const torch::Tensor y = l->forward(x);
  // int8 × int8 in float64 (exact int32 accumulation), times the per-token and per-channel scales.
  Quantized qx = quantize_rows(x.reshape({15, 48})), qw = quantize_rows(l->weight);
  const torch::Tensor acc = torch::matmul(qx.values.to(torch::kFloat64), qw.values.to(torch::kFloat64).t());
  const torch::Tensor ref = acc * qx.scales.to(torch::kFloat64) * qw.scales.to(torch::kFloat64).t() + l->bias.to(torch::kFloat64);
  EXPECT_LT(max_abs_diff(y.reshape({15, 24}), ref), 1e-5);
  // and it differs from the float product by the quantization error only
  const torch::Tensor y_fp = torch::nn::functional::linear(x, l->weight, l->bias);
  EXPECT_GT(max_abs_diff(y, y_fp), 1e-5);
  EXPECT_LT(max_abs_diff(y, y_fp), 0.1);
}

TEST(QuantQat, SteGradientsAreThoseOfTheFloatProductAtTheQuantizedOperands) {
  torch::manual_seed(2);
  for (Scheme scheme : {Scheme::W8A8, Scheme::W8, Scheme::W4}) {
    nn::Linear l(128, 16, true);
    l->set_weight_transform(std::make_shared<FakeQuantTransform>(scheme, 64));
    torch::Tensor x = torch::randn({7, 128}, torch::requires_grad());
    const torch::Tensor r = torch::randn({7, 16});
    (l->forward(x) * r).sum().backward();
    const torch::Tensor wq = scheme == Scheme::W4 ? fake_quant_groups(l->weight, 64, 4) : fake_quant_rows(l->weight);
    const torch::Tensor xq = scheme == Scheme::W8A8 ? fake_quant_rows(x.detach()) : x.detach();
    EXPECT_LT(max_abs_diff(l->weight.grad(), torch::matmul(r.t(), xq)), 1e-5) << scheme_name(scheme);
    EXPECT_LT(max_abs_diff(x.grad(), torch::matmul(r, wq)), 1e-5) << scheme_name(scheme);
    EXPECT_LT(max_abs_diff(l->bias.grad(), r.sum(0)), 1e-5) << scheme_name(scheme);
  }
}

// cpm_kernels' GEMMInt8 for y (B, N, T) = W (N, K) · x (B, K, T), element by element in float64
// from its CUDA kernels (gemm_calc_scale, gemm_round, gemm_backward_round_scale,
// gemm_backward_scale_round, gemm_scale): the forward's int8 operands are reused in the backward.
struct CpmKernelsGrads {
  torch::Tensor dx;  // (B, T, K)
  torch::Tensor dw;  // (N, K)
};

CpmKernelsGrads cpm_kernels_gemm_int8_backward(const torch::Tensor& x_btk, const torch::Tensor& w_nk,
                                               const torch::Tensor& g_btn) {
  const auto x = x_btk.to(torch::kFloat64).contiguous(), w = w_nk.to(torch::kFloat64).contiguous(),
             g = g_btn.to(torch::kFloat64).contiguous();
  const int64_t B = x.size(0), T = x.size(1), K = x.size(2), N = w.size(0);
  auto xa = x.accessor<double, 3>();
  auto wa = w.accessor<double, 2>();
  auto ga = g.accessor<double, 3>();
  auto round_by = [](double v, double scale) { return scale == 0 ? 0.0 : std::nearbyint(v / scale); };
  // Forward: W per row of A (output channel), x per column of B (token).
  std::vector<double> s_w(N, 0.0);
  std::vector<std::vector<double>> s_x(B, std::vector<double>(T, 0.0));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) s_w[n] = std::max(s_w[n], std::abs(wa[n][k]));
    s_w[n] /= 127.0;
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t k = 0; k < K; ++k) s_x[b][t] = std::max(s_x[b][t], std::abs(xa[b][t][k]));
      s_x[b][t] /= 127.0;
    }
  auto w_q = [&](int64_t n, int64_t k) { return round_by(wa[n][k], s_w[n]); };
  auto x_q = [&](int64_t b, int64_t t, int64_t k) { return round_by(xa[b][t][k], s_x[b][t]); };

  CpmKernelsGrads out{torch::zeros({B, T, K}, torch::kFloat64), torch::zeros({N, K}, torch::kFloat64)};
  auto dxa = out.dx.accessor<double, 3>();
  auto dwa = out.dw.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b) {
    // grad_A = dW: gemm_backward_round_scale, a scale per output channel over the sequence's tokens
    // of G·s_x, times quantized_B (x) transposed, summed over the batch (A was broadcast).
    for (int64_t n = 0; n < N; ++n) {
      double scale = 0;
      for (int64_t t = 0; t < T; ++t) scale = std::max(scale, std::abs(ga[b][t][n] * s_x[b][t]));
      scale /= 127.0;
      for (int64_t k = 0; k < K; ++k) {
        double acc = 0;
        for (int64_t t = 0; t < T; ++t) acc += round_by(ga[b][t][n] * s_x[b][t], scale) * x_q(b, t, k);
        dwa[n][k] += acc * scale;
      }
    }
    // grad_B = dx: gemm_backward_scale_round, a scale per token over the output channels of s_w·G,
    // times quantized_A (W) transposed.
    for (int64_t t = 0; t < T; ++t) {
      double scale = 0;
      for (int64_t n = 0; n < N; ++n) scale = std::max(scale, std::abs(ga[b][t][n] * s_w[n]));
      scale /= 127.0;
      for (int64_t k = 0; k < K; ++k) {
        double acc = 0;
        for (int64_t n = 0; n < N; ++n) acc += round_by(ga[b][t][n] * s_w[n], scale) * w_q(n, k);
        dxa[b][t][k] = acc * scale;
      }
    }
  }
  return out;
}

TEST(QuantQat, BmcookBackwardIsCpmKernelsGemmInt8Backward) {
  torch::manual_seed(3);
  nn::Linear l(40, 24, true);
  l->set_kernel(std::make_shared<BmcookInt8Kernel>());
  {
    torch::NoGradGuard g;  // channels of very different ranges, so the rescaling by s_w and s_x matters
    l->weight.mul_(torch::linspace(0.05, 3.0, 24).unsqueeze(1));
  }
  torch::Tensor x = (torch::randn({2, 6, 40}) * torch::linspace(0.1, 4.0, 6).view({1, 6, 1})).requires_grad_(true);
  const torch::Tensor r = torch::randn({2, 6, 24});
  const torch::Tensor y = l->forward(x);
  (y * r).sum().backward();

  // Same forward as the straight-through transform.
  nn::Linear ste(40, 24, true);
  {
    torch::NoGradGuard g;
    ste->weight.copy_(l->weight);
    ste->bias.copy_(l->bias);
  }
  ste->set_weight_transform(std::make_shared<FakeQuantTransform>(Scheme::W8A8, 128));
  torch::Tensor x2 = x.detach().clone().requires_grad_(true);
  (ste->forward(x2) * r).sum().backward();
  EXPECT_LT(max_abs_diff(y, ste->forward(x.detach())), 1e-5);

  const CpmKernelsGrads ref = cpm_kernels_gemm_int8_backward(x.detach(), l->weight.detach(), r);
  const double dx_scale = ref.dx.abs().max().item<double>(), dw_scale = ref.dw.abs().max().item<double>();
  EXPECT_LT(max_abs_diff(x.grad(), ref.dx), 1e-5 * dx_scale);
  EXPECT_LT(max_abs_diff(l->weight.grad(), ref.dw), 1e-5 * dw_scale);
  EXPECT_LT(max_abs_diff(l->bias.grad(), r.reshape({-1, 24}).sum(0)), 1e-5);

  // The gradient quantized alone (without the other operand's scales, or over all tokens at once
  // for dW) is another rule: its dW differs from cpm_kernels' by far more than float32 rounding.
  auto int8_mm = [](const torch::Tensor& a, const torch::Tensor& b) {  // a (M,K) · b (N,K)ᵀ, per row
    auto qa = test::reference_quantize_rows(a), qb = test::reference_quantize_rows(b);
    return torch::matmul(qa.q, qb.q.t()) * qa.scale * qb.scale.t();
  };
  const torch::Tensor other_dw = int8_mm(r.reshape({12, 24}).t().contiguous(), x.detach().reshape({12, 40}).t().contiguous());
  EXPECT_GT(max_abs_diff(other_dw, ref.dw), 1e-3 * dw_scale);

  // Close to the straight-through gradients, but not equal: the gradient itself is quantized.
  const double rel = (l->weight.grad() - ste->weight.grad()).norm().item<double>() / ste->weight.grad().norm().item<double>();
  EXPECT_GT(rel, 1e-4);
  EXPECT_LT(rel, 0.05);
}

TEST(QuantQat, BmcookBackwardGroupsDwBySequence) {
  // A 2-D input is one sequence; the same tokens as two sequences of 3 give another dW (the
  // per-channel gradient scales are taken per sequence), and each matches cpm_kernels.
  torch::manual_seed(4);
  const torch::Tensor w = torch::randn({8, 16}), x = torch::randn({6, 16}) * torch::linspace(0.1, 5.0, 6).unsqueeze(1);
  const torch::Tensor g = torch::randn({6, 8});
  auto dw_of = [&](const torch::Tensor& xs, const torch::Tensor& gs) {
    torch::Tensor wv = w.clone().requires_grad_(true);
    (bmcook_int8_linear(xs, wv, {}) * gs).sum().backward();
    return wv.grad();
  };
  const torch::Tensor one = dw_of(x, g), two = dw_of(x.reshape({2, 3, 16}), g.reshape({2, 3, 8}));
  const double scale = one.abs().max().item<double>();
  EXPECT_LT(max_abs_diff(one, cpm_kernels_gemm_int8_backward(x.unsqueeze(0), w, g.unsqueeze(0)).dw), 1e-5 * scale);
  EXPECT_LT(max_abs_diff(two, cpm_kernels_gemm_int8_backward(x.reshape({2, 3, 16}), w, g.reshape({2, 3, 8})).dw),
            1e-5 * scale);
  EXPECT_GT(max_abs_diff(one, two), 1e-4 * scale);
}

TEST(QuantQat, DefaultSelectionIsEveryBlockLinearNeverEmbedOrHead) {
  model::GptJ m = test::micro_model();
  const auto names = select_linears(*m, {});
  ASSERT_EQ(names.size(), 12u);  // 2 blocks × (q, k, v, out, fc_in, fc_out)
  EXPECT_EQ(names.front(), "blocks.0.attn.q_proj");
  for (const auto& n : names) {
    EXPECT_EQ(n.rfind("blocks.", 0), 0u) << n;
    EXPECT_EQ(n.find("lm_head"), std::string::npos);
  }
  const auto attached = apply_quantization(*m, on());
  EXPECT_EQ(attached, names);
  EXPECT_FALSE(m->lm_head->weight_transform());
  EXPECT_TRUE(m->blocks()[1]->attn->v_proj->weight_transform());
}

TEST(QuantQat, PatternsSelectBySubstringAsBmcookDoes) {
  model::GptJ m = test::micro_model();
  EXPECT_EQ(select_linears(*m, {"attn"}).size(), 8u);
  EXPECT_EQ(select_linears(*m, {"fc_in", "fc_out"}).size(), 4u);
  EXPECT_EQ(select_linears(*m, {"blocks.1.ffn"}), (std::vector<std::string>{"blocks.1.ffn.fc_in", "blocks.1.ffn.fc_out"}));
  // Overlapping patterns select each linear once, in model order.
  EXPECT_EQ(select_linears(*m, {"q_proj", "blocks.0.attn.q"}).size(), 2u);
  QuantOptions o = on();
  o.quantized_module = {"k_proj"};
  apply_quantization(*m, o);
  EXPECT_TRUE(m->blocks()[0]->attn->k_proj->weight_transform());
  EXPECT_FALSE(m->blocks()[0]->attn->q_proj->weight_transform());
}

TEST(QuantQat, BadPatternsAreErrorsNamingThem) {
  model::GptJ m = test::micro_model();
  const std::string unknown = error_of([&] { select_linears(*m, {"attn", "wte"}); });
  EXPECT_NE(unknown.find("quantization.quantized_module[1]"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("'wte' names no module"), std::string::npos) << unknown;
  const std::string not_linear = error_of([&] { select_linears(*m, {"blocks.0.ln"}); });
  EXPECT_NE(not_linear.find("no quantizable linear: blocks.0.ln"), std::string::npos) << not_linear;
  const std::string head = error_of([&] { select_linears(*m, {"lm_head"}); });
  EXPECT_NE(head.find("never embed or lm_head"), std::string::npos) << head;
  EXPECT_THROW(select_linears(*m, {"embed"}), Error);
}

TEST(QuantQat, ApplyErrors) {
  model::GptJ m = test::micro_model();
  EXPECT_THROW(apply_quantization(*m, QuantOptions{}), Error);  // is_quant false
  apply_quantization(*m, on());
  const std::string twice = error_of([&] { apply_quantization(*m, on()); });
  EXPECT_NE(twice.find("already carries"), std::string::npos) << twice;
  remove_quantization(*m);
  EXPECT_FALSE(m->blocks()[0]->attn->q_proj->weight_transform());
  QuantOptions w4 = on(Scheme::W4);
  w4.group_size = 48;  // does not divide d_model 32
  const std::string group = error_of([&] { apply_quantization(*m, w4); });
  EXPECT_NE(group.find("group_size"), std::string::npos) << group;
}

TEST(QuantQat, TwoModelsInOneProcessKeepTheirOwnQuantization) {
  model::GptJ a = test::micro_model(5), b = test::micro_model(5);
  a->eval();
  b->eval();
  const torch::Tensor ids = test::micro_ids();
  model::ForwardInput in{ids};
  const torch::Tensor before = b->forward(in).logits;
  apply_quantization(*a, on());
  const torch::Tensor qa = a->forward(in).logits;
  EXPECT_TRUE(torch::equal(b->forward(in).logits, before));  // b untouched
  EXPECT_GT(max_abs_diff(qa, before), 1e-6);
  EXPECT_LT(max_abs_diff(qa, before), 0.5);
  // BMCook's backward gives the same logits as the straight-through transform.
  model::GptJ c = test::micro_model(5);
  c->eval();
  apply_quantization(*c, on(Scheme::W8A8, Backward::Bmcook));
  EXPECT_LT(max_abs_diff(c->forward(in).logits, qa), 1e-4);
}

TEST(QuantQat, QatTrainsTheQuantizedModel) {
  model::GptJ m = test::micro_model(8);
  apply_quantization(*m, on());
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(3e-3));
  const torch::Tensor ids = test::micro_ids(4, 16, 9);
  auto loss_of = [&] {
    torch::Tensor logits = m->forward(model::ForwardInput{ids}).logits;
    return torch::nn::functional::cross_entropy(logits.slice(1, 0, -1).reshape({-1, logits.size(-1)}),
                                                ids.slice(1, 1).reshape({-1}));
  };
  const double first = loss_of().item<double>();
  for (int i = 0; i < 30; ++i) {
    opt.zero_grad();
    torch::Tensor loss = loss_of();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(loss_of().item<double>(), first * 0.8);
}

TEST(QuantOptionsJson, ReadsBmcookKeysStrictly) {
  const auto o = quant_options_from_json(nlohmann::json::parse(R"({"is_quant": true, "quantized_module": ["attn", "fc_in"]})"),
                                         "quantization");
  EXPECT_TRUE(o.is_quant);
  EXPECT_EQ(o.quantized_module, (std::vector<std::string>{"attn", "fc_in"}));
  EXPECT_EQ(o.scheme, Scheme::W8A8);
  EXPECT_EQ(o.backward, Backward::Ste);
  const auto x = quant_options_from_json(
      nlohmann::json::parse(R"({"is_quant": true, "scheme": "w4", "group_size": 64, "backward": "ste"})"), "q");
  EXPECT_EQ(x.scheme, Scheme::W4);
  EXPECT_EQ(x.group_size, 64);
  EXPECT_EQ(quant_options_from_json(to_json(x), "q").group_size, 64);

  auto err = [](const char* text) {
    return error_of([&] { quant_options_from_json(nlohmann::json::parse(text), "cfg.json: quantization"); });
  };
  EXPECT_NE(err(R"({"is_quant": 1})").find("cfg.json: quantization.is_quant: must be true or false"), std::string::npos);
  EXPECT_NE(err(R"({"is_quant": true, "quantized_modules": []})").find("quantization.quantized_modules: unknown key"),
            std::string::npos);
  EXPECT_NE(err(R"({"quantized_module": ["a", 3]})").find("quantization.quantized_module[1]"), std::string::npos);
  EXPECT_NE(err(R"({"scheme": "int3"})").find("'int3' is not a quantization scheme"), std::string::npos);
  EXPECT_NE(err(R"({"scheme": "w8", "backward": "bmcook"})").find("needs scheme w8a8"), std::string::npos);
  EXPECT_NE(err(R"({"group_size": 1.5})").find("group_size: must be an integer"), std::string::npos);
  EXPECT_NE(err(R"([1])").find("must be a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace cook::quant

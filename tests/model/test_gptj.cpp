// GptJ: parameter names, initialization, what forward returns on request, masks, errors, FFN
// replacement.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "cook/core/error.h"
#include "cook/model/attention.h"
#include "cook/model/gptj.h"

namespace cook::model {
namespace {

std::set<std::string> expected_names(const ModelConfig& c) {
  std::set<std::string> names = {"embed.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight", "lm_head.bias"};
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* n : {"ln.weight", "ln.bias", "attn.q_proj.weight", "attn.k_proj.weight", "attn.v_proj.weight",
                          "attn.out_proj.weight", "ffn.fc_in.weight", "ffn.fc_out.weight", "ffn.fc_out.bias"}) {
      names.insert(b + n);
    }
    if (c.fc_in_bias) names.insert(b + "ffn.fc_in.bias");
  }
  return names;
}

ForwardInput ids_input(int64_t B, int64_t T, int64_t vocab = 1000, uint64_t seed = 7) {
  torch::manual_seed(seed);
  ForwardInput in;
  in.input_ids = torch::randint(0, vocab, {B, T});
  return in;
}

TEST(GptJ, ParameterNamesAndShapesAreCooks) {
  for (const std::string name : {"tiny", "tiny-relu"}) {
    const ModelConfig c = preset(name);
    GptJ model(c);
    std::set<std::string> names;
    for (const auto& item : model->named_parameters()) names.insert(item.key());
    EXPECT_EQ(names, expected_names(c)) << name;
    auto p = model->named_parameters();
    EXPECT_EQ(p["embed.weight"].sizes(), (std::vector<int64_t>{c.vocab_size, c.d_model}));
    EXPECT_EQ(p["blocks.1.ffn.fc_in.weight"].sizes(), (std::vector<int64_t>{c.d_ff, c.d_model}));
    EXPECT_EQ(p["blocks.1.ffn.fc_out.weight"].sizes(), (std::vector<int64_t>{c.d_model, c.d_ff}));
    EXPECT_EQ(p["lm_head.weight"].sizes(), (std::vector<int64_t>{c.vocab_size, c.d_model}));
    EXPECT_EQ(model->parameter_count(), c.parameter_count()) << name;
    EXPECT_EQ(static_cast<int64_t>(model->blocks().size()), c.n_layer);
    EXPECT_EQ(model->named_buffers().size(), 0u);
  }
}

TEST(GptJ, RejectsAnInvalidConfig) {
  ModelConfig c = preset("tiny");
  c.n_head = 5;
  EXPECT_THROW(GptJ{c}, cook::Error);
}

TEST(GptJ, InitWeightsFollowsTheSchemeAndTheSeed) {
  GptJ a(preset("tiny")), b(preset("tiny"));
  a->init_weights(0.05, 11);
  b->init_weights(0.05, 11);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(item.value().equal(pb[item.key()])) << item.key();
  b->init_weights(0.05, 12);
  EXPECT_FALSE(pa["blocks.0.attn.q_proj.weight"].equal(b->named_parameters()["blocks.0.attn.q_proj.weight"]));

  EXPECT_NEAR(pa["embed.weight"].std().item<double>(), 0.05, 0.001);
  EXPECT_NEAR(pa["blocks.1.ffn.fc_in.weight"].std().item<double>(), 0.05, 0.002);
  EXPECT_NEAR(pa["blocks.1.ffn.fc_in.weight"].mean().item<double>(), 0.0, 0.002);
  EXPECT_EQ(pa["blocks.0.ffn.fc_in.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(pa["lm_head.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(pa["blocks.0.ln.weight"].eq(1).all().item<bool>());
  EXPECT_EQ(pa["ln_f.bias"].abs().sum().item<double>(), 0.0);
}

TEST(GptJ, OptionalOutputsAppearOnlyWhenRequested) {
  const ModelConfig c = preset("tiny");
  GptJ model(c);
  torch::NoGradGuard no_grad;
  ForwardInput in = ids_input(2, 10);

  ForwardOutput plain = model->forward(in);
  EXPECT_TRUE(plain.logits.defined());
  EXPECT_EQ(plain.logits.sizes(), (std::vector<int64_t>{2, 10, c.vocab_size}));
  EXPECT_FALSE(plain.embedding.defined());
  EXPECT_FALSE(plain.final_hidden.defined());
  EXPECT_TRUE(plain.hidden_states.empty());
  EXPECT_TRUE(plain.attention_scores.empty());
  EXPECT_TRUE(plain.ffn_inputs.empty());

  in.request = ForwardRequest{};
  in.request.logits = false;
  in.request.ffn_inputs = true;
  ForwardOutput ffn_only = model->forward(in);
  EXPECT_FALSE(ffn_only.logits.defined());
  ASSERT_EQ(static_cast<int64_t>(ffn_only.ffn_inputs.size()), c.n_layer);
  EXPECT_EQ(ffn_only.ffn_inputs[0].sizes(), (std::vector<int64_t>{2, 10, c.d_model}));
  EXPECT_TRUE(ffn_only.hidden_states.empty());

  in.request = ForwardRequest{true, true, true, true, true, true};
  ForwardOutput all = model->forward(in);
  EXPECT_EQ(all.embedding.sizes(), (std::vector<int64_t>{2, 10, c.d_model}));
  ASSERT_EQ(static_cast<int64_t>(all.hidden_states.size()), c.n_layer);
  EXPECT_EQ(all.final_hidden.sizes(), (std::vector<int64_t>{2, 10, c.d_model}));
  ASSERT_EQ(static_cast<int64_t>(all.attention_scores.size()), c.n_layer);
  EXPECT_EQ(all.attention_scores[1].sizes(), (std::vector<int64_t>{2, c.n_head, 10, 10}));
  EXPECT_EQ(all.attention_scores[1].scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(all.logits, plain.logits, 1e-5, 1e-5));
  // The block's FFN input is its layer norm of the previous hidden state.
  const torch::Tensor ln1 = model->blocks()[1]->ln->forward(all.hidden_states[0]);
  EXPECT_TRUE(torch::allclose(all.ffn_inputs[1], ln1, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(all.final_hidden, model->ln_f->forward(all.hidden_states.back()), 1e-5, 1e-6));
  // Scores above the diagonal are masked: their softmax weight is zero.
  const torch::Tensor probs = torch::softmax(all.attention_scores[0], -1);
  EXPECT_EQ(probs.triu(1).abs().sum().item<double>(), 0.0);
}

TEST(GptJ, IsCausal) {
  GptJ model(preset("tiny"));
  torch::NoGradGuard no_grad;
  ForwardInput in = ids_input(1, 12);
  const torch::Tensor a = model->forward(in).logits;
  in.input_ids.index_put_({0, 8}, (in.input_ids.index({0, 8}) + 1) % 1000);
  const torch::Tensor b = model->forward(in).logits;
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 8), b.slice(1, 0, 8), 1e-5, 1e-6));
  EXPECT_GT((a.slice(1, 8) - b.slice(1, 8)).abs().max().item<double>(), 1e-4);
}

TEST(GptJ, PaddedKeysAreIgnoredAndPaddingNeverTurnsNan) {
  GptJ model(preset("tiny"));
  torch::NoGradGuard no_grad;
  ForwardInput in = ids_input(2, 8);
  in.attention_mask = ForwardInput::mask_from_lengths(torch::tensor({8, 5}, torch::kInt64), 8);
  in.request.attention_scores = true;
  const ForwardOutput padded = model->forward(in);
  ForwardInput alone;
  alone.input_ids = in.input_ids.slice(0, 1, 2).slice(1, 0, 5);
  EXPECT_TRUE(torch::allclose(model->forward(alone).logits[0], padded.logits[1].slice(0, 0, 5), 1e-5, 1e-5));
  // Garbage at the padded positions must not change anything real.
  in.input_ids.index_put_({1, 6}, 3);
  EXPECT_TRUE(torch::allclose(model->forward(in).logits[1].slice(0, 0, 5), padded.logits[1].slice(0, 0, 5), 1e-6, 1e-6));

  // Left padding: every key a padding query may see is padding; still no NaN.
  ForwardInput left = ids_input(1, 6);
  left.attention_mask = torch::tensor({{0, 0, 1, 1, 1, 1}}, torch::kInt64);
  EXPECT_FALSE(torch::isnan(model->forward(left).logits).any().item<bool>());
  left.request.attention_scores = true;
  EXPECT_FALSE(torch::isnan(model->forward(left).logits).any().item<bool>());
}

TEST(ForwardInputTest, MaskFromLengths) {
  const torch::Tensor m = ForwardInput::mask_from_lengths(torch::tensor({3, 0, 5}, torch::kInt64), 5);
  EXPECT_EQ(m.scalar_type(), torch::kInt64);
  const torch::Tensor expected = torch::tensor({{1, 1, 1, 0, 0}, {0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}}, torch::kInt64);
  EXPECT_TRUE(m.equal(expected));
  EXPECT_TRUE(ForwardInput::mask_from_lengths(torch::tensor({2}, torch::kInt32), 3)
                  .equal(torch::tensor({{1, 1, 0}}, torch::kInt64)));
  EXPECT_THROW(ForwardInput::mask_from_lengths(torch::tensor({6}, torch::kInt64), 5), cook::Error);
  EXPECT_THROW(ForwardInput::mask_from_lengths(torch::tensor({-1}, torch::kInt64), 5), cook::Error);
  EXPECT_THROW(ForwardInput::mask_from_lengths(torch::ones({2, 2}, torch::kInt64), 5), cook::Error);
}

TEST(GptJ, BadInputsNameTheTensor) {
  GptJ model(preset("tiny"));
  auto expect_error = [&](ForwardInput in, const std::string& where) {
    try {
      model->forward(in);
      ADD_FAILURE() << "no error for " << where;
    } catch (const cook::Error& e) {
      EXPECT_EQ(e.where(), where) << e.what();
    }
  };
  ForwardInput in;
  in.input_ids = torch::zeros({4}, torch::kInt64);
  expect_error(in, "input_ids");
  in.input_ids = torch::zeros({1, 4}, torch::kFloat32);
  expect_error(in, "input_ids");
  in.input_ids = torch::zeros({1, preset("tiny").n_positions + 1}, torch::kInt64);
  expect_error(in, "input_ids");
  in.input_ids = torch::full({1, 4}, preset("tiny").vocab_size, torch::kInt64);
  expect_error(in, "input_ids");
  in.input_ids = torch::full({1, 4}, -1, torch::kInt64);
  expect_error(in, "input_ids");
  in.input_ids = torch::zeros({1, 4}, torch::kInt64);
  in.attention_mask = torch::ones({1, 5}, torch::kInt64);
  expect_error(in, "attention_mask");
  // int32 ids are fine.
  in.input_ids = torch::zeros({1, 4}, torch::kInt32);
  in.attention_mask = torch::ones({1, 4}, torch::kInt32);
  EXPECT_NO_THROW(model->forward(in));
}

TEST(GptJ, GradientsReachEveryParameter) {
  GptJ model(preset("tiny"));
  model->train();
  ForwardInput in = ids_input(2, 6);
  in.attention_mask = ForwardInput::mask_from_lengths(torch::tensor({6, 4}), 6);
  model->forward(in).logits.logsumexp(-1).mean().backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
  }
}

// An FFN of another kind: a scaled dense FFN with its own parameter.
struct ScaledFfn : FeedForwardImpl {
  explicit ScaledFfn(std::shared_ptr<DenseFeedForwardImpl> inner) : inner_(std::move(inner)) {
    register_module("inner", inner_);
    scale = register_parameter("scale", torch::full({1}, 0.5));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return inner_->forward(x) * scale; }
  std::shared_ptr<DenseFeedForwardImpl> inner_;
  torch::Tensor scale;
};

TEST(GptJ, ReplaceFfnSwapsTheBlocksFeedForward) {
  GptJ model(preset("tiny"));
  torch::NoGradGuard no_grad;
  ForwardInput in = ids_input(1, 7);
  in.request.hidden_states = true;
  const ForwardOutput before = model->forward(in);

  auto block = model->blocks()[0];
  auto dense = block->dense_ffn();
  ASSERT_TRUE(dense);
  auto old = block->replace_ffn(std::make_shared<ScaledFfn>(dense));
  EXPECT_EQ(old.get(), dense.get());
  EXPECT_EQ(block->dense_ffn(), nullptr);
  auto params = model->named_parameters();
  EXPECT_TRUE(params.contains("blocks.0.ffn.scale"));
  EXPECT_TRUE(params.contains("blocks.0.ffn.inner.fc_in.weight"));
  EXPECT_FALSE(params.contains("blocks.0.ffn.fc_in.weight"));
  EXPECT_EQ(model->parameter_count(), model->config().parameter_count() + 1);

  const ForwardOutput after = model->forward(in);
  // Block 0's output changed by exactly half its FFN output.
  const torch::Tensor h0 = model->embed->forward(in.input_ids);
  const torch::Tensor f = dense->forward(block->ln->forward(h0));
  EXPECT_TRUE(torch::allclose(before.hidden_states[0] - after.hidden_states[0], 0.5 * f, 1e-5, 1e-5));
  EXPECT_THROW(block->replace_ffn(nullptr), cook::Error);
}

TEST(GptJ, BFloat16ComputesInItsDtypeAndStaysClose) {
  GptJ model(preset("tiny"));
  torch::NoGradGuard no_grad;
  ForwardInput in = ids_input(2, 16);
  in.attention_mask = ForwardInput::mask_from_lengths(torch::tensor({16, 11}), 16);
  in.request.attention_scores = true;
  const ForwardOutput ref = model->forward(in);
  model->to(torch::kBFloat16);
  const ForwardOutput bf = model->forward(in);
  EXPECT_EQ(bf.logits.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(bf.attention_scores[0].scalar_type(), torch::kFloat32);
  const torch::Tensor valid = in.attention_mask.ne(0);
  const double scale = ref.logits.abs().max().item<double>();
  const double diff = (bf.logits.to(torch::kFloat32) - ref.logits).index({valid}).abs().max().item<double>();
  EXPECT_LT(diff, 0.05 * scale + 0.02);
}

TEST(Rotary, RotateEveryTwoAndTables) {
  const torch::Tensor x = torch::tensor({1.f, 2.f, 3.f, 4.f});
  EXPECT_TRUE(rotate_every_two(x).equal(torch::tensor({-2.f, 1.f, -4.f, 3.f})));
  auto [s, c] = rotary_sin_cos(torch::tensor({0, 3}, torch::kInt64), 4);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s[0].abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(c[0].eq(1).all().item<bool>());
  // inv_freq = (1, 1/100) for rotary_dim 4.
  EXPECT_NEAR(s[1][0].item<float>(), std::sin(3.0), 1e-6);
  EXPECT_NEAR(c[1][1].item<float>(), std::cos(0.03), 1e-6);
  // Position 0 leaves the input alone; the pass-through channels are never touched.
  const torch::Tensor q = torch::randn({1, 2, 3, 8});
  const torch::Tensor r = apply_rotary(q, s, c, 4);
  EXPECT_TRUE(r.select(1, 0).equal(q.select(1, 0)));
  EXPECT_TRUE(r.narrow(-1, 4, 4).equal(q.narrow(-1, 4, 4)));
  // A rotation keeps each pair's norm.
  EXPECT_TRUE(torch::allclose(r.narrow(-1, 0, 4).norm(), q.narrow(-1, 0, 4).norm(), 1e-5, 1e-5));
}

}  // namespace
}  // namespace cook::model

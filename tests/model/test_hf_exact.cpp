// Cook's GPT-J against Hugging Face's GPTJForCausalLM on the fixtures in tests/data/hf-gptj: the
// logits, every hidden state and every attention probability agree within 1e-4 in float32.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "model_test_util.h"

namespace cook::model {
namespace {

using test::load_fixture_model;
using test::max_abs_diff;

constexpr double kTolerance = 1e-4;

// Rows of `t` (B, T, ...) at the positions where `valid` (B, T) is true.
torch::Tensor valid_rows(const torch::Tensor& t, const torch::Tensor& valid) { return t.index({valid}); }

class HfExactTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfExactTest, MatchesTransformersInFloat32) {
  const std::string name = GetParam();
  GptJ model = load_fixture_model(name);
  const auto ref = test::read_reference(name);
  const int64_t n = model->config().n_layer;
  ASSERT_EQ(n, 3);

  ForwardInput in;
  in.input_ids = ref.at("input_ids");
  in.attention_mask = ref.at("attention_mask");
  in.request.embedding = true;
  in.request.hidden_states = true;
  in.request.final_hidden = true;
  in.request.attention_scores = true;
  torch::NoGradGuard no_grad;
  const ForwardOutput out = model->forward(in);

  const torch::Tensor valid = in.attention_mask.ne(0);
  ASSERT_EQ(valid.sum().item<int64_t>(), 17 + 12);  // row 1 is padded after 12 tokens

  EXPECT_LE(max_abs_diff(valid_rows(out.embedding, valid), valid_rows(ref.at("hidden_states.0"), valid)), kTolerance);
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), n);
  // HF's hidden_states.{i} for 1 ≤ i < n are block outputs; hidden_states.n is after ln_f.
  for (int64_t i = 0; i + 1 < n; ++i) {
    const torch::Tensor expected = ref.at("hidden_states." + std::to_string(i + 1));
    EXPECT_LE(max_abs_diff(valid_rows(out.hidden_states[i], valid), valid_rows(expected, valid)), kTolerance)
        << "block " << i;
  }
  EXPECT_LE(max_abs_diff(valid_rows(out.final_hidden, valid), valid_rows(ref.at("hidden_states." + std::to_string(n)), valid)),
            kTolerance);
  EXPECT_LE(max_abs_diff(valid_rows(out.logits, valid), valid_rows(ref.at("logits"), valid)), kTolerance);

  ASSERT_EQ(static_cast<int64_t>(out.attention_scores.size()), n);
  for (int64_t i = 0; i < n; ++i) {
    const torch::Tensor probs = torch::softmax(out.attention_scores[i], -1);          // (B, H, T, T)
    const torch::Tensor expected = ref.at("attentions." + std::to_string(i));
    ASSERT_EQ(probs.sizes(), expected.sizes());
    // (B, T_q, H, T_k): select the unpadded queries.
    const double diff = max_abs_diff(valid_rows(probs.permute({0, 2, 1, 3}), valid),
                                     valid_rows(expected.permute({0, 2, 1, 3}), valid));
    EXPECT_LE(diff, kTolerance) << "attentions." << i;
  }
  // The logits are not trivially small, so the tolerance means something.
  EXPECT_GT(out.logits.abs().max().item<double>(), 0.5);
  std::printf("%s: logits max |cook - hf| = %.3g (max |logit| %.3g)\n", name.c_str(),
              max_abs_diff(valid_rows(out.logits, valid), valid_rows(ref.at("logits"), valid)),
              out.logits.abs().max().item<double>());
}

TEST_P(HfExactTest, FusedPathAgreesAndPaddingLeavesTokensAlone) {
  const std::string name = GetParam();
  GptJ model = load_fixture_model(name);
  const auto ref = test::read_reference(name);
  torch::NoGradGuard no_grad;

  // Without scores asked for, PyTorch ≥ 2 takes scaled_dot_product_attention.
  ForwardInput in;
  in.input_ids = ref.at("input_ids");
  in.attention_mask = ref.at("attention_mask");
  const ForwardOutput out = model->forward(in);
  const torch::Tensor valid = in.attention_mask.ne(0);
  EXPECT_LE(max_abs_diff(valid_rows(out.logits, valid), valid_rows(ref.at("logits"), valid)), kTolerance);
  EXPECT_FALSE(torch::isnan(out.logits).any().item<bool>());

  // Row 1 alone, cut to its 12 tokens, gives the same logits as inside the padded batch.
  ForwardInput alone;
  alone.input_ids = ref.at("input_ids").slice(0, 1, 2).slice(1, 0, 12);
  const ForwardOutput single = model->forward(alone);
  EXPECT_LE(max_abs_diff(single.logits[0], out.logits[1].slice(0, 0, 12)), kTolerance);
}

// On a GPU: the same model in float32 agrees as on the CPU (TF32 is off in LibTorch by default), and
// in bfloat16 within what 8 bits of mantissa allow. Skips without CUDA.
TEST_P(HfExactTest, MatchesTransformersOnCudaInFloat32AndBfloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string name = GetParam();
  const auto ref = test::read_reference(name);
  const torch::Device cuda(torch::kCUDA);
  const torch::Tensor valid = ref.at("attention_mask").ne(0);
  const torch::Tensor expected = valid_rows(ref.at("logits"), valid);
  torch::NoGradGuard no_grad;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    GptJ model = load_fixture_model(name);
    model->to(cuda, dtype);
    ForwardInput in;
    in.input_ids = ref.at("input_ids").to(cuda);
    in.attention_mask = ref.at("attention_mask").to(cuda);
    const torch::Tensor logits = valid_rows(model->forward(in).logits.to(torch::kCPU, torch::kFloat32), valid);
    const double diff = max_abs_diff(logits, expected);
    const double scale = expected.abs().max().item<double>();
    std::printf("%s on CUDA in %s: logits max |cook - hf| = %.3g (max |logit| %.3g)\n", name.c_str(),
                dtype == torch::kFloat32 ? "float32" : "bfloat16", diff, scale);
    EXPECT_LE(diff, dtype == torch::kFloat32 ? 1e-3 : 0.05 * scale) << (dtype == torch::kFloat32 ? "float32" : "bfloat16");
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfExactTest, ::testing::Values("gptj-tiny-gelu", "gptj-tiny-relu"));

TEST(HfFixture, ConfigsReadAsTheirActivations) {
  const auto gelu = config_from_hf_json(test::read_json(test::fixture_dir("gptj-tiny-gelu") + "/config.json"), "gelu");
  const auto relu = config_from_hf_json(test::read_json(test::fixture_dir("gptj-tiny-relu") + "/config.json"), "relu");
  EXPECT_EQ(gelu.activation, Activation::GeluNew);
  EXPECT_EQ(relu.activation, Activation::Relu);
  EXPECT_TRUE(relu.fc_in_bias);  // HF's ReLU GPT-J still has the fc_in bias
  EXPECT_EQ(gelu.vocab_size, 1000);
  EXPECT_EQ(gelu.d_model, 64);
  EXPECT_EQ(gelu.n_layer, 3);
  EXPECT_EQ(gelu.n_head, 4);
  EXPECT_EQ(gelu.rotary_dim, 8);
  EXPECT_EQ(gelu.d_ff, 256);
  EXPECT_EQ(gelu.n_positions, 128);
  EXPECT_DOUBLE_EQ(gelu.init_std, 0.2);
}

}  // namespace
}  // namespace cook::model

// Cook against Hugging Face on the families beyond GPT-J: the fixtures scripts/make_hf_fixtures.py
// makes with transformers (issue 25) in tests/data/hf-<family>/<fixture>. A fixture that is not
// there yet, or whose model_type Cook does not read yet, is skipped with a message that says which;
// one that Cook reads must match transformers within 1e-4 in float32, as the GPT-J ones do.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "model_test_util.h"

namespace cook::model {
namespace {

using test::max_abs_diff;

constexpr double kTolerance = 1e-4;
constexpr int64_t kSeqLen = 17;
constexpr int64_t kPaddedRowLength = 12;  // row 1 of the inputs is right-padded after 12 tokens

// The fixtures of scripts/hf_fixtures/families.py.
struct Fixture {
  const char* family;
  const char* name;
  const char* model_type;
};
std::ostream& operator<<(std::ostream& os, const Fixture& f) { return os << f.family << "/" << f.name; }

const Fixture kFixtures[] = {
    {"gpt2", "gpt2-tiny", "gpt2"},
    {"gpt-neox", "gpt-neox-tiny-parallel", "gpt_neox"},
    {"gpt-neox", "gpt-neox-tiny-sequential", "gpt_neox"},
    {"llama", "llama-tiny-gqa-llama3-untied", "llama"},
    {"llama", "llama-tiny-mqa-tied", "llama"},
    {"mistral", "mistral-tiny-gqa", "mistral"},
    {"mistral", "mistral-tiny-window8", "mistral"},
    {"qwen2", "qwen2-tiny-tied", "qwen2"},
};

std::string fixture_dir(const Fixture& f) {
  return std::string(COOK_TEST_DATA_DIR) + "/hf-" + f.family + "/" + f.name;
}

std::string missing_message(const Fixture& f) {
  return fixture_dir(f) + " is missing: it is made where transformers is installed by `python3 "
         "scripts/make_hf_fixtures.py --out DIR` and unpacked here by `python3 scripts/make_hf_fixtures.py "
         "--unpack DIR` (docs/models.md)";
}

// The first of `keys` that config.json has (GPT-2 spells n_layer, the others num_hidden_layers).
int64_t config_int(const nlohmann::json& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    if (config.contains(key)) return config.at(key).get<int64_t>();
  throw std::runtime_error("config.json has none of the expected keys, the first being " + std::string(*keys.begin()));
}

// Why Cook cannot run this fixture, if it cannot: the error config_from_hf_json gives for its
// model_type. Any other error of Cook's reader is a failure, not a skip.
std::optional<std::string> unread_model_type(const nlohmann::json& config, const std::string& path) {
  try {
    (void)config_from_hf_json(config, path);
    return std::nullopt;
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find("model_type") == std::string::npos) throw;
    return "Cook does not read model_type '" + config.at("model_type").get<std::string>() + "' yet (" + what + ")";
  }
}

torch::Tensor valid_rows(const torch::Tensor& t, const torch::Tensor& valid) { return t.index({valid}); }

class HfFamiliesFixture : public ::testing::TestWithParam<Fixture> {};

// What transformers wrote is what this test and Cook's readers expect: Cook's safetensors reader
// reads the reference, and its shapes agree with config.json.
TEST_P(HfFamiliesFixture, ReferenceAgreesWithItsConfig) {
  const Fixture f = GetParam();
  const std::string dir = fixture_dir(f);
  if (!std::filesystem::exists(dir + "/config.json")) GTEST_SKIP() << missing_message(f);
  const nlohmann::json config = test::read_json(dir + "/config.json");
  ASSERT_EQ(config.value("model_type", ""), f.model_type);
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors"));

  const auto ref = weights::load_safetensors(dir + "/reference.safetensors").tensors;
  const int64_t n_layer = config_int(config, {"num_hidden_layers", "n_layer"});
  const int64_t n_head = config_int(config, {"num_attention_heads", "n_head"});
  const int64_t vocab = config_int(config, {"vocab_size"});
  EXPECT_EQ(ref.at("input_ids").sizes().vec(), (std::vector<int64_t>{2, kSeqLen}));
  EXPECT_EQ(ref.at("input_ids").scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(ref.at("attention_mask").sum(1), torch::tensor({kSeqLen, kPaddedRowLength})));
  EXPECT_EQ(ref.at("logits").sizes().vec(), (std::vector<int64_t>{2, kSeqLen, vocab}));
  for (int64_t i = 0; i <= n_layer; ++i) EXPECT_EQ(ref.count("hidden_states." + std::to_string(i)), 1u) << i;
  EXPECT_EQ(ref.count("hidden_states." + std::to_string(n_layer + 1)), 0u);
  for (int64_t i = 0; i < n_layer; ++i)
    EXPECT_EQ(ref.at("attentions." + std::to_string(i)).sizes().vec(), (std::vector<int64_t>{2, n_head, kSeqLen, kSeqLen}))
        << i;
}

TEST_P(HfFamiliesFixture, MatchesTransformersInFloat32) {
  const Fixture f = GetParam();
  const std::string dir = fixture_dir(f);
  if (!std::filesystem::exists(dir + "/config.json")) GTEST_SKIP() << missing_message(f);
  const nlohmann::json config = test::read_json(dir + "/config.json");
  if (const auto why = unread_model_type(config, dir + "/config.json")) GTEST_SKIP() << *why;

  weights::Checkpoint ckpt = weights::read_checkpoint(dir);
  GptJ model(ckpt.config);
  weights::load_into(*model, std::move(ckpt));
  model->eval();
  const auto ref = weights::load_safetensors(dir + "/reference.safetensors").tensors;
  const int64_t n = model->config().n_layer;

  ForwardInput in;
  in.input_ids = ref.at("input_ids");
  in.attention_mask = ref.at("attention_mask");
  in.request.embedding = in.request.hidden_states = in.request.final_hidden = in.request.attention_scores = true;
  torch::NoGradGuard no_grad;
  const ForwardOutput out = model->forward(in);
  const torch::Tensor valid = in.attention_mask.ne(0);
  auto diff = [&](const torch::Tensor& cook, const std::string& key) {
    return max_abs_diff(valid_rows(cook, valid), valid_rows(ref.at(key), valid));
  };

  EXPECT_LE(diff(out.embedding, "hidden_states.0"), kTolerance);
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), n);
  for (int64_t i = 0; i + 1 < n; ++i)
    EXPECT_LE(diff(out.hidden_states[i], "hidden_states." + std::to_string(i + 1)), kTolerance) << "block " << i;
  EXPECT_LE(diff(out.final_hidden, "hidden_states." + std::to_string(n)), kTolerance);
  EXPECT_LE(diff(out.logits, "logits"), kTolerance);
  ASSERT_EQ(static_cast<int64_t>(out.attention_scores.size()), n);
  for (int64_t i = 0; i < n; ++i) {
    // (B, T_q, H, T_k): compare the unpadded queries.
    const torch::Tensor probs = torch::softmax(out.attention_scores[i], -1).permute({0, 2, 1, 3});
    const torch::Tensor expected = ref.at("attentions." + std::to_string(i)).permute({0, 2, 1, 3});
    EXPECT_LE(max_abs_diff(valid_rows(probs, valid), valid_rows(expected, valid)), kTolerance) << "attentions." << i;
  }
  EXPECT_GT(out.logits.abs().max().item<double>(), 0.5);  // so that the tolerance means something
}

std::string param_name(const ::testing::TestParamInfo<Fixture>& info) {
  std::string name = info.param.name;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(HfFamilies, HfFamiliesFixture, ::testing::ValuesIn(kFixtures), param_name);

}  // namespace
}  // namespace cook::model

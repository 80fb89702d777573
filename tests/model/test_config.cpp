// ModelConfig: presets, parameter counts, validation, Cook's JSON and Hugging Face's config.json.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/model/config.h"

namespace cook::model {
namespace {

using nlohmann::json;

// Runs `f`, expects a cook::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const cook::Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
  }
}

TEST(Preset, SixBHasAboutSixPointZeroFiveBillionParameters) {
  const ModelConfig c = preset("gpt-j-6b");
  EXPECT_EQ(c.n_layer, 28);
  EXPECT_EQ(c.d_model, 4096);
  EXPECT_EQ(c.n_head, 16);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.d_ff, 16384);
  EXPECT_EQ(c.vocab_size, 50400);
  EXPECT_EQ(c.n_positions, 2048);
  // Hugging Face's GPT-J-6B has 6,050,882,784 parameters.
  EXPECT_EQ(c.parameter_count(), 6050882784LL);
}

TEST(Preset, HalfModelHasFourteenLayers) {
  const ModelConfig half = preset("gpt-j");
  const ModelConfig full = preset("gpt-j-6b");
  EXPECT_EQ(half.n_layer, 14);
  EXPECT_EQ(half.d_model, full.d_model);
  EXPECT_EQ(half.d_ff, full.d_ff);
  const int64_t per_block = (full.parameter_count() - half.parameter_count()) / 14;
  EXPECT_EQ(per_block, 2 * 4096 + 4 * 4096LL * 4096 + 2 * 4096LL * 16384 + 16384 + 4096);
}

TEST(Preset, SmallIsADemoSizeAndTinyIsTiny) {
  const ModelConfig small = preset("small");
  EXPECT_GE(small.parameter_count(), 10'000'000);
  EXPECT_LE(small.parameter_count(), 31'000'000);
  EXPECT_GE(small.vocab_size, 50257);
  const ModelConfig tiny = preset("tiny");
  EXPECT_GE(tiny.vocab_size, 50257);
  EXPECT_LE(tiny.parameter_count(), 8'000'000);
  for (const auto& name : preset_names()) EXPECT_NO_THROW(preset(name).validate(name)) << name;
}

TEST(Preset, ReluTwinsDropTheFcInBias) {
  for (const std::string base : {"tiny", "small", "gpt-j-1.3b", "gpt-j", "gpt-j-6b"}) {
    const ModelConfig b = preset(base);
    const ModelConfig r = preset(base + "-relu");
    EXPECT_EQ(b.activation, Activation::GeluNew) << base;
    EXPECT_TRUE(b.fc_in_bias) << base;
    EXPECT_EQ(r.activation, Activation::Relu) << base;
    EXPECT_FALSE(r.fc_in_bias) << base;
    EXPECT_EQ(r.d_model, b.d_model);
    EXPECT_EQ(b.parameter_count() - r.parameter_count(), b.n_layer * b.d_ff) << base;
  }
  EXPECT_EQ(preset_names().size(), 10u);
  EXPECT_NEAR(static_cast<double>(preset("gpt-j-1.3b").parameter_count()), 1.42e9, 0.01e9);
}

TEST(Preset, UnknownNameListsTheKnownOnes) {
  expect_error([] { preset("gpt-k"); }, {"gpt-k", "tiny", "gpt-j-6b-relu"});
  expect_error([] { preset("-relu"); }, {"-relu"});
}

TEST(Validate, NamesWhereAndTheField) {
  ModelConfig c = preset("tiny");
  c.n_head = 3;
  expect_error([&] { c.validate("run.json"); }, {"run.json", "n_head", "divisible"});
  c = preset("tiny");
  c.rotary_dim = 7;
  expect_error([&] { c.validate("run.json"); }, {"run.json", "rotary_dim", "even"});
  c = preset("tiny");
  c.rotary_dim = 32;  // head_dim is 16
  expect_error([&] { c.validate("x"); }, {"rotary_dim", "head dimension"});
  c = preset("tiny");
  c.d_ff = 0;
  expect_error([&] { c.validate("x"); }, {"d_ff", "positive"});
  c = preset("tiny");
  c.vocab_size = -1;
  expect_error([&] { c.validate("x"); }, {"vocab_size"});
  c = preset("tiny");
  c.layer_norm_eps = 0;
  expect_error([&] { c.validate("x"); }, {"layer_norm_eps"});
  c = preset("tiny");
  c.n_layer = 0;
  expect_error([&] { c.validate("x"); }, {"n_layer"});
}

TEST(CookJson, RoundTripsEveryPreset) {
  for (const auto& name : preset_names()) {
    const ModelConfig c = preset(name);
    const json j = to_json(c);
    const ModelConfig back = config_from_json(json::parse(j.dump()), name);
    EXPECT_EQ(to_json(back), j) << name;
    EXPECT_EQ(back.fc_in_bias, c.fc_in_bias);
    EXPECT_EQ(back.activation, c.activation);
    EXPECT_EQ(back.parameter_count(), c.parameter_count());
  }
  ModelConfig odd = preset("tiny");
  odd.layer_norm_eps = 1e-6;
  odd.init_std = 0.125;
  const ModelConfig back = config_from_json(to_json(odd), "odd");
  EXPECT_DOUBLE_EQ(back.layer_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(back.init_std, 0.125);
}

TEST(CookJson, UnknownKeysAndWrongTypesNameTheKey) {
  json j = to_json(preset("tiny"));
  j["n_heads"] = 4;
  expect_error([&] { config_from_json(j, "model.json"); }, {"model.json", "n_heads", "unknown"});
  j = to_json(preset("tiny"));
  j["d_model"] = "64";
  expect_error([&] { config_from_json(j, "model.json"); }, {"model.json", "d_model", "integer"});
  j = to_json(preset("tiny"));
  j["d_model"] = 64.5;
  expect_error([&] { config_from_json(j, "m"); }, {"d_model"});
  j = to_json(preset("tiny"));
  j["fc_in_bias"] = 1;
  expect_error([&] { config_from_json(j, "m"); }, {"fc_in_bias"});
  j = to_json(preset("tiny"));
  j["activation"] = "swish";
  expect_error([&] { config_from_json(j, "m"); }, {"activation", "swish"});
  j = to_json(preset("tiny"));
  j["n_head"] = 5;  // validation runs after reading
  expect_error([&] { config_from_json(j, "m"); }, {"m", "n_head"});
  expect_error([&] { config_from_json(json::array(), "m"); }, {"m", "object"});
}

TEST(CookJson, MissingKeysKeepTheDefaults) {
  const ModelConfig c = config_from_json(json{{"n_layer", 2}}, "m");
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.d_model, ModelConfig{}.d_model);
}

TEST(HfJson, ReadsGptJConfigFields) {
  const json hf = json::parse(R"({
    "activation_function": "relu", "model_type": "gptj", "n_embd": 128, "n_head": 8, "n_layer": 5,
    "n_inner": null, "rotary_dim": null, "layer_norm_epsilon": 1e-6, "n_positions": 300,
    "vocab_size": 1234, "initializer_range": 0.03, "tie_word_embeddings": false,
    "bos_token_id": 50256, "use_cache": true, "architectures": ["GPTJForCausalLM"]})");
  const ModelConfig c = config_from_hf_json(hf, "config.json");
  EXPECT_EQ(c.d_model, 128);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.d_ff, 4 * 128);      // n_inner null
  EXPECT_EQ(c.rotary_dim, 16);     // rotary_dim null: the whole head
  EXPECT_EQ(c.activation, Activation::Relu);
  EXPECT_TRUE(c.fc_in_bias);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-6);
  EXPECT_EQ(c.n_positions, 300);
  EXPECT_EQ(c.vocab_size, 1234);
  EXPECT_DOUBLE_EQ(c.init_std, 0.03);

  // Absent keys take GPTJConfig's defaults (GPT-J-6B).
  const ModelConfig d = config_from_hf_json(json::object(), "empty.json");
  EXPECT_EQ(d.parameter_count(), preset("gpt-j-6b").parameter_count());
}

TEST(HfJson, RoundTripsThroughToHfJson) {
  for (const auto& name : preset_names()) {
    const ModelConfig c = preset(name);
    const json hf = to_hf_json(c);
    EXPECT_EQ(hf.at("model_type"), "gptj");
    EXPECT_EQ(hf.at("n_embd"), c.d_model);
    const ModelConfig back = config_from_hf_json(hf, name);
    EXPECT_EQ(to_json(back), to_json(c)) << name;
  }
}

TEST(HfJson, ErrorsNameTheKey) {
  expect_error([] { config_from_hf_json(json{{"activation_function", "gelu"}}, "config.json"); },
               {"config.json", "activation_function", "gelu"});
  expect_error([] { config_from_hf_json(json{{"n_embd", "big"}}, "config.json"); }, {"config.json", "n_embd"});
  expect_error([] { config_from_hf_json(json{{"model_type", "gpt2"}}, "c"); }, {"model_type", "gpt2"});
  expect_error([] { config_from_hf_json(json{{"tie_word_embeddings", true}}, "c"); }, {"tie_word_embeddings"});
  expect_error([] { config_from_hf_json(json{{"n_embd", 100}, {"n_head", 3}}, "c"); }, {"c", "n_head"});
  expect_error([] { config_from_hf_json(json{{"layer_norm_epsilon", nullptr}}, "c"); }, {"layer_norm_epsilon"});
}

TEST(Activation, Names) {
  EXPECT_STREQ(activation_name(Activation::GeluNew), "gelu_new");
  EXPECT_STREQ(activation_name(Activation::Relu), "relu");
}

}  // namespace
}  // namespace cook::model

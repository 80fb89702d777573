#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cook/weights/name_map.h"
#include "weights_test_util.h"

using namespace cook::weights;
using cook::model::ModelConfig;
using cook::weights::testing::expect_error;

namespace {

ModelConfig small_config(bool fc_in_bias = true) {
  ModelConfig c;
  c.vocab_size = 40;
  c.n_positions = 16;
  c.d_model = 8;
  c.n_layer = 3;
  c.n_head = 2;
  c.rotary_dim = 2;
  c.d_ff = 12;
  c.fc_in_bias = fc_in_bias;
  return c;
}

TensorMap random_cook_weights(const NameMap& map) {
  TensorMap out;
  for (const auto& e : map.entries()) out[e.cook] = torch::randn(e.shape);
  return out;
}

const Layout kLayouts[] = {Layout::Cook, Layout::HuggingFace, Layout::BMCook};

}  // namespace

TEST(NameMap, EntriesCoverEveryWeight) {
  NameMap with(small_config(true)), without(small_config(false));
  EXPECT_EQ(with.entries().size(), 1u + 3 * 10 + 4);
  EXPECT_EQ(without.entries().size(), 1u + 3 * 9 + 4);
  int64_t params = 0;
  for (const auto& e : with.entries()) {
    int64_t n = 1;
    for (auto d : e.shape) n *= d;
    params += n;
  }
  EXPECT_EQ(params, small_config(true).parameter_count());
}

TEST(NameMap, SpotChecksAgainstTheThreeLayouts) {
  NameMap map(small_config());
  struct Row {
    const char* cook;
    const char* hf;
    const char* bm;
    std::vector<int64_t> bm_shape;
  };
  const Row rows[] = {
      {"embed.weight", "transformer.wte.weight", "input_embedding.weight", {40, 8}},
      {"blocks.0.ln.weight", "transformer.h.0.ln_1.weight", "dec_layers.0.ln_1.weight", {8}},
      {"blocks.2.ln.bias", "transformer.h.2.ln_1.bias", "dec_layers.2.ln_1.bias", {8}},
      {"blocks.1.attn.q_proj.weight", "transformer.h.1.attn.q_proj.weight", "dec_layers.1.self_attention.q_proj", {8, 8}},
      {"blocks.1.attn.k_proj.weight", "transformer.h.1.attn.k_proj.weight", "dec_layers.1.self_attention.k_proj", {8, 8}},
      {"blocks.1.attn.v_proj.weight", "transformer.h.1.attn.v_proj.weight", "dec_layers.1.self_attention.v_proj", {8, 8}},
      {"blocks.1.attn.out_proj.weight", "transformer.h.1.attn.out_proj.weight", "dec_layers.1.self_attention.out_proj",
       {8, 8}},
      {"blocks.2.ffn.fc_in.weight", "transformer.h.2.mlp.fc_in.weight", "dec_layers.2.ff.fc_in_weight", {12, 8}},
      {"blocks.2.ffn.fc_in.bias", "transformer.h.2.mlp.fc_in.bias", "dec_layers.2.ff.fc_in_bias", {1, 12, 1}},
      {"blocks.2.ffn.fc_out.weight", "transformer.h.2.mlp.fc_out.weight", "dec_layers.2.ff.fc_out_weight", {8, 12}},
      {"blocks.2.ffn.fc_out.bias", "transformer.h.2.mlp.fc_out.bias", "dec_layers.2.ff.fc_out_bias", {1, 8, 1}},
      {"ln_f.weight", "transformer.ln_f.weight", "layernorm_after_dec.weight", {8}},
      {"ln_f.bias", "transformer.ln_f.bias", "layernorm_after_dec.bias", {8}},
      {"lm_head.weight", "lm_head.weight", "lm_head.weight", {40, 8}},
      {"lm_head.bias", "lm_head.bias", "lm_head.bias", {1, 40, 1}},
  };
  for (const auto& r : rows) {
    const WeightName* w = map.find(Layout::Cook, r.cook);
    ASSERT_NE(w, nullptr) << r.cook;
    EXPECT_EQ(w->hf, r.hf);
    EXPECT_EQ(w->bmcook, r.bm);
    EXPECT_EQ(w->bmcook_shape, r.bm_shape) << r.cook;
    EXPECT_EQ(map.find(Layout::HuggingFace, r.hf), w);
    EXPECT_EQ(map.find(Layout::BMCook, r.bm), w);
  }
}

TEST(NameMap, EveryNameBothWaysBetweenEveryPairOfLayouts) {
  for (bool bias : {true, false}) {
    NameMap map(small_config(bias));
    for (const auto& e : map.entries())
      for (Layout from : kLayouts)
        for (Layout to : kLayouts) {
          std::string there = map.convert_name(from, to, e.name(from), "test");
          EXPECT_EQ(there, e.name(to));
          EXPECT_EQ(map.convert_name(to, from, there, "test"), e.name(from));
        }
  }
}

TEST(NameMap, WholeMapsRoundTripThroughAllLayoutsAsViews) {
  NameMap map(small_config());
  TensorMap cook = random_cook_weights(map);
  TensorMap bm = map.convert(Layout::Cook, Layout::BMCook, cook, "mem");
  EXPECT_EQ(bm.at("dec_layers.0.ff.fc_in_bias").sizes(), (std::vector<int64_t>{1, 12, 1}));
  EXPECT_EQ(bm.at("lm_head.bias").sizes(), (std::vector<int64_t>{1, 40, 1}));
  // Reshaped, not copied.
  EXPECT_EQ(bm.at("lm_head.bias").data_ptr(), cook.at("lm_head.bias").data_ptr());
  TensorMap hf = map.convert(Layout::BMCook, Layout::HuggingFace, bm, "mem");
  EXPECT_EQ(hf.at("transformer.h.0.mlp.fc_in.bias").sizes(), (std::vector<int64_t>{12}));
  TensorMap back = map.convert(Layout::HuggingFace, Layout::Cook, hf, "mem");
  ASSERT_EQ(back.size(), cook.size());
  for (const auto& [name, t] : cook) {
    EXPECT_TRUE(torch::equal(back.at(name), t)) << name;
    EXPECT_EQ(back.at(name).data_ptr(), t.data_ptr()) << name;
  }
}

TEST(NameMap, IgnoredNames) {
  NameMap map(small_config(true));
  EXPECT_TRUE(map.ignored(Layout::HuggingFace, "transformer.h.0.attn.bias"));
  EXPECT_TRUE(map.ignored(Layout::HuggingFace, "transformer.h.2.attn.masked_bias"));
  EXPECT_FALSE(map.ignored(Layout::HuggingFace, "transformer.h.3.attn.bias"));  // no layer 3
  EXPECT_FALSE(map.ignored(Layout::BMCook, "dec_layers.0.ff.fc_in_bias"));      // a real weight here
  NameMap relu(small_config(false));
  EXPECT_TRUE(relu.ignored(Layout::BMCook, "dec_layers.0.ff.fc_in_bias"));
  EXPECT_EQ(relu.find(Layout::HuggingFace, "transformer.h.0.mlp.fc_in.bias"), nullptr);

  TensorMap hf = map.convert(Layout::Cook, Layout::HuggingFace, random_cook_weights(map), "mem");
  hf["transformer.h.1.attn.bias"] = torch::ones({1, 1, 16, 16}, torch::kBool);
  hf["transformer.h.1.attn.masked_bias"] = torch::tensor(-1e9);
  EXPECT_EQ(map.convert(Layout::HuggingFace, Layout::Cook, hf, "mem").size(), map.entries().size());

  TensorMap bm = relu.convert(Layout::Cook, Layout::BMCook, random_cook_weights(relu), "mem");
  bm["dec_layers.1.ff.fc_in_bias"] = torch::zeros({1, 12, 1});
  TensorMap cook = relu.convert(Layout::BMCook, Layout::Cook, bm, "mem");
  EXPECT_EQ(cook.count("blocks.1.ffn.fc_in.bias"), 0u);
}

TEST(NameMap, UnknownNameErrorNamesFileTensorAndNearest) {
  NameMap map(small_config());
  expect_error([&] { map.at(Layout::HuggingFace, "transformer.h.0.attn.qproj.weight", "ck.safetensors"); },
               {"ck.safetensors", "'transformer.h.0.attn.qproj.weight'", "Hugging Face", "'transformer.h.0.attn.q_proj.weight'"});
  expect_error([&] { map.convert_name(Layout::BMCook, Layout::Cook, "dec_layers.7.ln_1.weight", "x.bin"); },
               {"x.bin", "'dec_layers.7.ln_1.weight'", "BMCook", "n_layer 3"});
  NameMap relu(small_config(false));
  TensorMap hf = map.convert(Layout::Cook, Layout::HuggingFace, random_cook_weights(map), "mem");
  expect_error([&] { relu.convert(Layout::HuggingFace, Layout::Cook, hf, "model.safetensors"); },
               {"model.safetensors", "'transformer.h.0.mlp.fc_in.bias'", "no fc_in bias", "3 problems"});
}

TEST(NameMap, ConvertReportsShapeAndMissingTogether) {
  NameMap map(small_config());
  TensorMap cook = random_cook_weights(map);
  TensorMap bm = map.convert(Layout::Cook, Layout::BMCook, cook, "mem");
  bm["dec_layers.1.ff.fc_out_bias"] = torch::zeros({8});  // Cook's shape, not BMCook's (1, 8, 1)
  bm.erase("dec_layers.2.self_attention.v_proj");
  bm["bogus"] = torch::zeros({1});
  std::string msg = expect_error([&] { map.convert(Layout::BMCook, Layout::Cook, bm, "ck.bin"); },
                                 {"ck.bin", "3 problems", "'dec_layers.1.ff.fc_out_bias'", "shape [8]", "[1, 8, 1]",
                                  "'dec_layers.2.self_attention.v_proj' is missing", "'bogus'"});
  std::map<std::string, std::string> files = {{"bogus", "shard-2.bin"}};
  expect_error([&] { map.convert(Layout::BMCook, Layout::Cook, bm, "ck.bin", files); }, {"shard-2.bin: tensor 'bogus'"});
}

// The `distillation` JSON section read strictly, and the layer map and module names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cook/compress/distill/layer_map.h"
#include "cook/compress/distill/options.h"
#include "cook/core/error.h"

using namespace cook::compress::distill;
using nlohmann::json;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cook::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(DistillOptions, ReadsBMCookSection) {
  const json j = json::parse(R"({"ce_scale": 1, "ce_temp": 2.5, "mse_hidn_scale": 0.5,
      "mse_hidn_module": ["blocks.0:blocks.1"], "mse_hidn_proj": true, "mse_att_scale": 0.25,
      "mse_att_module": ["blocks.0.attn"], "mse_emb_scale": 0.125, "mse_last_hidden_scale": 3, "mse_normalize": true})");
  const DistillOptions o = distill_options_from_json(j, "cfg.json: distillation");
  EXPECT_EQ(o.ce_scale, 1.0);
  EXPECT_EQ(o.ce_temp, 2.5);
  EXPECT_EQ(o.mse_hidn_scale, 0.5);
  EXPECT_EQ(o.mse_hidn_module, std::vector<std::string>{"blocks.0:blocks.1"});
  EXPECT_TRUE(o.mse_hidn_proj);
  EXPECT_EQ(o.mse_att_scale, 0.25);
  EXPECT_EQ(o.mse_att_module, std::vector<std::string>{"blocks.0.attn"});
  EXPECT_EQ(o.mse_emb_scale, 0.125);
  EXPECT_EQ(o.mse_last_hidden_scale, 3.0);
  EXPECT_TRUE(o.mse_normalize);
  EXPECT_TRUE(o.any_term());
  // BMCook's placeholders for terms that are off are accepted as they are (a list is resolved only
  // when its term is on).
  const DistillOptions off = distill_options_from_json(
      json::parse(R"({"ce_scale": 0, "mse_hidn_scale": 0, "mse_hidn_module": ["[placeholder]"], "mse_hidn_proj": false})"), "x");
  EXPECT_FALSE(off.any_term());
}

TEST(DistillOptions, StrictErrorsNameTheKey) {
  const std::string w = "cfg.json: distillation";
  std::string e = error_of([&] { distill_options_from_json(json::parse(R"({"ce_scal": 1})"), w); });
  EXPECT_NE(e.find("cfg.json: distillation.ce_scal: unknown key (known: kd_loss_scale, ce_scale, ce_temp"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse(R"({"ce_scale": "1"})"), w); });
  EXPECT_NE(e.find("distillation.ce_scale: must be a number, got string"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse(R"({"mse_hidn_proj": 1})"), w); });
  EXPECT_NE(e.find("distillation.mse_hidn_proj: must be true or false"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse(R"({"mse_hidn_module": ["blocks.0", 3]})"), w); });
  EXPECT_NE(e.find("distillation.mse_hidn_module[1]: must be a string"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse(R"({"mse_att_scale": -1})"), w); });
  EXPECT_NE(e.find("distillation.mse_att_scale: must be a finite number >= 0"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse(R"({"ce_temp": 0})"), w); });
  EXPECT_NE(e.find("distillation.ce_temp: must be a finite number > 0"), std::string::npos) << e;
  e = error_of([&] { distill_options_from_json(json::parse("[1]"), w); });
  EXPECT_NE(e.find("cfg.json: distillation: must be a JSON object"), std::string::npos) << e;

  const auto dir = std::filesystem::temp_directory_path() / ("cook-distill-opts-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "no-section.json") << R"({"quantization": {"is_quant": false}})";
  e = error_of([&] { read_distill_options((dir / "no-section.json").string()); });
  EXPECT_NE(e.find("no-section.json: has no \"distillation\" section"), std::string::npos) << e;
  std::ofstream(dir / "ok.json") << R"({"distillation": {"ce_scale": 2}, "pruning": {}})";
  EXPECT_EQ(read_distill_options((dir / "ok.json").string()).ce_scale, 2.0);
  std::ofstream(dir / "bad.json") << R"({"distillation": {"ce_scale": 2, "foo": 1}})";
  e = error_of([&] { read_distill_options((dir / "bad.json").string()); });
  EXPECT_NE(e.find("bad.json: distillation.foo: unknown key"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

TEST(DistillLayerMap, UniformMapPairsEveryLayerOfTheShallowerModel) {
  using V = std::vector<LayerPair>;
  EXPECT_EQ(uniform_layer_map(3, 6), (V{{0, 1}, {1, 3}, {2, 5}}));
  EXPECT_EQ(uniform_layer_map(2, 2), (V{{0, 0}, {1, 1}}));
  EXPECT_EQ(uniform_layer_map(2, 5), (V{{0, 1}, {1, 3}}));
  EXPECT_EQ(uniform_layer_map(4, 2), (V{{1, 0}, {3, 1}}));
  EXPECT_EQ(uniform_layer_map(1, 28), (V{{0, 27}}));
  EXPECT_THROW(uniform_layer_map(0, 2), cook::Error);
  // --init-with-teacher's source blocks: the last of each group, the blocks the layer map compares...
  const InitBlock last = InitBlock::LastOfGroup, first = InitBlock::FirstOfGroup;
  EXPECT_EQ(teacher_block_for(0, 3, 6, last), 1);
  EXPECT_EQ(teacher_block_for(2, 3, 6, last), 5);
  EXPECT_EQ(teacher_block_for(0, 6, 3, last), 0);
  EXPECT_EQ(teacher_block_for(1, 6, 3, last), 0);
  EXPECT_EQ(teacher_block_for(5, 6, 3, last), 2);
  // ...or the first (the default): BMCook's init_student copies teacher layer 2j into student layer
  // j (`layer % 2 == 0 → layer // 2`), e.g. GPT-J's 28 blocks into the 14-block `gpt-j`.
  for (int64_t j = 0; j < 14; ++j) EXPECT_EQ(teacher_block_for(j, 14, 28, first), 2 * j);
  EXPECT_EQ(teacher_block_for(2, 3, 6, first), 4);
  EXPECT_EQ(teacher_block_for(5, 6, 3, first), 2);
  EXPECT_EQ(parse_init_block("first", "w"), first);
  EXPECT_THROW(parse_init_block("odd", "w"), cook::Error);
}

TEST(DistillLayerMap, ModuleNamesResolveAndUnknownNamesListTheKnownOnes) {
  auto pairs = resolve_hidden_modules({"blocks.0:blocks.3", "[post]embed", "ln_f:ln_f", "blocks.1"}, 2, 4, "w");
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].student.name(), "blocks.0");
  EXPECT_EQ(pairs[0].teacher.name(), "blocks.3");
  EXPECT_EQ(pairs[1].student.name(), "embed");
  EXPECT_EQ(pairs[1].teacher.name(), "embed");
  EXPECT_EQ(pairs[2].teacher.name(), "ln_f");
  EXPECT_EQ(pairs[3].teacher.name(), "blocks.1");
  auto uniform = resolve_hidden_modules({}, 2, 4, "w");
  ASSERT_EQ(uniform.size(), 2u);
  EXPECT_EQ(uniform[1].teacher.name(), "blocks.3");

  std::string e;
  try {
    resolve_hidden_modules({"blocks.0:blocks.4"}, 2, 4, "cfg: mse_hidn_module");
  } catch (const cook::Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("cfg: mse_hidn_module: 'blocks.0:blocks.4': 'blocks.4' is not a teacher module"), std::string::npos) << e;
  EXPECT_NE(e.find("embed, blocks.0 … blocks.3, ln_f"), std::string::npos) << e;
  for (const char* bad : {"[post]encoder.output_layernorm", "blocks.01", "blocks.x", "a:b:c", "blocks.0.attn"})
    EXPECT_THROW(resolve_hidden_modules({bad}, 2, 4, "w"), cook::Error) << bad;

  auto att = resolve_attention_modules({"blocks.1.attn:blocks.2.attn"}, 2, 4, "w");
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(att[0], (LayerPair{1, 2}));
  e.clear();
  try {
    resolve_attention_modules({"blocks.1"}, 2, 4, "w");
  } catch (const cook::Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("'blocks.1' is not a student attention module (the student's: blocks.0.attn … blocks.1.attn)"),
            std::string::npos)
      << e;
}

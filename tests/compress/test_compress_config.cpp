// The cook compress config: BMCook's files as they are, defaults, strict errors naming the key
// path, the effective config read back, and BMCook module names translated.
#include <gtest/gtest.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cook/compress/moe/router_training.h"
#include "cook/compress/plan/config.h"
#include "cook/compress/plan/passes.h"
#include "cook/compress/plan/pipeline.h"
#include "cook/core/error.h"
#include "cook/model/config.h"

using namespace cook;
using namespace cook::compress::plan;
using nlohmann::json;

namespace {

std::string error_of(const json& j) {
  try {
    compress_config_from_json(j, "run.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

json with_data(json j) {
  j["data"]["tokens"] = "tokens";
  return j;
}

}  // namespace

TEST(CompressConfig, ReadsBmcookGptjConfigAsItIs) {
  // BMCook's gpt-j-example/configs/test.json, with Cook's data section added.
  const json bmcook = json::parse(R"({
    "distillation": {"ce_scale": 0, "mse_hidn_scale": 0,
                     "mse_hidn_module": ["[post]encoder.output_layernorm:[post]encoder.output_layernorm"],
                     "mse_hidn_proj": false},
    "pruning": {"is_pruning": false, "pruning_mask_path": "prune_example.bin",
                "pruned_module": ["ffn.ffn.w_in.w.weight", "ffn.ffn.w_out.weight", "input_embedding"],
                "mask_method": "m4n2_1d"},
    "quantization": {"is_quant": true},
    "MoEfication": {"is_moefy": false, "first_FFN_module": ["ffn.layernorm_before_ffn"]}})");
  const CompressConfig c = compress_config_from_json(with_data(bmcook), "test.json");
  EXPECT_EQ(c.passes_tag(), "Q");
  EXPECT_EQ(c.compressed_folder(), "compressed-q");
  EXPECT_FALSE(c.distills());
  EXPECT_EQ(c.training.steps, 200);  // Cook's default
  EXPECT_EQ(c.model.preset, "small");
}

TEST(CompressConfig, EffectiveConfigReadsBackToItself) {
  json j = with_data({{"pruning", {{"is_pruning", true}, {"mask_method", "m4n2_2d"}}},
                      {"distillation", {{"ce_scale", 1.0}, {"ce_temp", 2.0}}},
                      {"MoEfication", {{"is_moefy", true}, {"num_expert", 8}, {"topk", 2}}},
                      {"model", {{"load", "dense.safetensors"}, {"relu", true}}}});
  const CompressConfig c = compress_config_from_json(j, "a.json");
  EXPECT_EQ(c.passes_tag(), "P+D+M");
  const json effective = to_json(c);
  EXPECT_EQ(to_json(compress_config_from_json(effective, "b.json")), effective);
  EXPECT_EQ(effective["training"]["batch_size"], 8);
  EXPECT_EQ(effective["MoEfication"]["router"], "mlp");
}

TEST(CompressConfig, ErrorsNameTheKeyPath) {
  const json q = {{"quantization", {{"is_quant", true}}}};
  EXPECT_EQ(error_of(with_data({{"quantisation", {{"is_quant", true}}}})),
            "run.json.quantisation: unknown key (known: model, data, training, distillation, pruning, quantization, "
            "MoEfication, export, report)");
  json j = with_data(q);
  j["training"]["steps"] = "ten";
  EXPECT_EQ(error_of(j), "run.json: training.steps: must be an integer, got string \"ten\"");
  j = with_data(q);
  j["training"]["steps"] = 0;
  EXPECT_EQ(error_of(j), "run.json: training.steps: must be positive, got 0");
  j = with_data(q);
  j["pruning"] = {{"is_pruning", true}, {"mask_method", "m4n2_3d"}};
  EXPECT_NE(error_of(j).find("run.json: pruning.mask_method: unknown mask method 'm4n2_3d'"), std::string::npos);
  // Without data the config is still valid (--print-config); the run asks for it.
  const CompressConfig no_data = compress_config_from_json(q, "run.json");
  try {
    cook::compress::plan::compress(no_data, "", {"/tmp/cook-compress-no-data", false}, std::cout);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.json: data.tokens: is required"), std::string::npos) << e.what();
  }
}

TEST(CompressConfig, DeviceAndDtypeAreCheckedByName) {
  const json q = {{"quantization", {{"is_quant", true}}}};
  json j = with_data(q);
  j["model"]["device"] = "tpu";
  EXPECT_EQ(error_of(j), "run.json: model.device: 'tpu' is not a device (cpu, cuda, cuda:N)");
  j = with_data(q);
  j["model"]["dtype"] = "fp16";
  EXPECT_EQ(error_of(j), "run.json: model.dtype: 'fp16' is not a dtype (fp32, bf16)");
  // A CUDA config reads on a machine without CUDA (to print or check it); only the run needs one.
  j = with_data(q);
  j["model"]["device"] = "cuda:1";
  j["model"]["dtype"] = "bf16";
  const CompressConfig c = compress_config_from_json(j, "run.json");
  EXPECT_EQ(c.model.device, "cuda:1");
  EXPECT_EQ(c.model.dtype, "bf16");
  EXPECT_EQ(to_json(c)["model"]["device"], "cuda:1");
}

TEST(CompressConfig, ImpossibleCombinationsAreErrors) {
  EXPECT_NE(error_of(with_data(json::object())).find("nothing to compress"), std::string::npos);
  EXPECT_NE(error_of(with_data({{"distillation", {{"ce_scale", 1.0}}}})).find("run.json: distillation: needs a trained teacher"),
            std::string::npos);
  EXPECT_NE(error_of(with_data({{"MoEfication", {{"is_moefy", true}, {"topk", 2}}}}))
                .find("run.json: MoEfication.num_expert: must be positive"),
            std::string::npos);
  EXPECT_NE(error_of(with_data({{"MoEfication", {{"is_moefy", true}, {"num_expert", 4}, {"topk", 8}}}}))
                .find("topk: 8 is more than num_expert 4"),
            std::string::npos);
  EXPECT_NE(error_of(with_data({{"MoEfication", {{"is_moefy", true}, {"num_expert", 4}, {"topk", 2}, {"moe_path", "m"}}}}))
                .find("MoEfication.moe_path: is written by cook compress"),
            std::string::npos);
  EXPECT_NE(error_of(with_data({{"quantization", {{"is_quant", true}}}, {"model", {{"load", "x"}, {"dense_steps", 5}}}}))
                .find("model.dense_steps: trains a dense model when there is none"),
            std::string::npos);
  // MoEfication of GeLU FFNs: caught when the student's shape is known.
  const CompressConfig gelu =
      compress_config_from_json(with_data({{"MoEfication", {{"is_moefy", true}, {"num_expert", 8}, {"topk", 2}}}}), "m.json");
  try {
    student_config(gelu, model::preset("tiny"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.json: MoEfication.is_moefy: needs ReLU FFNs"), std::string::npos) << e.what();
  }
}

TEST(CompressConfig, ReluStudentDropsTheFcInBiasAsBmcooksReluFfn) {
  // BMCook's GPTJFF with act_func relu computes relu(fc_in_weight · x) and never adds fc_in_bias.
  const CompressConfig c = compress_config_from_json(
      with_data({{"quantization", {{"is_quant", true}}}, {"model", {{"relu", true}}}}), "r.json");
  const model::ModelConfig dense = model::preset("tiny");
  ASSERT_TRUE(dense.fc_in_bias);
  const model::ModelConfig student = student_config(c, dense);
  EXPECT_EQ(student.activation, model::Activation::Relu);
  EXPECT_FALSE(student.fc_in_bias);
  EXPECT_EQ(student.n_layer, dense.n_layer);
}

TEST(CompressConfig, RouterTrainsForMoeficationsThirtyEpochs) {
  // MoEfication's MLPCenter.cal_center: `for epoch in range(30)`.
  EXPECT_EQ(cook::compress::moe::RouterTrainingOptions{}.epochs, 30);
  const CompressConfig c = compress_config_from_json(
      with_data({{"MoEfication", {{"is_moefy", true}, {"num_expert", 8}, {"topk", 2}}}}), "m.json");
  EXPECT_EQ(c.moefication.router_epochs, 30);
}

TEST(CompressConfig, BmcookModuleNamesBecomeCookModules) {
  const model::ModelConfig tiny = model::preset("tiny");
  const auto patterns = cook_module_patterns(tiny, {"fc_", "ff.fc_in_weight", "self_attention.q_proj", "nothing"});
  EXPECT_EQ(patterns.front(), "fc_");  // already Cook's
  std::vector<std::string> expected{"fc_"};
  for (int64_t i = 0; i < tiny.n_layer; ++i) expected.push_back("blocks." + std::to_string(i) + ".ffn.fc_in");
  for (int64_t i = 0; i < tiny.n_layer; ++i) expected.push_back("blocks." + std::to_string(i) + ".attn.q_proj");
  expected.push_back("nothing");  // left for the pass to report
  EXPECT_EQ(patterns, expected);
}

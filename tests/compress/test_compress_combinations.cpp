// Every non-empty combination of {prune, distill, quantize, MoEfy} through cook compress's
// pipeline on the tiny model, a few steps each, and the invariants of each pass afterwards: masks
// hold, quantizers are on and the int8 artefact is written, distillation terms are logged,
// experts are in place and used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/cli_corpus.h"
#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/plan/config.h"
#include "cook/compress/plan/pipeline.h"
#include "cook/compress/quant/artefact.h"
#include "cook/weights/checkpoint.h"

namespace fs = std::filesystem;
using namespace cook;
using namespace cook::compress;

namespace {

enum Pass { P = 1, D = 2, Q = 4, M = 8 };

class CompressCombinations : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-compress-combos-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const auto prep = test::prepare_sotu_corpus(dir_, tokens(), 120, test::sotu_train_and_validation_files(),
                                                "The state of the union is strong, and the people are free to choose. ");
    ASSERT_EQ(prep.status, 0) << prep.output;
    // The dense teacher: the tiny preset trained for a few steps, once for every combination.
    nlohmann::json j = config_json(D);
    j["model"] = {{"preset", "tiny"}, {"dense_steps", 4}};
    const plan::CompressConfig dense = plan::compress_config_from_json(j, "teacher");
    std::ostringstream log;
    dense_ = plan::prepare_dense(dense, {(dir_ / "teacher").string(), false}, log);
    ASSERT_TRUE(fs::exists(dense_)) << log.str();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string tokens() { return (dir_ / "tokens").string(); }

  static nlohmann::json config_json(int passes) {
    nlohmann::json j = {
        {"model", {{"preset", "tiny"}, {"load", dense_}}},
        {"data", {{"tokens", tokens()}}},
        {"training", {{"steps", 3}, {"batch_size", 2}, {"seq_len", 32}, {"warmup", 1}, {"start_lr", 1e-3},
                      {"log_interval", 1}, {"eval_batches", 2}, {"save_interval", 0}}},
    };
    if (passes & P) j["pruning"] = {{"is_pruning", true}, {"mask_method", "m4n2_1d"}};
    if (passes & D) j["distillation"] = {{"ce_scale", 1.0}, {"ce_temp", 2.0}, {"mse_last_hidden_scale", 1.0}};
    if (passes & Q) j["quantization"] = {{"is_quant", true}};
    if (passes & M) j["model"]["relu"] = true;
    if (passes & M)
      j["MoEfication"] = {{"is_moefy", true},   {"num_expert", 8},       {"topk", 2},
                          {"hidden_tokens", 256}, {"split_restarts", 1}, {"split_iterations", 3},
                          {"router_epochs", 2}};
    return j;
  }
  static plan::CompressConfig config(int passes) {
    return plan::compress_config_from_json(config_json(passes), "combination-" + std::to_string(passes));
  }

  static inline fs::path dir_;
  static inline std::string dense_;
};

std::vector<nlohmann::json> metrics_of(const fs::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::vector<std::pair<std::string, std::shared_ptr<nn::LinearImpl>>> block_linears(model::GptJ& m) {
  std::vector<std::pair<std::string, std::shared_ptr<nn::LinearImpl>>> out;
  for (const auto& item : m->named_modules()) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value());
    if (linear && item.key().rfind("blocks.", 0) == 0) out.emplace_back(item.key(), linear);
  }
  return out;
}

}  // namespace

TEST_P(CompressCombinations, EveryPassKeepsItsInvariants) {
  const int passes = GetParam();
  const plan::CompressConfig c = config(passes);
  const fs::path save = dir_ / ("run-" + c.passes_tag());
  std::ostringstream log;
  plan::CompressedModel out = plan::compress(c, dense_, {save.string(), false}, log);
  SCOPED_TRACE(c.passes_tag() + "\n" + log.str());

  ASSERT_EQ(out.training.steps_done, 3);
  ASSERT_TRUE(out.training.final_eval.has_value());
  EXPECT_TRUE(std::isfinite(out.training.final_eval->loss));
  ASSERT_TRUE(fs::exists(out.checkpoint));
  const weights::Checkpoint exported = weights::read_checkpoint(out.checkpoint);

  const auto linears = block_linears(out.model);
  ASSERT_FALSE(linears.empty());
  for (const auto& [name, layer] : linears) {
    // Prune: a 2:4 mask on every block linear, and the weight zero wherever it is, in the model and the export.
    EXPECT_EQ(layer->has_mask(), bool(passes & P)) << name;
    if (passes & P) {
      const torch::Tensor mask = layer->mask();
      EXPECT_EQ(mask.sum().item<double>(), mask.numel() / 2.0) << name;
      EXPECT_EQ(layer->weight.masked_select(mask.eq(0)).abs().max().item<double>(), 0.0) << name;
      const torch::Tensor saved = exported.tensors.at(name + ".weight");
      EXPECT_EQ(saved.masked_select(mask.eq(0)).abs().max().item<double>(), 0.0) << name;
    }
    // Quantize: a fake-quant transform on every block linear.
    EXPECT_EQ(layer->weight_transform() != nullptr, bool(passes & Q)) << name;
  }
  EXPECT_EQ(!out.int8_artefact.empty(), bool(passes & Q));
  if (passes & Q) EXPECT_TRUE(quant::is_quantized_file(out.int8_artefact));

  // Distill: the KD terms are in every training record, and only then.
  bool any_kd = false, all_kd = true;
  for (const auto& record : metrics_of(save / c.compressed_folder() / "metrics.jsonl")) {
    if (!record.contains("loss") || record.contains("skipped")) continue;
    const bool kd = record.contains("kd_ce_logits") && record.contains("kd_mse_last_hidden");
    any_kd = any_kd || kd;
    all_kd = all_kd && kd;
  }
  EXPECT_EQ(any_kd, bool(passes & D));
  if (passes & D) EXPECT_TRUE(all_kd);

  // MoEfy: ReLU FFNs split into 8 experts, 2 chosen per token, the others skipped.
  EXPECT_EQ(out.model->config().activation == model::Activation::Relu, bool(passes & M));
  EXPECT_EQ(out.moe.has_value(), bool(passes & M));
  for (auto& block : out.model->blocks()) {
    auto experts = std::dynamic_pointer_cast<moe::ExpertFeedForwardImpl>(block->ffn());
    ASSERT_EQ(experts != nullptr, bool(passes & M));
    if (!experts) continue;
    EXPECT_EQ(experts->num_experts(), 8);
    EXPECT_EQ(experts->top_k(), 2);
    torch::NoGradGuard no_grad;
    const torch::Tensor chosen = experts->route(torch::randn({5, out.model->config().d_model}));
    EXPECT_EQ(chosen.sizes(), (std::vector<int64_t>{5, 2}));
  }
  if (passes & M) {
    EXPECT_TRUE(fs::exists(out.moe->moe_path));
    EXPECT_GT(out.moe->tokens, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFifteen, CompressCombinations, ::testing::Range(1, 16), [](const auto& info) {
  std::string name;
  for (auto [bit, letter] : {std::pair{P, "P"}, {D, "D"}, {Q, "Q"}, {M, "M"}})
    if (info.param & bit) name += letter;
  return name;
});

// Router training, the MoE file, the options and the hidden dump.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/experts.h"
#include "cook/compress/moe/hidden_dump.h"
#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/options.h"
#include "cook/compress/moe/router_training.h"
#include "cook/weights/tensor_io.h"
#include "moe_test_util.h"

namespace cook::compress::moe {
namespace {

using test::error_of;

std::string temp_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "cook-moe-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

MoeFile sample_file(model::GptJ& m, bool with_router) {
  MoeFile f;
  f.num_expert = 8;
  f.d_model = 64;
  f.d_ff = 256;
  for (int64_t i = 0; i < 2; ++i) {
    BalancedKMeansOptions o;
    o.clusters = 8;
    o.restarts = 1;
    const BalancedKMeansResult r = balanced_kmeans(m->blocks()[i]->dense_ffn()->fc_in->weight, o);
    MoeLayer l{experts_from_labels(r.labels, 8), r.centroids, {}};
    if (with_router) l.mlp_router = MlpRouterImpl(r.centroids).tensors();
    f.layers[i] = l;
  }
  f.report = {{"made_by", "test"}};
  return f;
}

TEST(RouterTraining, LowersItsLossAndKeepsTheBestCoverage) {
  model::GptJ m = test::tiny_relu_model();
  auto dense = m->blocks()[0]->dense_ffn();
  BalancedKMeansOptions ko;
  ko.clusters = 16;
  const BalancedKMeansResult split = balanced_kmeans(dense->fc_in->weight, ko);
  const torch::Tensor experts = experts_from_labels(split.labels, 16);
  at::Generator gen = at::detail::createCPUGenerator(4);
  // Inputs with structure: a few directions the FFN sees often.
  const torch::Tensor basis = torch::randn({6, 64}, gen);
  const torch::Tensor x = torch::mm(torch::randn({2000, 6}, gen), basis) + 0.3 * torch::randn({2000, 64}, gen);
  MlpRouter router(split.centroids);
  RouterTrainingOptions o;
  o.epochs = 8;
  o.batch_size = 128;
  o.top_k = 4;
  const RouterTrainingReport r = train_mlp_router(*router, *dense, experts, split.centroids, x, o);
  ASSERT_EQ(r.train_loss.size(), 8u);
  ASSERT_EQ(r.held_out_loss.size(), 9u);
  EXPECT_LT(r.train_loss.back(), r.train_loss.front());
  EXPECT_LT(r.held_out_loss.back(), r.held_out_loss.front());
  EXPECT_GE(r.coverage, r.held_out_coverage.front());
  EXPECT_LE(r.coverage, r.oracle_coverage + 1e-9);
  // The router kept is the one of the best held-out coverage.
  EXPECT_DOUBLE_EQ(r.coverage, r.held_out_coverage[r.best_epoch]);
}

TEST(MoeFile, SaveLoadRoundTrip) {
  model::GptJ m = test::tiny_relu_model();
  const MoeFile f = sample_file(m, true);
  const std::string path = temp_dir("roundtrip") + "/moe.safetensors";
  save_moe_file(path, f);
  const MoeFile g = load_moe_file(path);
  EXPECT_EQ(g.num_expert, 8);
  EXPECT_EQ(g.d_model, 64);
  EXPECT_EQ(g.d_ff, 256);
  EXPECT_EQ(g.report["made_by"], "test");
  ASSERT_EQ(g.layers.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(torch::equal(g.layers.at(i).experts, f.layers.at(i).experts));
    EXPECT_TRUE(torch::equal(g.layers.at(i).centroids, f.layers.at(i).centroids));
    for (const auto& [k, t] : f.layers.at(i).mlp_router) EXPECT_TRUE(torch::equal(g.layers.at(i).mlp_router.at(k), t));
  }
}

TEST(MoeFile, ClearErrors) {
  model::GptJ m = test::tiny_relu_model();
  const std::string dir = temp_dir("errors");
  EXPECT_NE(error_of([&] { load_moe_file(dir + "/absent.safetensors"); }).find("no such MoE file"), std::string::npos);
  // A file without one layer's centroids.
  MoeFile f = sample_file(m, false);
  std::vector<std::pair<std::string, torch::Tensor>> tensors{{"layers.0.experts", f.layers[0].experts}};
  weights::save_safetensors(dir + "/partial.safetensors", tensors,
                            {{"cook.moe.format_version", "1"}, {"cook.moe.num_expert", "8"},
                             {"cook.moe.d_model", "64"}, {"cook.moe.d_ff", "256"}});
  std::string msg = error_of([&] { load_moe_file(dir + "/partial.safetensors"); });
  EXPECT_NE(msg.find("layers.0.centroids' is missing"), std::string::npos) << msg;
  // A model checkpoint is not a MoE file.
  weights::save_safetensors(dir + "/other.safetensors", tensors, {});
  msg = error_of([&] { load_moe_file(dir + "/other.safetensors"); });
  EXPECT_NE(msg.find("not a Cook MoE file"), std::string::npos) << msg;
  // An expert count that does not divide d_ff.
  tensors.emplace_back("layers.0.centroids", f.layers[0].centroids);
  weights::save_safetensors(dir + "/bad.safetensors", tensors,
                            {{"cook.moe.format_version", "1"}, {"cook.moe.num_expert", "8"},
                             {"cook.moe.d_model", "64"}, {"cook.moe.d_ff", "250"}});
  msg = error_of([&] { load_moe_file(dir + "/bad.safetensors"); });
  EXPECT_NE(msg.find("do not cover the FFN's 250 neurons"), std::string::npos) << msg;
}

TEST(MoeOptions, ReadsBmcookSectionStrictly) {
  const auto j = nlohmann::json::parse(
      R"({"is_moefy": true, "first_FFN_module": ["ffn.layernorm_before_ffn"], "num_expert": 8, "topk": 2,
          "moe_path": "moe.safetensors"})");
  const MoeOptions o = MoeOptions::from_json(j, "config.MoEfication");
  EXPECT_TRUE(o.is_moefy);
  EXPECT_EQ(o.num_expert, 8);
  EXPECT_EQ(o.topk, 2);
  EXPECT_EQ(o.moe_path, "moe.safetensors");
  // BMCook's default section (not moefying) is accepted as it is.
  EXPECT_FALSE(MoeOptions::from_json(nlohmann::json::parse(R"({"is_moefy": false, "first_FFN_module": ["ln"]})"), "c")
                   .is_moefy);
  auto msg = [](const char* text) {
    return error_of([&] { MoeOptions::from_json(nlohmann::json::parse(text), "config.MoEfication"); });
  };
  EXPECT_NE(msg(R"({"is_moefy": true, "topk": 2, "moe_path": "x", "num_experts": 8})").find("config.MoEfication.num_experts: unknown key"),
            std::string::npos);
  EXPECT_NE(msg(R"({"is_moefy": "yes"})").find("config.MoEfication.is_moefy: must be true or false"), std::string::npos);
  EXPECT_NE(msg(R"({"is_moefy": true, "topk": 2})").find("moe_path: is required"), std::string::npos);
  EXPECT_NE(msg(R"({"first_FFN_module": ["ffn.w_in"]})").find("first_FFN_module[0]: unknown module 'ffn.w_in'"),
            std::string::npos);
  EXPECT_NE(msg(R"({"num_expert": 4, "topk": 8})").find("topk: 8 is more than num_expert 4"), std::string::npos);
}

// Every window of a fixed id tensor, in order.
class FixedSource : public train::EvalSource {
 public:
  explicit FixedSource(torch::Tensor ids) : ids_(std::move(ids)) {}
  void for_each(int64_t max_batches, const std::function<void(const train::Batch&)>& visit) const override {
    for (int64_t b = 0; b < ids_.size(0); ++b) {
      train::Batch batch;
      batch.input_ids = ids_[b].unsqueeze(0);
      batch.labels = batch.input_ids.clone();
      visit(batch);
    }
  }

 private:
  torch::Tensor ids_;
};

TEST(HiddenDump, RecordsEveryFfnInputOfTheFirstTokens) {
  model::GptJ m = test::tiny_relu_model();
  const torch::Tensor ids = torch::randint(0, 1000, {3, 10}, torch::kInt64);
  const std::string dir = temp_dir("dump") + "/hidden";
  HiddenDumpOptions o;
  o.tokens = 25;
  o.progress = false;
  EXPECT_EQ(dump_ffn_inputs(m, FixedSource(ids), dir, o, {{"data", "test"}}), 25);
  const HiddenDump d = open_hidden_dump(dir);
  EXPECT_EQ(d.tokens, 25);
  EXPECT_EQ(d.n_layer, 2);
  EXPECT_EQ(d.manifest["source"]["data"], "test");
  model::ForwardInput in;
  in.input_ids = ids;
  in.request.ffn_inputs = true;
  torch::NoGradGuard no_grad;
  const auto out = m->forward(in);
  for (int64_t i = 0; i < 2; ++i) {
    const torch::Tensor want = out.ffn_inputs[i].reshape({30, 64}).narrow(0, 0, 25);
    EXPECT_LT(test::max_abs_diff(d.layer(i), want), 1e-5);  // batch 1 vs 3: float order
  }
  std::filesystem::remove(dir + "/layer-1.safetensors");
  EXPECT_NE(error_of([&] { d.layer(1); }).find("missing from the hidden dump"), std::string::npos);
  EXPECT_NE(error_of([&] { open_hidden_dump(dir + "/nowhere"); }).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace cook::compress::moe

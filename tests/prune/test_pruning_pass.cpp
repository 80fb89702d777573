// Pruning on a model: layer selection, one-shot pruning of a whole model, the training pass
// (masks held through many AdamW steps with weight decay, the gradual ramp, checkpoints) and the
// mask file it loads or writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../train/train_test_util.h"
#include "cook/compress/prune/calibration.h"
#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/prune_model.h"
#include "cook/compress/prune/pruning_pass.h"
#include "cook/core/error.h"
#include "cook/train/trainer.h"

using namespace cook;
using namespace cook::prune;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

PruningOptions options(const std::string& method, const std::string& path = "") {
  PruningOptions o;
  o.is_pruning = true;
  o.mask_method = method;
  o.pruning_mask_path = path;
  return o;
}

train::TrainerOptions trainer_options(int64_t steps, const std::string& save_dir = "") {
  train::TrainerOptions o;
  o.steps = steps;
  o.schedule.kind = train::ScheduleKind::Constant;
  o.schedule.start_lr = 1e-2;
  o.weight_decay = 0.1;
  o.save_dir = save_dir;
  o.save_interval = 0;
  o.progress = false;
  o.log_interval = 1000;
  return o;
}

// Records the pass's overall sparsity after every step.
class SparsityLog : public train::TrainingExtension {
 public:
  explicit SparsityLog(std::shared_ptr<PruningPass> pass) : pass_(std::move(pass)) {}
  std::string name() const override { return "sparsity-log"; }
  void after_step(int64_t) override { values.push_back(pass_->masks().sparsity); }
  std::vector<double> values;

 private:
  std::shared_ptr<PruningPass> pass_;
};

std::map<std::string, torch::Tensor> weights_copy(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

std::vector<torch::Tensor> id_batches(int n, uint64_t seed) {
  test::PatternBatches source(4, 16, seed);
  std::vector<torch::Tensor> out;
  for (int i = 0; i < n; ++i) out.push_back(source.make(i).input_ids);
  return out;
}

}  // namespace

TEST(LayerSelection, V1DefaultsSelectProjectionsAndFfnNotTheHead) {
  auto model = test::micro_model();
  auto layers = select_layers(*model, default_pruned_modules(), "pruned_module");
  ASSERT_EQ(layers.size(), 12u);  // 2 blocks × (q, k, v, out, fc_in, fc_out)
  EXPECT_EQ(layers[0].name, "blocks.0.attn.q_proj.weight");
  for (const auto& l : layers) EXPECT_EQ(l.name.find("lm_head"), std::string::npos);
  const std::string e = error_of([&] { select_layers(*model, {"proj", "ffn.w_in"}, "cfg.json: pruning.pruned_module"); });
  EXPECT_NE(e.find("cfg.json: pruning.pruned_module"), std::string::npos) << e;
  EXPECT_NE(e.find("'ffn.w_in' matches no linear weight"), std::string::npos) << e;
}

TEST(PruningPass, NoPrunedWeightComesBackOverManyAdamWSteps) {
  auto model = test::micro_model();
  auto initial = weights_copy(*model);
  auto pass = make_pruning_pass(model, options("m4n2_2d_best"), "pruning", nullptr);
  ASSERT_TRUE(pass);
  // Zeroed at attach, before any step.
  for (const auto& l : pass->layers()) {
    const auto& mask = pass->masks().masks.at(l.name);
    EXPECT_TRUE(is_2to4_2d(mask));
    EXPECT_TRUE(l.layer->weight.masked_select(mask.logical_not()).eq(0).all().item<bool>()) << l.name;
    EXPECT_TRUE(l.layer->has_mask());
  }
  train::Trainer trainer(model, trainer_options(40), std::make_shared<test::PatternBatches>(4, 16, 1));
  trainer.add_extension(pass);
  trainer.run();
  for (const auto& l : pass->layers()) {
    const auto& mask = pass->masks().masks.at(l.name);
    const torch::Tensor w = l.layer->weight.detach();
    EXPECT_TRUE(w.masked_select(mask.logical_not()).eq(0).all().item<bool>()) << l.name;
    // The kept weights did train.
    EXPECT_FALSE(torch::equal(w.masked_select(mask), initial.at(l.name).masked_select(mask))) << l.name;
  }
}

TEST(PruningPass, RampRaisesSparsityMonotonicallyAndResumes) {
  const std::string dir = test::temp_dir("prune-ramp");
  PruningOptions o = options("magnitude");
  o.sparsity = 0.6;
  o.ramp = SparsityRamp{0.0, 0, 20, 5};
  auto model = test::micro_model();
  auto pass = make_pruning_pass(model, o, "pruning", nullptr);
  EXPECT_DOUBLE_EQ(pass->masks().sparsity, 0.0);
  auto log = std::make_shared<SparsityLog>(pass);
  auto opts = trainer_options(25, dir);
  opts.save_interval = 10;
  train::Trainer trainer(model, opts, std::make_shared<test::PatternBatches>(4, 16, 2));
  trainer.add_extension(pass);
  trainer.add_extension(log);
  trainer.run();
  ASSERT_EQ(log->values.size(), 25u);
  for (size_t i = 1; i < log->values.size(); ++i) EXPECT_GE(log->values[i], log->values[i - 1]);
  EXPECT_GT(log->values[4], 0.0);
  EXPECT_NEAR(log->values.back(), 0.6, 0.01);
  for (const auto& l : pass->layers())
    EXPECT_TRUE(l.layer->weight.masked_select(pass->masks().masks.at(l.name).logical_not()).eq(0).all().item<bool>());

  // A fresh model resumed from step 10 gets step 10's masks back, not the initial dense ones.
  auto model2 = test::micro_model(99);
  auto pass2 = make_pruning_pass(model2, o, "pruning", nullptr);
  train::Trainer resumed(model2, trainer_options(25, dir), std::make_shared<test::PatternBatches>(4, 16, 2));
  resumed.add_extension(pass2);
  resumed.resume(dir + "/checkpoints/step-00000010");
  EXPECT_NEAR(pass2->masks().sparsity, log->values[9], 1e-9);
  for (const auto& l : pass2->layers()) EXPECT_TRUE(torch::equal(l.layer->mask().to(torch::kBool), pass2->masks().masks.at(l.name)));
  std::filesystem::remove_all(dir);
}

TEST(PruningPass, MaskFileIsWrittenOnceThenLoaded) {
  const std::string dir = test::temp_dir("prune-file");
  const std::string path = dir + "/masks.safetensors";
  auto first = test::micro_model(1);
  auto pass1 = make_pruning_pass(first, options("m4n2_1d", path), "pruning", nullptr);
  ASSERT_TRUE(std::filesystem::exists(path));
  MaskSet saved = load_masks(path);
  EXPECT_EQ(saved.method, "m4n2_1d");
  EXPECT_EQ(saved.pattern, "2:4");
  EXPECT_NEAR(saved.sparsity, 0.5, 1e-6);
  // Another model with other weights takes the file's masks, as BMCook does.
  auto second = test::micro_model(2);
  std::ostringstream log;
  auto pass2 = make_pruning_pass(second, options("m4n2_1d", path), "pruning", &log);
  EXPECT_NE(log.str().find("from " + path), std::string::npos) << log.str();
  for (const auto& [name, m] : pass1->masks().masks) EXPECT_TRUE(torch::equal(m, pass2->masks().masks.at(name))) << name;
  // A file made for another shape is refused, naming the file and the tensor.
  auto config = test::micro_config();
  config.d_ff = 128;
  model::GptJ wider(config);
  const std::string e = error_of([&] { make_pruning_pass(wider, options("m4n2_1d", path), "pruning", nullptr); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("blocks.0.ffn.fc_in.weight"), std::string::npos) << e;
  // Masks for modules the options do not select are refused too.
  PruningOptions fewer = options("m4n2_1d", path);
  fewer.pruned_module = {"fc_"};
  EXPECT_NE(error_of([&] { make_pruning_pass(second, fewer, "pruning", nullptr); }).find("not a selected weight"),
            std::string::npos);
  // Not a mask file.
  std::ofstream(dir + "/junk.safetensors") << "not safetensors";
  EXPECT_NE(error_of([&] { load_masks(dir + "/junk.safetensors"); }).find("junk.safetensors"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PruningPass, TwoModelsKeepTheirOwnMasks) {
  auto a = test::micro_model(3), b = test::micro_model(3);
  auto pa = make_pruning_pass(a, options("m4n2_1d"), "a", nullptr);
  PruningOptions ob = options("magnitude");
  ob.sparsity = 0.8;
  auto pb = make_pruning_pass(b, ob, "b", nullptr);
  const auto& name = pa->layers()[0].name;
  EXPECT_NEAR(sparsity_of(pa->layers()[0].layer->mask().to(torch::kBool)), 0.5, 1e-9);
  EXPECT_FALSE(torch::equal(pa->masks().masks.at(name), pb->masks().masks.at(name)));
  EXPECT_GT(pb->masks().sparsity, 0.75);
}

TEST(PruningOptions, ReadsBMCooksSectionStrictly) {
  auto j = nlohmann::json::parse(R"({"is_pruning": true, "pruning_mask_path": null, "pruned_module": ["proj", "fc_"],
                                     "mask_method": "m4n2_2d", "sprune": {"criterion": "l0"}})");
  PruningOptions o = pruning_options_from_json(j, "bmcook.json: pruning");
  EXPECT_TRUE(o.is_pruning);
  EXPECT_TRUE(o.pruning_mask_path.empty());
  EXPECT_EQ(o.spec("p").method, MaskMethod::M4N2_2dGreedy);
  struct Case {
    const char* json;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"is_pruning": true, "mask_methd": "m4n2_1d"})", "bmcook.json: pruning.mask_methd: unknown key"},
           {R"({"is_pruning": "yes"})", "pruning.is_pruning: must be true or false"},
           {R"({"is_pruning": true, "pruned_module": "proj"})", "pruning.pruned_module: must be a list"},
           {R"({"is_pruning": true, "pruned_module": ["proj", 3]})", "pruning.pruned_module[1]: must be a string"},
           {R"({"is_pruning": true, "mask_method": "m8n3"})", "pruning.mask_method: unknown mask method 'm8n3'"},
           {R"({"is_pruning": true, "mask_method": "sprune"})", "'sprune'"},
           {R"({"is_pruning": true, "mask_method": "magnitude", "sparsity": 1.5})", "pruning.sparsity: must be in (0, 1)"},
           {R"({"is_pruning": true, "mask_method": "m4n2_1d", "ramp": {"end_step": 10}})", "pruning.ramp: a gradual ramp needs"},
           {R"({"is_pruning": true, "mask_method": "magnitude", "ramp": {"end_step": 10, "every": 2}})", "pruning.ramp.every: unknown key"},
           {R"({"is_pruning": true, "scope": "model"})", "pruning.scope: must be"},
       }) {
    const std::string e = error_of([&] { pruning_options_from_json(nlohmann::json::parse(c.json), "bmcook.json: pruning"); });
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.json << "\n" << e;
  }
  // wanda/sparsegpt need calibration data, so training takes their masks from a file.
  auto model = test::micro_model();
  EXPECT_NE(error_of([&] { make_pruning_pass(model, options("sparsegpt"), "p", nullptr); }).find("cook prune masks"),
            std::string::npos);
}

TEST(PruneModel, OneShotMethodsPruneEveryLayerAndSparseGptTracksTheDenseModel) {
  auto calibration = id_batches(4, 11);
  auto dense = test::micro_model(5);
  torch::NoGradGuard no_grad;
  model::ForwardInput probe{calibration[0], {}, {}};
  const torch::Tensor reference = dense->forward(probe).logits;
  std::map<std::string, double> error;
  for (const char* method : {"m4n2_1d", "wanda", "sparsegpt"}) {
    auto model = test::micro_model(5);
    auto layers = select_layers(*model, default_pruned_modules(), "modules");
    OneShotOptions o;
    o.spec = make_mask_spec(method, "", 0.5, false, {"m", "p", "s"});
    o.progress = false;
    MaskSet set = prune_model(model, layers, o, calibration);
    EXPECT_EQ(set.masks.size(), layers.size());
    EXPECT_NEAR(set.sparsity, 0.5, 1e-9) << method;
    for (const auto& l : layers) {
      EXPECT_TRUE(is_2to4_along_inputs(set.masks.at(l.name))) << method << " " << l.name;
      EXPECT_TRUE(l.layer->weight.masked_select(set.masks.at(l.name).logical_not()).eq(0).all().item<bool>());
      EXPECT_FALSE(l.layer->kernel()) << "the calibration recorder must be removed";
    }
    error[method] = (model->forward(probe).logits - reference).square().mean().item<double>();
  }
  EXPECT_LT(error["sparsegpt"], error["m4n2_1d"]);
  auto model = test::micro_model(5);
  auto layers = select_layers(*model, default_pruned_modules(), "modules");
  OneShotOptions o;
  o.spec = make_mask_spec("wanda", "unstructured", 0.7, false, {"m", "p", "s"});
  o.sequential = false;
  o.progress = false;
  EXPECT_NEAR(prune_model(model, layers, o, calibration).sparsity, 0.7, 0.01);
  EXPECT_THROW(prune_model(model, layers, o, {}), Error);
}

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "cook/core/error.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/train/stop_signal.h"
#include "cook/train/trainer.h"
#include "train_test_util.h"

using namespace cook;
using namespace cook::train;
namespace fs = std::filesystem;

namespace {

TrainerOptions quiet_options(int64_t steps, const std::string& save_dir = "") {
  TrainerOptions o;
  o.steps = steps;
  o.schedule = {ScheduleKind::Cosine, 3e-3, 5, steps, 3e-4};
  o.log_interval = 10;
  o.save_dir = save_dir;
  o.progress = false;
  o.stop_on_signal = false;
  return o;
}

// Adds a constant loss term, NaN on chosen steps; counts the hooks.
class ProbeExtension : public TrainingExtension {
 public:
  std::string name() const override { return "probe"; }
  void add_losses(const Batch&, const model::ForwardOutput& out, LossTerms& terms) override {
    ++micro_batches;
    const bool poison = nan_from >= 0 && calls_before_step >= nan_from && calls_before_step < nan_until;
    auto zero = out.logits.sum() * 0.0;
    terms.emplace_back("probe_loss", poison ? zero + std::nan("") : zero + 0.25);
  }
  void before_step(int64_t) override { ++calls_before_step; }
  void after_step(int64_t step) override { last_after_step = step; }
  std::vector<ParamGroup> parameter_groups() override { return {{"probe", {{"probe.scale", scale}}, 0.0, 1.0}}; }
  void save_state(std::map<std::string, torch::Tensor>& t, nlohmann::json& meta) const override {
    t["scale"] = scale;
    meta["calls"] = calls_before_step;
  }
  void load_state(const std::map<std::string, torch::Tensor>& t, const nlohmann::json& meta) override {
    torch::NoGradGuard g;
    scale.copy_(t.at("scale"));
    restored_calls = meta.at("calls").get<int64_t>();
  }
  torch::Tensor scale = torch::ones({1}).requires_grad_(true);
  int64_t micro_batches = 0, calls_before_step = 0, last_after_step = 0, restored_calls = -1;
  int64_t nan_from = -1, nan_until = -1;
};

}  // namespace

TEST(Trainer, LearnsAPatternAndEvaluates) {
  auto model = test::micro_model();
  Trainer trainer(model, quiet_options(60), std::make_shared<test::PatternBatches>(8, 16, 1),
                  std::make_shared<test::PatternEval>());
  const double before = trainer.evaluate().loss;
  auto result = trainer.run();
  ASSERT_TRUE(result.final_eval.has_value());
  EXPECT_EQ(result.steps_done, 60);
  EXPECT_NEAR(before, std::log(97.0), 0.5);
  EXPECT_LT(result.final_eval->loss, before - 1.0);
  EXPECT_NEAR(result.final_eval->perplexity, std::exp(result.final_eval->loss), 1e-9);
  EXPECT_EQ(result.final_eval->tokens, 3 * 4 * 16);
}

TEST(Trainer, ResumeContinuesBitForBit) {
  const std::string dir_a = test::temp_dir("resume-a"), dir_b = test::temp_dir("resume-b");
  auto straight = test::micro_model();
  {
    Trainer t(straight, quiet_options(100, dir_a), std::make_shared<test::PatternBatches>(4, 16, 3));
    t.run();
  }
  {  // stopped at step 50 ...
    auto first = test::micro_model();
    auto o = quiet_options(50, dir_b);
    o.schedule.total_steps = 100;  // the same schedule as the full run
    Trainer t(first, o, std::make_shared<test::PatternBatches>(4, 16, 3));
    t.run();
  }
  auto resumed = test::micro_model(12345);  // different initial weights: all must come from the checkpoint
  Trainer t(resumed, quiet_options(100, dir_b), std::make_shared<test::PatternBatches>(4, 16, 3));
  t.resume("latest");
  EXPECT_EQ(t.step(), 50);
  t.run();
  EXPECT_TRUE(test::same_parameters(*straight, *resumed));
  fs::remove_all(dir_a);
  fs::remove_all(dir_b);
}

TEST(Trainer, AccumulationEqualsTheLargerBatch) {
  // Two micro-batches of 4 windows = one batch of 8 (the loss is a mean over equal token counts).
  class Halves : public BatchSource {
   public:
    explicit Halves(bool split) : split_(split) {}
    Batch next() override {
      Batch full = source_.make(k_ / (split_ ? 2 : 1));
      if (!split_) { ++k_; return full; }
      const int64_t half = (k_++ % 2) * 4;
      return {full.input_ids.narrow(0, half, 4), full.labels.narrow(0, half, 4), {}};
    }
    nlohmann::json position() const override { return k_; }
    void restore(const nlohmann::json& p) override { k_ = p.get<int64_t>(); }
   private:
    test::PatternBatches source_{8, 16, 5};
    bool split_;
    int64_t k_ = 0;
  };
  auto big = test::micro_model(), accumulated = test::micro_model();
  Trainer a(big, quiet_options(10), std::make_shared<Halves>(false));
  auto o = quiet_options(10);
  o.grad_accum = 2;
  Trainer b(accumulated, o, std::make_shared<Halves>(true));
  a.run();
  b.run();
  for (const auto& item : big->named_parameters())
    EXPECT_TRUE(torch::allclose(item.value(), accumulated->named_parameters()[item.key()], 1e-4, 1e-5)) << item.key();
}

TEST(Trainer, ExtensionsAddLossesHooksParametersAndState) {
  const std::string dir = test::temp_dir("extension");
  auto probe = std::make_shared<ProbeExtension>();
  auto model = test::micro_model();
  auto o = quiet_options(6, dir);
  o.grad_accum = 2;
  o.log_interval = 1;
  Trainer t(model, o, std::make_shared<test::PatternBatches>(2, 8, 1));
  t.add_extension(probe);
  t.run();
  EXPECT_EQ(probe->micro_batches, 12);
  EXPECT_EQ(probe->calls_before_step, 6);
  EXPECT_EQ(probe->last_after_step, 6);
  // The extension's parameter is optimized (its gradient is zero, so only its Adam state exists).
  std::ifstream metrics(dir + "/metrics.jsonl");
  std::string line;
  std::getline(metrics, line);
  auto record = nlohmann::json::parse(line);
  EXPECT_NEAR(record.at("probe_loss").get<double>(), 0.25, 1e-9);
  EXPECT_NEAR(record.at("loss").get<double>() - record.at("lm_loss").get<double>(), 0.25, 1e-6);
  auto other = std::make_shared<ProbeExtension>();
  Trainer resumed(test::micro_model(), quiet_options(6, dir), std::make_shared<test::PatternBatches>(2, 8, 1));
  resumed.add_extension(other);
  resumed.resume("latest");
  EXPECT_EQ(other->restored_calls, 6);
  fs::remove_all(dir);
}

TEST(Trainer, NonFiniteStepsAreSkippedThenStopTheRun) {
  auto probe = std::make_shared<ProbeExtension>();
  probe->nan_from = 2;
  probe->nan_until = 4;  // two poisoned attempts, then healthy again
  auto model = test::micro_model();
  Trainer t(model, quiet_options(8), std::make_shared<test::PatternBatches>(2, 8, 1));
  t.add_extension(probe);
  auto result = t.run();
  EXPECT_EQ(result.steps_done, 8);
  EXPECT_EQ(result.skipped_steps, 2);
  for (const auto& p : model->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());

  const std::string dir = test::temp_dir("nonfinite");
  auto always = std::make_shared<ProbeExtension>();
  always->nan_from = 3;
  always->nan_until = 1000;
  auto o = quiet_options(20, dir);
  o.save_interval = 2;
  o.max_nonfinite_in_row = 4;
  Trainer stopped(test::micro_model(), o, std::make_shared<test::PatternBatches>(2, 8, 1));
  stopped.add_extension(always);
  try {
    stopped.run();
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 non-finite steps in a row"), std::string::npos) << e.what();
  }
  auto kept = list_checkpoints(dir);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(fs::path(kept.back()).filename(), "step-00000002");
  auto contents = read_checkpoint_dir(kept.back());
  for (const auto& [name, t] : contents.model) EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
  fs::remove_all(dir);
}

TEST(Trainer, SignalSavesACheckpointAndStops) {
  const std::string dir = test::temp_dir("signal");
  auto o = quiet_options(50, dir);
  o.stop_on_signal = true;
  class RaiseAtThree : public TrainingExtension {
   public:
    std::string name() const override { return "raise"; }
    void after_step(int64_t step) override {
      if (step == 3) StopSignal::raise_for_test(SIGTERM);
    }
  };
  Trainer t(test::micro_model(), o, std::make_shared<test::PatternBatches>(2, 8, 1));
  t.add_extension(std::make_shared<RaiseAtThree>());
  auto result = t.run();
  EXPECT_TRUE(result.stopped_by_signal);
  EXPECT_EQ(result.steps_done, 3);
  EXPECT_EQ(fs::path(result.last_checkpoint).filename(), "step-00000003");
  EXPECT_FALSE(StopSignal().requested());  // the flag went with the trainer's guard
  fs::remove_all(dir);
}

TEST(Trainer, TimeLimitEndsTheRunEvaluatedAndSaved) {
  const std::string dir = test::temp_dir("time-limit");
  auto o = quiet_options(50, dir);
  o.time_limit_s = 1e-9;  // crossed by the first step
  Trainer t(test::micro_model(), o, std::make_shared<test::PatternBatches>(2, 8, 1),
            std::make_shared<test::PatternEval>());
  auto result = t.run();
  EXPECT_TRUE(result.stopped_by_time_limit);
  EXPECT_FALSE(result.stopped_by_signal);
  EXPECT_EQ(result.steps_done, 1);
  EXPECT_TRUE(result.final_eval.has_value());
  EXPECT_EQ(fs::path(result.last_checkpoint).filename(), "step-00000001");
  fs::remove_all(dir);
}

TEST(CheckpointDir, KeepsTheLastKAndIgnoresUnfinishedFolders) {
  const std::string dir = test::temp_dir("keep");
  auto o = quiet_options(10, dir);
  o.save_interval = 2;
  o.keep_last = 2;
  Trainer t(test::micro_model(), o, std::make_shared<test::PatternBatches>(2, 8, 1));
  t.run();
  fs::create_directories(fs::path(dir) / "checkpoints" / "step-00000099");  // no files: not a checkpoint
  auto kept = list_checkpoints(dir);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(fs::path(kept[0]).filename(), "step-00000008");
  EXPECT_EQ(fs::path(kept[1]).filename(), "step-00000010");
  EXPECT_THROW(read_checkpoint_dir(dir + "/checkpoints/step-00000099"), Error);
  fs::remove_all(dir);
}

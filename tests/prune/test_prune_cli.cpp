// `cook prune masks` and `cook train --use-pruning` end to end through the built binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../common/cli_corpus.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/compress/prune/nm_masks.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"

namespace fs = std::filesystem;
using namespace cook;

namespace {

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

class PruneCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-prune-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    test::CommandResult prep = test::prepare_sotu_corpus(dir_, data(), 200);
    ASSERT_EQ(prep.status, 0) << prep.output;
    model::GptJ model(model::preset("tiny"));
    model->init_weights(0.05, 3);
    weights::save_checkpoint(checkpoint(), *model, model->config());
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string data() { return (dir_ / "tokens").string(); }
  static std::string checkpoint() { return (dir_ / "tiny.safetensors").string(); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static inline fs::path dir_;
};

}  // namespace

TEST_F(PruneCli, MasksByMagnitudeAndOneShotWithAPrunedModel) {
  test::CommandResult best = run("prune masks --load " + checkpoint() + " --method m4n2_2d_best --output " + path("best.safetensors"));
  ASSERT_EQ(best.status, 0) << best.output;
  prune::MaskSet set = prune::load_masks(path("best.safetensors"));
  EXPECT_EQ(set.method, "m4n2_2d_best");
  EXPECT_EQ(set.pattern, "2:4-2d");
  EXPECT_EQ(set.masks.size(), 12u);
  for (const auto& [name, m] : set.masks) EXPECT_TRUE(prune::is_2to4_2d(m)) << name;

  test::CommandResult sgpt = run("prune masks --load " + checkpoint() + " --method sparsegpt --pattern unstructured --sparsity 0.6 --data " +
                                 data() + " --calib-batches 2 --batch-size 2 --seq-len 32 --no-progress --output " +
                                 path("sgpt.safetensors") + " --save-model " + path("sgpt-model.safetensors"));
  ASSERT_EQ(sgpt.status, 0) << sgpt.output;
  prune::MaskSet s = prune::load_masks(path("sgpt.safetensors"));
  EXPECT_NEAR(s.sparsity, 0.6, 0.01);
  weights::Checkpoint pruned = weights::read_checkpoint(path("sgpt-model.safetensors"));
  EXPECT_EQ(pruned.metadata.at("pruning.method"), "sparsegpt");
  for (const auto& [name, m] : s.masks) EXPECT_TRUE(pruned.tensors.at(name).masked_select(m.logical_not()).eq(0).all().item<bool>());
  test::CommandResult eval = run("eval --load " + path("sgpt-model.safetensors") + " --data " + data() + " --seq-len 32 --max-batches 1");
  EXPECT_EQ(eval.status, 0) << eval.output;
}

TEST_F(PruneCli, TrainComputesSavesThenLoadsMasks) {
  const std::string masks = path("train-masks.safetensors");
  const std::string common = "train --load " + checkpoint() + " --data " + data() +
                             " --batch-size 2 --seq-len 32 --steps 2 --no-progress --warmup 1 --use-pruning --pruning-mask-path " + masks;
  test::CommandResult first = run(common + " --pruning-method m4n2_2d");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("masks saved to " + masks), std::string::npos) << first.output;
  EXPECT_EQ(prune::load_masks(masks).method, "m4n2_2d_greedy");
  test::CommandResult second = run(common);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("masked from " + masks), std::string::npos) << second.output;
  // A model of another shape refuses the file.
  test::CommandResult other = run("train --model small --data " + data() +
                                  " --batch-size 2 --seq-len 32 --steps 1 --no-progress --use-pruning --pruning-mask-path " + masks);
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find(masks + ": tensor 'blocks.0.attn.q_proj.weight' has shape"), std::string::npos) << other.output;
}

TEST_F(PruneCli, ErrorsNameTheOption) {
  struct Case {
    std::string args, expected;
  };
  const std::string load = " --load " + checkpoint() + " --output " + path("x.safetensors");
  for (const Case& c : std::vector<Case>{
           {"prune masks --method m8n3" + load, "--method: unknown mask method 'm8n3'"},
           {"prune masks --method m4n2_1d --modules attn.w_q" + load, "--modules: module pattern 'attn.w_q' matches no"},
           {"prune masks --method wanda" + load, "--data: is required"},
           {"prune masks --method magnitude --sparsity 1.2" + load, "--sparsity: must be in (0, 1)"},
           {"prune masks --method m4n2_1d --output x.safetensors", "--load: is required"},
           {"train --model tiny --steps 1 --data " + data() + " --pruning-mask-path m.safetensors", "--pruning-mask-path: needs --use-pruning"},
           {"train --model tiny --steps 1 --data " + data() + " --use-pruning --pruning-method sparsegpt", "cook prune masks"},
           {"train --model tiny --steps 1 --data " + data() + " --use-pruning --pruning-modules nothing", "--pruning-modules: module pattern 'nothing'"},
       }) {
    test::CommandResult r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
  for (const char* cmd : {"prune", "prune masks"}) {
    test::CommandResult r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("Usage:"), std::string::npos) << r.output;
  }
}

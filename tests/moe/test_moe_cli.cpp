// The MoEfication pipeline end to end through the built `cook` binary on a tiny ReLU model:
// train --save-hidden → moe split → moe router → eval/generate --moe; and its errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/cli_corpus.h"

namespace fs = std::filesystem;

namespace {

cook::test::CommandResult run(const std::string& args) { return cook::test::run_cook(args); }

class MoeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-moe-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    auto prep = cook::test::prepare_sotu_corpus(dir_, data(), 200);
    ASSERT_EQ(prep.status, 0) << prep.output;
    auto train = run("train --model tiny-relu --init-std 0.1 --batch-size 2 --seq-len 32 --no-progress --steps 2 --data " +
                     data() + " --save-dir " + (dir_ / "run").string() + " --save-hidden --hidden-tokens 300");
    ASSERT_EQ(train.status, 0) << train.output;
    ASSERT_NE(train.output.find("saved the FFN inputs of 300 tokens"), std::string::npos) << train.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string data() { return (dir_ / "tokens").string(); }
  static std::string model() { return (dir_ / "run/checkpoints/step-00000002/model.safetensors").string(); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static inline fs::path dir_;
};

}  // namespace

TEST_F(MoeCli, SplitRouterAndMoefiedEval) {
  auto split = run("moe split --load " + model() + " --num-expert 8 --restarts 2 --no-progress --output " + path("split.safetensors"));
  ASSERT_EQ(split.status, 0) << split.output;
  EXPECT_NE(split.output.find("2 layers × 8 experts of 32 neurons"), std::string::npos) << split.output;
  auto router = run("moe router --load " + model() + " --split-file " + path("split.safetensors") + " --hidden " +
                    path("run/hidden") + " --topk 2 --epochs 3 --batch-size 64 --no-progress --output " +
                    path("moe.safetensors"));
  ASSERT_EQ(router.status, 0) << router.output;
  EXPECT_NE(router.output.find("held-out coverage at top-2 of 8 experts"), std::string::npos) << router.output;
  EXPECT_NE(router.output.find("mean: MLP router"), std::string::npos) << router.output;

  auto eval = [&](const std::string& extra) {
    auto r = run("eval --load " + model() + " --data " + data() + " --batch-size 2 --seq-len 32 --max-batches 3 --json " + extra);
    EXPECT_EQ(r.status, 0) << r.output;
    return nlohmann::json::parse(r.output.substr(r.output.rfind('{')))["loss"].get<double>();
  };
  const double dense = eval("");
  const std::string moe = " --moe --moe-ckpt " + path("moe.safetensors");
  EXPECT_NEAR(eval(moe + " --topk 8"), dense, 1e-4);  // k = E: the dense model
  for (const char* router_kind : {"mlp", "centroid", "oracle"}) {
    const double l = eval(moe + " --topk 2 --moe-router " + router_kind);
    EXPECT_GT(l, 0.0);
    EXPECT_NE(l, dense) << router_kind;
  }
  // The split file alone has no MLP router: auto uses the centroids, mlp is an error.
  EXPECT_GT(eval(" --moe --moe-ckpt " + path("split.safetensors") + " --topk 2"), 0.0);
  auto no_mlp = run("eval --load " + model() + " --data " + data() + " --moe --moe-ckpt " + path("split.safetensors") +
                    " --topk 2 --moe-router mlp");
  EXPECT_NE(no_mlp.status, 0);
  EXPECT_NE(no_mlp.output.find("has no MLP router"), std::string::npos) << no_mlp.output;
}

TEST_F(MoeCli, ClearErrors) {
  auto r = run("moe split --load " + model() + " --num-expert 48 --output " + path("x.safetensors"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--num-expert: 48 experts do not divide the FFN width d_ff 256"), std::string::npos) << r.output;
  r = run("eval --load " + model() + " --data " + data() + " --moe --moe-ckpt " + path("absent.safetensors") + " --topk 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("absent.safetensors: no such MoE file"), std::string::npos) << r.output;
  r = run("eval --load " + model() + " --data " + data() + " --topk 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--topk: is given without --moe"), std::string::npos) << r.output;
  r = run("moe router --load " + model() + " --split-file " + path("absent.safetensors") + " --hidden " + path("run/hidden") +
          " --topk 2 --output " + path("y.safetensors"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("no such MoE file"), std::string::npos) << r.output;
  r = run("moe dump --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--tokens"), std::string::npos);
}

// The train/eval commands end to end through the built `cook` binary: errors name the option or
// file at fault and exit non-zero; --config files equal command-line flags; a run writes metrics
// and checkpoints and resumes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../common/cli_corpus.h"

namespace fs = std::filesystem;
using namespace cook;

namespace {

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

class CliTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-cli-train-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    test::CommandResult prep = test::prepare_sotu_corpus(dir_, data(), 300);
    ASSERT_EQ(prep.status, 0) << prep.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string data() { return (dir_ / "tokens").string(); }
  static inline fs::path dir_;
};

std::string tiny_args() { return " --model tiny --batch-size 2 --seq-len 32 --no-progress --start-lr 1e-3 --warmup 2 "; }

}  // namespace

TEST_F(CliTrain, TrainsWritesMetricsAndResumes) {
  const std::string save = (dir_ / "run").string();
  test::CommandResult first = run("train" + tiny_args() + "--data " + data() + " --save-dir " + save + " --steps 4 --save-interval 2");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("trained to step 4"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("validation: loss"), std::string::npos);
  EXPECT_TRUE(fs::exists(save + "/checkpoints/step-00000004/model.safetensors"));
  EXPECT_TRUE(fs::exists(save + "/checkpoints/step-00000002/trainer.json"));
  std::ifstream metrics(save + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) ++lines;
  EXPECT_EQ(lines, 5);  // 4 steps (log interval 1) + the final evaluation
  test::CommandResult resumed = run("train" + tiny_args() + "--data " + data() + " --save-dir " + save + " --steps 6 --resume latest");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("trained to step 6"), std::string::npos) << resumed.output;
  test::CommandResult eval = run("eval --load " + save + "/checkpoints/step-00000006/model.safetensors --data " + data() +
                 " --seq-len 32 --json");
  ASSERT_EQ(eval.status, 0) << eval.output;
  EXPECT_NE(eval.output.find("\"perplexity\""), std::string::npos);
}

TEST_F(CliTrain, ConfigFileEqualsFlags) {
  const fs::path config = dir_ / "train.json";
  std::ofstream(config) << R"({"model": "tiny", "batch-size": 2, "seq-len": 32, "steps": 2, "no-progress": true,
                               "data": ")" << data() << R"(", "save-dir": ")" << (dir_ / "cfg").string() << "\"}";
  test::CommandResult r = run("train --config " + config.string() + " --steps 3");  // the command line wins
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trained to step 3"), std::string::npos) << r.output;

  std::ofstream(dir_ / "bad-key.json") << R"({"model": "tiny", "stepz": 3})";
  test::CommandResult bad = run("train --config " + (dir_ / "bad-key.json").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("bad-key.json: unknown key 'stepz'"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("allowed: "), std::string::npos);

  std::ofstream(dir_ / "bad-type.json") << R"({"use-kd": "yes"})";
  test::CommandResult type = run("train --config " + (dir_ / "bad-type.json").string());
  EXPECT_NE(type.status, 0);
  EXPECT_NE(type.output.find("key 'use-kd': must be true or false"), std::string::npos) << type.output;
}

TEST_F(CliTrain, ErrorsNameTheOptionOrFile) {
  struct Case {
    std::string args, expected;
  };
  const std::string d = " --data " + data();
  for (const Case& c : std::vector<Case>{
           {"train --model smal --steps 1" + d, "--model: "},
           {"train --model tiny --steps 1 --seq-len 4096" + d, "--seq-len: 4096 is longer"},
           {"train --model tiny --steps 1 --use-kd" + d, "--use-kd: needs --load-teacher"},
           {"train --model tiny --steps 1 --schedule linear" + d, "--schedule: unknown schedule 'linear'"},
           {"train --model tiny --steps 1 --dtype fp8" + d, "--dtype: 'fp8' is not a dtype"},
           {"train --model tiny --steps 1 --data /nonexistent/tokens", "/nonexistent/tokens"},
           {"train --model tiny" + d, "--steps: give --steps N or --epochs E"},
           {"eval --data " + data(), "--load: is required"},
           {"eval --load /nonexistent.safetensors" + d, "/nonexistent.safetensors"},
           {"train --model tiny --steps 1 --batch-size 1000" + d, "fewer than one batch of 1000"},
       }) {
    test::CommandResult r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST_F(CliTrain, EveryCommandHasHelp) {
  for (const char* cmd : {"", "train", "eval", "data", "data prepare", "data info", "forward", "tokenize", "detokenize"}) {
    test::CommandResult r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("Usage:"), std::string::npos) << cmd << "\n" << r.output;
  }
}

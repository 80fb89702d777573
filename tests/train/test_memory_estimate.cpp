// The memory estimate of --dry-run (train/memory_estimate.h): its parts follow the options, and on
// `tiny` and `small` its total is within 15 % of what a real two-step run of `cook train` adds to
// the peak resident memory of the process (the dry run of the same command is the baseline).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../common/cli_corpus.h"
#include "cook/core/error.h"
#include "cook/model/config.h"
#include "cook/train/memory_estimate.h"

namespace cook::train {
namespace {

namespace fs = std::filesystem;

TrainingShape tiny_shape() {
  TrainingShape s;
  s.model = model::preset("tiny");
  s.batch_size = 8;
  s.seq_len = 128;
  return s;
}

TEST(MemoryEstimate, PartsFollowTheOptions) {
  const TrainingShape base = tiny_shape();
  const MemoryEstimate e = estimate_training_memory(base);
  const int64_t params = base.model.parameter_count();
  EXPECT_EQ(e.weights, 4 * params);
  EXPECT_EQ(e.gradients, 4 * params);
  EXPECT_EQ(e.optimizer, 8 * params);
  EXPECT_EQ(e.teacher, 0);
  EXPECT_GE(e.activations, 4LL * 8 * 128 * base.model.vocab_size * 4);  // the head's four B·T·V tensors

  TrainingShape s = base;
  s.dtype = torch::kBFloat16;  // bf16 weights and gradients, fp32 moments and master weights
  EXPECT_EQ(estimate_training_memory(s).weights, 2 * params);
  EXPECT_EQ(estimate_training_memory(s).optimizer, 12 * params);

  s = base;
  s.world_size = 4;
  s.zero_stage = 1;
  EXPECT_EQ(estimate_training_memory(s).optimizer, 2 * params);
  EXPECT_EQ(estimate_training_memory(s).gradients, 4 * params);
  s.zero_stage = 3;
  EXPECT_EQ(estimate_training_memory(s).gradients, params);
  EXPECT_EQ(estimate_training_memory(s).weights, params);

  s = base;
  s.model.n_layer = 24;
  const int64_t kept = estimate_training_memory(s).activations;
  s.activation_checkpointing = true;
  EXPECT_LT(estimate_training_memory(s).activations, kept);

  s = base;
  s.teacher = base.model;
  s.quantization_aware = true;
  s.pruning_masks = true;
  const MemoryEstimate all = estimate_training_memory(s);
  EXPECT_EQ(all.teacher, 4 * params);
  EXPECT_GT(all.masks, 0);
  EXPECT_GT(all.weights, e.weights);        // the fake-quantized copies
  EXPECT_GT(all.activations, e.activations);
  EXPECT_EQ(all.total(), all.weights + all.gradients + all.optimizer + all.teacher + all.masks + all.activations);
  EXPECT_NE(all.table().find("total"), std::string::npos);
}

TEST(MemoryEstimate, ARunBeyondThisMachinesMemoryIsRefusedWithTheFigures) {
  try {
    check_fits_in_memory(int64_t{1} << 52, torch::kCPU, "run.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.json: the run needs about 4194304.00 GiB"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_fits_in_memory(1 << 20, torch::kCPU, "run.json"));
}

// Runs `cook ARGS...` with its output in `output`; returns the peak resident set in bytes.
int64_t peak_rss_of_cook(const std::vector<std::string>& args, const std::string& output) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = std::freopen(output.c_str(), "w", stdout);
    if (out == nullptr || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(127);
    std::vector<char*> argv;
    const std::string cli = test::cook_cli();
    argv.push_back(const_cast<char*>(cli.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) return -1;
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text.str();
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

double estimated_total_bytes(const std::string& dry_run_output) {
  std::ifstream in(dry_run_output);
  std::stringstream text;
  text << in.rdbuf();
  std::smatch m;
  const std::string s = text.str();
  if (!std::regex_search(s, m, std::regex(R"(total\s+([0-9.]+) (MiB|GiB))"))) return -1;
  return std::stod(m[1].str()) * (m[2].str() == "GiB" ? 1024.0 * 1024 * 1024 : 1024.0 * 1024);
}

class MemoryEstimateAgainstARun : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-memory-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const auto r = test::prepare_sotu_corpus(dir_, (dir_ / "tokens").string(), 400);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
};

TEST_P(MemoryEstimateAgainstARun, IsWithinFifteenPercentOfTheMeasuredPeak) {
  const std::string preset = GetParam();
  const std::vector<std::string> args = {"train", "--model", preset, "--data", (dir_ / "tokens").string(), "--steps",
                                         "2", "--batch-size", "8", "--seq-len", "128", "--eval-batches", "1",
                                         "--no-progress"};
  std::vector<std::string> dry = args;
  dry.push_back("--dry-run");
  const std::string dry_out = (dir_ / (preset + "-dry.txt")).string();
  const int64_t baseline = peak_rss_of_cook(dry, dry_out);
  const int64_t peak = peak_rss_of_cook(args, (dir_ / (preset + "-run.txt")).string());
  const double estimate = estimated_total_bytes(dry_out);
  ASSERT_GT(estimate, 0) << "no total in the dry run's output";
  const double measured = static_cast<double>(peak - baseline);
  std::printf("%s: estimate %.1f MiB, measured %.1f MiB above the dry run's %.1f MiB\n", preset.c_str(),
              estimate / 1048576, measured / 1048576, baseline / 1048576.0);
  EXPECT_NEAR(estimate, measured, 0.15 * measured);
}

INSTANTIATE_TEST_SUITE_P(Presets, MemoryEstimateAgainstARun, ::testing::Values("tiny", "small"));

}  // namespace
}  // namespace cook::train

// No lost work, no surprise (docs/reliability.md): what a careless or hostile user does to `cook`
// ends in a clear error naming the file or option, never in lost checkpoints, a replaced device
// node, a hang or a raw backtrace. Crashes are simulated with COOK_FAULT_POINT (core/fault_point.h),
// which SIGKILLs the process at a named point of a checkpoint write.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "../common/cli_corpus.h"
#include "cook/model/config.h"
#include "cook/weights/checkpoint.h"

namespace fs = std::filesystem;
using namespace cook;

extern char** environ;

namespace {

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

std::string tiny_args() { return " --model tiny --batch-size 2 --seq-len 32 --no-progress --start-lr 1e-3 --warmup 2 "; }

bool killed(const test::CommandResult& r) { return r.status == -1 || r.status == 128 + SIGKILL; }

// Folders under <save>/checkpoints whose names start with '.' (temporaries, deletions).
std::vector<std::string> hidden_entries(const std::string& save) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(save + "/checkpoints", ec))
    if (e.path().filename().string()[0] == '.') out.push_back(e.path().filename().string());
  return out;
}

bool complete_checkpoint(const std::string& folder) {
  return fs::exists(folder + "/trainer.json") && fs::exists(folder + "/model.safetensors") &&
         fs::exists(folder + "/optimizer.safetensors");
}

// `cook ARGS` started in the background with its output in `log`; waited for with finish().
class Background {
 public:
  Background(const std::string& args, const std::string& log) {
    std::vector<std::string> words = {test::cook_cli()};
    std::string word;
    for (char c : args + " ") {
      if (c == ' ') {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      finish();
    }
  }
  pid_t pid() const { return pid_; }
  // The exit code, or 128 + the signal that ended it.
  int finish() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

// Waits up to a minute for `path` to exist and hold at least `lines` lines.
bool wait_for_lines(const std::string& path, int lines) {
  for (int i = 0; i < 600; ++i) {
    std::ifstream in(path);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    if (n >= lines) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class CliReliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-cli-reliability-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    test::CommandResult prep = test::prepare_sotu_corpus(dir_, data(), 300);
    ASSERT_EQ(prep.status, 0) << prep.output;
    test::CommandResult trained = run("train" + tiny_args() + "--data " + data() + " --save-dir " + (dir_ / "base").string() +
                                      " --steps 2");
    ASSERT_EQ(trained.status, 0) << trained.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string data() { return (dir_ / "tokens").string(); }
  static std::string checkpoint() { return (dir_ / "base/checkpoints/step-00000002/model.safetensors").string(); }
  static inline fs::path dir_;
};

}  // namespace

// Saving a step that already exists (a finished run resumed with the same --steps) swaps the new
// checkpoint in atomically: killed at any point of it, the step's checkpoint is still complete,
// and the next successful save removes what the kill left behind.
TEST_F(CliReliability, ResavingAStepKilledAtEachPointKeepsACheckpoint) {
  const std::string save = (dir_ / "resave").string();
  const std::string train = "train" + tiny_args() + "--data " + data() + " --save-dir " + save + " --steps 2";
  ASSERT_EQ(run(train).status, 0);
  const std::string step2 = save + "/checkpoints/step-00000002";
  for (const char* point : {"checkpoint.before-rename", "checkpoint.after-exchange", "checkpoint.after-rename"}) {
    SCOPED_TRACE(point);
    test::CommandResult r = test::run_command(std::string("COOK_FAULT_POINT=") + point + " " + test::cook_cli() + " " +
                                              train + " --resume latest");
    EXPECT_TRUE(killed(r)) << "status " << r.status << ": " << r.output;
    EXPECT_TRUE(complete_checkpoint(step2));
  }
  EXPECT_FALSE(hidden_entries(save).empty()) << "the kills should have left temporary folders to clean";
  test::CommandResult next = run(train.substr(0, train.size() - 1) + "3 --resume latest");
  ASSERT_EQ(next.status, 0) << next.output;
  EXPECT_TRUE(complete_checkpoint(save + "/checkpoints/step-00000003"));
  EXPECT_TRUE(hidden_entries(save).empty()) << hidden_entries(save).front();
}

// What a crash mid-deletion or mid-write leaves (".del-" and ".tmp-" folders, a step folder that
// lost some files) is removed by the next successful save, and never taken for a checkpoint.
TEST_F(CliReliability, LeftoversOfInterruptedSavesAreRemoved) {
  const std::string save = (dir_ / "leftovers").string();
  const std::string train = "train" + tiny_args() + "--data " + data() + " --save-dir " + save;
  ASSERT_EQ(run(train + " --steps 2").status, 0);
  const std::string checkpoints = save + "/checkpoints";
  fs::create_directories(checkpoints + "/.tmp-step-00000009-12345");
  fs::create_directories(checkpoints + "/.del-step-00000001");
  fs::create_directories(checkpoints + "/step-00000007");  // half deleted: no trainer.json
  std::ofstream(checkpoints + "/step-00000007/model.safetensors") << "partial";
  test::CommandResult resumed = run(train + " --steps 3 --resume latest");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("trained to step 3"), std::string::npos) << resumed.output;
  EXPECT_TRUE(hidden_entries(save).empty());
  EXPECT_FALSE(fs::exists(checkpoints + "/step-00000007"));
}

TEST_F(CliReliability, ASecondRunIntoTheSameFolderIsRefused) {
  const std::string save = (dir_ / "locked").string();
  const std::string args = "train" + tiny_args() + "--data " + data() + " --save-dir " + save +
                           " --steps 100000 --log-interval 1 --eval-batches 1";
  Background first(args, (dir_ / "locked.log").string());
  ASSERT_GT(first.pid(), 0);
  ASSERT_TRUE(wait_for_lines(save + "/metrics.jsonl", 1));
  test::CommandResult second = run(args);
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find(save + ": is in use by another run (pid " + std::to_string(first.pid())),
            std::string::npos)
      << second.output;
  kill(first.pid(), SIGTERM);
  first.finish();
}

// SIGTERM and SIGINT save a checkpoint and stop, and the exit code says so (128 + the signal):
// a stopped run must not look finished to a script.
TEST_F(CliReliability, ASignalSavesAndExitsWithItsCode) {
  for (int signal_number : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(signal_number);
    const std::string save = (dir_ / ("signal-" + std::to_string(signal_number))).string();
    const std::string log = save + ".log";
    Background run_in_background("train" + tiny_args() + "--data " + data() + " --save-dir " + save +
                                     " --steps 100000 --log-interval 1 --eval-batches 1",
                                 log);
    ASSERT_TRUE(wait_for_lines(save + "/metrics.jsonl", 1));
    kill(run_in_background.pid(), signal_number);
    EXPECT_EQ(run_in_background.finish(), 128 + signal_number);
    std::ifstream in(log);
    const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(output.find("cook: stopped: "), std::string::npos) << output;
    EXPECT_TRUE(hidden_entries(save).empty());
    bool saved = false;
    for (const auto& e : fs::directory_iterator(save + "/checkpoints")) saved = saved || complete_checkpoint(e.path());
    EXPECT_TRUE(saved) << "no complete checkpoint in " << save;
  }
}

TEST_F(CliReliability, AFifoGivenAsAnInputIsRefusedAtOnce) {
  const std::string fifo = (dir_ / "input.fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // `timeout` turns a hang into exit code 124.
  const std::string timeout = "timeout 60 " + test::cook_cli() + " ";
  test::CommandResult load = test::run_command(timeout + "eval --load " + fifo + " --data " + data());
  EXPECT_EQ(load.status, 1) << load.output;
  EXPECT_NE(load.output.find(fifo + ": is a FIFO (named pipe), not a regular file"), std::string::npos) << load.output;
  test::CommandResult input = test::run_command(timeout + "forward --load " + checkpoint() + " --input " + fifo +
                                                " --output " + (dir_ / "out.safetensors").string());
  EXPECT_EQ(input.status, 1) << input.output;
  EXPECT_NE(input.output.find("FIFO"), std::string::npos) << input.output;
  test::CommandResult folder = run("tokenize " + dir_.string());
  EXPECT_EQ(folder.status, 1) << folder.output;
  EXPECT_NE(folder.output.find(dir_.string() + ": is a folder, not a regular file"), std::string::npos) << folder.output;
  fs::remove(fifo);
}

TEST_F(CliReliability, AnOutputThatIsNotARegularFileIsLeftAlone) {
  const std::string fifo = (dir_ / "output.fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  test::CommandResult r = run("convert --load " + checkpoint() + " --to cook --output " + fifo);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(fifo + ": is a FIFO (named pipe); Cook writes regular files only"), std::string::npos) << r.output;
  struct stat st {};
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  fs::remove(fifo);

  const std::string target = (dir_ / "real.safetensors").string(), link = (dir_ / "link.safetensors").string();
  std::ofstream(target) << "old";
  fs::create_symlink(target, link);
  r = run("convert --load " + checkpoint() + " --to cook --output " + link);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_GT(fs::file_size(target), 1000u);
}

// A config that lies about the shape (in a checkpoint's metadata) is refused from the file's
// header, before a model of that shape is allocated, with the file named.
TEST_F(CliReliability, ACheckpointWhoseConfigLiesIsRefusedBeforeAllocating) {
  const weights::Checkpoint real = weights::read_checkpoint(checkpoint());
  model::ModelConfig deep = real.config, wide = real.config;
  deep.n_layer = 100000;
  wide.vocab_size = int64_t{1} << 31;
  for (const auto& [name, config] : {std::pair{"deep", deep}, std::pair{"wide", wide}}) {
    SCOPED_TRACE(name);
    const std::string path = (dir_ / (std::string(name) + ".safetensors")).string();
    weights::save_checkpoint(path, real.tensors, config);
    test::CommandResult r = run("eval --load " + path + " --data " + data() + " --seq-len 32");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find(path + ": its model config"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("the config does not describe these weights"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << r.output;
  }
}

TEST_F(CliReliability, NonFiniteWeightsAreRefusedByName) {
  const weights::Checkpoint real = weights::read_checkpoint(checkpoint());
  weights::TensorMap tensors;
  for (const auto& [name, t] : real.tensors) tensors[name] = t.clone();
  tensors.at("blocks.1.attn.v_proj.weight")[0][3] = std::numeric_limits<float>::quiet_NaN();
  const std::string path = (dir_ / "nan.safetensors").string();
  weights::save_checkpoint(path, tensors, real.config);
  test::CommandResult r = run("eval --load " + path + " --data " + data() + " --seq-len 32");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("tensor 'blocks.1.attn.v_proj.weight': holds 1 non-finite value"), std::string::npos)
      << r.output;
}

// A checkpoint missing a weight is the input's fault, and the error says so (not the output's).
TEST_F(CliReliability, ConvertNamesTheBrokenInput) {
  const weights::Checkpoint real = weights::read_checkpoint(checkpoint());
  weights::TensorMap tensors = real.tensors;
  tensors.erase("ln_f.weight");
  const std::string path = (dir_ / "missing.safetensors").string(), out = (dir_ / "missing-hf").string();
  weights::save_checkpoint(path, tensors, real.config);
  test::CommandResult r = run("convert --load " + path + " --to hf --output " + out);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(path + ": tensor 'ln_f.weight' is missing"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(out), std::string::npos) << r.output;
}

TEST_F(CliReliability, ImpossibleTrainingNumbersAreRefusedByName) {
  const std::string base = "train" + tiny_args() + "--data " + data() + " --steps 1 ";
  const std::pair<const char*, const char*> cases[] = {
      {"--start-lr -1", "start_lr: must be positive"},      {"--warmup -5", "warmup: must not be negative"},
      {"--clip-grad nan", "clip_grad: must be a finite"},   {"--eval-batches -1", "eval_batches: must not be negative"},
      {"--init-std nan", "init_std: must be a positive finite"}, {"--weight-decay inf", "weight_decay: must be a finite"},
  };
  for (const auto& [flags, message] : cases) {
    SCOPED_TRACE(flags);
    test::CommandResult r = run(base + flags);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  }
}

// Flipped bytes in a token shard are found before the first step (every byte is checked against
// the manifest's SHA-256), with the shard named.
TEST_F(CliReliability, AFlippedByteInAShardStopsTrainingBeforeItStarts) {
  const fs::path copy = dir_ / "flipped-tokens";
  fs::copy(data(), copy, fs::copy_options::recursive);
  fs::path shard;
  for (const auto& e : fs::directory_iterator(copy))
    if (e.path().filename().string().rfind("train-", 0) == 0) shard = e.path();
  ASSERT_FALSE(shard.empty());
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(10);
    const char c = static_cast<char>(f.get());
    f.seekp(10);
    f.put(static_cast<char>(c ^ 0x40));
  }
  test::CommandResult r = run("train" + tiny_args() + "--data " + copy.string() + " --steps 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(shard.string() + ": SHA-256"), std::string::npos) << r.output;
}

// An option that depends on the model's shape is checked before the dense phase, not after
// training and export.
TEST_F(CliReliability, ExpertsThatDoNotDivideTheFfnFailBeforeTraining) {
  const std::string config = (dir_ / "moe-7.json").string();
  std::ofstream(config) << R"({"model": {"preset": "tiny", "dense_steps": 2, "relu": true},
    "data": {"tokens": ")" << data() << R"("},
    "training": {"steps": 2, "batch_size": 2, "seq_len": 32},
    "MoEfication": {"is_moefy": true, "num_expert": 7, "topk": 2}})";
  const std::string save = (dir_ / "moe-7").string();
  test::CommandResult r = run("compress --config " + config + " --save-dir " + save + " --no-progress");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("MoEfication.num_expert: 7 experts do not divide d_ff"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(save + "/dense/checkpoints"));
}

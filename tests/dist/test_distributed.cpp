// Distributed training end to end through the built `cook` binary on CPU with Gloo: two ranks with
// per-rank batch b train exactly like one process with batch 2b (losses per step and final
// weights, within float tolerance) for data parallel and each ZeRO stage; a 2-rank checkpoint
// resumes on 1 rank (stage 3, whose checkpoint gathers blocks from their owners); compression
// (2:4 masks, distillation from a teacher, int8 QAT, all at once, and a gradual magnitude ramp)
// and MoEfied FFNs (top-k experts, with the FFN-input dump after training) train alike under
// every stage; a rank that dies makes the other stop with an error naming it,
// and the last checkpoint stays intact.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/cli_corpus.h"
#include <torch/cuda.h>

#include "cook/compress/moe/hidden_dump.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/weights/tensor_io.h"

namespace fs = std::filesystem;
using namespace cook;

namespace {

std::string cli() { return test::cook_cli(); }

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<double> losses(const std::string& save_dir) {
  std::vector<double> out;
  std::ifstream in(save_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss") && !j.contains("skipped")) out.push_back(j.at("loss").get<double>());
  }
  return out;
}

struct WeightDifference {
  double max = 0;   // largest |a - b| over every model tensor
  double mean = 0;  // mean |a - b| over every element
};

WeightDifference weight_difference(const std::string& a, const std::string& b) {
  auto ca = train::read_checkpoint_dir(a), cb = train::read_checkpoint_dir(b);
  EXPECT_EQ(ca.model.size(), cb.model.size());
  WeightDifference d;
  double total = 0, count = 0;
  for (const auto& [name, t] : ca.model) {
    auto it = cb.model.find(name);
    if (it == cb.model.end()) {
      ADD_FAILURE() << name << " missing in " << b;
      return {1e9, 1e9};
    }
    const auto diff = (t - it->second).abs().to(torch::kFloat64);
    d.max = std::max(d.max, diff.max().item<double>());
    total += diff.sum().item<double>();
    count += static_cast<double>(diff.numel());
  }
  d.mean = count > 0 ? total / count : 0;
  return d;
}

double max_weight_difference(const std::string& a, const std::string& b) { return weight_difference(a, b).max; }

class Distributed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-dist-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "text");
    std::string body;
    for (int i = 0; i < 120; ++i)
      body += "Sentence " + std::to_string(i * 7919 % 1000) + " of the union: the people are " +
              (i % 3 ? "free" : "strong") + ", and the year is " + std::to_string(1900 + i) + ". ";
    for (const char* name : {"1900_a_x.txt", "1950_b_y.txt", "1995_c_z.txt"}) std::ofstream(dir_ / "text" / name) << body;
    auto prep = run("data prepare --input " + (dir_ / "text").string() + " --output " + data() + " --split-rule sotu --quiet");
    ASSERT_EQ(prep.status, 0) << prep.output;
    // The reference: one process, batch 4.
    auto single = run("train" + common() + "--batch-size 4 --save-dir " + (dir_ / "single").string());
    ASSERT_EQ(single.status, 0) << single.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string data() { return (dir_ / "tokens").string(); }
  static std::string common() {
    return " --model tiny --seq-len 16 --steps 4 --save-interval 2 --log-interval 1 --no-progress --start-lr 3e-3"
           " --warmup 2 --schedule cosine --eval-batches 2 --dist-timeout 60 --data " + data() + " ";
  }
  static std::string final_checkpoint(const std::string& run) { return (dir_ / run / "checkpoints/step-00000004").string(); }

  // Two ranks with batch 2 must match one process with batch 4 (`reference`, trained with the
  // same `flags`).
  static void expect_matches_single(int stage, const std::string& flags = "", const std::string& reference = "single",
                                    const std::string& name_prefix = "zero") {
    const std::string name = name_prefix + std::to_string(stage);
    auto r = run("launch --nproc 2 -- cook train" + common() + flags + " --batch-size 2 --zero " + std::to_string(stage) +
                 " --save-dir " + (dir_ / name).string());
    ASSERT_EQ(r.status, 0) << r.output;
    auto one = losses((dir_ / reference).string()), two = losses((dir_ / name).string());
    ASSERT_EQ(one.size(), 4u);
    ASSERT_EQ(two.size(), 4u) << "rank 0 alone writes one metrics line per step";
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-4 * std::abs(one[i])) << "step " << i + 1;
    // The losses must change as the model learns, or the comparison would prove little.
    EXPECT_GT(std::abs(one.front() - one.back()), 1e-3);
    EXPECT_LT(max_weight_difference(final_checkpoint(reference), final_checkpoint(name)), 2e-5);
    EXPECT_GT(max_weight_difference(final_checkpoint(reference), (dir_ / reference / "checkpoints/step-00000002").string()), 1e-4);
  }

  // Fixed 2:4 masks and distillation (logits and the last hidden state) from the single run's
  // model, at once. One process with batch 4 trains the reference the first time it is asked for.
  static std::string compression_flags() {
    return " --model tiny --use-pruning --pruning-method m4n2_1d --use-kd --kd-ce-logits --kd-mse-last-hidden"
           " --load-teacher " + final_checkpoint("single") + "/model.safetensors ";
  }
  static void train_compressed_reference() {
    if (fs::exists(dir_ / "compressed-single" / "checkpoints/step-00000004")) return;
    auto single = run("train" + common() + compression_flags() + "--batch-size 4 --save-dir " + (dir_ / "compressed-single").string());
    ASSERT_EQ(single.status, 0) << single.output;
  }
  // Every pruned linear's weight in a checkpoint holds at most 2 non-zeros in each group of 4.
  static void expect_two_of_four(const std::string& checkpoint) {
    auto c = train::read_checkpoint_dir(checkpoint);
    int pruned = 0;
    for (const auto& [name, t] : c.model) {
      if (name.rfind("blocks.", 0) != 0 || name.find("weight") == std::string::npos || t.dim() != 2) continue;
      if (name.find("proj") == std::string::npos && name.find("fc_") == std::string::npos) continue;
      ++pruned;
      auto kept = t.ne(0).reshape({t.size(0), -1, 4}).sum(-1);
      EXPECT_LE(kept.max().item<int64_t>(), 2) << name;
    }
    EXPECT_GT(pruned, 0);
  }


  static inline fs::path dir_;
};

TEST_F(Distributed, DataParallelMatchesOneProcessWithTheWholeBatch) { expect_matches_single(0); }
TEST_F(Distributed, Zero1MatchesOneProcessWithTheWholeBatch) { expect_matches_single(1); }
TEST_F(Distributed, Zero2MatchesOneProcessWithTheWholeBatch) { expect_matches_single(2); }
TEST_F(Distributed, Zero3MatchesOneProcessWithTheWholeBatch) { expect_matches_single(3); }

// The 2:4 masks follow the shards (stage 3: each rank masks only the blocks it owns and the masks
// travel with their block) and the teacher is sharded like the student: two ranks still match one
// process.
class DistributedCompression : public Distributed, public ::testing::WithParamInterface<int> {};

TEST_P(DistributedCompression, PruningAndDistillationMatchOneProcess) {
  train_compressed_reference();
  if (HasFatalFailure()) return;
  const int stage = GetParam();
  expect_matches_single(stage, compression_flags(), "compressed-single", "compressed-zero");
  expect_two_of_four(final_checkpoint("compressed-zero" + std::to_string(stage)));
}

INSTANTIATE_TEST_SUITE_P(EveryStage, DistributedCompression, ::testing::Values(0, 1, 2, 3),
                         [](const auto& info) { return "Zero" + std::to_string(info.param); });

// int8 QAT with pruning and distillation. Activations are rounded to int8 per token, so the
// last-bit differences between a batch of 4 and two of 2 (another summation order) flip a few
// roundings; AdamW then moves the weights whose gradients are that noise by up to the learning
// rate. So the losses must agree closely and the weights on average, not each one to 2e-5.
TEST_P(DistributedCompression, QatMatchesOneProcessUpToRoundingFlips) {
  const int stage = GetParam();
  const std::string flags = compression_flags() + " --model tiny-int8 ";
  const std::string single = (dir_ / "qat-single").string(), name = "qat-zero" + std::to_string(stage);
  if (!fs::exists(single + "/checkpoints/step-00000004")) {  // one reference for every stage
    auto r1 = run("train" + common() + flags + "--batch-size 4 --save-dir " + single);
    ASSERT_EQ(r1.status, 0) << r1.output;
  }
  auto r2 = run("launch --nproc 2 -- cook train" + common() + flags + " --batch-size 2 --zero " + std::to_string(stage) +
                " --save-dir " + (dir_ / name).string());
  ASSERT_EQ(r2.status, 0) << r2.output;
  auto one = losses(single), two = losses((dir_ / name).string());
  ASSERT_EQ(one.size(), 4u);
  ASSERT_EQ(two.size(), 4u);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-3 * std::abs(one[i])) << "step " << i + 1;
  const auto apart = weight_difference(final_checkpoint("qat-single"), final_checkpoint(name));
  const auto learned = weight_difference(final_checkpoint("qat-single"), single + "/checkpoints/step-00000002");
  EXPECT_LT(apart.mean, 0.02 * learned.mean) << "max " << apart.max;
  expect_two_of_four(final_checkpoint(name));
}

// A gradual magnitude ramp recomputes the masks during training; under stage 3 the rank that holds
// each weight computes its mask and shares it.
TEST_F(Distributed, Zero3MagnitudeRampMatchesOneProcess) {
  const std::string config = (dir_ / "ramp.json").string();
  std::ofstream(config) << R"({"pruning": {"is_pruning": true, "mask_method": "magnitude", "sparsity": 0.6,)"
                           R"( "pruned_module": ["proj", "fc_"], "ramp": {"initial_sparsity": 0.2, "end_step": 3}}})";
  const std::string flags = " --use-pruning --pruning-config " + config + " ";
  auto single = run("train" + common() + flags + "--batch-size 4 --save-dir " + (dir_ / "ramp-single").string());
  ASSERT_EQ(single.status, 0) << single.output;
  expect_matches_single(3, flags, "ramp-single", "ramp-zero");
  // The ramp reached its final sparsity on every pruned weight, whichever rank held it.
  auto c = train::read_checkpoint_dir(final_checkpoint("ramp-zero3"));
  const auto& w = c.model.at("blocks.1.ffn.fc_in.weight");
  EXPECT_NEAR(w.eq(0).to(torch::kFloat64).mean().item<double>(), 0.6, 0.01);
}

// MoEfied FFNs (experts from `cook moe split` of the single run's model, top 2 of 4, centroid
// router) train alike under every stage, and `--save-hidden` after training records the same FFN
// inputs: under stage 3 every rank runs the dump's forward passes, which gather each block from
// its owner, and rank 0 alone writes.
class DistributedMoe : public Distributed, public ::testing::WithParamInterface<int> {
 protected:
  static std::string moe_flags() {
    const fs::path file = dir_ / "moe.safetensors";
    if (!fs::exists(file)) {
      auto split = run("moe split --load " + final_checkpoint("single") + "/model.safetensors --num-expert 4 --no-progress --output " +
                       file.string());
      EXPECT_EQ(split.status, 0) << split.output;
    }
    return " --moe --moe-ckpt " + file.string() + " --topk 2 --save-hidden --hidden-tokens 40 ";
  }
  static void train_moe_reference() {
    if (fs::exists(dir_ / "moe-single" / "checkpoints/step-00000004")) return;
    auto single = run("train" + common() + moe_flags() + "--batch-size 4 --save-dir " + (dir_ / "moe-single").string());
    ASSERT_EQ(single.status, 0) << single.output;
    ASSERT_NE(single.output.find("saved the FFN inputs of 40 tokens"), std::string::npos) << single.output;
  }
};

TEST_P(DistributedMoe, MoefiedTrainingAndHiddenDumpMatchOneProcess) {
  train_moe_reference();
  if (HasFatalFailure()) return;
  const int stage = GetParam();
  expect_matches_single(stage, moe_flags(), "moe-single", "moe-zero");
  // Top 2 of 4 experts is not the dense FFN: the first losses differ from the dense run's.
  EXPECT_GT(std::abs(losses((dir_ / "moe-single").string()).front() - losses((dir_ / "single").string()).front()), 1e-4);
  const auto one = compress::moe::open_hidden_dump((dir_ / "moe-single/hidden").string());
  const auto two = compress::moe::open_hidden_dump((dir_ / ("moe-zero" + std::to_string(stage)) / "hidden").string());
  ASSERT_EQ(two.tokens, 40);
  ASSERT_EQ(two.n_layer, one.n_layer);
  for (int64_t i = 0; i < one.n_layer; ++i) {
    const auto a = one.layer(i), b = two.layer(i);
    EXPECT_GT(a.abs().max().item<double>(), 0.0) << "layer " << i;
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-4 * (1.0 + a.abs().max().item<double>())) << "layer " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryStage, DistributedMoe, ::testing::Values(0, 1, 2, 3),
                         [](const auto& info) { return "Zero" + std::to_string(info.param); });

// torchrun itself (Debian's, PyTorch 1.13) starts the workers: its agent serves the store and
// says so (TORCHELASTIC_USE_AGENT_STORE), so every rank joins it as a client. 1.13 spells its
// options with underscores and, on Python 3.11, needs --redirects/--tee other than 0 (its
// launcher reads "0" as None and crashes).
TEST_F(Distributed, TorchrunStartsTheSameTraining) {
  const char* python = "/usr/bin/python3";
  if (test::run_command(std::string(python) + " -c 'import torch.distributed.run'").status != 0)
    GTEST_SKIP() << "torchrun is not installed (python3-torch)";
  const std::string name = "torchrun-zero2", save = (dir_ / name).string();
  auto r = test::run_command(std::string(python) + " -m torch.distributed.run --no_python --nproc_per_node 2 --master_port " +
                             std::to_string(free_port()) + " --redirects 2 --tee 2 --log_dir " + (dir_ / "torchrun-logs").string() +
                             " " + cli() + " train" + common() + "--batch-size 2 --zero 2 --save-dir " + save);
  ASSERT_EQ(r.status, 0) << r.output;
  auto one = losses((dir_ / "single").string()), two = losses(save);
  ASSERT_EQ(two.size(), 4u);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-4 * std::abs(one[i])) << "step " << i + 1;
  EXPECT_LT(max_weight_difference(final_checkpoint("single"), final_checkpoint(name)), 2e-5);
}

// NCCL, where a CUDA device is present (the GPU machine runs this through scripts/gpu_check.sh):
// one rank launched with --dist-backend nccl goes through the whole NCCL path (store, process
// group, bucketed all-reduce and, at stage 3, the block broadcasts) and trains like one plain
// process on the same GPU.
TEST_F(Distributed, NcclOneRankTrainsLikeOneProcessOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string gpu = " --device cuda --batch-size 4 ";
  auto plain = run("train" + common() + gpu + "--save-dir " + (dir_ / "gpu-plain").string());
  ASSERT_EQ(plain.status, 0) << plain.output;
  for (int stage : {0, 3}) {
    const std::string name = "nccl-zero" + std::to_string(stage);
    auto r = run("launch --nproc 1 -- cook train" + common() + gpu + "--dist-backend nccl --zero " + std::to_string(stage) +
                 " --save-dir " + (dir_ / name).string());
    ASSERT_EQ(r.status, 0) << r.output;
    auto one = losses((dir_ / "gpu-plain").string()), two = losses((dir_ / name).string());
    ASSERT_EQ(two.size(), 4u);
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-4 * std::abs(one[i])) << "stage " << stage << ", step " << i + 1;
    EXPECT_LT(max_weight_difference(final_checkpoint("gpu-plain"), final_checkpoint(name)), 2e-5) << "stage " << stage;
  }
}

TEST_F(Distributed, Zero3CheckpointFromTwoRanksResumesOnOne) {
  const std::string two = (dir_ / "resume-two").string(), one = (dir_ / "resume-one").string();
  auto r = run("launch --nproc 2 -- cook train" + common() + "--batch-size 2 --zero 3 --save-dir " + two);
  ASSERT_EQ(r.status, 0) << r.output;
  // The consolidated checkpoint holds the whole model and optimizer state, though each rank kept
  // only its share.
  auto ckpt = train::read_checkpoint_dir(two + "/checkpoints/step-00000002");
  EXPECT_EQ(ckpt.optimizer.count("optimizer.embed.weight.exp_avg"), 1u);
  EXPECT_EQ(ckpt.optimizer.count("optimizer.lm_head.weight.exp_avg_sq"), 1u);
  EXPECT_EQ(ckpt.optimizer.count("optimizer.blocks.0.ffn.fc_in.weight.exp_avg"), 1u);
  EXPECT_EQ(ckpt.optimizer.count("optimizer.blocks.1.ffn.fc_in.weight.exp_avg"), 1u);
  ASSERT_EQ(ckpt.model.count("blocks.1.attn.q_proj.weight"), 1u);
  EXPECT_EQ(ckpt.model.at("blocks.1.attn.q_proj.weight").numel(), 64 * 64);
  auto resumed = run("train" + common() + "--batch-size 4 --save-dir " + one + " --resume " + two +
                     "/checkpoints/step-00000002");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("trained to step 4"), std::string::npos) << resumed.output;
  EXPECT_LT(max_weight_difference(two + "/checkpoints/step-00000004", one + "/checkpoints/step-00000004"), 2e-5);
  // Three ranks cannot continue from 2 × 4 windows taken (8 is not a multiple of 3): an error.
  auto three = run("launch --nproc 3 -- cook train" + common() + "--batch-size 2 --save-dir " + (dir_ / "resume-three").string() +
                   " --resume " + two + "/checkpoints/step-00000002");
  EXPECT_NE(three.status, 0);
  EXPECT_NE(three.output.find("cannot split evenly"), std::string::npos) << three.output;
  auto l2 = losses(two), l1 = losses(one);
  ASSERT_EQ(l1.size(), 2u);  // steps 3 and 4
  EXPECT_NEAR(l1[0], l2[2], 1e-4 * std::abs(l2[2]));
  EXPECT_NEAR(l1[1], l2[3], 1e-4 * std::abs(l2[3]));
}

// --checkpoint-shards: each rank writes the part it owns (under stage 1 the optimizer state it
// keeps, under stage 3 also its blocks), the parts together are exactly the consolidated
// checkpoint of the same run, and they resume on one process and on two ranks of stage 2.
TEST_F(Distributed, ShardedCheckpointsHoldTheConsolidatedOneAndResumeOnAnyWorldSize) {
  for (int stage : {1, 3}) {
    SCOPED_TRACE("stage " + std::to_string(stage));
    const std::string name = "shards-zero" + std::to_string(stage), save = (dir_ / name).string();
    auto r = run("launch --nproc 2 -- cook train" + common() + "--batch-size 2 --checkpoint-shards --zero " +
                 std::to_string(stage) + " --save-dir " + save);
    ASSERT_EQ(r.status, 0) << r.output;
    const fs::path step2 = fs::path(save) / "checkpoints/step-00000002";
    for (const char* file : {"model.rank-0-of-2.safetensors", "model.rank-1-of-2.safetensors",
                             "optimizer.rank-0-of-2.safetensors", "optimizer.rank-1-of-2.safetensors", "trainer.json"})
      EXPECT_TRUE(fs::exists(step2 / file)) << file;
    EXPECT_FALSE(fs::exists(step2 / "model.safetensors"));
    // The same run with one consolidated file: the same tensors, bit for bit.
    const std::string consolidated = stage == 3 ? "zero3" : "zero1";
    if (!fs::exists(dir_ / consolidated / "checkpoints/step-00000002")) expect_matches_single(stage);
    const auto parts = train::read_checkpoint_dir(step2.string());
    const auto whole = train::read_checkpoint_dir((dir_ / consolidated / "checkpoints/step-00000002").string());
    ASSERT_EQ(parts.model.size(), whole.model.size());
    for (const auto& [key, t] : whole.model) EXPECT_TRUE(torch::equal(parts.model.at(key), t)) << key;
    size_t optimizer_tensors = 0;
    for (const auto& [key, t] : whole.optimizer) {
      if (key.rfind("optimizer.", 0) != 0) continue;
      ++optimizer_tensors;
      EXPECT_TRUE(torch::equal(parts.optimizer.at(key), t)) << key;
    }
    EXPECT_GT(optimizer_tensors, 0u);
    // Each rank wrote a share, not the whole.
    const auto rank1 = weights::load_safetensors((step2 / "optimizer.rank-1-of-2.safetensors").string()).tensors;
    EXPECT_GT(rank1.size(), 0u);
    EXPECT_LT(rank1.size(), optimizer_tensors);
    // `--load` takes the folder: the model is the union of the parts.
    auto eval = run("eval --load " + step2.string() + " --data " + data() + " --seq-len 16 --batch-size 2 --max-batches 1");
    EXPECT_EQ(eval.status, 0) << eval.output;
  }
  // Resumed on one process, the stage-3 parts continue as the two ranks did.
  const std::string two = (dir_ / "shards-zero3").string(), one = (dir_ / "shards-resume-one").string();
  auto resumed = run("train" + common() + "--batch-size 4 --save-dir " + one + " --resume " + two + "/checkpoints/step-00000002");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_LT(max_weight_difference(two + "/checkpoints/step-00000004", one + "/checkpoints/step-00000004"), 2e-5);
  // And on two ranks of stage 2, from the stage-1 parts.
  const std::string other = (dir_ / "shards-resume-zero2").string();
  auto again = run("launch --nproc 2 -- cook train" + common() + "--batch-size 2 --zero 2 --save-dir " + other + " --resume " +
                   (dir_ / "shards-zero1").string() + "/checkpoints/step-00000002");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_LT(max_weight_difference((dir_ / "shards-zero1").string() + "/checkpoints/step-00000004", other + "/checkpoints/step-00000004"),
            2e-5);
  // A missing part is an error naming it.
  fs::remove(fs::path(two) / "checkpoints/step-00000004/model.rank-1-of-2.safetensors");
  auto broken = run("train" + common() + "--batch-size 4 --steps 6 --save-dir " + (dir_ / "shards-broken").string() +
                    " --resume " + two + "/checkpoints/step-00000004");
  EXPECT_NE(broken.status, 0);
  EXPECT_NE(broken.output.find("model.rank-1-of-2.safetensors: missing"), std::string::npos) << broken.output;
}

TEST_F(Distributed, ADeadRankStopsTheOthersWithAnErrorNamingIt) {
  const std::string save = (dir_ / "dead").string();
  // Rank 1 is killed once the step-2 checkpoint exists; rank 0 must stop within the timeout.
  const std::string script =
      "cd " + dir_.string() + " && export WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + "; " +
      "args='train" + common() + "--steps 1000 --batch-size 2 --zero 1 --dist-timeout 10 --save-dir " + save + "'; " +
      "RANK=0 " + cli() + " $args > rank0.log 2>&1 & p0=$!; RANK=1 " + cli() + " $args > rank1.log 2>&1 & p1=$!; " +
      "for i in $(seq 600); do [ -f " + save + "/checkpoints/step-00000002/trainer.json ] && break; sleep 0.05; done; " +
      "kill -9 $p1; start=$(date +%s); wait $p0; rc=$?; echo \"rank0 exit $rc after $(( $(date +%s) - start )) s\"; cat rank0.log";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = test::run_command("bash -c " + test::shell_quote(script));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 40) << r.output;
  EXPECT_EQ(r.output.find("rank0 exit 0 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank0 exit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  // The last checkpoint written before the failure is whole.
  auto checkpoints = train::list_checkpoints(save);
  ASSERT_FALSE(checkpoints.empty());
  auto c = train::read_checkpoint_dir(checkpoints.back());
  EXPECT_GT(c.model.size(), 0u);
}

TEST_F(Distributed, LaunchReportsAFailingRankAndItsStatus) {
  auto r = run("launch --nproc 2 --grace 5 -- sh -c 'exit $((RANK * 3))'");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("rank 1 exited with status 3"), std::string::npos) << r.output;
  auto env = run("launch --nproc 2 -- sh -c 'echo \"r=$RANK w=$WORLD_SIZE l=$LOCAL_RANK a=$MASTER_ADDR p=${MASTER_PORT:+set}\"'");
  ASSERT_EQ(env.status, 0) << env.output;
  EXPECT_NE(env.output.find("r=0 w=2 l=0 a=127.0.0.1 p=set"), std::string::npos) << env.output;
  EXPECT_NE(env.output.find("r=1 w=2 l=1 a=127.0.0.1 p=set"), std::string::npos) << env.output;
}

}  // namespace

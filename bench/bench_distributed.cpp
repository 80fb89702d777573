// Memory and throughput of data parallel training and ZeRO stages 0-3 on CPU with Gloo: for 1, 2
// and 4 local processes, each rank's peak resident memory (VmHWM) after a few AdamW steps of an
// 84 M-parameter GPT-J (336 MB of fp32 weights; 24 blocks of d=512, d_ff=2048, vocabulary 8192,
// so that the blocks hold 90 % of the parameters as in GPT-J 6B), with activation checkpointing
// in every stage (stage 3 needs it), and the time per step. The program launches itself as the workers (torchrun's environment) and
// prints a Markdown table; docs/distributed.md compares it with the memory model.
//   build/bench/bench_distributed [--steps N] [--worlds 1,2,4] [--stages 0,1,2,3] [--keep-heap]
// (Google Benchmark's flags, which scripts/bench.sh passes to every program, are ignored.)
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/core/heap.h"
#include "cook/core/resources.h"
#include "cook/model/gptj.h"
#include "cook/train/distributed/environment.h"
#include "cook/train/distributed/zero.h"
#include "cook/train/trainer.h"

namespace {

using namespace cook;

cook::model::ModelConfig bench_config() {
  cook::model::ModelConfig c;
  c.vocab_size = 8192;  // random tokens: a small vocabulary keeps the blocks ~90 % of the model, as in GPT-J 6B
  c.n_positions = 256;
  c.d_model = 512;
  c.n_layer = 24;
  c.n_head = 8;
  c.rotary_dim = 32;
  c.d_ff = 2048;
  return c;
}

class RandomTokens : public train::BatchSource {
 public:
  RandomTokens(int64_t batch, int64_t seq, int64_t vocab, uint64_t seed) : batch_(batch), seq_(seq), vocab_(vocab) {
    gen_ = at::detail::createCPUGenerator(seed);
  }
  train::Batch next() override {
    torch::Tensor window = torch::randint(0, vocab_, {batch_, seq_ + 1}, gen_, torch::kInt64);
    return {window.narrow(1, 0, seq_).contiguous(), window.narrow(1, 1, seq_).contiguous(), {}};
  }
  nlohmann::json position() const override { return 0; }
  void restore(const nlohmann::json&) override {}

 private:
  int64_t batch_, seq_, vocab_;
  at::Generator gen_;
};

struct Args {
  int steps = 3;
  std::vector<int> worlds{1, 2, 4};
  std::vector<int> stages{0, 1, 2, 3};
  int worker_stage = -1;  // >= 0: this process is a worker
  bool keep_heap = false;  // --keep-heap: cook's allocator setting (freed buffers stay resident)
  std::string out;
};

std::vector<int> int_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::stoi(item));
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (s == "--steps") a.steps = std::stoi(value());
    else if (s == "--worlds") a.worlds = int_list(value());
    else if (s == "--stages") a.stages = int_list(value());
    else if (s == "--worker-stage") a.worker_stage = std::stoi(value());
    else if (s == "--out") a.out = value();
    else if (s == "--keep-heap") a.keep_heap = true;
    else if (s == "-h" || s == "--help") {
      std::cout << "bench_distributed [--steps N] [--worlds 1,2,4] [--stages 0,1,2,3] [--keep-heap]\n"
                   "Launches itself as each number of local ranks for each ZeRO stage, trains an 84 M-parameter\n"
                   "GPT-J on random tokens and prints each configuration's peak RSS per rank and seconds per step.\n"
                   "  --steps N      timed steps after one warm-up step (default 3)\n"
                   "  --worlds L     numbers of processes (default 1,2,4)\n"
                   "  --stages L     ZeRO stages (default 0,1,2,3)\n"
                   "  --keep-heap    cook's allocator setting: freed buffers stay resident\n";
      std::exit(0);
    } else {
      std::cerr << "bench_distributed: unknown option '" << s << "' (see --help)\n";
      std::exit(2);
    }
  }
  return a;
}

// One rank: train `steps` steps after a warm-up step, then append its figures to `out`.
int worker(const Args& a) {
  torch::set_num_threads(1);
  auto env = train::distributed::read_worker_environment();
  if (!env) throw std::runtime_error("worker without WORLD_SIZE");
  train::distributed::CommunicatorOptions comm;
  comm.timeout_s = 600;
  auto communicator = std::make_shared<train::distributed::Communicator>(*env, comm);
  train::distributed::ZeroOptions zo;
  zo.stage = a.worker_stage;
  auto parallel = std::make_shared<train::distributed::ZeroTraining>(communicator, zo);
  const int64_t after_init_base = peak_resident_memory_bytes();
  model::GptJ model(bench_config());
  model->init_weights(0.02, 1);
  model->set_activation_checkpointing(true);
  const int64_t params = model->parameter_count();
  train::TrainerOptions o;
  o.steps = 1;
  o.schedule.kind = train::ScheduleKind::Constant;
  o.schedule.start_lr = 1e-4;
  o.schedule.warmup_steps = 0;
  o.log_interval = 0;
  o.progress = false;
  o.stop_on_signal = false;
  auto data = std::make_shared<RandomTokens>(1, 64, bench_config().vocab_size, 17 + env->rank);
  train::Trainer trainer(model, o, data);
  trainer.set_parallel(parallel);
  trainer.run();  // warm-up step
  trainer.set_target_steps(1 + a.steps);
  const auto t0 = std::chrono::steady_clock::now();
  trainer.run();
  const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / a.steps;
  nlohmann::json line = {{"world", env->world_size},     {"stage", a.worker_stage},
                         {"rank", env->rank},            {"params", params},
                         {"peak_mb", peak_resident_memory_bytes() / 1048576.0},
                         {"base_mb", after_init_base / 1048576.0},
                         {"step_s", step_s}};
  std::ofstream(a.out, std::ios::app) << line.dump() + "\n" << std::flush;
  return 0;
}

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

int driver(const Args& a, const char* self) {
  const std::string out = "/tmp/cook-bench-distributed-" + std::to_string(::getpid()) + ".jsonl";
  std::remove(out.c_str());
  for (int world : a.worlds)
    for (int stage : a.stages) {
      const int port = free_port();
      std::vector<pid_t> pids;
      for (int rank = 0; rank < world; ++rank) {
        pid_t pid = ::fork();
        if (pid == 0) {
          ::setenv("RANK", std::to_string(rank).c_str(), 1);
          ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
          ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
          ::setenv("MASTER_ADDR", "127.0.0.1", 1);
          ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
          const std::string steps = std::to_string(a.steps), st = std::to_string(stage);
          ::execl(self, self, "--worker-stage", st.c_str(), "--steps", steps.c_str(), "--out", out.c_str(),
                  a.keep_heap ? "--keep-heap" : static_cast<char*>(nullptr), static_cast<char*>(nullptr));
          std::_Exit(127);
        }
        pids.push_back(pid);
      }
      for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
          std::fprintf(stderr, "bench_distributed: a worker of world %d, stage %d failed\n", world, stage);
      }
    }
  std::map<std::pair<int, int>, std::vector<nlohmann::json>> rows;
  std::ifstream in(out);
  std::string line;
  int64_t params = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    params = j.at("params").get<int64_t>();
    rows[{j.at("world").get<int>(), j.at("stage").get<int>()}].push_back(j);
  }
  std::remove(out.c_str());
  std::printf("model: %lld parameters (%.0f MB fp32); batch 1 x 64 tokens per rank; %d timed steps; one thread per rank; %s\n\n",
              static_cast<long long>(params), params * 4 / 1048576.0, a.steps,
              a.keep_heap ? "freed buffers kept in the heap (as cook does)" : "glibc's default allocator");
  std::printf("| processes | ZeRO stage | peak RSS per rank, MB (max) | process baseline, MB | s/step |\n|---|---|---|---|---|\n");
  for (const auto& [key, list] : rows) {
    double peak = 0, base = 0, step = 0;
    for (const auto& j : list) {
      peak = std::max(peak, j.at("peak_mb").get<double>());
      base = std::max(base, j.at("base_mb").get<double>());
      step = std::max(step, j.at("step_s").get<double>());
    }
    std::printf("| %d | %d | %.0f | %.0f | %.2f |\n", key.first, key.second, peak, base, step);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  // By default glibc returns large freed buffers to the system, so VmHWM follows the live
  // tensors; `cook` itself keeps them (--keep-heap), which trades resident memory for speed.
  if (a.keep_heap) cook::keep_freed_buffers_in_heap();
  try {
    return a.worker_stage >= 0 ? worker(a) : driver(a, "/proc/self/exe");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_distributed: %s\n", e.what());
    return 1;
  }
}

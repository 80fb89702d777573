// Checkpoint loading: speed, and proof that the weights are never held twice.
//
// Writes a GPT-J-shaped Cook checkpoint of about --size-gb (default 1.5) into --dir (default
// /tmp), frees the model that wrote it, allocates a model of the same shape and loads the file into
// it with read_checkpoint + load_into, from a cold page cache (the file's pages dropped with
// posix_fadvise) and from a warm one. For each run it reports GB/s and the peak resident set
// (VmHWM, reset before the run through /proc/self/clear_refs) next to the file size and the
// model's own size. For comparison, the naive way (read the whole file into a buffer, then copy)
// is measured too: its peak is about twice the weights.
//
//   bench_checkpoint_load [--size-gb 1.5] [--dir /tmp] [--keep]
#include <fcntl.h>
#include <unistd.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <thread>
#include <string>
#include <vector>

#include "cook/io/safetensors.h"
#include "cook/model/config.h"
#include "cook/weights/checkpoint.h"
#include "cook/weights/name_map.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Rss {
  double rss_mb = 0, hwm_mb = 0, anon_mb = 0, file_mb = 0;
};

Rss read_rss() {
  Rss r;
  std::ifstream f("/proc/self/status");
  std::string line;
  auto value = [&](const char* key, double& out) {
    if (line.rfind(key, 0) == 0) out = std::atof(line.c_str() + std::strlen(key)) / 1024.0;
  };
  while (std::getline(f, line)) {
    value("VmRSS:", r.rss_mb);
    value("VmHWM:", r.hwm_mb);
    value("RssAnon:", r.anon_mb);
    value("RssFile:", r.file_mb);
  }
  return r;
}

// Resets VmHWM to the current RSS (Linux ≥ 4.0). Returns false where the kernel refuses.
bool reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

void drop_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

class Holder : public torch::nn::Module {
 public:
  using torch::nn::Module::register_module;
  using torch::nn::Module::register_parameter;
};

// A module holding every weight of `config` under Cook's names (the model's names).
std::shared_ptr<Holder> make_module(const cook::model::ModelConfig& config, bool random) {
  auto root = std::make_shared<Holder>();
  cook::weights::NameMap map(config);
  for (const auto& e : map.entries()) {
    std::shared_ptr<torch::nn::Module> node = root;
    size_t start = 0;
    for (size_t dot = e.cook.find('.'); dot != std::string::npos; dot = e.cook.find('.', start)) {
      std::string part = e.cook.substr(start, dot - start);
      start = dot + 1;
      auto children = node->named_children();
      if (children.contains(part)) {
        node = children[part];
      } else {
        auto child = std::make_shared<Holder>();
        static_cast<Holder&>(*node).register_module(part, child);
        node = child;
      }
    }
    torch::Tensor t = random ? torch::empty(e.shape).uniform_(-0.1, 0.1) : torch::zeros(e.shape);
    static_cast<Holder&>(*node).register_parameter(e.cook.substr(start), t);
  }
  return root;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  double size_gb = 1.5;
  std::string dir = "/tmp";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--size-gb" && i + 1 < argc) {
      size_gb = std::atof(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--keep") {
      keep = true;
    } else if (a.rfind("--benchmark", 0) == 0) {
      // Google Benchmark flags from a bench script: nothing to do with them here.
    } else {
      fprintf(stderr, "usage: %s [--size-gb G] [--dir D] [--keep]\n", argv[0]);
      return 2;
    }
  }
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));

  // GPT-J's shape at d_model 2048 (the embedding and LM head dominate small sizes); the number of
  // blocks is chosen for the size asked.
  cook::model::ModelConfig config;
  config.d_model = 2048;
  config.n_head = 16;
  config.d_ff = 8192;
  config.n_layer = 1;
  const double bytes_per_block = 4.0 * (4.0 * 2048 * 2048 + 2.0 * 2048 * 8192);
  const double fixed = 4.0 * (2.0 * config.vocab_size * 2048);
  config.n_layer = std::max<int64_t>(1, static_cast<int64_t>((size_gb * 1e9 - fixed) / bytes_per_block + 0.5));
  const double model_gb = config.parameter_count() * 4.0 / 1e9;
  const std::string path = dir + "/cook-bench-checkpoint-" + std::to_string(::getpid()) + ".safetensors";

  printf("bench_checkpoint_load: GPT-J shape d_model 2048, d_ff 8192, n_layer %lld, %.3f GB of float32 weights\n",
         static_cast<long long>(config.n_layer), model_gb);
  Rss base = read_rss();
  printf("baseline RSS %.0f MB (LibTorch and the process itself)\n", base.rss_mb);

  // 1. Write it (and free the writer's model).
  double write_s;
  {
    auto source = make_module(config, /*random=*/true);
    auto t0 = Clock::now();
    cook::weights::save_checkpoint(path, *source, config, {{"bench", "checkpoint_load"}});
    write_s = seconds_since(t0);
  }
  std::ifstream sz(path, std::ios::binary | std::ios::ate);
  const double file_gb = static_cast<double>(sz.tellg()) / 1e9;
  printf("wrote %s: %.3f GB in %.2f s (%.2f GB/s, atomic: temp file, fsync, rename)\n", path.c_str(), file_gb, write_s,
         file_gb / write_s);

  // 2. The target model, allocated and touched before loading.
  auto target = make_module(config, /*random=*/false);
  Rss with_model = read_rss();
  printf("RSS with the empty target model: %.0f MB (model %.0f MB)\n\n", with_model.rss_mb, model_gb * 1e3);

  printf("%-34s %8s %8s %12s %14s %12s\n", "run", "time s", "GB/s", "peak RSS MB", "peak - base MB", "peak/file");
  bool peak_ok = true;
  auto report = [&](const char* name, double s, const Rss& after) {
    double over = after.hwm_mb - with_model.rss_mb;
    printf("%-34s %8.3f %8.2f %12.0f %14.0f %12.2f\n", name, s, file_gb / s, after.hwm_mb, over,
           (after.hwm_mb - base.rss_mb) / (file_gb * 1e3));
  };
  for (bool cold : {true, false}) {
    if (cold) drop_page_cache(path);
    peak_ok = reset_peak() && peak_ok;
    auto t0 = Clock::now();
    {
      cook::weights::Checkpoint ck = cook::weights::read_checkpoint(path);
      cook::weights::load_into(*target, std::move(ck));
    }
    double s = seconds_since(t0);
    Rss after = read_rss();
    report(cold ? "read_checkpoint+load_into (cold)" : "read_checkpoint+load_into (warm)", s, after);
  }
  // Check the values made it (a sample).
  {
    auto ck = cook::weights::read_checkpoint(path);
    auto params = target->named_parameters();
    for (const char* n : {"embed.weight", "lm_head.weight", "blocks.0.ffn.fc_in.weight"})
      if (!torch::equal(params[n], ck.tensors.at(n))) {
        fprintf(stderr, "bench_checkpoint_load: %s differs after loading\n", n);
        return 1;
      }
  }
  {
    // The naive way for comparison: the whole file in a buffer, then copied (warm cache).
    peak_ok = reset_peak() && peak_ok;
    auto t0 = Clock::now();
    {
      std::ifstream f(path, std::ios::binary | std::ios::ate);
      std::vector<char> buffer(static_cast<size_t>(f.tellg()));
      f.seekg(0);
      f.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      auto reader = cook::io::SafetensorsReader::parse(buffer.data(), buffer.size(), path);
      torch::NoGradGuard g;
      for (auto& item : target->named_parameters()) {
        const auto& info = reader.at(item.key());
        std::memcpy(item.value().data_ptr(), reader.data(info), info.nbytes());
      }
    }
    report("naive: read whole file, then copy", seconds_since(t0), read_rss());
  }
  Rss end = read_rss();
  printf("\nafter loading: RssAnon %.0f MB, RssFile %.0f MB (mapped pages released as they are copied)\n", end.anon_mb,
         end.file_mb);
  if (!peak_ok) printf("note: /proc/self/clear_refs refused a reset; peaks include earlier phases\n");
  printf("{\"file_gb\": %.3f, \"model_gb\": %.3f, \"write_gbps\": %.2f, \"n_layer\": %lld}\n", file_gb, model_gb,
         file_gb / write_s, static_cast<long long>(config.n_layer));
  if (!keep) std::remove(path.c_str());
  return 0;
}

#include "cook/compress/report/machine.h"

#include <torch/cuda.h>

#include <ATen/Parallel.h>

#include <fstream>
#include <thread>

namespace cook::compress::report {

namespace {

// The value after "key<spaces>:" of the first line of `file` that starts with `key`.
std::string first_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  m.cpu = first_field("/proc/cpuinfo", "model name");
  if (m.cpu.empty()) m.cpu = "unknown";
  m.logical_cpus = std::thread::hardware_concurrency();
  m.torch_threads = at::get_num_threads();
  const std::string mem = first_field("/proc/meminfo", "MemTotal");  // "24576000 kB"
  if (!mem.empty()) m.memory_bytes = std::stoll(mem) * 1024;
  m.libtorch = std::to_string(COOK_TORCH_MAJOR) + "." + std::to_string(COOK_TORCH_MINOR);
#ifdef COOK_HAVE_DNNL
  m.onednn = true;
#endif
  m.cuda = torch::cuda::is_available();
  return m;
}

nlohmann::json to_json(const MachineInfo& m) {
  return {{"cpu", m.cpu},       {"logical_cpus", m.logical_cpus}, {"torch_threads", m.torch_threads},
          {"memory_bytes", m.memory_bytes}, {"libtorch", m.libtorch}, {"onednn", m.onednn}, {"cuda", m.cuda}};
}

}  // namespace cook::compress::report

// The machine a report was measured on: speed figures mean little without it.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace cook::compress::report {

struct MachineInfo {
  std::string cpu;            // /proc/cpuinfo "model name" (or "unknown")
  int64_t logical_cpus = 0;   // std::thread::hardware_concurrency()
  int64_t torch_threads = 0;  // at::get_num_threads() when described
  int64_t memory_bytes = 0;   // MemTotal of /proc/meminfo
  std::string libtorch;       // "2.1" (the LibTorch Cook was built against)
  bool onednn = false;        // Cook was built with oneDNN int8 kernels
  bool cuda = false;          // a CUDA device is available
};

MachineInfo describe_machine();
nlohmann::json to_json(const MachineInfo& machine);

}  // namespace cook::compress::report

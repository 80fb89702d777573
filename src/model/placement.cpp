#include "cook/model/placement.h"

#include "cook/core/error.h"

namespace cook::model {

torch::Device parse_device(const std::string& name, const std::string& where, bool require_available) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error(where, "'" + name + "' is not a device (cpu, cuda, cuda:N)");
  }
  if (!device.is_cpu() && !device.is_cuda()) throw Error(where, "'" + name + "': only cpu and cuda are supported");
  if (require_available && device.is_cuda()) {
    if (!torch::cuda::is_available()) throw Error(where, "'" + name + "' asked for, but no CUDA device is available");
    if (device.has_index() && device.index() >= static_cast<int64_t>(torch::cuda::device_count()))
      throw Error(where, "'" + name + "' asked for, but there are " + std::to_string(torch::cuda::device_count()) +
                             " CUDA devices");
  }
  return device;
}

torch::Dtype parse_dtype(const std::string& name, const std::string& where) {
  if (name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  throw Error(where, "'" + name + "' is not a dtype (fp32, bf16)");
}

}  // namespace cook::model

// Where a model runs and in which floating type, as the user names them ("cpu", "cuda",
// "cuda:1"; "fp32", "bf16"). Errors name `where` (the flag or the config key).
#pragma once
#include <string>

#include <torch/torch.h>

namespace cook::model {

// cpu, cuda or cuda:N. With require_available, a CUDA device must be present (else the error says
// so); without, only the name is checked (a config read on a machine that will not run it).
torch::Device parse_device(const std::string& name, const std::string& where, bool require_available = true);
// fp32 (float32) or bf16 (bfloat16).
torch::Dtype parse_dtype(const std::string& name, const std::string& where);

}  // namespace cook::model

// Training checkpoints on disk: one folder per step under <save_dir>/checkpoints/,
//   step-00000050/model.safetensors      Cook checkpoint (weights + model config)
//   step-00000050/optimizer.safetensors  optimizer and extension tensors
//   step-00000050/trainer.json           step, schedule, data position, RNG, extension state
// A folder is written under a temporary name, every file fsync'ed, then renamed into place, so a
// crash never leaves a half checkpoint under a real name. Only the last K are kept.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/model/config.h"

namespace cook::train {

struct CheckpointContents {
  model::ModelConfig config;
  std::map<std::string, torch::Tensor> model;      // Cook names
  std::map<std::string, torch::Tensor> optimizer;  // optimizer and extension tensors
  nlohmann::json trainer;                          // trainer.json
};

// <save_dir>/checkpoints/step-<8 digits>
std::string checkpoint_path(const std::string& save_dir, int64_t step);
// Writes the checkpoint for `step`; returns its folder.
std::string write_checkpoint(const std::string& save_dir, int64_t step, const CheckpointContents& contents);
// Reads a checkpoint folder; errors name the file and the entry at fault.
CheckpointContents read_checkpoint_dir(const std::string& folder);
// Complete checkpoint folders under save_dir, oldest first.
std::vector<std::string> list_checkpoints(const std::string& save_dir);
// Removes all but the newest `keep_last` (keep_last <= 0 keeps all).
void prune_checkpoints(const std::string& save_dir, int64_t keep_last);

}  // namespace cook::train

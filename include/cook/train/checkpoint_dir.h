// Training checkpoints on disk: one folder per step under <save_dir>/checkpoints/,
//   step-00000050/model.safetensors      Cook checkpoint (weights + model config)
//   step-00000050/optimizer.safetensors  optimizer and extension tensors
//   step-00000050/trainer.json           step, schedule, data position, RNG, extension state
// or, written by a parallel run with one shard per rank (`cook train --checkpoint-shards`),
//   step-00000050/model.rank-R-of-W.safetensors, optimizer.rank-R-of-W.safetensors (R < W)
//   step-00000050/trainer.json
// where each tensor is in exactly one rank's part; read_checkpoint_dir merges them, so either
// form resumes on any world size. A folder is written under a temporary name, every file
// fsync'ed, then renamed into place (swapped atomically with an older checkpoint of the same step),
// so a crash never leaves a half checkpoint under a real name, nor no checkpoint where there was
// one. Only the last K are kept.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/model/config.h"
#include "cook/weights/tensor_io.h"

namespace cook::train {

struct CheckpointContents {
  model::ModelConfig config;
  std::map<std::string, torch::Tensor> model;      // Cook names
  std::map<std::string, torch::Tensor> optimizer;  // optimizer and extension tensors
  nlohmann::json trainer;                          // trainer.json
  // Tensors made only when written (a parallel run gathers them onto the writer one at a time),
  // each file's merged with its map above in name order.
  std::vector<weights::LazyTensor> model_lazy, optimizer_lazy;
};

// <save_dir>/checkpoints/step-<8 digits>
std::string checkpoint_path(const std::string& save_dir, int64_t step);
// Writes the checkpoint for `step`; returns its folder.
std::string write_checkpoint(const std::string& save_dir, int64_t step, const CheckpointContents& contents);
// One rank's part of a sharded checkpoint (model and optimizer tensors; `trainer` unused), into
// the step's temporary folder, whose name every rank derives alike (a shared filesystem is
// assumed, as for any checkpoint of a multi-machine run). The writer prepares the folder first.
std::string checkpoint_temp_path(const std::string& save_dir, int64_t step);
void prepare_checkpoint_temp(const std::string& temp_folder);
void write_checkpoint_part(const std::string& temp_folder, int64_t rank, int64_t world, const CheckpointContents& part);
// Once every part is written: trainer.json, then the folder renamed into place; returns it.
std::string commit_checkpoint(const std::string& save_dir, int64_t step, const std::string& temp_folder,
                              const nlohmann::json& trainer);
// Reads a checkpoint folder (either form); errors name the file and the entry at fault.
CheckpointContents read_checkpoint_dir(const std::string& folder);
// Complete checkpoint folders under save_dir, oldest first.
std::vector<std::string> list_checkpoints(const std::string& save_dir);
// Removes all but the newest `keep_last` (keep_last <= 0 keeps all). Each is first renamed to
// ".del-step-…", so a crash mid-deletion never leaves a partial step folder.
void prune_checkpoints(const std::string& save_dir, int64_t keep_last);
// Removes what interrupted saves and deletions left under <save_dir>/checkpoints (temporary and
// ".del-" folders, incomplete step folders); returns their paths. Call it only while holding the
// save folder's lock (core/folder_lock.h): another run's write in progress looks the same.
std::vector<std::string> remove_leftovers(const std::string& save_dir);

}  // namespace cook::train

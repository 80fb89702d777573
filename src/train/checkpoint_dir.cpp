#include "cook/train/checkpoint_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cook/core/error.h"
#include "cook/core/fault_point.h"
#include "cook/core/json_fields.h"
#include "cook/core/resources.h"
#include "cook/io/atomic_file.h"
#include "cook/weights/checkpoint.h"
#include "cook/weights/tensor_io.h"

namespace cook::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kTrainerFile = "trainer.json";
constexpr const char* kStepPrefix = "step-";

bool is_complete(const fs::path& folder) {
  if (!fs::exists(folder / kTrainerFile)) return false;
  return (fs::exists(folder / kModelFile) && fs::exists(folder / kOptimizerFile)) ||
         weights::has_rank_shards(folder.string(), "model");
}

// A file's tensors: the map's and the lazy ones, in name order.
std::vector<weights::LazyTensor> in_name_order(const std::map<std::string, torch::Tensor>& tensors,
                                               const std::vector<weights::LazyTensor>& lazy) {
  std::vector<weights::LazyTensor> out = lazy;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw Error("checkpoint", "tensor '" + name + "' is undefined");
    out.push_back({name, t.scalar_type(), t.sizes().vec(), [t] { return t; }});
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// Deleting a checkpoint first renames it out of the step namespace, so that a crash halfway
// through the deletion leaves a ".del-" folder the next clean-up removes, never a step folder
// with some of its files.
void remove_checkpoint(const fs::path& folder) {
  const fs::path doomed = folder.parent_path() / (".del-" + folder.filename().string());
  std::error_code ec;
  fs::remove_all(doomed, ec);  // one an earlier crash left
  fs::rename(folder, doomed);
  fault_point("checkpoint.prune-renamed");
  fs::remove_all(doomed);
}

// Puts the finished folder `temp` at `target`. A checkpoint already there (the same step saved
// again, e.g. a finished run resumed with the same --steps) is swapped out in one atomic
// renameat2(RENAME_EXCHANGE), so that at every instant `target` holds a complete checkpoint; the
// old one, now under the temporary name, is deleted afterwards (or by the next save's clean-up).
void rename_into_place(const fs::path& temp, const fs::path& target) {
  fault_point("checkpoint.before-rename");
  if (fs::exists(target)) {
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
      io::fsync_directory(target.parent_path().string());
      fault_point("checkpoint.after-exchange");
      fs::remove_all(temp);
    } else if (errno == EINVAL || errno == ENOSYS) {
      // A filesystem without RENAME_EXCHANGE: the old folder moves aside first, leaving a short
      // window without this step (the previous steps' checkpoints are still there).
      remove_checkpoint(target);
      fs::rename(temp, target);
      io::fsync_directory(target.parent_path().string());
    } else {
      throw Error(target.string(), std::string("cannot swap in the new checkpoint: ") + std::strerror(errno));
    }
  } else {
    fs::rename(temp, target);
    io::fsync_directory(target.parent_path().string());
  }
  fault_point("checkpoint.after-rename");
}

// Folders a crash can leave under checkpoints/: temporary folders of unfinished writes
// (".tmp-step-…"), checkpoints being deleted (".del-step-…") and step folders that are not
// complete. Only called while the save folder's lock is held, so no other run is writing them.
bool is_leftover(const fs::directory_entry& entry) {
  if (!entry.is_directory()) return false;
  const std::string name = entry.path().filename().string();
  if (name.rfind(".tmp-step-", 0) == 0 || name.rfind(".del-step-", 0) == 0) return true;
  return name.rfind(kStepPrefix, 0) == 0 && !is_complete(entry.path());
}

}  // namespace

std::string checkpoint_path(const std::string& save_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%08lld", kStepPrefix, static_cast<long long>(step));
  return (fs::path(save_dir) / "checkpoints" / name).string();
}

std::string write_checkpoint(const std::string& save_dir, int64_t step, const CheckpointContents& contents) {
  const fs::path target = checkpoint_path(save_dir, step);
  const fs::path parent = target.parent_path();
  ensure_directory(parent.string());
  // Each file is written atomically into a temporary folder, which is then renamed into place.
  const fs::path temp = parent / (".tmp-" + target.filename().string() + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(temp, ec);
  ensure_directory(temp.string());
  try {
    weights::save_checkpoint((temp / kModelFile).string(), in_name_order(contents.model, contents.model_lazy),
                             contents.config);
    weights::save_safetensors((temp / kOptimizerFile).string(), in_name_order(contents.optimizer, contents.optimizer_lazy));
    io::write_file_atomic((temp / kTrainerFile).string(), contents.trainer.dump(2) + "\n");
    rename_into_place(temp, target);
  } catch (const std::exception& e) {
    fs::remove_all(temp, ec);
    throw Error(target.string(), std::string("writing the checkpoint failed: ") + e.what());
  }
  return target.string();
}

std::string checkpoint_temp_path(const std::string& save_dir, int64_t step) {
  const fs::path target = checkpoint_path(save_dir, step);
  return (target.parent_path() / (".tmp-" + target.filename().string() + "-shards")).string();
}

void prepare_checkpoint_temp(const std::string& temp_folder) {
  std::error_code ec;
  fs::remove_all(temp_folder, ec);
  ensure_directory(temp_folder);
}

void write_checkpoint_part(const std::string& temp_folder, int64_t rank, int64_t world, const CheckpointContents& part) {
  const fs::path temp(temp_folder);
  try {
    weights::save_checkpoint((temp / weights::rank_shard_name("model", rank, world)).string(),
                             in_name_order(part.model, part.model_lazy), part.config);
    weights::save_safetensors((temp / weights::rank_shard_name("optimizer", rank, world)).string(),
                              in_name_order(part.optimizer, part.optimizer_lazy));
  } catch (const std::exception& e) {
    throw Error(temp_folder, "writing rank " + std::to_string(rank) + "'s part of the checkpoint failed: " + e.what());
  }
}

std::string commit_checkpoint(const std::string& save_dir, int64_t step, const std::string& temp_folder,
                              const nlohmann::json& trainer) {
  const fs::path target = checkpoint_path(save_dir, step);
  try {
    io::write_file_atomic((fs::path(temp_folder) / kTrainerFile).string(), trainer.dump(2) + "\n");
    rename_into_place(temp_folder, target);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(temp_folder, ec);
    throw Error(target.string(), std::string("writing the checkpoint failed: ") + e.what());
  }
  return target.string();
}

CheckpointContents read_checkpoint_dir(const std::string& folder) {
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) throw Error(folder, "no such checkpoint folder");
  CheckpointContents out;
  const bool sharded = !fs::exists(dir / kModelFile) && weights::has_rank_shards(folder, "model");
  weights::Checkpoint model =
      sharded ? weights::read_rank_shards(folder, "model") : weights::read_checkpoint((dir / kModelFile).string());
  weights::check_weights_match_config(model);
  out.config = model.config;
  out.model = std::move(model.tensors);
  out.optimizer = sharded ? weights::read_rank_shards(folder, "optimizer").tensors
                          : weights::load_safetensors((dir / kOptimizerFile).string()).tensors;
  const std::string trainer_path = (dir / kTrainerFile).string();
  out.trainer = read_json_file(trainer_path, "the trainer state");
  return out;
}

std::vector<std::string> list_checkpoints(const std::string& save_dir) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(save_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kStepPrefix, 0) == 0 && is_complete(entry.path()))
      out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded step numbers sort by step
  return out;
}

void prune_checkpoints(const std::string& save_dir, int64_t keep_last) {
  if (keep_last <= 0) return;
  auto all = list_checkpoints(save_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < all.size(); ++i) remove_checkpoint(all[i]);
}

std::vector<std::string> remove_leftovers(const std::string& save_dir) {
  std::vector<std::string> removed;
  const fs::path dir = fs::path(save_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return removed;
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(dir))
    if (is_leftover(entry)) doomed.push_back(entry.path());
  for (const auto& path : doomed) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) throw Error(path.string(), "cannot remove this leftover of an interrupted save: " + ec.message());
    removed.push_back(path.string());
  }
  return removed;
}

}  // namespace cook::train

// Checkpoints in the three forms Cook reads, always handed out with Cook's weight names:
//   - a Cook checkpoint: one .safetensors file whose __metadata__ holds "cook.format_version"
//     ("1") and "cook.model_config" (the ModelConfig as Cook's JSON);
//   - a Hugging Face GPT-J folder: config.json and model.safetensors, a sharded
//     model.safetensors.index.json, or a pytorch_model.bin (the folder, or the file may be given);
//   - a BMCook .bin (torch.save zip of its GPT-J state dict), which holds no config: the preset
//     names it;
//   - a folder of `cook train` (checkpoints/step-N): its model.safetensors, or, when the run
//     wrote one shard per rank, the union of model.rank-R-of-W.safetensors for R = 0 … W-1.
// Safetensors weights alias their memory-mapped files (read-only, see tensor_io.h); load_into
// copies them into a module one tensor at a time, so the weights are never held twice. A .bin is
// mapped too (torch.save stores its records uncompressed) and read the same way.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cook/model/config.h"
#include "cook/weights/name_map.h"
#include "cook/weights/tensor_io.h"

namespace cook::io {
class MappedFile;
}

namespace cook::weights {

enum class CheckpointKind { Cook, HuggingFace, BMCook };
const char* kind_name(CheckpointKind k);

// The Cook checkpoint format this build writes and reads.
inline constexpr const char* kCookFormatVersion = "1";
inline constexpr const char* kFormatVersionKey = "cook.format_version";
inline constexpr const char* kModelConfigKey = "cook.model_config";

struct Checkpoint {
  CheckpointKind kind = CheckpointKind::Cook;
  model::ModelConfig config;
  TensorMap tensors;   // Cook names
  Metadata metadata;   // the file's __metadata__ (Cook, HF single file), the index's (HF sharded)
  std::string source;  // the path given to read_checkpoint

  // Where each tensor came from: the file and the name it has there (for messages).
  struct Origin {
    std::string file;
    std::string name;
  };
  std::map<std::string, Origin> origins;
  // The mappings the tensors alias (empty for a .bin).
  std::vector<std::shared_ptr<const io::MappedFile>> mappings;

  // "<file>: tensor '<name there>'" plus " (Cook 'x')" when the names differ.
  std::string describe(const std::string& cook_name) const;
};

// Detects the kind of `path` and reads it. `preset` is required for a BMCook .bin; given for a
// Cook or Hugging Face checkpoint it must agree with the config the checkpoint carries. Every
// error names the file and, where there is one, the tensor.
Checkpoint read_checkpoint(const std::string& path, const std::optional<std::string>& preset = std::nullopt);
// The weights `config` implies must roughly fit in the bytes `tensors` hold (at their smallest
// element size, with room for a few missing ones); throws cook::Error naming `where` otherwise.
// Any reader that builds a model from a config found in a file calls this first.
void check_config_fits(const model::ModelConfig& config, const TensorMap& tensors, const std::string& where);
// A config that lies is refused before any model of its shape is built: the weights it implies
// must fit in the bytes the tensors hold, and each of its weights must be there with its shape. read_checkpoint checks every Cook checkpoint so; a reader of rank parts calls it on
// their union. Throws cook::Error naming the file and each tensor at fault.
void check_weights_match_config(const Checkpoint& checkpoint);
// A BMCook .bin read with a config given outright (for models no preset describes).
Checkpoint read_bmcook_checkpoint(const std::string& path, const model::ModelConfig& config);

// Copies each checkpoint tensor into the module's parameter of the same (Cook) name, converting
// the dtype and moving it to the parameter's device. Checks first, and reports together in one
// cook::Error naming the file and each tensor: a parameter with no tensor, a tensor with no
// parameter, a shape that differs, a dtype that cannot convert (floating ⇄ floating converts;
// otherwise the dtypes must be equal). Nothing is copied unless every check passes. Tensors are
// copied one at a time in file order, a large mapped one in 32 MiB slices, and the pages of each
// slice are dropped from memory as soon as it is copied: loading needs the module's memory plus
// about one slice. Works on any torch::nn::Module (named_parameters()).
void load_into(torch::nn::Module& module, const Checkpoint& checkpoint);
// The same, and each tensor of the checkpoint is released as soon as it is copied: the mapping is
// unmapped with the last one, and a tensor the checkpoint owns (one copied because it was
// misaligned) is freed at once rather than at the end.
void load_into(torch::nn::Module& module, Checkpoint&& checkpoint);

// Writes a Cook checkpoint of the module's parameters (model order) atomically. `extra_metadata`
// is added to the header; its keys must not start with "cook.format_version"/"cook.model_config".
void save_checkpoint(const std::string& path, const torch::nn::Module& module, const model::ModelConfig& config,
                     const Metadata& extra_metadata = {});
// The same for a set of Cook-named tensors (name order).
void save_checkpoint(const std::string& path, const TensorMap& tensors, const model::ModelConfig& config,
                     const Metadata& extra_metadata = {});
// The same for tensors made one at a time as they are written (tensor_io.h), in the order given.
void save_checkpoint(const std::string& path, const std::vector<LazyTensor>& tensors, const model::ModelConfig& config,
                     const Metadata& extra_metadata = {});

// "<stem>.rank-<rank>-of-<world>.safetensors": one rank's part of a sharded checkpoint file.
std::string rank_shard_name(const std::string& stem, int64_t rank, int64_t world);
// The ranks' parts of `<folder>/<stem>` merged (each tensor in exactly one part), aliasing their
// mappings; their number is read from the name of part 0. A missing part, a tensor in two
// parts, or parts of different worlds are errors naming the files. Checkpoint::kind is Cook for
// the model parts (their config must agree); for others (the optimizer state) config is unset.
Checkpoint read_rank_shards(const std::string& folder, const std::string& stem);
// Whether `<folder>/<stem>` was written as rank parts (part 0 is there).
bool has_rank_shards(const std::string& folder, const std::string& stem);

// Conversions: a Hugging Face folder (config.json + model.safetensors, HF names) and a BMCook .bin
// (BMCook names and shapes; with no fc_in bias, zeros are written for BMCook's unused
// ff.fc_in_bias so that its model loads the file). The tensors must be every weight of the config.
void write_hf_folder(const std::string& folder, const model::ModelConfig& config, const TensorMap& cook_tensors);
void write_bmcook_bin(const std::string& path, const model::ModelConfig& config, const TensorMap& cook_tensors);

// The module's parameters as a Cook-named map (detached; sharing their storage).
TensorMap parameters_of(const torch::nn::Module& module);

}  // namespace cook::weights

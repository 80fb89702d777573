// safetensors ⇄ torch::Tensor.
//
// load_safetensors maps the file and returns tensors that ALIAS THE MAPPING: no byte is copied,
// and each tensor holds the mapping alive (the last one to go unmaps it). These tensors are
// READ-ONLY: the mapping is PROT_READ, so writing into one (an in-place op, copy_ into it, a
// parameter update) crashes with SIGSEGV. Clone a tensor (or copy_ it into your own) to modify it;
// load_into does exactly that. A tensor whose bytes are not aligned to its element size (possible
// only in files written by other tools) is copied instead of aliased.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "cook/io/safetensors.h"

namespace cook::io {
class MappedFile;
}

namespace cook::weights {

// Name → tensor, ordered by name.
using TensorMap = std::map<std::string, torch::Tensor>;
using Metadata = std::map<std::string, std::string>;

torch::ScalarType to_scalar_type(io::DType t);
// Throws cook::Error naming `where` for a dtype safetensors (as Cook reads it) cannot hold.
io::DType to_dtype(torch::ScalarType t, const std::string& where);

// A tensor over the reader's bytes (zero-copy, read-only, holding reader.keepalive() alive).
torch::Tensor tensor_view(const io::SafetensorsReader& reader, const io::TensorInfo& info);

struct LoadedTensors {
  TensorMap tensors;
  Metadata metadata;
  std::shared_ptr<const io::MappedFile> mapping;  // what the tensors alias
};

// Maps and parses `path`; see the note at the top on aliasing. Errors name the file and tensor.
LoadedTensors load_safetensors(const std::string& path);

// Writes a safetensors file atomically, tensors in the order given. Tensors that are not
// CPU-contiguous are made so one at a time, while their bytes are written, so the file is never
// held twice in memory. Errors name the file and the tensor.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const Metadata& metadata = {});
// The same, in name order.
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// A tensor made only when its turn to be written comes, and dropped right after: a file written
// from these never holds more than one of them in memory (a parallel run gathers a consolidated
// checkpoint this way). `make` must return a tensor of the declared dtype and shape, on any device.
struct LazyTensor {
  std::string name;
  torch::ScalarType dtype = torch::kFloat32;
  std::vector<int64_t> shape;
  std::function<torch::Tensor()> make;
};
// Writes them in the order given, atomically; a made tensor of another dtype or shape is an
// error naming the file and the tensor.
void save_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors, const Metadata& metadata = {});

}  // namespace cook::weights

// Reads the files torch.save writes (the zip format of PyTorch ≥ 1.6) when they hold a flat dict
// name → tensor: a state_dict (an OrderedDict, as BMCook's bmtrain.save and Module.state_dict()
// give), a plain dict, or what torch::pickle_save writes. Without LibTorch: the archive is parsed
// in place (zip.h), and data.pkl is run by a small pickle machine that knows only what torch.save
// emits — dicts, lists, tuples, strings, numbers, OrderedDict, tensors rebuilt from storages
// (torch._utils._rebuild_tensor_v2, _rebuild_parameter) — and nothing that could run code.
//
// LibTorch's own unpickler (torch::pickle_load) is not used because it turns an OrderedDict into
// None, so it cannot read a state_dict.
//
// Each tensor is described by its storage's bytes inside the archive (stored uncompressed, so a
// mapped file is never copied), its dtype, shape, strides and storage offset, all checked to lie
// inside the storage. Errors are cook::Error naming the file and the entry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cook/io/safetensors.h"

namespace cook::io {

class MappedFile;

struct TorchTensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
  int64_t storage_offset = 0;    // in elements
  const uint8_t* storage = nullptr;
  uint64_t storage_bytes = 0;
  std::string storage_key;

  int64_t numel() const;
  // True when the tensor covers its elements densely in row-major order.
  bool is_contiguous() const;
  // The first element's bytes.
  const uint8_t* data() const { return storage + static_cast<uint64_t>(storage_offset) * dtype_size(dtype); }
};

class TorchSaveReader {
 public:
  // Maps `path` and reads it.
  static TorchSaveReader open(const std::string& path);
  // Reads the `size` bytes at `data`; `where` names them in errors; `keepalive` (may be null) is
  // held as long as the reader.
  static TorchSaveReader parse(const void* data, size_t size, const std::string& where,
                               std::shared_ptr<const void> keepalive = nullptr);

  const std::string& path() const { return path_; }
  // The dict's tensors in the order the file holds them.
  const std::vector<TorchTensorInfo>& tensors() const { return tensors_; }
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }
  std::shared_ptr<const void> keepalive() const { return keepalive_; }

 private:
  void read(const uint8_t* data, size_t size);

  std::string path_;
  std::shared_ptr<const MappedFile> mapping_;
  std::shared_ptr<const void> keepalive_;
  std::vector<TorchTensorInfo> tensors_;
};

}  // namespace cook::io

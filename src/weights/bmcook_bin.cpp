#include "cook/weights/bmcook_bin.h"

#include <torch/torch.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstring>

#include "cook/core/error.h"
#include "cook/io/atomic_file.h"
#include "cook/io/mapped_file.h"
#include "cook/io/torch_save.h"

namespace cook::weights {

namespace {

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

LoadedTensors load_torch_bin(const std::string& path) {
  auto reader = io::TorchSaveReader::open(path);
  LoadedTensors out;
  out.mapping = reader.mapping();
  // Storages copied because they were misaligned, shared by the tensors that view them.
  std::map<std::string, torch::Tensor> copied;
  for (const auto& t : reader.tensors()) {
    const auto options = torch::TensorOptions().dtype(to_scalar_type(t.dtype)).device(torch::kCPU);
    if (t.numel() == 0) {
      out.tensors.emplace(t.name, torch::empty(t.shape, options));
      continue;
    }
    const size_t elem = io::dtype_size(t.dtype);
    torch::Tensor tensor;
    if (reinterpret_cast<uintptr_t>(t.storage) % elem == 0) {
      std::shared_ptr<const void> keep = reader.keepalive();
      tensor = torch::from_blob(
          const_cast<uint8_t*>(t.data()), t.shape, t.strides, [keep](void*) mutable { keep.reset(); }, options);
    } else {
      auto it = copied.find(t.storage_key);
      if (it == copied.end()) {
        // torch::empty's memory is aligned for any dtype.
        torch::Tensor bytes = torch::empty({static_cast<int64_t>(t.storage_bytes)}, torch::kUInt8);
        std::memcpy(bytes.data_ptr(), t.storage, t.storage_bytes);
        it = copied.emplace(t.storage_key, bytes).first;
      }
      torch::Tensor bytes = it->second;
      auto* base = static_cast<uint8_t*>(bytes.data_ptr()) + static_cast<uint64_t>(t.storage_offset) * elem;
      tensor = torch::from_blob(base, t.shape, t.strides, [bytes](void*) mutable { bytes.reset(); }, options);
    }
    out.tensors.emplace(t.name, std::move(tensor));
  }
  return out;
}

torch::Tensor copy_torch_tensor(const io::TorchTensorInfo& t) {
  const auto dtype = to_scalar_type(t.dtype);
  if (t.numel() == 0) return torch::empty(t.shape, torch::TensorOptions().dtype(dtype));
  // The storage's bytes into aligned memory, then the view the file describes (checked to lie
  // inside the storage when it was read).
  torch::Tensor bytes = torch::empty({static_cast<int64_t>(t.storage_bytes)}, torch::kUInt8);
  std::memcpy(bytes.data_ptr(), t.storage, t.storage_bytes);
  const int64_t elements = static_cast<int64_t>(t.storage_bytes / io::dtype_size(t.dtype));
  torch::Tensor storage = bytes.view(dtype).narrow(0, 0, elements);
  return storage.as_strided(t.shape, t.strides, t.storage_offset).contiguous();
}

TensorMap read_torch_bin(const std::string& path) { return load_torch_bin(path).tensors; }

void write_torch_bin(const std::string& path, const TensorMap& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw Error(path, "tensor '" + name + "' is undefined");
    dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  }
  std::vector<char> bytes;
  try {
    bytes = torch::pickle_save(c10::IValue(dict));
  } catch (const c10::Error& e) {
    throw Error(path, "cannot pickle the tensors: " + first_line(e.what_without_backtrace()));
  }
  io::write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

}  // namespace cook::weights

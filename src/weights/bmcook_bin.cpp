#include "cook/weights/bmcook_bin.h"

#include <torch/torch.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>

#include "cook/core/error.h"
#include "cook/io/atomic_file.h"

namespace cook::weights {

namespace {

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

TensorMap read_torch_bin(const std::string& path) {
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path, "cannot open for reading");
    char magic[4] = {};
    f.read(magic, 4);
    if (f.gcount() < 4 || std::string(magic, 4) != std::string("PK\x03\x04", 4)) {
      bool legacy_pickle = f.gcount() >= 1 && static_cast<unsigned char>(magic[0]) == 0x80;
      throw Error(path, legacy_pickle ? "a legacy (pre-1.6) torch.save file: Cook reads only the zip format "
                                        "(load and torch.save it again with PyTorch >= 1.6)"
                                      : "not a torch.save zip file");
    }
  }
  c10::IValue value;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    value = torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                              /*type_resolver=*/c10::nullopt, /*obj_loader=*/c10::nullopt,
                                              /*device=*/c10::Device(c10::kCPU), reader);
  } catch (const c10::Error& e) {
    throw Error(path, "cannot read the torch.save archive: " + first_line(e.what_without_backtrace()));
  }
  if (!value.isGenericDict())
    throw Error(path, "holds a " + value.tagKind() + ", not a dict of tensors");
  TensorMap out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      throw Error(path, "a key is a " + item.key().tagKind() + ", not a tensor name");
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor())
      throw Error(path, "entry '" + name + "' is a " + item.value().tagKind() + ", not a tensor");
    out.emplace(name, item.value().toTensor());
  }
  return out;
}

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

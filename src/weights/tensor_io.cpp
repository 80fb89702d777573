#include "cook/weights/tensor_io.h"

#include <torch/torch.h>

#include <cstring>

#include "cook/core/error.h"
#include "cook/io/mapped_file.h"

namespace cook::weights {

torch::ScalarType to_scalar_type(io::DType t) {
  switch (t) {
    case io::DType::F64: return torch::kFloat64;
    case io::DType::F32: return torch::kFloat32;
    case io::DType::F16: return torch::kFloat16;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::I64: return torch::kInt64;
    case io::DType::I32: return torch::kInt32;
    case io::DType::I16: return torch::kInt16;
    case io::DType::I8: return torch::kInt8;
    case io::DType::U8: return torch::kUInt8;
    case io::DType::BOOL: return torch::kBool;
  }
  throw Error("safetensors dtype " + std::to_string(static_cast<int>(t)) + " has no torch dtype");
}

io::DType to_dtype(torch::ScalarType t, const std::string& where) {
  switch (t) {
    case torch::kFloat64: return io::DType::F64;
    case torch::kFloat32: return io::DType::F32;
    case torch::kFloat16: return io::DType::F16;
    case torch::kBFloat16: return io::DType::BF16;
    case torch::kInt64: return io::DType::I64;
    case torch::kInt32: return io::DType::I32;
    case torch::kInt16: return io::DType::I16;
    case torch::kInt8: return io::DType::I8;
    case torch::kUInt8: return io::DType::U8;
    case torch::kBool: return io::DType::BOOL;
    default:
      throw Error(where, std::string("dtype ") + c10::toString(t) + " cannot be written to safetensors (supported: " +
                             io::dtype_names() + ")");
  }
}

torch::Tensor tensor_view(const io::SafetensorsReader& reader, const io::TensorInfo& info) {
  const auto dtype = to_scalar_type(info.dtype);
  const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCPU);
  if (info.nbytes() == 0) return torch::empty(info.shape, options);
  const uint8_t* p = reader.data(info);
  if (reinterpret_cast<uintptr_t>(p) % io::dtype_size(info.dtype) != 0) {
    torch::Tensor t = torch::empty(info.shape, options);
    std::memcpy(t.data_ptr(), p, info.nbytes());
    return t;
  }
  std::shared_ptr<const void> keep = reader.keepalive();
  return torch::from_blob(
      const_cast<uint8_t*>(p), info.shape, [keep](void*) mutable { keep.reset(); }, options);
}

LoadedTensors load_safetensors(const std::string& path) {
  auto reader = io::SafetensorsReader::open(path);
  LoadedTensors out;
  out.metadata = reader.metadata();
  out.mapping = reader.mapping();
  for (const auto& info : reader.tensors()) out.tensors.emplace(info.name, tensor_view(reader, info));
  return out;
}

namespace {
// Hands the tensor's values to the writer, made CPU-contiguous first if they are not.
void sink_values(const torch::Tensor& tensor, const io::TensorToWrite::Sink& sink) {
  torch::Tensor c = tensor.detach().to(torch::kCPU).contiguous().resolve_conj().resolve_neg();
  sink(c.data_ptr(), c.nbytes());
}
}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const Metadata& metadata) {
  std::vector<io::TensorToWrite> ts;
  ts.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const std::string where = path + ": tensor '" + name + "'";
    if (!tensor.defined()) throw Error(path, "tensor '" + name + "' is undefined");
    io::TensorToWrite w;
    w.name = name;
    w.dtype = to_dtype(tensor.scalar_type(), where);
    w.shape = tensor.sizes().vec();
    w.nbytes = static_cast<uint64_t>(tensor.numel()) * io::dtype_size(w.dtype);
    if (tensor.device().is_cpu() && tensor.is_contiguous() && !tensor.is_conj() && !tensor.is_neg()) {
      w.data = tensor.data_ptr();
    } else {
      // Made CPU-contiguous only when its turn comes, and dropped right after.
      torch::Tensor t = tensor;
      w.produce = [t](const io::TensorToWrite::Sink& sink) { sink_values(t, sink); };
    }
    ts.push_back(std::move(w));
  }
  io::write_safetensors(path, ts, metadata);
}

void save_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors, const Metadata& metadata) {
  std::vector<io::TensorToWrite> ts;
  ts.reserve(tensors.size());
  for (const LazyTensor& lazy : tensors) {
    const std::string where = path + ": tensor '" + lazy.name + "'";
    io::TensorToWrite w;
    w.name = lazy.name;
    w.dtype = to_dtype(lazy.dtype, where);
    w.shape = lazy.shape;
    int64_t numel = 1;
    for (int64_t d : lazy.shape) numel *= d;
    w.nbytes = static_cast<uint64_t>(numel) * io::dtype_size(w.dtype);
    w.produce = [&lazy, where](const io::TensorToWrite::Sink& sink) {
      torch::Tensor t = lazy.make();
      if (!t.defined() || t.scalar_type() != lazy.dtype || t.sizes().vec() != lazy.shape)
        throw Error(where, "was declared " + std::string(c10::toString(lazy.dtype)) + " " + c10::str(lazy.shape) +
                               " but made " + (t.defined() ? std::string(c10::toString(t.scalar_type())) + " " +
                                                                 c10::str(t.sizes()) : std::string("undefined")));
      sink_values(t, sink);
    };
    ts.push_back(std::move(w));
  }
  io::write_safetensors(path, ts, metadata);
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> ordered(tensors.begin(), tensors.end());
  save_safetensors(path, ordered, metadata);
}

}  // namespace cook::weights

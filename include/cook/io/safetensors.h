// The safetensors format (https://github.com/huggingface/safetensors), read and written without
// LibTorch:
//   8 bytes   N, little-endian u64: the header's length
//   N bytes   JSON object: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
//             "shape": [2, 3], "data_offsets": [begin, end]}, ...}, padded with spaces
//   the rest  the data area; offsets are relative to its start
// The reader checks everything before anyone touches a byte: the header length is sane and inside
// the file, the JSON parses, every entry has a known dtype, a non-negative shape whose size does
// not overflow, offsets inside the data area with end - begin == numel × dtype size, no two
// tensors overlap, no hole is left in the data area, names are valid UTF-8 and unique. Every error
// is a cook::Error naming the file and, where there is one, the tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cook::io {

class MappedFile;

enum class DType : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
// The safetensors spelling: "F32", "BF16", "BOOL"...
const char* dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
// "F64, F32, ..., BOOL", for error messages.
std::string dtype_names();

// The largest header the reader accepts (the reference implementation's limit).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

// "[2, 3]" for messages.
std::string shape_string(const std::vector<int64_t>& shape);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s);
// `s` with non-printable and non-UTF-8 bytes written as \xNN, for messages.
std::string printable(std::string_view s);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets inside the data area
  uint64_t end = 0;

  uint64_t nbytes() const { return end - begin; }
  int64_t numel() const;
};

// A parsed safetensors file over bytes that stay alive as long as the reader (and its copies):
// a memory-mapped file, or a caller's buffer.
class SafetensorsReader {
 public:
  // Maps `path` and parses it.
  static SafetensorsReader open(const std::string& path);
  // Parses `size` bytes at `data`; `where` names them in errors. `keepalive` (may be null) is held
  // for as long as the reader lives; without it the caller keeps the bytes alive.
  static SafetensorsReader parse(const void* data, size_t size, const std::string& where,
                                 std::shared_ptr<const void> keepalive = nullptr);

  const std::string& path() const { return path_; }
  // The tensors in data-area order (which is file order).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // The names in data-area order.
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  size_t size() const { return tensors_.size(); }

  const TensorInfo* find(const std::string& name) const;
  // Throws cook::Error naming the file and the tensor, listing the nearest names the file has.
  const TensorInfo& at(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // The first byte of a tensor's data (nbytes() bytes are readable).
  const uint8_t* data(const TensorInfo& t) const { return data_area_ + t.begin; }
  // The mapping when the reader was made by open(), else null.
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }
  // Holds the bytes alive: the mapping, or the keepalive given to parse().
  std::shared_ptr<const void> keepalive() const { return keepalive_; }

  // Bytes from the start of the file to the data area (8 + header length).
  uint64_t data_area_offset() const { return static_cast<uint64_t>(data_area_ - base_); }

 private:
  SafetensorsReader() = default;
  void parse_header(size_t size);

  std::string path_;
  std::shared_ptr<const MappedFile> mapping_;
  std::shared_ptr<const void> keepalive_;
  const uint8_t* base_ = nullptr;
  const uint8_t* data_area_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Up to `max` of `candidates` nearest to `name` (edit distance), nearest first: for "did you mean".
std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       size_t max = 5);

// One tensor to write. Either `data` points at `nbytes` bytes that stay valid during the write, or
// `produce` is set and is called once, at the moment the tensor's bytes are due, with a sink that
// takes them (in one or more pieces, `nbytes` in all). `produce` lets a caller make one tensor at a
// time contiguous or bring it from a GPU, so a large file is never held twice in memory.
struct TensorToWrite {
  using Sink = std::function<void(const void* data, size_t size)>;

  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;
  std::function<void(const Sink&)> produce;
};

// Writes a safetensors file through AtomicFile, tensors in the order given, the header padded with
// spaces so that the data area starts at a multiple of 8. Checks names (non-empty, valid UTF-8,
// unique, not "__metadata__"), shapes (non-negative) and nbytes == numel × dtype size before
// writing anything; errors name the file and the tensor.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The header that write_safetensors writes (including the 8-byte length and padding), for tests
// and for callers that build files themselves.
std::string safetensors_header(const std::vector<TensorToWrite>& tensors,
                               const std::map<std::string, std::string>& metadata, const std::string& where);

// A Hugging Face sharded checkpoint: model.safetensors.index.json maps each tensor name to a shard
// file (beside the index); each shard is opened once. Every tensor the index names must be in its
// shard; tensors a shard holds that the index does not name are ignored (as Hugging Face does).
class ShardedSafetensors {
 public:
  static ShardedSafetensors open(const std::string& index_path);

  const std::string& index_path() const { return index_path_; }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  size_t size() const { return entries_.size(); }
  // The index's "metadata" object, values turned into strings (numbers as written).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<SafetensorsReader>& shards() const { return shards_; }

  struct Entry {
    const SafetensorsReader* shard;
    const TensorInfo* info;
  };
  std::optional<Entry> find(const std::string& name) const;
  // Throws cook::Error naming the index and the tensor, listing the nearest names.
  Entry at(const std::string& name) const;

 private:
  std::string index_path_;
  std::vector<SafetensorsReader> shards_;
  std::map<std::string, std::pair<size_t, size_t>> entries_;  // name -> (shard, tensor) indices
  std::map<std::string, std::string> metadata_;
};

}  // namespace cook::io

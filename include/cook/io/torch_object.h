// The whole Python object a torch.save file holds, as a tree of plain values — for the files that
// are not a flat dict of tensors: BMCook's pruning masks ({layer: [(name, mask), ...]}),
// MoEfication's expert labels (a list of ints or numpy integers) and its routers (a pickled
// torch.nn.Sequential). torch_save.h reads a flat state dict on top of this.
//
// The pickle machine builds only data: dicts (OrderedDict too), lists, tuples, strings, bytes
// (also protocol 2's _codecs.encode(str, 'latin1') form), numbers, tensors rebuilt from the
// archive's storages, numpy scalars (turned into Int/Float/Bool) and numpy arrays
// (numpy.core.multiarray._reconstruct + its state). Any other class called is an Object that
// keeps its class name and the state BUILD gave it (a torch.nn.Module's __dict__), and runs no
// code. Errors are cook::Error naming the file (and data.pkl).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cook/io/torch_save.h"

namespace cook::io {

enum class PyKind {
  None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict,
  Tensor,  // a torch tensor: `tensor` describes it
  Array,   // a numpy array: `tensor` describes it (C order, or Fortran strides), its bytes in data.pkl
  Object,  // an instance of a class this reader does not build: `s` "module.Class", `state`
  Global,  // a class or function named but not called: `s` "module.name"
  // Only while reading: a storage record, a numpy dtype.
  Storage, Dtype,
};
const char* kind_name(PyKind k);

struct PyValue {
  PyKind kind = PyKind::None;
  int64_t i = 0;   // Int, Bool
  double f = 0.0;  // Float
  std::string s;   // Str, Bytes; Object, Global: "module.name"; Dtype: numpy's code ("i8", "f2")
  std::vector<const PyValue*> items;                             // Tuple, List
  std::vector<std::pair<const PyValue*, const PyValue*>> entries;  // Dict, in file order
  const PyValue* state = nullptr;                                // Object: what BUILD set (or null)
  TorchTensorInfo tensor;                                        // Tensor, Array (Storage: its record)

  bool is_sequence() const { return kind == PyKind::Tuple || kind == PyKind::List; }
  // Dict: the value of the entry whose key is the string `key`; null when there is none.
  const PyValue* get(std::string_view key) const;
  // Object: the value of `key` in its state dict; null when there is none.
  const PyValue* attribute(std::string_view key) const;
};

class TorchObjectFile {
 public:
  static TorchObjectFile open(const std::string& path);
  // Reads the `size` bytes at `data`; `where` names them in errors; `keepalive` (may be null) is
  // held as long as the file object (tensors point into those bytes).
  static TorchObjectFile parse(const void* data, size_t size, const std::string& where,
                               std::shared_ptr<const void> keepalive = nullptr);

  const std::string& path() const { return path_; }
  const PyValue& root() const { return *root_; }
  std::shared_ptr<const void> keepalive() const { return keepalive_; }

  TorchObjectFile(TorchObjectFile&&) noexcept;
  TorchObjectFile& operator=(TorchObjectFile&&) noexcept;
  ~TorchObjectFile();

 private:
  struct Arena;
  TorchObjectFile() = default;
  std::string path_;
  std::shared_ptr<const void> keepalive_;
  std::unique_ptr<Arena> arena_;
  const PyValue* root_ = nullptr;
};

// True when the first bytes of `path` are a zip archive's (the torch.save format); false for a
// file that cannot be read.
bool looks_like_torch_save(const std::string& path);

}  // namespace cook::io

// libFuzzer target over Cook's safetensors parser. Any input must either parse or throw
// cook::Error: another exception, a crash, a sanitizer report or a broken promise below is a bug.
// What the parser accepts is then checked: every byte it hands out is readable (ASan would see a
// read past the buffer), lookups work, and the writer's header for the same tensors parses back to
// the same tensors over the same data.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/io/safetensors.h"

using namespace cook::io;

namespace {

[[noreturn]] void broken(const char* what) {
  fprintf(stderr, "fuzz_safetensors: broken promise: %s\n", what);
  abort();
}

void check_accepted(const SafetensorsReader& r, const uint8_t* data, size_t size) {
  uint64_t sum = 0;
  bool empty_name = false;
  for (const TensorInfo& t : r.tensors()) {
    if (r.find(t.name) != &t) broken("find() does not return the tensor listed");
    if (t.numel() < 0) broken("negative numel");
    if (static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype) != t.nbytes()) broken("nbytes != numel * size");
    const uint8_t* p = r.data(t);
    if (t.nbytes() > 0) {
      if (p < data || p + t.nbytes() > data + size) broken("tensor data outside the input");
      sum += p[0] + p[t.nbytes() - 1] + p[t.nbytes() / 2];
    }
    empty_name = empty_name || t.name.empty();
  }
  if (r.find("\xff-not-a-name") != nullptr) broken("found a name that cannot exist");
  if (r.tensors().size() <= 64) {  // the "nearest names" message is quadratic in the name lengths
    try {
      r.at("\xff-not-a-name");
      broken("at() found a name that cannot exist");
    } catch (const cook::Error&) {
    }
  }
  if (empty_name) return;  // the writer refuses empty names, so no round trip

  // Round trip through the writer's header over the same data area.
  std::vector<TensorToWrite> ts;
  for (const TensorInfo& t : r.tensors()) {
    TensorToWrite w;
    w.name = t.name;
    w.dtype = t.dtype;
    w.shape = t.shape;
    w.data = r.data(t);
    w.nbytes = t.nbytes();
    ts.push_back(std::move(w));
  }
  std::string file = safetensors_header(ts, r.metadata(), "fuzz-rewrite");
  const uint8_t* area = data + r.data_area_offset();
  file.append(reinterpret_cast<const char*>(area), size - r.data_area_offset());
  auto again = SafetensorsReader::parse(file.data(), file.size(), "fuzz-rewrite");
  if (again.metadata() != r.metadata()) broken("metadata changed in the round trip");
  if (again.size() != r.size()) broken("tensor count changed in the round trip");
  for (size_t i = 0; i < r.size(); ++i) {
    const TensorInfo& a = r.tensors()[i];
    const TensorInfo& b = again.tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.nbytes() != b.nbytes())
      broken("tensor changed in the round trip");
    if (a.nbytes() > 0 && std::memcmp(r.data(a), again.data(b), a.nbytes()) != 0) broken("bytes changed in the round trip");
  }
  if (sum == 0xdeadbeefcafef00dull) fprintf(stderr, "unlikely\n");  // keeps the reads
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto r = SafetensorsReader::parse(data, size, "fuzz-input");
    check_accepted(r, data, size);
  } catch (const cook::Error&) {
    // A rejected input: what the parser is for.
  }
  return 0;
}

// libFuzzer target over Cook's torch.save reader (zip directory + pickle machine). Any input must
// either be read or throw cook::Error; what is read must lie inside the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "cook/core/error.h"
#include "cook/io/torch_save.h"

using namespace cook::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto r = TorchSaveReader::parse(data, size, "fuzz-input");
    uint64_t sum = 0;
    for (const auto& t : r.tensors()) {
      if (t.numel() == 0) continue;
      // The first and the last element the tensor reaches must be inside the input.
      uint64_t last = static_cast<uint64_t>(t.storage_offset);
      for (size_t k = 0; k < t.shape.size(); ++k) last += static_cast<uint64_t>(t.shape[k] - 1) * t.strides[k];
      const size_t elem = dtype_size(t.dtype);
      const uint8_t* first = t.data();
      const uint8_t* end = t.storage + (last + 1) * elem;
      if (first < data || end > data + size || end > t.storage + t.storage_bytes) {
        fprintf(stderr, "fuzz_torch_save: tensor outside the input\n");
        abort();
      }
      sum += first[0] + end[-1];
      (void)t.is_contiguous();
    }
    if (sum == 0xdeadbeefcafef00dull) fprintf(stderr, "unlikely\n");
  } catch (const cook::Error&) {
  }
  return 0;
}

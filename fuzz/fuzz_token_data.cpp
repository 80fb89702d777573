// libFuzzer target over a token-data folder: manifest.json, the shards and the document index of
// each split (cook/text/token_shards.h), or a Megatron .bin/.idx pair (megatron_dataset.h), as
// `cook train`, `cook eval` and `cook data info --verify` open and read them. The input is a bundle of files (file_bundle.h). Any folder must either open
// or fail with cook::Error; what opens must read every token and document start it promises, and
// verify() must either pass or throw cook::Error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "file_bundle.h"

using namespace cook::text;

namespace {

[[noreturn]] void broken(const char* what) {
  fprintf(stderr, "fuzz_token_data: broken promise: %s\n", what);
  abort();
}

void read_split(const std::string& dir, const std::string& split) {
  TokenDataset d = TokenDataset::open(dir, split);
  if (d.num_tokens() < 0 || d.num_documents() < 0) broken("negative size");
  const int64_t vocab = d.manifest().tokenizer.vocab_size;
  std::vector<int64_t> window(4096);
  uint64_t sum = 0;
  bool out_of_vocab = false;
  for (int64_t start = 0; start < d.num_tokens(); start += static_cast<int64_t>(window.size())) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(window.size()), d.num_tokens() - start);
    d.read(start, n, window.data());
    for (int64_t i = 0; i < n; ++i) {
      sum += static_cast<uint64_t>(window[i]);
      out_of_vocab = out_of_vocab || window[i] < 0 || (vocab > 0 && window[i] >= vocab);  // 0: unknown (Megatron)
    }
  }
  int64_t previous = -1;
  for (int64_t i = 0; i <= d.num_documents(); ++i) {
    const int64_t s = d.document_start(i);
    if (s <= previous || s > d.num_tokens()) broken("document starts not increasing inside the split");
    previous = s;
  }
  if (d.num_tokens() > 0 && previous != d.num_tokens()) broken("the last document does not end the split");
  try {
    d.read(d.num_tokens(), 1, window.data());
    broken("read past the end of the split");
  } catch (const cook::Error&) {
  }
  try {
    d.verify();
    if (out_of_vocab) broken("verify() passed ids outside the vocabulary");
  } catch (const cook::Error&) {
  }
  if (sum == 0xdeadbeefcafef00dull) fprintf(stderr, "unlikely\n");  // keeps the reads
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cook::fuzz::ScratchFolder folder;
  folder.fill(cook::fuzz::unpack_bundle({reinterpret_cast<const char*>(data), size}));
  for (const char* split : {kTrainSplit, kValidationSplit}) {
    try {
      read_split(folder.path(), split);
    } catch (const cook::Error&) {
      // A rejected folder: what the checks are for.
    }
  }
  return 0;
}

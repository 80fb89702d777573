// libFuzzer target over the tokenizer files: GPT-2's encoder.json + vocab.bpe, or a Hugging Face
// tokenizer.json, read from a folder as `cook tokenize --tokenizer DIR` and `cook data prepare`
// read it. The input is a bundle of files (file_bundle.h); a "sample.txt" in it is encoded too.
// Any folder must either give a tokenizer or fail with cook::Error; a tokenizer must keep its
// promises: every id below vocab_size(), decode(encode(s)) == s for any bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cook/core/error.h"
#include "cook/text/tokenizer.h"
#include "file_bundle.h"

using namespace cook::text;

namespace {

[[noreturn]] void broken(const char* what) {
  fprintf(stderr, "fuzz_tokenizer: broken promise: %s\n", what);
  abort();
}

void round_trip(const Tokenizer& t, const std::string& text) {
  const std::vector<int32_t> ids = t.encode(text);
  for (int32_t id : ids)
    if (id < 0 || id >= t.vocab_size()) broken("encode() gave an id outside the vocabulary");
  if (t.decode(ids) != text) broken("decode(encode(s)) != s");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cook::fuzz::ScratchFolder folder;
  const cook::fuzz::Bundle files = cook::fuzz::unpack_bundle({reinterpret_cast<const char*>(data), size});
  folder.fill(files);
  try {
    const Tokenizer t = Tokenizer::from_dir(folder.path());
    if (t.end_of_text_id() < 0 || t.end_of_text_id() >= t.vocab_size()) broken("end-of-text id outside the vocabulary");
    if (t.fingerprint().empty()) broken("empty fingerprint");
    round_trip(t, "Hello world, the State of the Union <|endoftext|> 12,345 cats' toys \xe6\x97\xa5 \xff\x80\n\n");
    if (auto it = files.find("sample.txt"); it != files.end()) round_trip(t, it->second);
  } catch (const cook::Error&) {
    // A rejected tokenizer: what the checks are for.
  }
  return 0;
}

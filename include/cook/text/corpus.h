// Corpus → token data: text files are tokenized (each file holds one or more documents separated
// by the literal text "<|endoftext|>"), every document is followed by the end-of-text id, and the
// ids go to the train or validation split of a token-data folder (token_shards.h) by a
// deterministic rule on the file name.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cook/text/token_shards.h"

namespace cook::text {

class Tokenizer;

// Which split a source file goes to, decided from its file name alone (never its folder or its
// contents), so that the split is the same on every machine and in every run.
//   "sotu"     the SOTU corpus preset: "<year>_<name>_<party>.txt" before 1990 train, 1990 and
//              later validation (DATA.md); the same as "year:1990"
//   "year:Y"   file names start with a 4-digit year: before Y train, Y and later validation
//   "hash:F"   validation iff the first 8 bytes of SHA-256(file name), read as a fraction of
//              2^64, fall below F (0 ≤ F ≤ 1): about a fraction F of the files validate
//   "none"     everything trains
class SplitRule {
 public:
  // Errors name `where` (the option) and list the allowed forms.
  static SplitRule parse(const std::string& spec, const std::string& where = "--split-rule");
  // kTrainSplit or kValidationSplit. A year rule on a name without a leading year is an Error
  // naming the file.
  std::string assign(const std::string& path) const;
  const std::string& spec() const { return spec_; }

 private:
  enum class Kind { year, hash, none };
  Kind kind_ = Kind::none;
  int year_ = 0;
  double fraction_ = 0.0;
  std::string spec_ = "none";
};

// The tokenizer as corpus preparation sees it: `encode` is called from several threads at once.
struct TextEncoder {
  TokenizerInfo info;
  std::function<std::vector<int32_t>(std::string_view)> encode;
};
// Wraps a Tokenizer (which must outlive the result); Tokenizer::encode is const and thread-safe.
TextEncoder text_encoder(const Tokenizer& tokenizer);

constexpr const char* kEndOfTextMarker = "<|endoftext|>";

// The documents of a file's text: the pieces between "<|endoftext|>" markers, kept byte for byte;
// pieces that are empty or only whitespace are dropped.
std::vector<std::string_view> split_documents(std::string_view text);

// The files to read: each input file as given, and every regular file under each input folder
// (recursively) whose name ends in `extension` ("" takes all) and does not start with '.'.
// Sorted by path and without duplicates. A missing input is an Error naming it.
std::vector<std::string> list_source_files(const std::vector<std::string>& inputs,
                                           const std::string& extension);

struct PrepareOptions {
  std::vector<std::string> inputs;     // files and folders
  std::string output;                  // the token-data folder (created when missing)
  std::string split_rule = "hash:0.1";
  int64_t shard_tokens = 100'000'000;
  std::string extension = ".txt";      // which files to take from folders
  int threads = 0;                     // tokenizing threads; 0: one per core
  bool overwrite = false;              // replace token data already in `output`
  bool progress = true;                // a progress line on stderr
};

struct PrepareResult {
  TokenManifest manifest;
  int64_t bytes = 0;       // source bytes read
  double seconds = 0.0;    // wall time of the whole preparation
};

// Reads the sources in sorted order, tokenizes them on `threads` threads, writes the shards in
// that same order (the output does not depend on the thread count), and writes the manifest
// last. Errors name the option (e.g. "--shard-tokens") or the file at fault.
PrepareResult prepare_token_data(const PrepareOptions& options, const TextEncoder& encoder);

}  // namespace cook::text

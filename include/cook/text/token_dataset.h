// One split of a token-data folder (token_shards.h), memory-mapped: its shards read as one
// stream of token ids. Opening checks the manifest against the files (every shard and the index
// exist and have exactly the sizes the manifest gives; the index is monotone and ends at the
// token count), so a truncated or mismatched folder fails at open with the file and the field
// named, never later with a bus error or a silent short read.
//
// `dir` may also name a Megatron MMapIndexedDataset (megatron_dataset.h), BMCook's token data: its
// PREFIX, PREFIX.bin/.idx, or a folder holding one pair. Its manifest is made up: dtype from the
// index, vocab_size 0 (the pair does not record it), the split's tokens and documents.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cook/text/token_shards.h"

namespace cook::io {
class MappedFile;
}

namespace cook::text {

class TokenDataset {
 public:
  // `split` is "train" or "validation" (or any split the manifest lists).
  static TokenDataset open(const std::string& dir, const std::string& split);
  // True when this split was read from a Megatron pair.
  bool is_megatron() const { return !megatron_starts_.empty(); }

  int64_t num_tokens() const { return num_tokens_; }
  int64_t num_documents() const { return static_cast<int64_t>(doc_count_); }
  const TokenManifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  const std::string& split() const { return split_; }

  // Copies tokens [start, start + count) into `out` as int64 (windows may cross shards). Out of
  // range, or an id outside the manifest's vocabulary, is an Error naming the shard and the
  // token's offset in it. Thread-safe.
  void read(int64_t start, int64_t count, int64_t* out) const;
  std::vector<int64_t> read(int64_t start, int64_t count) const;

  // Document i spans tokens [document_start(i), document_start(i + 1)); i may be num_documents().
  int64_t document_start(int64_t i) const;

  // Reads every byte: shard and index SHA-256s against the manifest, ids below the vocabulary
  // size. Errors name the file.
  void verify() const;

  TokenDataset(TokenDataset&&) noexcept;
  TokenDataset& operator=(TokenDataset&&) noexcept;
  ~TokenDataset();

 private:
  TokenDataset() = default;
  static TokenDataset open_megatron(const std::string& prefix, const std::string& split);
  std::string dir_, split_;
  TokenManifest manifest_;
  std::vector<std::shared_ptr<const io::MappedFile>> shards_;
  std::vector<int64_t> shard_starts_;  // token offset of each shard; num_tokens_ last
  std::shared_ptr<const io::MappedFile> index_;
  const uint64_t* offsets_ = nullptr;
  size_t doc_count_ = 0;
  int64_t num_tokens_ = 0;
  int64_t width_ = 2;
  std::vector<uint64_t> megatron_starts_;  // a Megatron split's document starts (offsets_ points here)
};

}  // namespace cook::text

// Token data on disk: a folder of raw token shards, one document index per split and a JSON
// manifest that describes them.
//
//   DIR/manifest.json            format, tokenizer fingerprint, dtype, splits, sources (below)
//   DIR/train-00000.tokens       little-endian uint16 (vocab ≤ 65536) or uint32 token ids, no header;
//   DIR/train-00001.tokens       every shard but the last holds exactly `shard_tokens` ids
//   DIR/train.index              little-endian uint64 document start offsets into the split's
//                                token stream: documents+1 entries, 0 first, the token count last
//   DIR/validation-00000.tokens, DIR/validation.index
//
// manifest.json (format_version 1):
//   {"format": "cook.token_data", "format_version": 1,
//    "tokenizer": {"fingerprint": "7c82…", "vocab_size": 50257, "end_of_text_id": 50256},
//    "dtype": "uint16", "byte_order": "little", "shard_tokens": 100000000, "split_rule": "sotu",
//    "splits": {"train": {"tokens": N, "documents": D, "index": {"file": "train.index", "sha256": …},
//                         "shards": [{"file": "train-00000.tokens", "tokens": n, "sha256": …}, …]},
//               "validation": {…}},
//    "sources": [{"path": …, "bytes": …, "sha256": …, "split": "train", "documents": 1, "tokens": …}, …]}
//
// A split is one token stream cut into shards; documents may cross shard boundaries. Each
// document ends with the end-of-text id when the corpus preparation wrote it. The manifest is
// written last, so a folder with a manifest is complete; every file is written atomically.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cook::text {

enum class TokenDtype { uint16, uint32 };

const char* dtype_name(TokenDtype dtype);
int64_t dtype_size(TokenDtype dtype);  // bytes per token
// uint16 when every id of a vocabulary of this size fits, else uint32.
TokenDtype dtype_for_vocab(int64_t vocab_size);
// "uint16" / "uint32"; anything else is an Error naming `where`.
TokenDtype parse_dtype(const std::string& name, const std::string& where);

constexpr const char* kTrainSplit = "train";
constexpr const char* kValidationSplit = "validation";
constexpr const char* kManifestFile = "manifest.json";

struct ShardInfo {
  std::string file;    // relative to the data folder
  int64_t tokens = 0;
  std::string sha256;  // of the file's bytes
};

struct SplitInfo {
  int64_t tokens = 0;
  int64_t documents = 0;
  std::string index_file;  // relative to the data folder
  std::string index_sha256;
  std::vector<ShardInfo> shards;
};

struct SourceInfo {
  std::string path;     // as it was read
  int64_t bytes = 0;
  std::string sha256;   // of the file's bytes
  std::string split;    // the split its documents went to
  int64_t documents = 0;
  int64_t tokens = 0;   // end-of-text ids included
};

struct TokenizerInfo {
  std::string fingerprint;
  int64_t vocab_size = 0;
  int64_t end_of_text_id = -1;
};

struct TokenManifest {
  static constexpr const char* kFormat = "cook.token_data";
  static constexpr int kFormatVersion = 1;

  int format_version = kFormatVersion;
  TokenizerInfo tokenizer;
  TokenDtype dtype = TokenDtype::uint16;
  int64_t shard_tokens = 0;
  std::string split_rule;                  // how sources were assigned to splits
  std::map<std::string, SplitInfo> splits;
  std::vector<SourceInfo> sources;

  nlohmann::json to_json() const;
  // Every missing field, wrong type or impossible value is an Error naming `where` (the file)
  // and the field, e.g. "d/manifest.json: field 'splits.train.shards[1].tokens': ...".
  static TokenManifest from_json(const nlohmann::json& j, const std::string& where);
  static TokenManifest load(const std::string& dir);
  void save(const std::string& dir) const;  // atomic
  const SplitInfo& split(const std::string& name, const std::string& where) const;
};

// Writes one split's shards and index into `dir`. Ids are checked against the vocabulary size.
class ShardWriter {
 public:
  ShardWriter(std::string dir, std::string split, TokenDtype dtype, int64_t vocab_size,
              int64_t shard_tokens);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;
  ~ShardWriter();

  // One document: its ids go to the stream, its start to the index. Empty documents are skipped.
  void add_document(const int32_t* ids, size_t count);
  void add_document(const std::vector<int32_t>& ids) { add_document(ids.data(), ids.size()); }
  // Writes the last shard and the index; returns what the manifest records for this split.
  SplitInfo finish();

  int64_t tokens() const { return total_tokens_; }

 private:
  void open_shard();
  void close_shard();
  void flush_buffer();

  struct Open;
  std::string dir_, split_;
  TokenDtype dtype_;
  int64_t vocab_size_, shard_tokens_;
  int64_t total_tokens_ = 0;
  int64_t shard_fill_ = 0;
  std::vector<uint8_t> buffer_;
  std::vector<uint64_t> offsets_{0};
  std::unique_ptr<Open> open_;
  SplitInfo info_;
  bool finished_ = false;
};

// The file names a split uses: "<split>-<NNNNN>.tokens" and "<split>.index".
std::string shard_file_name(const std::string& split, int64_t shard);
std::string index_file_name(const std::string& split);
// Removes DIR/manifest.json first, then every train/validation shard and index file (and temp
// file) an earlier run left; other files stay.
void remove_token_data(const std::string& dir);

}  // namespace cook::text

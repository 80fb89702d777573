#include "cook/text/token_shards.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <regex>

#include "cook/core/error.h"
#include "cook/io/atomic_file.h"
#include "data_files.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Cook's token shards are little-endian and are written and read as raw memory"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace cook::text {

const char* dtype_name(TokenDtype dtype) { return dtype == TokenDtype::uint16 ? "uint16" : "uint32"; }

int64_t dtype_size(TokenDtype dtype) { return dtype == TokenDtype::uint16 ? 2 : 4; }

TokenDtype dtype_for_vocab(int64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDtype::uint16 : TokenDtype::uint32;
}

TokenDtype parse_dtype(const std::string& name, const std::string& where) {
  if (name == "uint16") return TokenDtype::uint16;
  if (name == "uint32") return TokenDtype::uint32;
  throw Error(where, "unknown token dtype '" + name + "' (allowed: uint16, uint32)");
}

std::string shard_file_name(const std::string& split, int64_t shard) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05lld.tokens", static_cast<long long>(shard));
  return split + buf;
}

std::string index_file_name(const std::string& split) { return split + ".index"; }

// ---------------------------------------------------------------------------------------------
// Manifest

namespace {

// Strict field access: every failure names the file and the dotted field path.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(where_, "field '" + field + "': " + what);
  }
  const json& member(const json& obj, const std::string& key, const std::string& field) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(field, "missing");
    return *it;
  }
  const json& object(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_object()) fail(field, std::string("expected an object, found ") + v.type_name());
    return v;
  }
  const json& array(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_array()) fail(field, std::string("expected an array, found ") + v.type_name());
    return v;
  }
  std::string string(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_string()) fail(field, std::string("expected a string, found ") + v.type_name());
    return v.get<std::string>();
  }
  int64_t count(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      fail(field, "expected a non-negative integer, found " + v.dump());
    }
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) fail(field, "too large: " + v.dump());
    return v.get<int64_t>();
  }
  std::string file_name(const json& obj, const std::string& key, const std::string& field) const {
    std::string s = string(obj, key, field);
    if (s.empty() || s.find('/') != std::string::npos || s == "." || s == "..") {
      fail(field, "'" + s + "' is not a plain file name inside the data folder");
    }
    return s;
  }

 private:
  std::string where_;
};

}  // namespace

json TokenManifest::to_json() const {
  json j;
  j["format"] = kFormat;
  j["format_version"] = format_version;
  j["tokenizer"] = {{"fingerprint", tokenizer.fingerprint},
                    {"vocab_size", tokenizer.vocab_size},
                    {"end_of_text_id", tokenizer.end_of_text_id}};
  j["dtype"] = dtype_name(dtype);
  j["byte_order"] = "little";
  j["shard_tokens"] = shard_tokens;
  j["split_rule"] = split_rule;
  json splits_json = json::object();
  for (const auto& [name, s] : splits) {
    json shards = json::array();
    for (const auto& sh : s.shards) {
      shards.push_back({{"file", sh.file}, {"tokens", sh.tokens}, {"sha256", sh.sha256}});
    }
    splits_json[name] = {{"tokens", s.tokens},
                         {"documents", s.documents},
                         {"index", {{"file", s.index_file}, {"sha256", s.index_sha256}}},
                         {"shards", shards}};
  }
  j["splits"] = splits_json;
  json src = json::array();
  for (const auto& s : sources) {
    src.push_back({{"path", s.path},
                   {"bytes", s.bytes},
                   {"sha256", s.sha256},
                   {"split", s.split},
                   {"documents", s.documents},
                   {"tokens", s.tokens}});
  }
  j["sources"] = src;
  return j;
}

TokenManifest TokenManifest::from_json(const json& j, const std::string& where) {
  const Reader r(where);
  if (!j.is_object()) throw Error(where, "expected a JSON object");
  TokenManifest m;
  if (r.string(j, "format", "format") != kFormat) {
    r.fail("format", "expected '" + std::string(kFormat) + "', found '" + j["format"].get<std::string>() + "'");
  }
  const int64_t version = r.count(j, "format_version", "format_version");
  if (version < 1 || version > kFormatVersion) {
    r.fail("format_version", "version " + std::to_string(version) + " is not supported (this Cook reads 1.." +
                                 std::to_string(kFormatVersion) + ")");
  }
  m.format_version = static_cast<int>(version);

  const json& tok = r.object(j, "tokenizer", "tokenizer");
  m.tokenizer.fingerprint = r.string(tok, "fingerprint", "tokenizer.fingerprint");
  m.tokenizer.vocab_size = r.count(tok, "vocab_size", "tokenizer.vocab_size");
  if (m.tokenizer.vocab_size < 1 || m.tokenizer.vocab_size > (int64_t(1) << 32)) {
    r.fail("tokenizer.vocab_size", "impossible value " + std::to_string(m.tokenizer.vocab_size));
  }
  const json& eot = r.member(tok, "end_of_text_id", "tokenizer.end_of_text_id");
  if (!eot.is_number_integer()) r.fail("tokenizer.end_of_text_id", "expected an integer, found " + eot.dump());
  m.tokenizer.end_of_text_id = eot.get<int64_t>();

  m.dtype = parse_dtype(r.string(j, "dtype", "dtype"), where + ": field 'dtype'");
  if (m.dtype == TokenDtype::uint16 && m.tokenizer.vocab_size > 65536) {
    r.fail("dtype", "uint16 cannot hold the ids of a vocabulary of " + std::to_string(m.tokenizer.vocab_size));
  }
  if (auto it = j.find("byte_order"); it != j.end() && *it != "little") {
    r.fail("byte_order", "only \"little\" is supported, found " + it->dump());
  }
  m.shard_tokens = r.count(j, "shard_tokens", "shard_tokens");
  if (m.shard_tokens < 1) r.fail("shard_tokens", "must be at least 1");
  m.split_rule = r.string(j, "split_rule", "split_rule");

  const json& splits = r.object(j, "splits", "splits");
  for (const auto& [name, sj] : splits.items()) {
    const std::string f = "splits." + name;
    if (!sj.is_object()) r.fail(f, std::string("expected an object, found ") + sj.type_name());
    SplitInfo s;
    s.tokens = r.count(sj, "tokens", f + ".tokens");
    s.documents = r.count(sj, "documents", f + ".documents");
    const json& idx = r.object(sj, "index", f + ".index");
    s.index_file = r.file_name(idx, "file", f + ".index.file");
    s.index_sha256 = r.string(idx, "sha256", f + ".index.sha256");
    const json& shards = r.array(sj, "shards", f + ".shards");
    int64_t sum = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string sf = f + ".shards[" + std::to_string(i) + "]";
      if (!shards[i].is_object()) r.fail(sf, "expected an object");
      ShardInfo sh;
      sh.file = r.file_name(shards[i], "file", sf + ".file");
      sh.tokens = r.count(shards[i], "tokens", sf + ".tokens");
      sh.sha256 = r.string(shards[i], "sha256", sf + ".sha256");
      if (sh.tokens < 1) r.fail(sf + ".tokens", "a shard holds at least one token");
      if (i + 1 < shards.size() && sh.tokens != m.shard_tokens) {
        r.fail(sf + ".tokens", std::to_string(sh.tokens) + " but every shard except the last holds shard_tokens = " +
                                   std::to_string(m.shard_tokens));
      }
      if (sh.tokens > m.shard_tokens) {
        r.fail(sf + ".tokens", std::to_string(sh.tokens) + " exceeds shard_tokens = " + std::to_string(m.shard_tokens));
      }
      if (sh.tokens > std::numeric_limits<int64_t>::max() - sum)
        r.fail(sf + ".tokens", "the shards' token counts add up past what a count can hold");
      sum += sh.tokens;
      s.shards.push_back(std::move(sh));
    }
    if (sum != s.tokens) {
      r.fail(f + ".tokens", std::to_string(s.tokens) + " but its shards hold " + std::to_string(sum));
    }
    if (s.documents > s.tokens) {
      r.fail(f + ".documents", std::to_string(s.documents) + " documents in " + std::to_string(s.tokens) + " tokens");
    }
    m.splits.emplace(name, std::move(s));
  }

  const json& sources = r.array(j, "sources", "sources");
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string f = "sources[" + std::to_string(i) + "]";
    if (!sources[i].is_object()) r.fail(f, "expected an object");
    SourceInfo s;
    s.path = r.string(sources[i], "path", f + ".path");
    s.bytes = r.count(sources[i], "bytes", f + ".bytes");
    s.sha256 = r.string(sources[i], "sha256", f + ".sha256");
    s.split = r.string(sources[i], "split", f + ".split");
    s.documents = r.count(sources[i], "documents", f + ".documents");
    s.tokens = r.count(sources[i], "tokens", f + ".tokens");
    if (m.splits.find(s.split) == m.splits.end()) r.fail(f + ".split", "no split '" + s.split + "' in 'splits'");
    m.sources.push_back(std::move(s));
  }
  // The sources add up to the splits (when they are listed at all).
  if (!m.sources.empty()) {
    for (const auto& [name, split] : m.splits) {
      int64_t tokens = 0, documents = 0;
      for (const auto& s : m.sources) {
        if (s.split == name) tokens += s.tokens, documents += s.documents;
      }
      if (tokens != split.tokens) {
        r.fail("splits." + name + ".tokens", std::to_string(split.tokens) + " but the sources of this split hold " +
                                                 std::to_string(tokens));
      }
      if (documents != split.documents) {
        r.fail("splits." + name + ".documents", std::to_string(split.documents) +
                                                    " but the sources of this split hold " + std::to_string(documents));
      }
    }
  }
  return m;
}

TokenManifest TokenManifest::load(const std::string& dir) {
  const std::string path = (fs::path(dir) / kManifestFile).string();
  if (!fs::exists(path)) {
    if (!fs::exists(dir)) throw Error(dir, "no such token data folder");
    throw Error(path, "missing: not a token data folder (run `cook data prepare` to make one)");
  }
  const std::string text = detail::read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // a syntax error, or a number no type holds (1e999)
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
  return from_json(j, path);
}

void TokenManifest::save(const std::string& dir) const {
  io::write_file_atomic((fs::path(dir) / kManifestFile).string(), to_json().dump(2) + "\n");
}

const SplitInfo& TokenManifest::split(const std::string& name, const std::string& where) const {
  auto it = splits.find(name);
  if (it == splits.end()) {
    std::string known;
    for (const auto& [n, s] : splits) known += (known.empty() ? "" : ", ") + n;
    throw Error(where, "no split '" + name + "' (the data has: " + (known.empty() ? "none" : known) + ")");
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// Writer

struct ShardWriter::Open {
  explicit Open(const std::string& path) : file(path) {}
  io::AtomicFile file;
  detail::Sha256 sha;
};

namespace {
constexpr size_t kBufferTokens = 1 << 16;
}

ShardWriter::ShardWriter(std::string dir, std::string split, TokenDtype dtype, int64_t vocab_size,
                         int64_t shard_tokens)
    : dir_(std::move(dir)), split_(std::move(split)), dtype_(dtype), vocab_size_(vocab_size),
      shard_tokens_(shard_tokens) {
  if (shard_tokens_ < 1) throw Error("shard_tokens", "must be at least 1, got " + std::to_string(shard_tokens_));
  if (vocab_size_ < 1) throw Error("vocab_size", "must be at least 1, got " + std::to_string(vocab_size_));
  if (dtype_ == TokenDtype::uint16 && vocab_size_ > 65536) {
    throw Error("dtype", "uint16 cannot hold the ids of a vocabulary of " + std::to_string(vocab_size_));
  }
  buffer_.reserve(kBufferTokens * dtype_size(dtype_));
}

ShardWriter::~ShardWriter() = default;  // an unfinished shard's temp file is removed

void ShardWriter::open_shard() {
  const std::string name = shard_file_name(split_, static_cast<int64_t>(info_.shards.size()));
  open_ = std::make_unique<Open>((fs::path(dir_) / name).string());
  info_.shards.push_back({name, 0, ""});
  shard_fill_ = 0;
}

void ShardWriter::flush_buffer() {
  if (buffer_.empty()) return;
  open_->file.write(buffer_.data(), buffer_.size());
  open_->sha.update(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void ShardWriter::close_shard() {
  flush_buffer();
  open_->file.commit();
  info_.shards.back().tokens = shard_fill_;
  info_.shards.back().sha256 = open_->sha.hex_digest();
  open_.reset();
}

void ShardWriter::add_document(const int32_t* ids, size_t count) {
  if (finished_) throw Error(split_, "add_document after finish");
  if (count == 0) return;
  for (size_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size_) {
      throw Error("token " + std::to_string(i) + " of document " + std::to_string(offsets_.size() - 1),
                  "id " + std::to_string(ids[i]) + " is outside the vocabulary [0, " + std::to_string(vocab_size_) + ")");
    }
  }
  const size_t width = static_cast<size_t>(dtype_size(dtype_));
  for (size_t i = 0; i < count; ++i) {
    if (!open_) open_shard();
    if (dtype_ == TokenDtype::uint16) {
      const uint16_t v = static_cast<uint16_t>(ids[i]);
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      buffer_.insert(buffer_.end(), p, p + width);
    } else {
      const uint32_t v = static_cast<uint32_t>(ids[i]);
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      buffer_.insert(buffer_.end(), p, p + width);
    }
    ++shard_fill_;
    if (buffer_.size() >= kBufferTokens * width) flush_buffer();
    if (shard_fill_ == shard_tokens_) close_shard();
  }
  total_tokens_ += static_cast<int64_t>(count);
  offsets_.push_back(static_cast<uint64_t>(total_tokens_));
}

SplitInfo ShardWriter::finish() {
  if (finished_) throw Error(split_, "finished twice");
  finished_ = true;
  if (open_) close_shard();
  info_.tokens = total_tokens_;
  info_.documents = static_cast<int64_t>(offsets_.size()) - 1;
  info_.index_file = index_file_name(split_);
  io::AtomicFile index((fs::path(dir_) / info_.index_file).string());
  index.write(offsets_.data(), offsets_.size() * sizeof(uint64_t));
  index.commit();
  detail::Sha256 sha;
  sha.update(offsets_.data(), offsets_.size() * sizeof(uint64_t));
  info_.index_sha256 = sha.hex_digest();
  return info_;
}

void remove_token_data(const std::string& dir) {
  if (!fs::is_directory(dir)) return;
  const fs::path manifest = fs::path(dir) / kManifestFile;
  std::error_code ec;
  if (fs::exists(manifest)) {
    if (!fs::remove(manifest, ec)) throw Error(manifest.string(), "cannot remove: " + ec.message());
    io::fsync_directory(dir);
  }
  static const std::regex ours(R"(\.?(train|validation)(-\d{5,}\.tokens|\.index)(\.tmp-[0-9-]+)?)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, ours)) {
      if (!fs::remove(entry.path(), ec)) throw Error(entry.path().string(), "cannot remove: " + ec.message());
    }
  }
}

}  // namespace cook::text

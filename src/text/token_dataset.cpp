#include "cook/text/token_dataset.h"

#include <algorithm>
#include <filesystem>

#include "cook/core/error.h"
#include "cook/io/mapped_file.h"
#include "cook/text/megatron_dataset.h"
#include "data_files.h"

namespace fs = std::filesystem;

namespace cook::text {

TokenDataset::TokenDataset(TokenDataset&&) noexcept = default;
TokenDataset& TokenDataset::operator=(TokenDataset&&) noexcept = default;
TokenDataset::~TokenDataset() = default;

TokenDataset TokenDataset::open(const std::string& dir, const std::string& split) {
  if (std::optional<std::string> prefix = megatron_prefix(dir)) return open_megatron(*prefix, split);
  TokenDataset d;
  d.dir_ = dir;
  d.split_ = split;
  d.manifest_ = TokenManifest::load(dir);
  const std::string manifest_path = (fs::path(dir) / kManifestFile).string();
  const SplitInfo& info = d.manifest_.split(split, manifest_path);
  d.width_ = dtype_size(d.manifest_.dtype);
  d.num_tokens_ = info.tokens;

  auto open_file = [&](const std::string& name, const std::string& field) {
    const std::string path = (fs::path(dir) / name).string();
    if (!fs::exists(path)) {
      throw Error(path, "missing (listed in " + manifest_path + " field '" + field + "')");
    }
    return io::MappedFile::open(path);
  };

  int64_t start = 0;
  for (size_t i = 0; i < info.shards.size(); ++i) {
    const ShardInfo& sh = info.shards[i];
    const std::string field = "splits." + split + ".shards[" + std::to_string(i) + "]";
    auto mapped = open_file(sh.file, field + ".file");
    const uint64_t expected = static_cast<uint64_t>(sh.tokens) * static_cast<uint64_t>(d.width_);
    if (mapped->size() != expected) {
      const std::string what = mapped->size() < expected ? "truncated" : "longer than the manifest says";
      throw Error(mapped->path(), what + ": " + std::to_string(mapped->size()) + " bytes, but " + manifest_path +
                                      " field '" + field + ".tokens' = " + std::to_string(sh.tokens) + " " +
                                      dtype_name(d.manifest_.dtype) + " ids = " + std::to_string(expected) + " bytes");
    }
    d.shard_starts_.push_back(start);
    start += sh.tokens;
    d.shards_.push_back(std::move(mapped));
  }
  d.shard_starts_.push_back(start);

  const std::string index_field = "splits." + split + ".index.file";
  d.index_ = open_file(info.index_file, index_field);
  const std::string& index_path = d.index_->path();
  const uint64_t expected_index = static_cast<uint64_t>(info.documents + 1) * sizeof(uint64_t);
  if (d.index_->size() != expected_index) {
    throw Error(index_path, std::string(d.index_->size() < expected_index ? "truncated" : "longer than the manifest says") +
                                ": " + std::to_string(d.index_->size()) + " bytes, but " + manifest_path + " field 'splits." +
                                split + ".documents' = " + std::to_string(info.documents) + " needs " +
                                std::to_string(info.documents + 1) + " offsets = " + std::to_string(expected_index) + " bytes");
  }
  d.offsets_ = reinterpret_cast<const uint64_t*>(d.index_->data());
  d.doc_count_ = static_cast<size_t>(info.documents);
  if (d.offsets_[0] != 0) throw Error(index_path, "the first document offset is " + std::to_string(d.offsets_[0]) + ", not 0");
  for (size_t i = 1; i <= d.doc_count_; ++i) {
    if (d.offsets_[i] <= d.offsets_[i - 1]) {
      throw Error(index_path, "document offsets are not increasing at entry " + std::to_string(i) + " (" +
                                  std::to_string(d.offsets_[i - 1]) + " then " + std::to_string(d.offsets_[i]) + ")");
    }
  }
  if (d.offsets_[d.doc_count_] != static_cast<uint64_t>(d.num_tokens_)) {
    throw Error(index_path, "the last document ends at token " + std::to_string(d.offsets_[d.doc_count_]) + ", but " +
                                manifest_path + " field 'splits." + split + ".tokens' = " + std::to_string(d.num_tokens_));
  }
  return d;
}

TokenDataset TokenDataset::open_megatron(const std::string& prefix, const std::string& split) {
  TokenDataset d;
  d.dir_ = prefix;
  d.split_ = split;
  auto bin = io::MappedFile::open(prefix + ".bin");
  const MegatronIndex index = read_megatron_index(prefix + ".idx", bin->size());
  const int64_t documents = static_cast<int64_t>(index.document_starts.size()) - 1;
  const MegatronSplit range = megatron_split(documents, split, prefix + ".idx");
  const uint64_t first = index.document_starts[static_cast<size_t>(range.first_document)];
  for (int64_t k = range.first_document; k <= range.end_document; ++k)
    d.megatron_starts_.push_back(index.document_starts[static_cast<size_t>(k)] - first);
  d.width_ = index.bytes_per_token;
  d.num_tokens_ = static_cast<int64_t>(d.megatron_starts_.back());
  d.doc_count_ = static_cast<size_t>(range.end_document - range.first_document);
  d.offsets_ = d.megatron_starts_.data();
  // The split is a window of the one .bin: its shard starts before token 0 when it is not the first.
  d.shard_starts_ = {-static_cast<int64_t>(first), d.num_tokens_};
  d.shards_.push_back(std::move(bin));

  SplitInfo info;
  info.tokens = d.num_tokens_;
  info.documents = static_cast<int64_t>(d.doc_count_);
  info.index_file = prefix + ".idx";
  info.shards.push_back({prefix + ".bin", d.num_tokens_, ""});
  d.manifest_.dtype = d.width_ == 2 ? TokenDtype::uint16 : TokenDtype::uint32;
  d.manifest_.split_rule = "megatron: the last 3% of documents are validation";
  d.manifest_.splits[split] = info;
  return d;
}

void TokenDataset::read(int64_t start, int64_t count, int64_t* out) const {
  if (start < 0 || count < 0 || start > num_tokens_ || count > num_tokens_ - start) {
    throw Error(dir_ + " (" + split_ + ")", "cannot read tokens [" + std::to_string(start) + ", " +
                                                std::to_string(start + count) + "): the split holds " +
                                                std::to_string(num_tokens_));
  }
  if (count == 0) return;
  size_t s = static_cast<size_t>(std::upper_bound(shard_starts_.begin(), shard_starts_.end(), start) -
                                 shard_starts_.begin()) - 1;
  int64_t pos = start;
  int64_t left = count;
  while (left > 0) {
    const int64_t in_shard = pos - shard_starts_[s];
    const int64_t n = std::min(left, shard_starts_[s + 1] - pos);
    const uint8_t* base = shards_[s]->data();
    int64_t largest = 0;
    if (width_ == 2) {
      const auto* p = reinterpret_cast<const uint16_t*>(base) + in_shard;
      for (int64_t i = 0; i < n; ++i) largest = std::max<int64_t>(largest, out[i] = p[i]);
    } else {
      const auto* p = reinterpret_cast<const uint32_t*>(base) + in_shard;
      for (int64_t i = 0; i < n; ++i) largest = std::max<int64_t>(largest, out[i] = p[i]);
    }
    // An id past the vocabulary (a corrupt shard) is named here, not by an index error deep in
    // the model.
    if (manifest_.tokenizer.vocab_size > 0 && largest >= manifest_.tokenizer.vocab_size) {  // 0: unknown
      const int64_t at = std::find_if(out, out + n, [&](int64_t id) { return id >= manifest_.tokenizer.vocab_size; }) - out;
      throw Error(shards_[s]->path(), "token " + std::to_string(in_shard + at) + " has id " + std::to_string(out[at]) +
                                          ", outside the vocabulary of " + std::to_string(manifest_.tokenizer.vocab_size) +
                                          " (a corrupt shard: 'cook data info " + dir_ + " --verify' checks every file)");
    }
    out += n;
    pos += n;
    left -= n;
    ++s;
  }
}

std::vector<int64_t> TokenDataset::read(int64_t start, int64_t count) const {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(count, 0)));
  read(start, count, v.data());
  return v;
}

int64_t TokenDataset::document_start(int64_t i) const {
  if (i < 0 || static_cast<size_t>(i) > doc_count_) {
    throw Error(dir_ + " (" + split_ + ")", "no document " + std::to_string(i) + " (the split has " +
                                                std::to_string(doc_count_) + ")");
  }
  return static_cast<int64_t>(offsets_[i]);
}

void TokenDataset::verify() const {
  if (is_megatron()) return;  // a Megatron pair has no checksums; open() checked its index against the .bin
  const SplitInfo& info = manifest_.split(split_, dir_);
  const std::string manifest_path = (fs::path(dir_) / kManifestFile).string();
  const int64_t vocab = manifest_.tokenizer.vocab_size;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const auto& m = *shards_[i];
    detail::Sha256 h;
    h.update(m.data(), m.size());
    const std::string got = h.hex_digest();
    if (got != info.shards[i].sha256) {
      throw Error(m.path(), "SHA-256 " + got + " does not match " + manifest_path + " field 'splits." + split_ +
                                ".shards[" + std::to_string(i) + "].sha256' = " + info.shards[i].sha256);
    }
    const size_t n = m.size() / static_cast<size_t>(width_);
    for (size_t k = 0; k < n; ++k) {
      const int64_t id = width_ == 2 ? reinterpret_cast<const uint16_t*>(m.data())[k]
                                     : reinterpret_cast<const uint32_t*>(m.data())[k];
      if (id >= vocab) {
        throw Error(m.path(), "token " + std::to_string(k) + " has id " + std::to_string(id) +
                                  ", outside the vocabulary of " + std::to_string(vocab));
      }
    }
  }
  detail::Sha256 h;
  h.update(index_->data(), index_->size());
  const std::string got = h.hex_digest();
  if (got != info.index_sha256) {
    throw Error(index_->path(), "SHA-256 " + got + " does not match " + manifest_path + " field 'splits." + split_ +
                                    ".index.sha256' = " + info.index_sha256);
  }
}

}  // namespace cook::text

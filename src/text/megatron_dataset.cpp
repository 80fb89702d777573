#include "cook/text/megatron_dataset.h"

#include <cstring>
#include <filesystem>

#include "cook/core/error.h"
#include "cook/io/mapped_file.h"
#include "cook/text/token_shards.h"

namespace fs = std::filesystem;

namespace cook::text {

namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

bool pair_exists(const std::string& prefix) {
  return fs::is_regular_file(prefix + ".bin") && fs::is_regular_file(prefix + ".idx");
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::optional<std::string> megatron_prefix(const std::string& path) {
  if (pair_exists(path)) return path;
  for (const char* ext : {".bin", ".idx"}) {
    if (!ends_with(path, ext)) continue;
    const std::string prefix = path.substr(0, path.size() - 4);
    if (pair_exists(prefix)) return prefix;
  }
  std::error_code ec;
  if (!fs::is_directory(path, ec) || fs::exists(fs::path(path) / kManifestFile)) return std::nullopt;
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string p = e.path().string();
    if (ends_with(p, ".idx") && pair_exists(p.substr(0, p.size() - 4))) found.push_back(p.substr(0, p.size() - 4));
  }
  if (found.size() > 1) {
    std::string list;
    for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
    throw Error(path, "holds several Megatron datasets (" + list + "): name one by its prefix");
  }
  if (found.empty()) return std::nullopt;
  return found.front();
}

MegatronIndex read_megatron_index(const std::string& idx_path, uint64_t bin_bytes) {
  const auto file = io::MappedFile::open(idx_path);
  const uint8_t* p = file->data();
  const uint64_t size = file->size();
  uint64_t pos = 0;
  auto need = [&](uint64_t n, const char* field) {
    if (n > size - pos) throw Error(idx_path, std::string("truncated: field '") + field + "' runs past the end");
  };
  auto u64 = [&](const char* field) {
    need(8, field);
    uint64_t v;
    std::memcpy(&v, p + pos, 8);
    pos += 8;
    return v;
  };
  need(9, "magic");
  if (std::memcmp(p, kMagic, 9) != 0) throw Error(idx_path, "field 'magic': not MMIDIDX\\0\\0, not a Megatron index");
  pos = 9;
  if (const uint64_t version = u64("version"); version != 1)
    throw Error(idx_path, "field 'version': " + std::to_string(version) + " (Cook reads version 1)");
  need(1, "dtype");
  MegatronIndex index;
  index.dtype_code = p[pos++];
  switch (index.dtype_code) {
    case 8: index.bytes_per_token = 2; break;  // uint16
    case 4: index.bytes_per_token = 4; break;  // int32
    default:
      throw Error(idx_path, "field 'dtype': code " + std::to_string(index.dtype_code) +
                                " (Cook reads token ids of code 8, uint16, and 4, int32)");
  }
  const uint64_t items = u64("sizes count"), doc_entries = u64("doc_idx count");
  if (items > size / 12 || doc_entries > size / 8 || pos + items * 12 + doc_entries * 8 != size)
    throw Error(idx_path, "is " + std::to_string(size) + " bytes, but its counts (" + std::to_string(items) + " items, " +
                              std::to_string(doc_entries) + " document entries) need " +
                              std::to_string(pos + items * 12 + doc_entries * 8));
  const uint8_t* sizes = p + pos;
  const uint8_t* pointers = sizes + items * 4;
  const uint8_t* doc_idx = pointers + items * 8;
  // Item k's first token in the stream; the items must follow each other.
  std::vector<uint64_t> item_start(items + 1, 0);
  for (uint64_t k = 0; k < items; ++k) {
    int32_t n;
    int64_t ptr;
    std::memcpy(&n, sizes + k * 4, 4);
    std::memcpy(&ptr, pointers + k * 8, 8);
    if (n < 0) throw Error(idx_path, "field 'sizes[" + std::to_string(k) + "]' is negative");
    if (static_cast<uint64_t>(ptr) != item_start[k] * static_cast<uint64_t>(index.bytes_per_token))
      throw Error(idx_path, "field 'pointers[" + std::to_string(k) + "]' = " + std::to_string(ptr) + ", not " +
                                std::to_string(item_start[k] * static_cast<uint64_t>(index.bytes_per_token)) +
                                ": the items are not back to back in the .bin");
    item_start[k + 1] = item_start[k] + static_cast<uint64_t>(n);
  }
  if (item_start[items] * static_cast<uint64_t>(index.bytes_per_token) != bin_bytes)
    throw Error(idx_path, "its items hold " + std::to_string(item_start[items]) + " ids, " +
                              std::to_string(item_start[items] * static_cast<uint64_t>(index.bytes_per_token)) +
                              " bytes, but the .bin has " + std::to_string(bin_bytes));
  if (doc_entries < 2) throw Error(idx_path, "field 'doc_idx' holds no document");
  index.document_starts.push_back(0);
  int64_t previous = -1;
  for (uint64_t d = 0; d < doc_entries; ++d) {
    int64_t first;
    std::memcpy(&first, doc_idx + d * 8, 8);
    const std::string field = "field 'doc_idx[" + std::to_string(d) + "]' = " + std::to_string(first);
    if (first < previous || first > static_cast<int64_t>(items)) throw Error(idx_path, field + " is out of order");
    if ((d == 0 && first != 0) || (d + 1 == doc_entries && first != static_cast<int64_t>(items)))
      throw Error(idx_path, field + ": the first entry must be 0 and the last the item count " + std::to_string(items));
    previous = first;
    const uint64_t start = item_start[static_cast<uint64_t>(first)];
    if (d > 0 && start > index.document_starts.back()) index.document_starts.push_back(start);  // drops empty documents
  }
  if (index.document_starts.size() < 2) throw Error(idx_path, "holds no tokens");
  return index;
}

MegatronSplit megatron_split(int64_t documents, const std::string& split, const std::string& where) {
  const int64_t validation = documents < 2 ? documents : std::max<int64_t>(1, (documents * 3 + 99) / 100);
  if (split == kTrainSplit) return {0, documents < 2 ? documents : documents - validation};
  if (split == kValidationSplit) return {documents - validation, documents};
  throw Error(where, "a Megatron dataset has the splits 'train' and 'validation', not '" + split + "'");
}

}  // namespace cook::text

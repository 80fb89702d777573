#include "cook/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/io/atomic_file.h"
#include "cook/io/mapped_file.h"

namespace cook::io {

namespace {

using json = nlohmann::json;

struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

const DTypeRow& row(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r;
  throw Error("safetensors: dtype code " + std::to_string(static_cast<int>(t)) + " is not a dtype");
}

std::string sq(std::string_view name) { return "'" + printable(name) + "'"; }

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF) return 0;  // overlong, too big
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                                          // surrogates
  return n;
}

// Index of the first byte that is not well-formed UTF-8, or npos.
size_t first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// Describes the JSON string around header byte `pos` for an error message: the raw string between
// its quotes, and whether it is an object key (followed by ':').
std::pair<std::string_view, bool> enclosing_string(std::string_view h, size_t pos) {
  auto unescaped_quote = [&](size_t q) {
    size_t backslashes = 0;
    while (q > backslashes && h[q - 1 - backslashes] == '\\') ++backslashes;
    return backslashes % 2 == 0;
  };
  size_t open = pos;
  while (open > 0) {
    --open;
    if (h[open] == '"' && unescaped_quote(open)) break;
  }
  size_t close = pos;
  while (close < h.size() && !(h[close] == '"' && unescaped_quote(close))) ++close;
  size_t after = close + 1;
  while (after < h.size() && (h[after] == ' ' || h[after] == '\t' || h[after] == '\n' || h[after] == '\r')) ++after;
  bool is_key = after < h.size() && h[after] == ':';
  size_t begin = h[open] == '"' ? open + 1 : open;
  return {h.substr(begin, std::min(close, h.size()) - begin), is_key};
}

bool is_unsigned_integer(const json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0); }

}  // namespace

size_t dtype_size(DType t) { return row(t).size; }
const char* dtype_name(DType t) { return row(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& r : kDTypes)
    if (name == r.name) return r.type;
  return std::nullopt;
}

std::string dtype_names() {
  std::string s;
  for (const auto& r : kDTypes) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) == std::string_view::npos; }

std::string printable(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    auto c = static_cast<unsigned char>(s[i]);
    if (n > 1 || (n == 1 && c >= 0x20 && c != 0x7F)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
      ++i;
    }
  }
  return out;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // checked against overflow when parsed
  return n;
}

std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates, size_t max) {
  std::vector<std::pair<size_t, const std::string*>> scored;
  scored.reserve(candidates.size());
  std::vector<size_t> prev, cur;
  for (const auto& c : candidates) {
    // Levenshtein distance, two rows.
    prev.resize(c.size() + 1);
    cur.resize(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (name[i - 1] == c[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    scored.emplace_back(prev[c.size()], &c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < max; ++i) out.push_back(*scored[i].second);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader

SafetensorsReader SafetensorsReader::open(const std::string& path) {
  SafetensorsReader r;
  r.path_ = path;
  r.mapping_ = MappedFile::open(path);
  r.keepalive_ = r.mapping_;
  r.base_ = r.mapping_->data();
  r.parse_header(r.mapping_->size());
  return r;
}

SafetensorsReader SafetensorsReader::parse(const void* data, size_t size, const std::string& where,
                                           std::shared_ptr<const void> keepalive) {
  SafetensorsReader r;
  r.path_ = where;
  r.keepalive_ = std::move(keepalive);
  r.base_ = static_cast<const uint8_t*>(data);
  r.parse_header(size);
  return r;
}

void SafetensorsReader::parse_header(size_t size) {
  const std::string& where = path_;
  if (size < 8)
    throw Error(where, "file is " + std::to_string(size) +
                           " bytes, too short to hold the 8-byte header length (truncated?)");
  const uint64_t n = read_le64(base_);
  if (n > kMaxHeaderSize)
    throw Error(where, "header length " + std::to_string(n) + " is over the limit of " +
                           std::to_string(kMaxHeaderSize) + " bytes (not a safetensors file?)");
  if (n > size - 8)
    throw Error(where, "header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(size) + " bytes; truncated?)");
  if (n < 2) throw Error(where, "header length " + std::to_string(n) + " is too short for a JSON object");
  std::string_view header(reinterpret_cast<const char*>(base_ + 8), static_cast<size_t>(n));
  data_area_ = base_ + 8 + n;
  const uint64_t data_size = size - 8 - n;

  if (size_t bad = first_invalid_utf8(header); bad != std::string_view::npos) {
    auto [text, is_key] = enclosing_string(header, bad);
    throw Error(where, std::string(is_key ? "tensor " : "header string ") + "\"" + printable(text) +
                           "\": not valid UTF-8 (header byte " + std::to_string(bad) + ")");
  }

  // Parse with a callback that rejects duplicate keys (nlohmann would keep the last silently) and
  // nesting deeper than the format has (the top object, an entry, its shape).
  std::vector<std::set<std::string>> keys;
  std::string current;  // the top-level key being parsed
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > 2)
          throw Error(where, (current.empty() ? std::string("header") : "tensor " + sq(current)) +
                                 ": JSON nested deeper than a safetensors header can be");
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& k = parsed.get_ref<const std::string&>();
        if (depth == 1) current = k;
        if (!keys.empty() && !keys.back().insert(k).second) {
          if (depth == 1) throw Error(where, "tensor " + sq(k) + " appears twice in the header");
          throw Error(where, "tensor " + sq(current) + ": key " + sq(k) + " appears twice");
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(header.begin(), header.end(), callback);
  } catch (const Error&) {
    throw;
  } catch (const json::exception& e) {
    throw Error(where, std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(where, std::string("header is a JSON ") + j.type_name() + ", not an object");

  tensors_.clear();
  tensors_.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(where, std::string("__metadata__ is a JSON ") + v.type_name() + ", not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw Error(where, "__metadata__ " + sq(m.key()) + ": value is a JSON " + m.value().type_name() +
                                 ", not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor " + sq(name);
    if (!v.is_object()) throw Error(where, what + ": entry is a JSON " + v.type_name() + ", not an object");
    for (auto k = v.begin(); k != v.end(); ++k)
      if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets")
        throw Error(where, what + ": unknown key " + sq(k.key()));
    TensorInfo t;
    t.name = name;

    auto d = v.find("dtype");
    if (d == v.end()) throw Error(where, what + ": no dtype");
    if (!d->is_string()) throw Error(where, what + ": dtype is a JSON " + d->type_name() + ", not a string");
    auto dt = dtype_from_name(d->get_ref<const std::string&>());
    if (!dt)
      throw Error(where, what + ": unknown dtype " + sq(d->get_ref<const std::string&>()) + " (known: " +
                             dtype_names() + ")");
    t.dtype = *dt;

    auto s = v.find("shape");
    if (s == v.end()) throw Error(where, what + ": no shape");
    if (!s->is_array()) throw Error(where, what + ": shape is a JSON " + s->type_name() + ", not an array");
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : *s) {
      if (!is_unsigned_integer(dim))
        throw Error(where, what + ": shape " + s->dump() + " has " + dim.dump() + ", not a non-negative integer");
      uint64_t u = dim.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(where, what + ": shape " + s->dump() + " has a dimension too large");
      t.shape.push_back(static_cast<int64_t>(u));
      overflow = overflow || __builtin_mul_overflow(numel, u, &numel);
    }
    uint64_t nbytes = 0;
    if (overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &nbytes))
      throw Error(where, what + ": shape " + shape_string(t.shape) + " is too large (its size overflows)");

    auto o = v.find("data_offsets");
    if (o == v.end()) throw Error(where, what + ": no data_offsets");
    if (!o->is_array() || o->size() != 2 || !is_unsigned_integer((*o)[0]) || !is_unsigned_integer((*o)[1]))
      throw Error(where, what + ": data_offsets " + o->dump() + " is not two non-negative integers");
    t.begin = (*o)[0].get<uint64_t>();
    t.end = (*o)[1].get<uint64_t>();
    const std::string offsets = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
    if (t.end < t.begin) throw Error(where, what + ": " + offsets + " end before they begin");
    if (t.end > data_size)
      throw Error(where, what + ": " + offsets + " run past the end of the data area (" + std::to_string(data_size) +
                             " bytes; truncated?)");
    if (t.end - t.begin != nbytes)
      throw Error(where, what + ": " + offsets + " hold " + std::to_string(t.end - t.begin) + " bytes, but shape " +
                             shape_string(t.shape) + " of " + dtype_name(t.dtype) + " needs " + std::to_string(nbytes));
    tensors_.push_back(std::move(t));
  }

  std::stable_sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& t = tensors_[i];
    if (t.begin < covered) {
      // Find the earlier tensor it overlaps, for the message.
      const TensorInfo* other = nullptr;
      for (size_t k = 0; k < i; ++k)
        if (tensors_[k].end > t.begin && tensors_[k].nbytes() > 0) other = &tensors_[k];
      throw Error(where, "tensor " + sq(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
                             std::to_string(t.end) + "] overlap tensor " + sq(other ? other->name : "?") +
                             (other ? " [" + std::to_string(other->begin) + ", " + std::to_string(other->end) + "]" : ""));
    }
    if (t.begin > covered)
      throw Error(where, "tensor " + sq(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
                             std::to_string(t.end) + "] leave bytes [" + std::to_string(covered) + ", " +
                             std::to_string(t.begin) + ") of the data area unused");
    covered = t.end;
  }
  if (covered != data_size)
    throw Error(where, "data area has " + std::to_string(data_size) + " bytes, but its tensors cover only " +
                           std::to_string(covered) + " (trailing bytes, or a header that lies)");

  index_.clear();
  index_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

const TensorInfo* SafetensorsReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsReader::at(const std::string& name) const {
  if (const TensorInfo* t = find(name)) return *t;
  std::string msg = "no tensor " + sq(name) + " (the file has " + std::to_string(tensors_.size()) + " tensors";
  auto near = nearest_names(name, names());
  if (!near.empty()) {
    msg += "; nearest: ";
    for (size_t i = 0; i < near.size(); ++i) msg += (i ? ", " : "") + sq(near[i]);
  }
  throw Error(path_, msg + ")");
}

// ---------------------------------------------------------------------------------------------
// Writer

std::string safetensors_header(const std::vector<TensorToWrite>& tensors,
                               const std::map<std::string, std::string>& metadata, const std::string& where) {
  std::string h = "{";
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) {
      if (!is_valid_utf8(k)) throw Error(where, "metadata key " + sq(k) + " is not valid UTF-8");
      if (!is_valid_utf8(v)) throw Error(where, "metadata " + sq(k) + ": value is not valid UTF-8");
      m[k] = v;
    }
    h += "\"__metadata__\":" + m.dump();
  }
  std::set<std::string_view> seen;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string what = "tensor " + sq(t.name);
    if (t.name.empty()) throw Error(where, "a tensor has an empty name");
    if (!is_valid_utf8(t.name)) throw Error(where, what + ": name is not valid UTF-8");
    if (t.name == "__metadata__") throw Error(where, "a tensor cannot be named '__metadata__'");
    if (!seen.insert(t.name).second) throw Error(where, what + " is given twice");
    uint64_t numel = 1;
    bool overflow = false;
    for (int64_t d : t.shape) {
      if (d < 0) throw Error(where, what + ": shape " + shape_string(t.shape) + " has a negative dimension");
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    }
    uint64_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &nbytes))
      throw Error(where, what + ": shape " + shape_string(t.shape) + " is too large");
    if (nbytes != t.nbytes)
      throw Error(where, what + ": " + std::to_string(t.nbytes) + " bytes given, but shape " + shape_string(t.shape) +
                             " of " + dtype_name(t.dtype) + " needs " + std::to_string(nbytes));
    if (t.nbytes > 0 && t.data == nullptr && !t.produce) throw Error(where, what + ": no data and no producer");
    if (h.size() > 1) h += ",";
    h += json(t.name).dump() + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":" + json(t.shape).dump() +
         ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.nbytes) + "]}";
    offset += t.nbytes;
  }
  h += "}";
  while ((8 + h.size()) % 8 != 0) h += ' ';
  if (h.size() > kMaxHeaderSize) throw Error(where, "header would be " + std::to_string(h.size()) + " bytes, over the limit");
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + h;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string header = safetensors_header(tensors, metadata, path);  // validates before any write
  write_file_atomic(path, [&](AtomicFile& f) {
    f.write(header);
    for (const auto& t : tensors) {
      if (t.nbytes == 0) continue;
      if (t.data != nullptr) {
        f.write(t.data, t.nbytes);
        continue;
      }
      uint64_t got = 0;
      t.produce([&](const void* data, size_t size) {
        if (got + size > t.nbytes)
          throw Error(path, "tensor " + sq(t.name) + ": producer gave more than the " + std::to_string(t.nbytes) +
                                " bytes its shape holds");
        got += size;
        f.write(data, size);
      });
      if (got != t.nbytes)
        throw Error(path, "tensor " + sq(t.name) + ": producer gave " + std::to_string(got) + " bytes, not " +
                              std::to_string(t.nbytes));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

ShardedSafetensors ShardedSafetensors::open(const std::string& index_path) {
  ShardedSafetensors s;
  s.index_path_ = index_path;
  auto file = MappedFile::open(index_path);
  json j;
  try {
    j = json::parse(file->data(), file->data() + file->size());
  } catch (const json::exception& e) {
    throw Error(index_path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(index_path, "is not a JSON object");
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) throw Error(index_path, "weight_map: missing or not an object");
  if (auto md = j.find("metadata"); md != j.end() && !md->is_null()) {
    if (!md->is_object()) throw Error(index_path, "metadata: not an object");
    for (auto it = md->begin(); it != md->end(); ++it)
      s.metadata_[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  }
  const std::string folder = parent_folder(index_path);
  std::map<std::string, size_t> shard_index;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string& name = it.key();
    if (!it.value().is_string())
      throw Error(index_path, "weight_map: tensor " + sq(name) + ": shard is a JSON " + it.value().type_name() +
                                  ", not a file name");
    const std::string& shard = it.value().get_ref<const std::string&>();
    bool escapes = shard.empty() || shard[0] == '/' || shard == ".." || shard.rfind("../", 0) == 0 ||
                   shard.find("/../") != std::string::npos ||
                   (shard.size() >= 3 && shard.compare(shard.size() - 3, 3, "/..") == 0);
    if (escapes)
      throw Error(index_path, "weight_map: tensor " + sq(name) + ": shard " + sq(shard) +
                                  " is not a file name inside the checkpoint folder");
    auto [si, fresh] = shard_index.emplace(shard, s.shards_.size());
    if (fresh) s.shards_.push_back(SafetensorsReader::open(folder + "/" + shard));
    const SafetensorsReader& r = s.shards_[si->second];
    const TensorInfo* t = r.find(name);
    if (t == nullptr)
      throw Error(index_path, "weight_map: tensor " + sq(name) + " is mapped to " + shard + ", which does not hold it");
    s.entries_[name] = {si->second, static_cast<size_t>(t - r.tensors().data())};
  }
  return s;
}

std::vector<std::string> ShardedSafetensors::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

std::optional<ShardedSafetensors::Entry> ShardedSafetensors::find(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  const SafetensorsReader& r = shards_[it->second.first];
  return Entry{&r, &r.tensors()[it->second.second]};
}

ShardedSafetensors::Entry ShardedSafetensors::at(const std::string& name) const {
  if (auto e = find(name)) return *e;
  std::string msg = "no tensor " + sq(name) + " in weight_map (" + std::to_string(entries_.size()) + " tensors";
  auto near = nearest_names(name, names());
  if (!near.empty()) {
    msg += "; nearest: ";
    for (size_t i = 0; i < near.size(); ++i) msg += (i ? ", " : "") + sq(near[i]);
  }
  throw Error(index_path_, msg + ")");
}

}  // namespace cook::io

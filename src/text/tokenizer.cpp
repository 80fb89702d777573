// cook::text::Tokenizer: builds the BPE model from VocabData (checking that the merges and the
// vocabulary agree), and runs pre-tokenizer + BPE to encode, byte lookups to decode.
#include "cook/text/tokenizer.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <algorithm>
#include <unordered_map>

#include "cook/core/error.h"
#include "cook/text/bpe.h"
#include "cook/text/byte_level.h"
#include "cook/text/pretokenize.h"
#include "cook/text/vocab_files.h"
#include "word_cache.h"

namespace cook::text {

namespace {

// Everything a Tokenizer holds (Tokenizer::State is this; a separate name because the nested State
// is private to Tokenizer).
struct Model {
  BpeModel bpe;
  std::string token_bytes;              // every token's bytes, concatenated in id order
  std::vector<std::uint32_t> offsets;   // token id's bytes: token_bytes[offsets[id], offsets[id + 1])
  std::int32_t end_of_text = -1;
  std::string fingerprint;
};

constexpr const char* kEndOfText = "<|endoftext|>";

// Quoted for a message; bytes that are not UTF-8 (a vocab.bpe line may hold any) become U+FFFD
// rather than make the message itself throw.
std::string json_quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// 64-bit FNV-1a over a canonical, platform-independent serialization of vocabulary and merges.
class Fnv1a64 {
 public:
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001B3ull;
  }
  void u64(std::uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(le, 8);
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ull;
};

bool is_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void build_model(const VocabData& data, Model* state) {
  const std::size_t vocab_size = data.spellings.size();
  std::unordered_map<std::string, std::int32_t> id_of;
  id_of.reserve(vocab_size * 2);
  state->offsets.reserve(vocab_size + 1);
  state->offsets.push_back(0);
  std::string bytes;
  for (std::size_t id = 0; id < vocab_size; ++id) {
    const std::string& spelling = data.spellings[id];
    if (!spelling_to_bytes(spelling, &bytes) || bytes.empty()) {
      throw Error(data.vocab_path, "token " + json_quoted(spelling) + " (id " + std::to_string(id) +
                                       ") is not spelled in GPT-2's byte-level alphabet");
    }
    if (!id_of.emplace(spelling, std::int32_t(id)).second) {
      throw Error(data.vocab_path, "token " + json_quoted(spelling) + " appears twice");
    }
    state->token_bytes += bytes;
    state->offsets.push_back(std::uint32_t(state->token_bytes.size()));
  }

  std::array<std::int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    const std::string spelling = bytes_to_spelling(std::string(1, char(b)));
    auto it = id_of.find(spelling);
    if (it == id_of.end()) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", b);
      throw Error(data.vocab_path, std::string("no token for the byte ") + hex + " (spelled " + json_quoted(spelling) + ")");
    }
    byte_ids[b] = it->second;
  }

  std::vector<BpeMerge> merges;
  merges.reserve(data.merges.size());
  auto lookup = [&](const std::string& spelling, std::size_t i, const char* what) {
    auto it = id_of.find(spelling);
    if (it == id_of.end()) {
      throw Error(data.merge_where(i), std::string(what) + " " + json_quoted(spelling) + " is not in the vocabulary (" +
                                           data.vocab_path + ")");
    }
    return it->second;
  };
  for (std::size_t i = 0; i < data.merges.size(); ++i) {
    const VocabData::Merge& m = data.merges[i];
    const std::int32_t left = lookup(m.left, i, "symbol");
    const std::int32_t right = lookup(m.right, i, "symbol");
    const std::int32_t merged = lookup(m.left + m.right, i, "merge result");
    merges.push_back(BpeMerge{left, right, merged});
  }
  state->bpe = BpeModel(byte_ids, merges);

  auto eot = id_of.find(kEndOfText);
  if (eot == id_of.end()) throw Error(data.vocab_path, std::string("the vocabulary has no ") + kEndOfText + " token");
  state->end_of_text = eot->second;

  Fnv1a64 h;
  h.bytes("cook-bpe-v1", 11);
  h.u64(vocab_size);
  for (const std::string& spelling : data.spellings) {
    h.u64(spelling.size());
    h.bytes(spelling.data(), spelling.size());
  }
  h.u64(merges.size());
  for (const BpeMerge& m : merges) {
    h.u64(std::uint64_t(std::uint32_t(m.left)) << 32 | std::uint32_t(m.right));
  }
  state->fingerprint = h.hex();
}

}  // namespace

struct Tokenizer::State : Model {};

Tokenizer::Tokenizer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_files(const std::string& encoder_json, const std::string& vocab_bpe) {
  auto state = std::make_unique<State>();
  build_model(read_gpt2_vocab(encoder_json, vocab_bpe), state.get());
  return Tokenizer(std::move(state));
}

Tokenizer Tokenizer::from_hf_json(const std::string& tokenizer_json) {
  auto state = std::make_unique<State>();
  build_model(read_hf_tokenizer_json(tokenizer_json), state.get());
  return Tokenizer(std::move(state));
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  const std::string encoder = dir + "/encoder.json", merges = dir + "/vocab.bpe", hf = dir + "/tokenizer.json";
  if (is_file(encoder) && is_file(merges)) return from_files(encoder, merges);
  if (is_file(hf)) return from_hf_json(hf);
  throw Error(dir, "no tokenizer here: expected encoder.json + vocab.bpe, or tokenizer.json");
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 16);
  // Per-call cache of each distinct pre-token's ids (where they were first appended to `ids`):
  // local to the call, so encode is thread-safe.
  // (Its 32-bit offsets cover any text under 4 GiB; larger texts go uncached.)
  const bool cacheable = text.size() < 0xFFFFFFFFull;
  WordCache cache(cacheable ? text.size() / 64 : 0);
  PreTokenizer pre(text);
  std::string_view piece;
  while (pre.next(&piece)) {
    if (piece.size() == 1 || !cacheable) {
      state_->bpe.encode_word(piece, &ids);
      continue;
    }
    bool inserted = false;
    WordCache::Entry* entry = cache.find_or_insert(piece, &inserted);
    const std::size_t old = ids.size();
    if (!inserted) {
      ids.resize(old + entry->length);
      std::copy_n(ids.data() + entry->offset, entry->length, ids.data() + old);
      continue;
    }
    state_->bpe.encode_word(piece, &ids);
    entry->offset = std::uint32_t(old);
    entry->length = std::uint32_t(ids.size() - old);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  const std::int32_t n = vocab_size();
  std::size_t total = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int32_t id = ids[i];
    if (id < 0 || id >= n) {
      throw Error("decode", "token id " + std::to_string(id) + " at position " + std::to_string(i) +
                                " is out of range [0, " + std::to_string(n) + ")");
    }
    total += state_->offsets[id + 1] - state_->offsets[id];
  }
  std::string text;
  text.reserve(total);
  for (std::int32_t id : ids) {
    text.append(state_->token_bytes, state_->offsets[id], state_->offsets[id + 1] - state_->offsets[id]);
  }
  return text;
}

std::int32_t Tokenizer::vocab_size() const { return std::int32_t(state_->offsets.size() - 1); }
std::int32_t Tokenizer::end_of_text_id() const { return state_->end_of_text; }
const std::string& Tokenizer::fingerprint() const { return state_->fingerprint; }

}  // namespace cook::text

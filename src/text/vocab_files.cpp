// Parsing encoder.json + vocab.bpe and Hugging Face tokenizer.json files into VocabData, with
// errors that name the file and the line or field at fault (see cook/text/vocab_files.h).
#include "cook/text/vocab_files.h"

#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "cook/core/error.h"
#include "cook/core/input_file.h"

namespace cook::text {
namespace {

using json = nlohmann::json;

// Ids above this are refused: a vocabulary that large is certainly a corrupt file.
constexpr std::int64_t kMaxTokenId = (std::int64_t{1} << 24) - 1;

json parse_json_file(const std::string& path) {
  const std::string text = read_input_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // nlohmann's message says where: "parse error at line 3, column 7: syntax error ...", or
    // "number overflow parsing '1e999'" (out_of_range, not a parse_error).
    throw Error(path, std::string("malformed JSON: ") + e.what());
  }
}

// Quoted for a message; bytes that are not UTF-8 (a vocab.bpe line may hold any) become U+FFFD
// rather than make the message itself throw.
std::string json_quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// Places `spelling` at `id` in `spellings`, growing it; fails on a repeated id.
void place_token(std::vector<std::string>* spellings, std::vector<char>* used, const std::string& spelling,
                 const json& id_value, const std::string& path, const std::string& field) {
  if (!id_value.is_number_integer()) {
    throw Error(path, field + ": id of token " + json_quoted(spelling) + " must be an integer, found " + id_value.dump());
  }
  const std::int64_t id = id_value.get<std::int64_t>();
  if (id < 0 || id > kMaxTokenId) {
    throw Error(path, field + ": id " + std::to_string(id) + " of token " + json_quoted(spelling) + " is out of range");
  }
  if (std::size_t(id) >= spellings->size()) {
    spellings->resize(std::size_t(id) + 1);
    used->resize(std::size_t(id) + 1, 0);
  }
  if ((*used)[id]) {
    if ((*spellings)[id] == spelling) return;
    throw Error(path, field + ": id " + std::to_string(id) + " is given to both " + json_quoted((*spellings)[id]) +
                          " and " + json_quoted(spelling));
  }
  (*spellings)[id] = spelling;
  (*used)[id] = 1;
}

void require_dense(const std::vector<char>& used, const std::string& path, const std::string& field) {
  if (used.empty()) throw Error(path, field + ": the vocabulary is empty");
  for (std::size_t id = 0; id < used.size(); ++id) {
    if (!used[id]) throw Error(path, field + ": no token has id " + std::to_string(id) + " (ids must be 0..N-1)");
  }
}

void read_vocab_object(const json& vocab, const std::string& path, const std::string& field, VocabData* data,
                       std::vector<char>* used) {
  if (!vocab.is_object()) throw Error(path, field + ": expected an object {\"token\": id, ...}, found " + std::string(vocab.type_name()));
  data->spellings.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    place_token(&data->spellings, used, it.key(), it.value(), path, field);
  }
}

// Splits a vocab.bpe line on runs of spaces and tabs.
std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.emplace_back(line, start, i - start);
  }
  return fields;
}

void read_merges_file(const std::string& path, VocabData* data) {
  const std::string text = read_input_file(path);
  std::vector<std::pair<std::int64_t, std::string>> lines;  // (line number, text without \r\n)
  std::size_t start = 0;
  std::int64_t line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.emplace_back(++line_no, std::move(line));
    start = end + 1;
  }
  // Blank lines may only end the file.
  while (!lines.empty() && split_fields(lines.back().second).empty()) lines.pop_back();
  data->merges.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& [number, line] = lines[i];
    if (i == 0 && line.rfind("#version", 0) == 0) continue;  // "#version: 0.2" header
    std::vector<std::string> fields = split_fields(line);
    if (fields.size() != 2) {
      throw Error(path + ":" + std::to_string(number),
                  "expected a merge \"left right\" (two symbols separated by a space), found " + json_quoted(line));
    }
    data->merges.push_back(VocabData::Merge{std::move(fields[0]), std::move(fields[1]), number});
  }
}

const json& member(const json& object, const char* key, const std::string& path, const std::string& field) {
  auto it = object.find(key);
  if (it == object.end()) throw Error(path, "field '" + field + "' is missing");
  return *it;
}

void read_hf_merges(const json& merges, const std::string& path, VocabData* data) {
  if (!merges.is_array()) throw Error(path, "field 'model.merges': expected an array, found " + std::string(merges.type_name()));
  data->merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    const std::string field = "model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos) {
        throw Error(path, field + ": expected \"left right\" (two symbols separated by one space), found " + m.dump());
      }
      data->merges.push_back(VocabData::Merge{s.substr(0, space), s.substr(space + 1), std::int64_t(i)});
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string() &&
               !m[0].get_ref<const std::string&>().empty() && !m[1].get_ref<const std::string&>().empty()) {
      data->merges.push_back(VocabData::Merge{m[0].get<std::string>(), m[1].get<std::string>(), std::int64_t(i)});
    } else {
      throw Error(path, field + ": expected \"left right\" or [\"left\", \"right\"], found " + m.dump());
    }
  }
}

}  // namespace

std::string VocabData::merge_where(std::size_t i) const {
  if (merges_in_json) return merges_path + ": model.merges[" + std::to_string(merges[i].where) + "]";
  return merges_path + ":" + std::to_string(merges[i].where);
}

VocabData read_gpt2_vocab(const std::string& encoder_json, const std::string& vocab_bpe) {
  VocabData data;
  data.vocab_path = encoder_json;
  data.merges_path = vocab_bpe;
  const json encoder = parse_json_file(encoder_json);
  std::vector<char> used;
  read_vocab_object(encoder, encoder_json, "vocabulary", &data, &used);
  require_dense(used, encoder_json, "vocabulary");
  read_merges_file(vocab_bpe, &data);
  return data;
}

VocabData read_hf_tokenizer_json(const std::string& tokenizer_json) {
  const std::string& path = tokenizer_json;
  VocabData data;
  data.vocab_path = path;
  data.merges_path = path;
  data.merges_in_json = true;
  const json root = parse_json_file(path);
  if (!root.is_object()) throw Error(path, "expected a JSON object at the top level");
  const json& model = member(root, "model", path, "model");
  if (!model.is_object()) throw Error(path, "field 'model': expected an object");
  if (auto type = model.find("type"); type != model.end() && !(type->is_string() && *type == "BPE")) {
    throw Error(path, "field 'model.type': expected \"BPE\", found " + type->dump());
  }
  std::vector<char> used;
  read_vocab_object(member(model, "vocab", path, "model.vocab"), path, "model.vocab", &data, &used);
  if (auto added = root.find("added_tokens"); added != root.end() && !added->is_null()) {
    if (!added->is_array()) throw Error(path, "field 'added_tokens': expected an array");
    for (std::size_t i = 0; i < added->size(); ++i) {
      const json& t = (*added)[i];
      const std::string field = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object()) throw Error(path, field + ": expected an object {\"id\": .., \"content\": ..}");
      const json& content = member(t, "content", path, field + ".content");
      if (!content.is_string()) throw Error(path, field + ".content: expected a string");
      place_token(&data.spellings, &used, content.get<std::string>(), member(t, "id", path, field + ".id"), path, field);
    }
  }
  require_dense(used, path, "model.vocab");
  read_hf_merges(member(model, "merges", path, "model.merges"), path, &data);
  return data;
}

}  // namespace cook::text

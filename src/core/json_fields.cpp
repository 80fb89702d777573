#include "cook/core/json_fields.h"

#include <algorithm>

#include "cook/core/error.h"
#include "cook/core/input_file.h"

namespace cook {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::string text;
  try {
    text = read_input_file(path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (" + what + ")");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
}

JsonFields::JsonFields(const nlohmann::json& object, std::string where) : object_(object), where_(std::move(where)) {
  if (!object_.is_object()) throw Error(where_, std::string("must be a JSON object, got ") + object_.type_name());
}

std::string JsonFields::path(const std::string& key) const { return where_ + "." + key; }

const nlohmann::json* JsonFields::find(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

void JsonFields::wrong_type(const std::string& key, const char* expected, const nlohmann::json& got) const {
  std::string shown = got.type_name();
  if (got.is_primitive() && !got.is_null()) shown += " " + got.dump();
  throw Error(path(key), std::string("must be ") + expected + ", got " + shown);
}

bool JsonFields::number(const std::string& key, double& out) {
  const nlohmann::json* v = find(key);
  if (!v) return false;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  out = v->get<double>();
  return true;
}

bool JsonFields::integer(const std::string& key, int64_t& out) {
  const nlohmann::json* v = find(key);
  if (!v) return false;
  if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw Error(path(key), "integer out of range: " + v->dump());
  out = v->get<int64_t>();
  return true;
}

bool JsonFields::boolean(const std::string& key, bool& out) {
  const nlohmann::json* v = find(key);
  if (!v) return false;
  if (!v->is_boolean()) wrong_type(key, "true or false", *v);
  out = v->get<bool>();
  return true;
}

bool JsonFields::string(const std::string& key, std::string& out, bool null_is_empty) {
  const nlohmann::json* v = find(key);
  if (!v) return false;
  if (null_is_empty && v->is_null()) {
    out.clear();
    return true;
  }
  if (!v->is_string()) wrong_type(key, null_is_empty ? "a string or null" : "a string", *v);
  out = v->get<std::string>();
  return true;
}

bool JsonFields::strings(const std::string& key, std::vector<std::string>& out, bool non_empty) {
  const nlohmann::json* v = find(key);
  if (!v) return false;
  if (!v->is_array()) wrong_type(key, "a list of strings", *v);
  if (non_empty && v->empty()) throw Error(path(key), "must not be an empty list");
  std::vector<std::string> read;
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& item = (*v)[i];
    if (!item.is_string())
      throw Error(path(key) + "[" + std::to_string(i) + "]", std::string("must be a string, got ") + item.type_name());
    read.push_back(item.get<std::string>());
  }
  out = std::move(read);
  return true;
}

const nlohmann::json* JsonFields::value(const std::string& key) { return find(key); }

void JsonFields::ignore(const std::string& key) { find(key); }

void JsonFields::finish() const {
  for (const auto& item : object_.items()) {
    if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
    std::string list;
    for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
    throw Error(path(item.key()), "unknown key (known: " + list + ")");
  }
}

}  // namespace cook

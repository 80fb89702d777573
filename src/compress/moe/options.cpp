#include "cook/compress/moe/options.h"

#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"

namespace cook::compress::moe {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw Error(where + "." + key, what);
}

const std::vector<std::string>& known_ffn_modules() {
  static const std::vector<std::string> names = {"ffn.layernorm_before_ffn", "ln"};
  return names;
}

}  // namespace

RouterKind parse_router_kind(const std::string& name, const std::string& where) {
  if (name == "auto") return RouterKind::Auto;
  if (name == "mlp") return RouterKind::Mlp;
  if (name == "centroid") return RouterKind::Centroid;
  if (name == "oracle") return RouterKind::Oracle;
  throw Error(where, "unknown router '" + name + "' (known: auto, mlp, centroid, oracle)");
}

const char* router_kind_name(RouterKind k) {
  switch (k) {
    case RouterKind::Auto: return "auto";
    case RouterKind::Mlp: return "mlp";
    case RouterKind::Centroid: return "centroid";
    case RouterKind::Oracle: return "oracle";
  }
  return "?";
}

MoeOptions MoeOptions::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where, std::string("expected a JSON object, got ") + j.type_name());
  MoeOptions o;
  auto get_int = [&](const json& v, const std::string& k) {
    if (!v.is_number_integer()) fail(where, k, std::string("expected an integer, got ") + v.type_name());
    return v.get<int64_t>();
  };
  auto get_string = [&](const json& v, const std::string& k) {
    if (!v.is_string()) fail(where, k, std::string("expected a string, got ") + v.type_name());
    return v.get<std::string>();
  };
  const std::map<std::string, std::function<void(const json&, const std::string&)>> fields = {
      {"is_moefy",
       [&](const json& v, const std::string& k) {
         if (!v.is_boolean()) fail(where, k, std::string("expected true or false, got ") + v.type_name());
         o.is_moefy = v.get<bool>();
       }},
      {"first_FFN_module",
       [&](const json& v, const std::string& k) {
         if (!v.is_array() || v.empty()) fail(where, k, "expected a non-empty list of module names");
         o.first_ffn_module.clear();
         for (size_t i = 0; i < v.size(); ++i)
           o.first_ffn_module.push_back(get_string(v[i], k + "[" + std::to_string(i) + "]"));
       }},
      {"num_expert", [&](const json& v, const std::string& k) { o.num_expert = get_int(v, k); }},
      {"topk", [&](const json& v, const std::string& k) { o.topk = get_int(v, k); }},
      {"moe_path", [&](const json& v, const std::string& k) { o.moe_path = get_string(v, k); }},
      {"router",
       [&](const json& v, const std::string& k) { o.router = parse_router_kind(get_string(v, k), where + "." + k); }},
  };
  for (const auto& [key, value] : j.items()) {
    auto it = fields.find(key);
    if (it == fields.end()) {
      std::string known;
      for (const auto& f : fields) known += (known.empty() ? "" : ", ") + f.first;
      fail(where, key, "unknown key (known: " + known + ")");
    }
    it->second(value, key);
  }
  o.validate(where);
  return o;
}

void MoeOptions::validate(const std::string& where) const {
  for (size_t i = 0; i < first_ffn_module.size(); ++i) {
    const std::string& m = first_ffn_module[i];
    bool known = false;
    for (const auto& n : known_ffn_modules()) known = known || m == n;
    if (!known)
      fail(where, "first_FFN_module[" + std::to_string(i) + "]",
           "unknown module '" + m + "' (Cook's FFN input is the block's ln output: ffn.layernorm_before_ffn or ln)");
  }
  if (num_expert < 0) fail(where, "num_expert", "must be positive, got " + std::to_string(num_expert));
  if (topk < 0) fail(where, "topk", "must be positive, got " + std::to_string(topk));
  if (num_expert > 0 && topk > num_expert)
    fail(where, "topk", std::to_string(topk) + " is more than num_expert " + std::to_string(num_expert));
  if (!is_moefy) return;
  if (moe_path.empty()) fail(where, "moe_path", "is required with is_moefy (the file 'cook moe router' wrote)");
  if (topk == 0) fail(where, "topk", "is required with is_moefy");
}

}  // namespace cook::compress::moe

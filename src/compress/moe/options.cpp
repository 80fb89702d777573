#include "cook/compress/moe/options.h"


#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

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

void read_moe_fields(JsonFields& f, MoeOptions& o) {
  f.boolean("is_moefy", o.is_moefy);
  f.strings("first_FFN_module", o.first_ffn_module, /*non_empty=*/true);
  f.integer("num_expert", o.num_expert);
  f.integer("topk", o.topk);
  f.string("moe_path", o.moe_path);
  std::string router;
  if (f.string("router", router)) o.router = parse_router_kind(router, f.path("router"));
}

json to_json(const MoeOptions& o) {
  return {{"is_moefy", o.is_moefy},     {"first_FFN_module", o.first_ffn_module}, {"num_expert", o.num_expert},
          {"topk", o.topk},             {"moe_path", o.moe_path},                 {"router", router_kind_name(o.router)}};
}

MoeOptions MoeOptions::from_json(const json& j, const std::string& where) {
  MoeOptions o;
  JsonFields f(j, where);
  read_moe_fields(f, o);
  f.finish();
  o.validate(where);
  return o;
}

void MoeOptions::validate(const std::string& where, bool need_file) const {
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
  if (need_file && moe_path.empty()) fail(where, "moe_path", "is required with is_moefy (the file 'cook moe router' wrote)");
  if (topk == 0) fail(where, "topk", "is required with is_moefy");
}

}  // namespace cook::compress::moe

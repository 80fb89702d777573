#include "cook/compress/distill/options.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"

namespace cook::compress::distill {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw Error(where, key + ": " + what);
}

double get_number(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_number()) fail(where, key, std::string("expected a number, got ") + v.type_name());
  return v.get<double>();
}

bool get_bool(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_boolean()) fail(where, key, std::string("expected true or false, got ") + v.type_name());
  return v.get<bool>();
}

std::vector<std::string> get_names(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_array()) fail(where, key, std::string("expected a list of module names, got ") + v.type_name());
  std::vector<std::string> names;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      fail(where, key + "[" + std::to_string(i) + "]", std::string("expected a module name, got ") + v[i].type_name());
    names.push_back(v[i].get<std::string>());
  }
  return names;
}

void require_scale(const std::string& where, const char* key, double v) {
  if (!std::isfinite(v) || v < 0) {
    std::ostringstream s;
    s << "must be a finite number >= 0, got " << v;
    fail(where, key, s.str());
  }
}

}  // namespace

bool DistillOptions::any_term() const {
  return ce_scale > 0 || mse_last_hidden_scale > 0 || mse_hidn_scale > 0 || mse_att_scale > 0 || mse_emb_scale > 0;
}

void DistillOptions::validate(const std::string& where) const {
  require_scale(where, "kd_loss_scale", kd_loss_scale);
  require_scale(where, "ce_scale", ce_scale);
  require_scale(where, "mse_last_hidden_scale", mse_last_hidden_scale);
  require_scale(where, "mse_hidn_scale", mse_hidn_scale);
  require_scale(where, "mse_att_scale", mse_att_scale);
  require_scale(where, "mse_emb_scale", mse_emb_scale);
  if (!std::isfinite(ce_temp) || ce_temp <= 0) {
    std::ostringstream s;
    s << "must be a finite number > 0, got " << ce_temp;
    fail(where, "ce_temp", s.str());
  }
}

DistillOptions distill_options_from_json(const json& section, const std::string& where) {
  if (!section.is_object()) throw Error(where, std::string("expected a JSON object, got ") + section.type_name());
  DistillOptions o;
  using Setter = std::function<void(const json&, const std::string&)>;
  const std::map<std::string, Setter> fields = {
      {"ce_scale", [&](const json& v, const std::string& k) { o.ce_scale = get_number(v, where, k); }},
      {"ce_temp", [&](const json& v, const std::string& k) { o.ce_temp = get_number(v, where, k); }},
      {"mse_hidn_scale", [&](const json& v, const std::string& k) { o.mse_hidn_scale = get_number(v, where, k); }},
      {"mse_hidn_module", [&](const json& v, const std::string& k) { o.mse_hidn_module = get_names(v, where, k); }},
      {"mse_hidn_proj", [&](const json& v, const std::string& k) { o.mse_hidn_proj = get_bool(v, where, k); }},
      {"mse_att_scale", [&](const json& v, const std::string& k) { o.mse_att_scale = get_number(v, where, k); }},
      {"mse_att_module", [&](const json& v, const std::string& k) { o.mse_att_module = get_names(v, where, k); }},
      {"mse_emb_scale", [&](const json& v, const std::string& k) { o.mse_emb_scale = get_number(v, where, k); }},
      {"mse_last_hidden_scale",
       [&](const json& v, const std::string& k) { o.mse_last_hidden_scale = get_number(v, where, k); }},
      {"mse_normalize", [&](const json& v, const std::string& k) { o.mse_normalize = get_bool(v, where, k); }},
  };
  for (const auto& [key, value] : section.items()) {
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

DistillOptions read_distill_options(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open the config file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(path, std::string("expected a JSON object, got ") + j.type_name());
  if (!j.contains("distillation")) throw Error(path, "has no \"distillation\" section");
  return distill_options_from_json(j.at("distillation"), path + ": distillation");
}

}  // namespace cook::compress::distill

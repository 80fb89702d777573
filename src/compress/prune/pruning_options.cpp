#include "cook/compress/prune/pruning_options.h"

#include "cook/core/error.h"

namespace cook::prune {

namespace {

const nlohmann::json& typed(const nlohmann::json& j, const std::string& key, nlohmann::json::value_t type,
                            const char* type_name, const std::string& where) {
  const nlohmann::json& v = j.at(key);
  const bool ok = type == nlohmann::json::value_t::number_float ? v.is_number() : v.type() == type;
  if (!ok) throw Error(where + "." + key, std::string("must be ") + type_name + ", got " + v.dump());
  return v;
}

void check_keys(const nlohmann::json& j, const std::vector<std::string>& known, const std::string& where) {
  if (!j.is_object()) throw Error(where, "must be a JSON object, got " + j.dump());
  for (const auto& item : j.items()) {
    bool found = false;
    for (const auto& k : known) found = found || k == item.key();
    if (!found) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where + "." + item.key(), "unknown key (known: " + list + ")");
    }
  }
}

int64_t integer(const nlohmann::json& j, const std::string& key, const std::string& where) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_number_integer()) throw Error(where + "." + key, "must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

}  // namespace

MaskSpec PruningOptions::spec(const std::string& where) const {
  MaskSpec s = make_mask_spec(mask_method, pattern, sparsity, global,
                              {where + ".mask_method", where + ".pattern", where + ".sparsity"});
  if (ramp.enabled()) {
    if (s.method != MaskMethod::Magnitude) throw Error(where + ".ramp", "a gradual ramp needs mask_method 'magnitude'");
    ramp.validate(where + ".ramp", s.sparsity);
  }
  return s;
}

PruningOptions pruning_options_from_json(const nlohmann::json& j, const std::string& where) {
  using T = nlohmann::json::value_t;
  check_keys(j, {"is_pruning", "pruning_mask_path", "pruned_module", "mask_method", "sprune", "pattern", "sparsity",
                 "scope", "ramp"},
             where);
  PruningOptions o;
  if (j.contains("is_pruning")) o.is_pruning = typed(j, "is_pruning", T::boolean, "true or false", where).get<bool>();
  if (j.contains("pruning_mask_path") && !j.at("pruning_mask_path").is_null())
    o.pruning_mask_path = typed(j, "pruning_mask_path", T::string, "a path or null", where).get<std::string>();
  if (j.contains("pruned_module")) {
    const auto& list = typed(j, "pruned_module", T::array, "a list of name substrings", where);
    o.pruned_module.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string())
        throw Error(where + ".pruned_module[" + std::to_string(i) + "]", "must be a string, got " + list[i].dump());
      o.pruned_module.push_back(list[i].get<std::string>());
    }
  }
  if (j.contains("mask_method")) o.mask_method = typed(j, "mask_method", T::string, "a string", where).get<std::string>();
  if (j.contains("pattern")) o.pattern = typed(j, "pattern", T::string, "a string", where).get<std::string>();
  if (j.contains("sparsity")) o.sparsity = typed(j, "sparsity", T::number_float, "a number", where).get<double>();
  if (j.contains("scope")) {
    const std::string scope = typed(j, "scope", T::string, "\"layer\" or \"global\"", where).get<std::string>();
    if (scope != "layer" && scope != "global")
      throw Error(where + ".scope", "must be \"layer\" or \"global\", got \"" + scope + "\"");
    o.global = scope == "global";
  }
  if (j.contains("ramp")) {
    const std::string rw = where + ".ramp";
    const auto& r = j.at("ramp");
    check_keys(r, {"initial_sparsity", "start_step", "end_step", "interval"}, rw);
    if (r.contains("initial_sparsity"))
      o.ramp.initial = typed(r, "initial_sparsity", T::number_float, "a number", rw).get<double>();
    if (r.contains("start_step")) o.ramp.start_step = integer(r, "start_step", rw);
    if (!r.contains("end_step")) throw Error(rw + ".end_step", "is required");
    o.ramp.end_step = integer(r, "end_step", rw);
    if (r.contains("interval")) o.ramp.interval = integer(r, "interval", rw);
  }
  if (j.contains("sprune") && !j.at("sprune").is_object())
    throw Error(where + ".sprune", "must be an object, got " + j.at("sprune").dump());
  if (o.is_pruning) o.spec(where);  // reports a bad method, pattern, sparsity or ramp now
  return o;
}

}  // namespace cook::prune

#include "cook/compress/prune/pruning_options.h"

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::prune {

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
  PruningOptions o;
  JsonFields f(j, where);
  f.boolean("is_pruning", o.is_pruning);
  f.string("pruning_mask_path", o.pruning_mask_path, /*null_is_empty=*/true);
  f.strings("pruned_module", o.pruned_module);
  f.string("mask_method", o.mask_method);
  f.string("pattern", o.pattern);
  f.number("sparsity", o.sparsity);
  std::string scope;
  if (f.string("scope", scope)) {
    if (scope != "layer" && scope != "global")
      throw Error(f.path("scope"), "must be \"layer\" or \"global\", got \"" + scope + "\"");
    o.global = scope == "global";
  }
  if (const nlohmann::json* r = f.value("ramp")) {
    JsonFields ramp(*r, f.path("ramp"));
    ramp.number("initial_sparsity", o.ramp.initial);
    ramp.integer("start_step", o.ramp.start_step);
    if (!ramp.integer("end_step", o.ramp.end_step)) throw Error(ramp.path("end_step"), "is required");
    ramp.integer("interval", o.ramp.interval);
    ramp.finish();
  }
  if (const nlohmann::json* sprune = f.value("sprune"); sprune && !sprune->is_object())
    throw Error(f.path("sprune"), std::string("must be an object, got ") + sprune->type_name());
  f.finish();
  if (o.is_pruning) o.spec(where);  // reports a bad method, pattern, sparsity or ramp now
  return o;
}

nlohmann::json to_json(const PruningOptions& o) {
  nlohmann::json j = {{"is_pruning", o.is_pruning},
                      {"pruning_mask_path", o.pruning_mask_path.empty() ? nlohmann::json() : nlohmann::json(o.pruning_mask_path)},
                      {"pruned_module", o.pruned_module},
                      {"mask_method", o.mask_method},
                      {"pattern", o.pattern},
                      {"sparsity", o.sparsity},
                      {"scope", o.global ? "global" : "layer"}};
  if (o.ramp.enabled())
    j["ramp"] = {{"initial_sparsity", o.ramp.initial}, {"start_step", o.ramp.start_step},
                 {"end_step", o.ramp.end_step}, {"interval", o.ramp.interval}};
  return j;
}

}  // namespace cook::prune

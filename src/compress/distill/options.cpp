#include "cook/compress/distill/options.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::compress::distill {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw Error(where + "." + key, what);
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
  DistillOptions o;
  JsonFields f(section, where);
  f.number("kd_loss_scale", o.kd_loss_scale);
  f.number("ce_scale", o.ce_scale);
  f.number("ce_temp", o.ce_temp);
  f.number("mse_hidn_scale", o.mse_hidn_scale);
  f.strings("mse_hidn_module", o.mse_hidn_module);
  f.boolean("mse_hidn_proj", o.mse_hidn_proj);
  f.number("mse_att_scale", o.mse_att_scale);
  f.strings("mse_att_module", o.mse_att_module);
  f.number("mse_emb_scale", o.mse_emb_scale);
  f.number("mse_last_hidden_scale", o.mse_last_hidden_scale);
  f.boolean("mse_normalize", o.mse_normalize);
  f.finish();
  o.validate(where);
  return o;
}

DistillOptions read_distill_options(const std::string& path) {
  const json j = read_json_file(path, "the config file");
  if (!j.is_object()) throw Error(path, std::string("expected a JSON object, got ") + j.type_name());
  if (!j.contains("distillation")) throw Error(path, "has no \"distillation\" section");
  return distill_options_from_json(j.at("distillation"), path + ": distillation");
}

json to_json(const DistillOptions& o) {
  return {{"kd_loss_scale", o.kd_loss_scale},
          {"ce_scale", o.ce_scale},
          {"ce_temp", o.ce_temp},
          {"mse_last_hidden_scale", o.mse_last_hidden_scale},
          {"mse_hidn_scale", o.mse_hidn_scale},
          {"mse_hidn_module", o.mse_hidn_module},
          {"mse_hidn_proj", o.mse_hidn_proj},
          {"mse_att_scale", o.mse_att_scale},
          {"mse_att_module", o.mse_att_module},
          {"mse_emb_scale", o.mse_emb_scale},
          {"mse_normalize", o.mse_normalize}};
}

}  // namespace cook::compress::distill

// What distillation does, as BMCook's JSON `distillation` section says it:
//   "distillation": {"ce_scale": 1, "ce_temp": 2, "mse_hidn_scale": 1, "mse_hidn_module": [],
//                    "mse_hidn_proj": false, "mse_att_scale": 0, "mse_att_module": [],
//                    "mse_emb_scale": 0, "mse_last_hidden_scale": 0, "mse_normalize": true}
// A term is on when its scale is > 0. Module lists use Cook's module names (see layer_map.h); an
// empty list means the uniform layer map; a term over several pairs is their sum, as in BMCook.
// `mse_normalize` is Cook's key for BMCook V3's mean-token-norm normalization, which V3 always
// applies: on by default, false compares the raw states (docs/migrating-from-bmcook.md).
// `kd_loss_scale` (Cook's key; cook train's --kd-loss-scale) scales the sum of the terms.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cook::compress::distill {

struct DistillOptions {
  double kd_loss_scale = 1.0;           // total = task + kd_loss_scale · Σ scaled terms
  double ce_scale = 0.0;                // soft cross-entropy on logits
  double ce_temp = 1.0;
  double mse_last_hidden_scale = 0.0;   // last hidden state, after ln_f
  double mse_hidn_scale = 0.0;          // hidden states through the layer map
  std::vector<std::string> mse_hidn_module;
  bool mse_hidn_proj = false;           // a projection even at equal widths (always when they differ)
  double mse_att_scale = 0.0;           // pre-softmax attention scores
  std::vector<std::string> mse_att_module;
  double mse_emb_scale = 0.0;           // embedding outputs
  bool mse_normalize = true;            // hidden-state MSEs on mean-token-norm normalized states (BMCook V3)

  bool any_term() const;
  // Scales ≥ 0 and finite, temperature > 0; errors name `where` and the key.
  void validate(const std::string& where) const;
};

// Reads the section strictly: an unknown key or a wrong type is a cook::Error naming
// `where` (e.g. "config.json: distillation") and the key. Absent keys keep their defaults.
DistillOptions distill_options_from_json(const nlohmann::json& section, const std::string& where);
// A BMCook config file: a JSON object with a "distillation" section (other sections are left to
// their own passes).
DistillOptions read_distill_options(const std::string& path);
// Every key with its value; distill_options_from_json reads it back.
nlohmann::json to_json(const DistillOptions& options);

}  // namespace cook::compress::distill

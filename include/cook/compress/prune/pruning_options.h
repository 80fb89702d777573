// The options of pruning during training, read strictly from BMCook's "pruning" config section:
//   {"is_pruning": true, "pruning_mask_path": "masks.safetensors", "pruned_module": ["proj", "fc_"],
//    "mask_method": "m4n2_1d"}
// BMCook's keys are accepted as they are ("pruning_mask_path": null means none; a "sprune"
// section is accepted and ignored unless "mask_method" is "sprune", which Cook does not support).
// Cook adds, all optional:
//   "pattern": "2:4" | "unstructured"   (wanda/sparsegpt masks from a file)
//   "sparsity": 0.5                      (unstructured masks)
//   "scope": "layer" | "global"          (magnitude: one threshold per layer or over all)
//   "ramp": {"initial_sparsity": 0, "start_step": 0, "end_step": 1000, "interval": 100}
//                                        (magnitude: gradual sparsity, masks recomputed)
// An unknown key or a value of the wrong type is an error naming the key path.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cook/compress/prune/layer_selection.h"
#include "cook/compress/prune/mask_method.h"
#include "cook/compress/prune/unstructured.h"

namespace cook::prune {

struct PruningOptions {
  bool is_pruning = false;
  std::string pruning_mask_path;  // empty: masks are computed and not saved
  std::vector<std::string> pruned_module = default_pruned_modules();
  std::string mask_method = "m4n2_1d";
  std::string pattern;            // empty: the method's own
  double sparsity = 0.5;
  bool global = false;
  SparsityRamp ramp;

  // The mask spec these options describe (errors name `where`).
  MaskSpec spec(const std::string& where) const;
};

// `where` names the section in errors, e.g. "bmcook.json: pruning".
PruningOptions pruning_options_from_json(const nlohmann::json& section, const std::string& where);
// Every key with its value (the ramp only when it is on); pruning_options_from_json reads it back.
nlohmann::json to_json(const PruningOptions& options);

}  // namespace cook::prune

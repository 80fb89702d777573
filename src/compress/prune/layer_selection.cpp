#include "cook/compress/prune/layer_selection.h"

#include "cook/core/error.h"

namespace cook::prune {

std::vector<std::string> default_pruned_modules() { return {"proj", "fc_"}; }

std::vector<PrunedLayer> select_layers(const torch::nn::Module& model, const std::vector<std::string>& patterns,
                                       const std::string& where) {
  if (patterns.empty()) throw Error(where, "no module patterns given: nothing would be pruned");
  std::vector<PrunedLayer> selected;
  std::vector<bool> used(patterns.size(), false);
  for (const auto& item : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value());
    if (!linear) continue;
    const std::string name = item.key().empty() ? "weight" : item.key() + ".weight";
    bool hit = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (!patterns[i].empty() && name.find(patterns[i]) != std::string::npos) {
        used[i] = true;
        hit = true;
      }
    }
    if (hit) selected.push_back({name, nn::Linear(linear)});
  }
  for (size_t i = 0; i < patterns.size(); ++i)
    if (!used[i])
      throw Error(where, "module pattern '" + patterns[i] + "' matches no linear weight of the model" +
                             (patterns[i].empty() ? " (it is empty)" : ""));
  return selected;
}

}  // namespace cook::prune

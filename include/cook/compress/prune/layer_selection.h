// Which of a model's linears are pruned: BMCook's "pruned_module" rule, a substring of the weight's
// name (V1's defaults "proj" and "fc_" select the attention projections and both FFN matrices of
// every block, and not the LM head).
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cook/model/linear.h"

namespace cook::prune {

struct PrunedLayer {
  std::string name;  // the weight's parameter name, e.g. "blocks.0.attn.q_proj.weight"
  nn::Linear layer;
};

// V1's defaults.
std::vector<std::string> default_pruned_modules();

// Every cook::nn::Linear of `model` whose weight name contains one of `patterns`, in module order.
// A pattern that selects nothing is an error naming `where` and the pattern (a typo must not
// prune nothing silently), as is an empty list.
std::vector<PrunedLayer> select_layers(const torch::nn::Module& model, const std::vector<std::string>& patterns,
                                       const std::string& where);

}  // namespace cook::prune

#include "cook/compress/prune/prune_model.h"

#include "cook/compress/prune/calibration.h"
#include "cook/compress/prune/sparsegpt.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/compress/prune/wanda.h"
#include "cook/core/error.h"
#include "cook/core/progress.h"

namespace cook::prune {

namespace {

// "blocks.3." for a weight inside block 3, else the weight's own name: the unit that is
// calibrated in one pass.
std::string group_of(const std::string& name) {
  const std::string prefix = "blocks.";
  if (name.rfind(prefix, 0) != 0) return name;
  const size_t dot = name.find('.', prefix.size());
  return dot == std::string::npos ? name : name.substr(0, dot + 1);
}

std::vector<std::vector<PrunedLayer>> calibration_groups(const std::vector<PrunedLayer>& layers, bool sequential) {
  if (!sequential) return {layers};
  std::vector<std::vector<PrunedLayer>> groups;
  std::vector<std::string> keys;
  for (const auto& l : layers) {
    const std::string key = group_of(l.name);
    size_t i = 0;
    while (i < keys.size() && keys[i] != key) ++i;
    if (i == keys.size()) {
      keys.push_back(key);
      groups.emplace_back();
    }
    groups[i].push_back(l);
  }
  return groups;
}

void apply(const PrunedLayer& l, const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  l.layer->weight.mul_(mask.to(l.layer->weight.device(), l.layer->weight.scalar_type()));
}

}  // namespace

std::map<std::string, torch::Tensor> data_free_masks(const std::vector<PrunedLayer>& layers, const MaskSpec& spec) {
  std::map<std::string, torch::Tensor> masks;
  if (spec.method == MaskMethod::Magnitude && spec.global) {
    std::vector<torch::Tensor> weights;
    for (const auto& l : layers) weights.push_back(l.layer->weight);
    auto all = unstructured_masks_global(weights, spec.sparsity, "magnitude (global)");
    for (size_t i = 0; i < layers.size(); ++i) masks[layers[i].name] = all[i];
    return masks;
  }
  for (const auto& l : layers) masks[l.name] = data_free_mask(spec, l.layer->weight, l.name);
  return masks;
}

MaskSet prune_model(model::GptJ& model, const std::vector<PrunedLayer>& layers, const OneShotOptions& options,
                    const std::vector<torch::Tensor>& calibration) {
  const MaskSpec& spec = options.spec;
  MaskSet set;
  set.method = method_name(spec.method);
  set.pattern = pattern_name(spec.pattern);
  if (layers.empty()) throw Error("prune", "no layers selected");
  if (!needs_calibration(spec.method)) {
    set.masks = data_free_masks(layers, spec);
    for (const auto& l : layers) apply(l, set.masks.at(l.name));
  } else {
    if (calibration.empty())
      throw Error(std::string(method_name(spec.method)), "needs calibration batches (token data)");
    const bool sparsegpt = spec.method == MaskMethod::SparseGpt;
    Progress::Options po;
    po.label = std::string("prune ") + method_name(spec.method);
    po.total = static_cast<int64_t>(layers.size());
    po.item_name = "layers";
    po.mode = options.progress ? Progress::Mode::automatic : Progress::Mode::off;
    Progress progress(po);
    for (const auto& group : calibration_groups(layers, options.sequential)) {
      std::vector<nn::Linear> linears;
      for (const auto& l : group) linears.push_back(l.layer);
      const std::vector<InputStatistics> stats = record_inputs(model, linears, calibration, sparsegpt);
      for (size_t i = 0; i < group.size(); ++i) {
        const PrunedLayer& l = group[i];
        torch::Tensor mask;
        if (sparsegpt) {
          SparseGptOptions so;
          so.pattern = spec.pattern;
          so.sparsity = spec.sparsity;
          so.dampening = options.dampening;
          so.block_size = options.block_size;
          SparseGptResult r = sparsegpt_prune(l.layer->weight, stats[i].gram, so, l.name);
          torch::NoGradGuard no_grad;
          l.layer->weight.copy_(r.weight);
          mask = r.mask;
        } else {
          mask = wanda_mask(l.layer->weight, stats[i].sum_squares, spec.pattern, spec.sparsity, l.name);
        }
        apply(l, mask);
        set.masks[l.name] = mask.to(torch::kCPU);
        progress.advance(1);
      }
    }
    progress.finish();
  }
  set.sparsity = overall_sparsity(set.masks);
  return set;
}

}  // namespace cook::prune

#include "cook/compress/prune/pruning_pass.h"

#include <filesystem>
#include <ostream>

#include "cook/compress/prune/bmcook_mask_file.h"
#include "cook/compress/prune/prune_model.h"
#include "cook/compress/prune/unstructured.h"
#include "cook/core/error.h"

namespace cook::prune {

namespace {

constexpr const char* kMaskPrefix = "mask.";

}  // namespace

PruningPass::PruningPass(std::vector<PrunedLayer> layers, MaskSet masks, MaskSpec spec, SparsityRamp ramp)
    : layers_(std::move(layers)), masks_(std::move(masks)), spec_(spec), ramp_(ramp) {
  if (ramp_.enabled() && spec_.method != MaskMethod::Magnitude)
    throw Error("pruning", "a gradual ramp needs the magnitude method");
  check_masks_fit(masks_, layers_, "pruning masks");
  attach();
}

void PruningPass::attach() {
  // A rank that does not hold a weight does not hold its mask either: its block brings both.
  for (const auto& l : layers_)
    if (holds(l)) l.layer.ptr()->set_mask(masks_.masks.at(l.name));
  remask_weights();
}

void PruningPass::detach() {
  for (const auto& l : layers_) l.layer.ptr()->clear_mask();
}

void PruningPass::remask_weights() {
  torch::NoGradGuard no_grad;
  for (const auto& l : layers_)
    if (holds(l)) l.layer->weight.mul_(l.layer->mask());
}

void PruningPass::before_step(int64_t) {
  torch::NoGradGuard no_grad;
  for (const auto& l : layers_) {
    torch::Tensor& grad = l.layer->weight.mutable_grad();
    if (grad.defined()) grad.mul_(l.layer->mask());
  }
}

void PruningPass::after_step(int64_t step) {
  if (ramp_.due(step)) {
    const double target = ramp_.at(step, spec_.sparsity);
    MaskSpec now = spec_;
    now.sparsity = target;
    // The pruned weights are zero, so they are the smallest: masks only grow sparser. The AND
    // makes that exact even where surviving weights are zero too.
    std::map<std::string, torch::Tensor> fresh;
    if (target <= 0.0) {
      fresh = masks_.masks;
    } else if (!parallel_ || !parallel_->shards_parameters()) {
      fresh = data_free_masks(layers_, now);
    } else {
      // Sharded (a global ramp was refused by join()): the rank holding each weight computes its
      // mask, every rank receives it.
      for (const auto& l : layers_) {
        torch::Tensor mask = holds(l) ? data_free_mask(now, l.layer->weight, l.name).to(torch::kUInt8)
                                      : torch::empty(masks_.masks.at(l.name).sizes(), torch::kUInt8);
        mask = mask.to(l.layer->weight.device());
        parallel_->share_from_holder(l.layer->weight, mask, "pruning masks");
        fresh[l.name] = mask.to(torch::kCPU, torch::kBool);
      }
    }
    for (auto& [name, m] : fresh) masks_.masks[name] = m.to(torch::kCPU).logical_and(masks_.masks.at(name).to(torch::kCPU));
    masks_.sparsity = overall_sparsity(masks_.masks);
    for (const auto& l : layers_)
      if (holds(l)) l.layer.ptr()->set_mask(masks_.masks.at(l.name));
  }
  remask_weights();
}

void PruningPass::join(train::ParallelTraining& parallel) {
  parallel_ = &parallel;
  if (parallel.shards_parameters() && ramp_.enabled() && spec_.global)
    throw Error("pruning.scope", "a global magnitude ramp needs every weight on one rank; under --zero 3 use the "
                                 "per-layer scope or a lower ZeRO stage");
}

void PruningPass::save_state(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta) const {
  for (const auto& [name, m] : masks_.masks) tensors[kMaskPrefix + name] = m.to(torch::kCPU, torch::kBool);
  meta = {{"method", masks_.method}, {"pattern", masks_.pattern}, {"sparsity", masks_.sparsity}};
}

void PruningPass::load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json&) {
  MaskSet restored = masks_;
  for (const auto& l : layers_) {
    auto it = tensors.find(kMaskPrefix + l.name);
    if (it == tensors.end())
      throw Error("checkpoint", "the pruning state has no mask for '" + l.name + "' (saved without pruning?)");
    restored.masks[l.name] = it->second.to(torch::kBool).clone();
  }
  check_masks_fit(restored, layers_, "checkpoint pruning state");
  restored.sparsity = overall_sparsity(restored.masks);
  masks_ = std::move(restored);
  attach();
}

std::shared_ptr<PruningPass> make_pruning_pass(model::GptJ& model, const PruningOptions& options,
                                               const std::string& where, std::ostream* log) {
  if (!options.is_pruning) return nullptr;
  const MaskSpec spec = options.spec(where);
  std::vector<PrunedLayer> layers = select_layers(*model, options.pruned_module, where + ".pruned_module");
  const std::string& path = options.pruning_mask_path;
  if (!path.empty() && std::filesystem::exists(path)) {
    if (options.ramp.enabled())
      throw Error(where + ".ramp", "a gradual ramp computes its own masks; it cannot start from the mask file " + path);
    MaskSet set = load_masks_for(path, model->config(), layers);
    if (log)
      *log << "pruning: " << layers.size() << " weights masked from " << path << " (" << set.method << ", "
           << set.pattern << ", sparsity " << set.sparsity << ")\n";
    return std::make_shared<PruningPass>(std::move(layers), std::move(set), spec);
  }
  if (needs_calibration(spec.method))
    throw Error(where + ".mask_method", std::string(method_name(spec.method)) +
                                            " needs calibration data: make the masks with 'cook prune masks' and give "
                                            "the file as the mask path");
  MaskSet set;
  set.method = method_name(spec.method);
  set.pattern = pattern_name(spec.pattern);
  if (options.ramp.enabled()) {
    MaskSpec initial = spec;
    initial.sparsity = options.ramp.initial;
    for (const auto& l : layers)
      set.masks[l.name] = torch::ones(l.layer->weight.sizes(), torch::kBool);
    if (initial.sparsity > 0.0) set.masks = data_free_masks(layers, initial);
  } else {
    set.masks = data_free_masks(layers, spec);
  }
  for (auto& [name, m] : set.masks) m = m.to(torch::kCPU);
  set.sparsity = overall_sparsity(set.masks);
  if (!path.empty() && !options.ramp.enabled()) save_masks(path, set);
  if (log)
    *log << "pruning: " << layers.size() << " weights masked by " << set.method << " (" << set.pattern << ", sparsity "
         << set.sparsity << ")" << (path.empty() || options.ramp.enabled() ? "" : "; masks saved to " + path) << "\n";
  return std::make_shared<PruningPass>(std::move(layers), std::move(set), spec, options.ramp);
}

}  // namespace cook::prune

// Pruning during training: fixed masks (2:4 or unstructured) held on the selected linears for the
// whole run, or a gradual magnitude ramp. When the pass attaches, each layer gets its mask
// (cook::nn::Linear::set_mask, so the forward uses weight ⊙ mask) and its pruned weights are set to
// zero at once, before the first step. Around every optimizer step the pass masks the gradients
// before the update and the weights after it, so no pruned weight ever comes back (AdamW's
// momentum and weight decay included). The masks are saved in training checkpoints, so a resumed
// ramp continues where it stopped.
//
// In a sharded run (ZeRO stage 3) the masks on the linears travel with their blocks, the fix-ups
// touch only the weights this rank holds, and a ramp's new masks are computed by the rank that
// holds each weight and shared; every rank keeps the masks as booleans for checkpoints. A global
// (whole-model) magnitude ramp needs every weight at once and is refused there.
#pragma once
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cook/compress/prune/layer_selection.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/compress/prune/pruning_options.h"
#include "cook/model/gptj.h"
#include "cook/train/extension.h"

namespace cook::prune {

class PruningPass : public train::TrainingExtension {
 public:
  // Attaches `masks` (one per layer, fitting; checked) to the layers and zeroes pruned weights.
  // With an enabled `ramp` (magnitude only), masks are recomputed by magnitude as it rises.
  PruningPass(std::vector<PrunedLayer> layers, MaskSet masks, MaskSpec spec = {}, SparsityRamp ramp = {});

  std::string name() const override { return "pruning"; }
  void before_step(int64_t step) override;
  void after_step(int64_t step) override;
  void join(train::ParallelTraining& parallel) override;
  void save_state(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta) const override;
  void load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json& meta) override;

  const MaskSet& masks() const { return masks_; }
  const std::vector<PrunedLayer>& layers() const { return layers_; }
  // Takes the masks off the layers (the weights stay pruned).
  void detach();

 private:
  void attach();
  void remask_weights();
  bool holds(const PrunedLayer& layer) const { return !parallel_ || parallel_->holds(layer.layer->weight); }

  std::vector<PrunedLayer> layers_;
  MaskSet masks_;
  MaskSpec spec_;
  SparsityRamp ramp_;
  train::ParallelTraining* parallel_ = nullptr;  // set by join() in a multi-process run
};

// The pass as BMCook sets it up from its options: selects the layers by `pruned_module`; when
// `pruning_mask_path` names an existing file the masks come from it (checked against the model),
// else they are computed by `mask_method` from the current weights and, with a path, saved there.
// wanda/sparsegpt masks need calibration data: make them with `cook prune masks` first. `log`
// (may be null) gets one line saying what was done. Returns null when options.is_pruning is false.
std::shared_ptr<PruningPass> make_pruning_pass(model::GptJ& model, const PruningOptions& options,
                                               const std::string& where, std::ostream* log);

}  // namespace cook::prune

// How a compression method takes part in training without the trainer knowing it: extra loss
// terms, intermediate tensors it needs from the forward, gradient and weight fix-ups around the
// optimizer step, its own trainable parameters, and its own state in checkpoints. No global state:
// every extension belongs to one trainer.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/model/forward.h"
#include "cook/train/adamw.h"
#include "cook/train/batch.h"
#include "cook/train/parallel.h"

namespace cook::train {

// Named, already scaled loss terms; the trainer adds them to the task loss and logs each.
using LossTerms = std::vector<std::pair<std::string, torch::Tensor>>;

class TrainingExtension {
 public:
  virtual ~TrainingExtension() = default;
  virtual std::string name() const = 0;

  // Asks the student's forward for what the extension needs (hidden states, scores, ...).
  virtual void request(model::ForwardRequest& request) const {}
  virtual void add_losses(const Batch& batch, const model::ForwardOutput& out, LossTerms& terms) {}
  // After the gradients of a step are complete, before clipping and the optimizer step.
  virtual void before_step(int64_t step) {}
  // After the optimizer step.
  virtual void after_step(int64_t step) {}
  // Extra trainable parameters, optimized with the model (e.g. a distillation projection).
  virtual std::vector<ParamGroup> parameter_groups() { return {}; }
  // In a multi-process run, once the model is sharded (before the first step): the extension
  // keeps `parallel` to touch only what this rank holds and shards what it runs (parallel.h).
  // May throw a cook::Error naming an option this extension cannot honour under the sharding.
  virtual void join(ParallelTraining& parallel) {}
  // Extension state saved in and restored from training checkpoints.
  virtual void save_state(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta) const {}
  virtual void load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json& meta) {}
};

}  // namespace cook::train

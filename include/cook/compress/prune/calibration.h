// What the one-shot pruners learn about a layer from calibration data: its inputs, summed over
// every token of every calibration batch. Gathered by a LinearKernel that records the input and
// then computes the layer's ordinary product, so the model needs no hooks of its own.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "cook/model/gptj.h"
#include "cook/model/linear.h"

namespace cook::prune {

struct InputStatistics {
  torch::Tensor sum_squares;  // (in) Σ x_j² over tokens, float64 (Wanda's ‖x_j‖²)
  torch::Tensor gram;         // (in, in) Σ x xᵀ over tokens, float64 (SparseGPT's Hessian); with `gram` only
  int64_t tokens = 0;
};

// Records the inputs of one layer while computing y = x·Wᵀ + b as the layer does.
class InputRecorder : public nn::LinearKernel {
 public:
  explicit InputRecorder(bool gram) : gram_(gram) {}
  std::string name() const override { return "input-recorder"; }
  torch::Tensor forward(const nn::LinearImpl& layer, const torch::Tensor& x) const override;
  const InputStatistics& statistics() const { return *stats_; }

 private:
  bool gram_;
  // The kernel interface is const (a kernel computes); recording is its one side effect.
  std::shared_ptr<InputStatistics> stats_ = std::make_shared<InputStatistics>();
};

// Runs the model (no gradients, eval mode) on every batch of input ids with a recorder on each
// of `layers`, and returns their statistics in order. The layers' kernels are restored
// afterwards, also on error; a layer that already has a kernel is an error.
std::vector<InputStatistics> record_inputs(model::GptJ& model, const std::vector<nn::Linear>& layers,
                                           const std::vector<torch::Tensor>& batches, bool gram);

}  // namespace cook::prune

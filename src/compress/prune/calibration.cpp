#include "cook/compress/prune/calibration.h"

#include "cook/core/error.h"

namespace cook::prune {

torch::Tensor InputRecorder::forward(const nn::LinearImpl& layer, const torch::Tensor& x) const {
  const auto& transform = layer.weight_transform();
  const torch::Tensor in = transform ? transform->transform_input(layer, x) : x;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor rows = in.detach().reshape({-1, layer.in_features()}).to(torch::kFloat64);
    if (!stats_->sum_squares.defined()) {
      stats_->sum_squares = torch::zeros({layer.in_features()}, rows.options());
      if (gram_) stats_->gram = torch::zeros({layer.in_features(), layer.in_features()}, rows.options());
    }
    stats_->sum_squares.add_(rows.square().sum(0));
    if (gram_) stats_->gram.addmm_(rows.t(), rows);
    stats_->tokens += rows.size(0);
  }
  return torch::nn::functional::linear(in, layer.effective_weight(), layer.bias);
}

std::vector<InputStatistics> record_inputs(model::GptJ& model, const std::vector<nn::Linear>& layers,
                                           const std::vector<torch::Tensor>& batches, bool gram) {
  if (batches.empty()) throw Error("calibration", "no calibration batches");
  std::vector<std::shared_ptr<InputRecorder>> recorders;
  for (const auto& l : layers) {
    if (l->kernel()) throw Error("calibration", "a layer already runs kernel '" + l->kernel()->name() + "'");
    recorders.push_back(std::make_shared<InputRecorder>(gram));
  }
  const bool was_training = model->is_training();
  model->eval();
  auto restore = [&] {
    for (const auto& l : layers) l.ptr()->set_kernel(nullptr);
    model->train(was_training);
  };
  try {
    for (size_t i = 0; i < layers.size(); ++i) layers[i].ptr()->set_kernel(recorders[i]);
    torch::NoGradGuard no_grad;
    const torch::Device device = model->parameters().front().device();
    bool needs_head = false;  // the LM head runs only when it is one of the recorded layers
    for (const auto& l : layers) needs_head = needs_head || l.get() == model->lm_head.get();
    for (const auto& ids : batches) {
      model::ForwardInput input;
      input.input_ids = ids.to(device);
      input.request.logits = needs_head;
      model->forward(input);
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  std::vector<InputStatistics> out;
  for (const auto& r : recorders) out.push_back(r->statistics());
  return out;
}

}  // namespace cook::prune

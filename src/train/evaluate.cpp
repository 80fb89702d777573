#include "cook/train/evaluate.h"

#include <cmath>

namespace cook::train {

torch::Tensor language_model_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  auto flat_logits = logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(
      flat_logits, labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreLabel));
}

EvalResult evaluate(model::GptJ& model, const EvalSource& source, int64_t max_batches) {
  EvalResult result;
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Device device = model->parameters().front().device();
  double loss_sum = 0.0;
  source.for_each(max_batches, [&](const Batch& cpu_batch) {
    Batch batch = cpu_batch.to(device);
    model::ForwardInput input{batch.input_ids, batch.attention_mask, {}};
    auto out = model->forward(input);
    const int64_t count = batch.target_count();
    loss_sum += language_model_loss(out.logits, batch.labels).item<double>() * static_cast<double>(count);
    result.tokens += count;
  });
  if (result.tokens > 0) {
    result.loss = loss_sum / static_cast<double>(result.tokens);
    result.perplexity = std::exp(result.loss);
  }
  if (was_training) model->train();
  return result;
}

}  // namespace cook::train

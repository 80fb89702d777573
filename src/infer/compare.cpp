#include "cook/infer/compare.h"

#include "cook/core/error.h"

namespace cook::infer {

Comparison compare_to_reference(model::GptJ& model, model::GptJ& reference, const train::EvalSource& source,
                                int64_t max_batches) {
  if (model->config().vocab_size != reference->config().vocab_size)
    throw Error("compare_to_reference", "the model and the reference have different vocabularies");
  const bool model_training = model->is_training(), reference_training = reference->is_training();
  model->eval();
  reference->eval();
  torch::NoGradGuard no_grad;
  double loss = 0, ref_loss = 0, kl = 0, agree = 0;
  int64_t tokens = 0;
  const torch::Device device = model->parameters().front().device();
  source.for_each(max_batches, [&](const train::Batch& cpu_batch) {
    const train::Batch b = cpu_batch.to(device);
    model::ForwardInput in{b.input_ids, b.attention_mask};
    const torch::Tensor lp = torch::log_softmax(model->forward(in).logits.to(torch::kFloat32), -1);
    const torch::Tensor lr = torch::log_softmax(reference->forward(in).logits.to(torch::kFloat32), -1);
    const torch::Tensor keep = b.labels != train::kIgnoreLabel;
    const torch::Tensor labels = b.labels.clamp_min(0).unsqueeze(-1);
    loss -= lp.gather(-1, labels).squeeze(-1).masked_select(keep).sum().item<double>();
    ref_loss -= lr.gather(-1, labels).squeeze(-1).masked_select(keep).sum().item<double>();
    kl += (lr.exp() * (lr - lp)).sum(-1).masked_select(keep).sum().item<double>();
    agree += (lp.argmax(-1) == lr.argmax(-1)).masked_select(keep).sum().item<double>();
    tokens += keep.sum().item<int64_t>();
  });
  if (model_training) model->train();
  if (reference_training) reference->train();
  if (tokens == 0) throw Error("compare_to_reference", "the evaluation source has no labelled token");
  const double n = static_cast<double>(tokens);
  return {loss / n, ref_loss / n, kl / n, agree / n, tokens};
}

}  // namespace cook::infer

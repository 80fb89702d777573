#include "cook/compress/distill/teacher.h"

#include "cook/compress/distill/layer_map.h"
#include "cook/core/error.h"
#include "cook/weights/checkpoint.h"

namespace cook::compress::distill {

Teacher::Teacher(model::GptJ model) : model_(std::move(model)) {
  if (!model_) throw Error("teacher", "no model given");
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
  model_->eval();
}

Teacher Teacher::load(const std::string& path, const std::optional<std::string>& preset, torch::Device device,
                      torch::Dtype dtype) {
  try {
    weights::Checkpoint ckpt = weights::read_checkpoint(path, preset);
    model::GptJ model(ckpt.config);
    weights::load_into(*model, std::move(ckpt));
    model->to(device, dtype);
    return Teacher(model);
  } catch (const std::exception& e) {
    rethrow_with_context("teacher", e);
  }
}

void Teacher::to(torch::Device device, torch::Dtype dtype) { model_->to(device, dtype); }

model::ForwardOutput Teacher::forward(const train::Batch& batch, const model::ForwardRequest& request) {
  torch::NoGradGuard no_grad;
  model_->eval();
  model::ForwardInput input{batch.input_ids, batch.attention_mask, request};
  return model_->forward(input);
}

void init_student_from_teacher(model::GptJ& student, const model::GptJ& teacher, InitBlock pick) {
  const int64_t n_s = student->config().n_layer, n_t = teacher->config().n_layer;
  auto teacher_params = teacher->named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& item : student->named_parameters()) {
    std::string source = item.key();
    const std::string prefix = "blocks.";
    if (source.rfind(prefix, 0) == 0) {
      const size_t dot = source.find('.', prefix.size());
      const int64_t j = std::stoll(source.substr(prefix.size(), dot - prefix.size()));
      source = prefix + std::to_string(teacher_block_for(j, n_s, n_t, pick)) + source.substr(dot);
    }
    const torch::Tensor* from = teacher_params.find(source);
    if (from == nullptr)
      throw Error("--init-with-teacher", "student tensor '" + item.key() + "' has no teacher tensor '" + source + "'");
    if (from->sizes() != item.value().sizes())
      throw Error("--init-with-teacher", "student tensor '" + item.key() + "' " + c10::str(item.value().sizes()) +
                                             " and teacher tensor '" + source + "' " + c10::str(from->sizes()) +
                                             " differ in shape (the widths must agree)");
    item.value().copy_(*from);
  }
}

}  // namespace cook::compress::distill

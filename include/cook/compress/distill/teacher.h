// The teacher: a dense model loaded from its own checkpoint (any depth and width), frozen, in eval
// mode, run under no-grad on the student's batch in the student's dtype and on its device.
#pragma once
#include <optional>
#include <string>

#include <torch/torch.h>

#include "cook/compress/distill/layer_map.h"
#include "cook/model/forward.h"
#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::compress::distill {

class Teacher {
 public:
  // Freezes `model` (requires_grad off) and puts it in eval mode.
  explicit Teacher(model::GptJ model);
  // Any checkpoint Cook reads; `preset` is needed for a BMCook .bin and checked against the others.
  static Teacher load(const std::string& path, const std::optional<std::string>& preset, torch::Device device,
                      torch::Dtype dtype);

  // Moves the teacher to the student's device and dtype.
  void to(torch::Device device, torch::Dtype dtype);
  model::ForwardOutput forward(const train::Batch& batch, const model::ForwardRequest& request);

  const model::ModelConfig& config() const { return model_->config(); }
  const model::GptJ& model() const { return model_; }

 private:
  model::GptJ model_;
};

// --init-with-teacher: copies the teacher's embedding, ln_f and LM head into the student, and each
// student block j from teacher block teacher_block_for(j, ..., pick) (layer_map.h). Widths must
// agree; a shape that differs is a cook::Error naming both tensors.
void init_student_from_teacher(model::GptJ& student, const model::GptJ& teacher, InitBlock pick);

}  // namespace cook::compress::distill

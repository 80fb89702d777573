// Distillation as a training extension: asks the student's forward for the states the enabled
// terms need, runs the teacher on the same batch, and adds one named term per loss
// (kd_ce_logits, kd_mse_last_hidden, kd_mse_hidn, kd_mse_att, kd_mse_emb), each already multiplied
// by kd_loss_scale and its own scale. When the widths differ (or mse_hidn_proj asks for it) each
// compared hidden state gets a trainable projection W (d_teacher × d_student), initialized to a
// rectangular identity, optimized with the model and saved in training checkpoints. The student's
// forward keeps whatever compression it carries; the teacher stays dense.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cook/compress/distill/layer_map.h"
#include "cook/compress/distill/options.h"
#include "cook/compress/distill/teacher.h"
#include "cook/train/extension.h"

namespace cook::compress::distill {

class DistillExtension : public train::TrainingExtension {
 public:
  // Resolves the module lists and checks that the models can be compared (vocabulary for logits,
  // head count for attention scores); errors name `where` and the key. The teacher is moved to the
  // student's device and dtype.
  DistillExtension(Teacher teacher, const model::GptJ& student, DistillOptions options,
                   const std::string& where = "distillation");

  std::string name() const override { return "distill"; }
  void request(model::ForwardRequest& request) const override;
  void add_losses(const train::Batch& batch, const model::ForwardOutput& out, train::LossTerms& terms) override;
  std::vector<train::ParamGroup> parameter_groups() override;
  // The teacher is sharded like the student (under ZeRO stage 3: block by block).
  void join(train::ParallelTraining& parallel) override;
  void save_state(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta) const override;
  void load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json& meta) override;

  // The scaled terms for a student output and a teacher output of the same batch.
  train::LossTerms losses(const train::Batch& batch, const model::ForwardOutput& student,
                          const model::ForwardOutput& teacher);
  // What the teacher's forward is asked for.
  model::ForwardRequest teacher_request() const;

  const DistillOptions& options() const { return options_; }
  const Teacher& teacher() const { return teacher_; }
  const std::vector<HiddenPair>& hidden_pairs() const { return hidden_pairs_; }
  const std::vector<LayerPair>& attention_pairs() const { return attention_pairs_; }
  // Projection weights by name: "hidn.<i>" (the i-th hidden pair), "last_hidden", "emb".
  const std::map<std::string, torch::Tensor>& projections() const { return projections_; }

 private:
  torch::Tensor project(const std::string& key, const torch::Tensor& student_state) const;

  Teacher teacher_;
  DistillOptions options_;
  std::vector<HiddenPair> hidden_pairs_;
  std::vector<LayerPair> attention_pairs_;
  std::map<std::string, torch::Tensor> projections_;
};

}  // namespace cook::compress::distill

#include "cook/compress/distill/extension.h"

#include "cook/compress/distill/losses.h"
#include "cook/core/error.h"

namespace cook::compress::distill {

namespace {

bool uses(const std::vector<HiddenPair>& pairs, HiddenSite::Kind kind) {
  for (const auto& p : pairs)
    if (p.student.kind == kind || p.teacher.kind == kind) return true;
  return false;
}

const torch::Tensor& state_at(const model::ForwardOutput& out, const HiddenSite& site, const char* side) {
  const torch::Tensor* t = nullptr;
  switch (site.kind) {
    case HiddenSite::Kind::Embedding: t = &out.embedding; break;
    case HiddenSite::Kind::Final: t = &out.final_hidden; break;
    case HiddenSite::Kind::Block:
      if (site.layer < static_cast<int64_t>(out.hidden_states.size())) t = &out.hidden_states[site.layer];
      break;
  }
  if (t == nullptr || !t->defined())
    throw Error("distillation", std::string("the ") + side + "'s forward did not return '" + site.name() + "'");
  return *t;
}

void add_request(model::ForwardRequest& r, const HiddenSite& site) {
  switch (site.kind) {
    case HiddenSite::Kind::Embedding: r.embedding = true; break;
    case HiddenSite::Kind::Final: r.final_hidden = true; break;
    case HiddenSite::Kind::Block: r.hidden_states = true; break;
  }
}

}  // namespace

DistillExtension::DistillExtension(Teacher teacher, const model::GptJ& student, DistillOptions options,
                                   const std::string& where)
    : teacher_(std::move(teacher)), options_(std::move(options)) {
  options_.validate(where);
  if (!options_.any_term())
    throw Error(where, "no distillation term is on (give ce_scale, mse_last_hidden_scale, mse_hidn_scale, "
                       "mse_att_scale or mse_emb_scale > 0)");
  const model::ModelConfig& s = student->config();
  const model::ModelConfig& t = teacher_.config();
  const torch::Tensor first = student->parameters().front();
  teacher_.to(first.device(), first.scalar_type());
  if (options_.ce_scale > 0 && s.vocab_size != t.vocab_size)
    throw Error(where, "ce_scale: the student's vocabulary (" + std::to_string(s.vocab_size) +
                           ") differs from the teacher's (" + std::to_string(t.vocab_size) + ")");
  if (options_.mse_hidn_scale > 0)
    hidden_pairs_ = resolve_hidden_modules(options_.mse_hidn_module, s.n_layer, t.n_layer, where + ": mse_hidn_module");
  if (options_.mse_att_scale > 0) {
    if (s.n_head != t.n_head)
      throw Error(where, "mse_att_scale: the student has " + std::to_string(s.n_head) + " attention heads, the teacher " +
                             std::to_string(t.n_head) + "; scores are compared head by head");
    attention_pairs_ =
        resolve_attention_modules(options_.mse_att_module, s.n_layer, t.n_layer, where + ": mse_att_module");
  }
  const bool widths_differ = s.d_model != t.d_model;
  auto add_projection = [&](const std::string& key) {
    torch::Tensor w = torch::eye(t.d_model, s.d_model, torch::TensorOptions().dtype(first.scalar_type()).device(first.device()));
    projections_[key] = w.set_requires_grad(true);
  };
  if (widths_differ || options_.mse_hidn_proj)
    for (size_t i = 0; i < hidden_pairs_.size(); ++i) add_projection("hidn." + std::to_string(i));
  if (widths_differ && options_.mse_last_hidden_scale > 0) add_projection("last_hidden");
  if (widths_differ && options_.mse_emb_scale > 0) add_projection("emb");
}

model::ForwardRequest DistillExtension::teacher_request() const {
  model::ForwardRequest r;
  r.logits = options_.ce_scale > 0;
  r.final_hidden = options_.mse_last_hidden_scale > 0;
  r.embedding = options_.mse_emb_scale > 0;
  r.attention_scores = options_.mse_att_scale > 0;
  for (const auto& p : hidden_pairs_) add_request(r, p.teacher);
  return r;
}

void DistillExtension::request(model::ForwardRequest& r) const {
  if (options_.mse_last_hidden_scale > 0) r.final_hidden = true;
  if (options_.mse_emb_scale > 0) r.embedding = true;
  if (options_.mse_att_scale > 0) r.attention_scores = true;
  for (const auto& p : hidden_pairs_) add_request(r, p.student);
}

torch::Tensor DistillExtension::project(const std::string& key, const torch::Tensor& student_state) const {
  auto it = projections_.find(key);
  if (it == projections_.end()) return student_state;
  return torch::matmul(student_state, it->second.t());
}

train::LossTerms DistillExtension::losses(const train::Batch& batch, const model::ForwardOutput& student,
                                          const model::ForwardOutput& teacher) {
  train::LossTerms terms;
  const double kd = options_.kd_loss_scale;
  const torch::Tensor& mask = batch.attention_mask;
  const bool norm = options_.mse_normalize;
  if (options_.ce_scale > 0)
    terms.emplace_back("kd_ce_logits", kd * options_.ce_scale *
                                           soft_ce_logits(student.logits, teacher.logits, batch.labels, options_.ce_temp));
  if (options_.mse_last_hidden_scale > 0) {
    const HiddenSite final{HiddenSite::Kind::Final, 0};
    terms.emplace_back("kd_mse_last_hidden",
                       kd * options_.mse_last_hidden_scale *
                           hidden_mse(project("last_hidden", state_at(student, final, "student")),
                                      state_at(teacher, final, "teacher"), mask, norm));
  }
  if (options_.mse_hidn_scale > 0) {
    torch::Tensor sum;
    for (size_t i = 0; i < hidden_pairs_.size(); ++i) {
      const HiddenPair& p = hidden_pairs_[i];
      torch::Tensor l = hidden_mse(project("hidn." + std::to_string(i), state_at(student, p.student, "student")),
                                   state_at(teacher, p.teacher, "teacher"), mask, norm);
      sum = sum.defined() ? sum + l : l;
    }
    terms.emplace_back("kd_mse_hidn", kd * options_.mse_hidn_scale * sum);
  }
  if (options_.mse_att_scale > 0) {
    torch::Tensor sum;
    for (const LayerPair& p : attention_pairs_) {
      if (p.student >= static_cast<int64_t>(student.attention_scores.size()) ||
          p.teacher >= static_cast<int64_t>(teacher.attention_scores.size()))
        throw Error("distillation", "a forward did not return the attention scores of every block");
      torch::Tensor l =
          attention_score_mse(student.attention_scores[p.student], teacher.attention_scores[p.teacher], mask);
      sum = sum.defined() ? sum + l : l;
    }
    terms.emplace_back("kd_mse_att", kd * options_.mse_att_scale * sum);
  }
  if (options_.mse_emb_scale > 0) {
    const HiddenSite emb{HiddenSite::Kind::Embedding, 0};
    terms.emplace_back("kd_mse_emb", kd * options_.mse_emb_scale *
                                         hidden_mse(project("emb", state_at(student, emb, "student")),
                                                    state_at(teacher, emb, "teacher"), mask, norm));
  }
  return terms;
}

void DistillExtension::add_losses(const train::Batch& batch, const model::ForwardOutput& out, train::LossTerms& terms) {
  const model::ForwardOutput teacher = teacher_.forward(batch, teacher_request());
  for (auto& term : losses(batch, out, teacher)) terms.push_back(std::move(term));
}

void DistillExtension::join(train::ParallelTraining& parallel) {
  model::GptJ teacher = teacher_.model();
  parallel.attach_frozen_model(teacher);
}

std::vector<train::ParamGroup> DistillExtension::parameter_groups() {
  if (projections_.empty()) return {};
  train::ParamGroup group{"distill_projection", {}, 0.0, 1.0};
  for (const auto& [key, w] : projections_) group.params.push_back({"distill.proj." + key, w});
  return {group};
}

void DistillExtension::save_state(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta) const {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& [key, w] : projections_) {
    tensors["proj." + key] = w.detach();
    names.push_back(key);
  }
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& p : hidden_pairs_) pairs.push_back(p.student.name() + ":" + p.teacher.name());
  meta["projections"] = names;
  meta["hidden_pairs"] = pairs;
}

void DistillExtension::load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json& meta) {
  torch::NoGradGuard no_grad;
  for (auto& [key, w] : projections_) {
    auto it = tensors.find("proj." + key);
    if (it == tensors.end())
      throw Error("checkpoint", "distillation projection '" + key +
                                    "' is missing (was the run saved with other distillation settings?)");
    if (it->second.sizes() != w.sizes())
      throw Error("checkpoint", "distillation projection '" + key + "' has shape " + c10::str(it->second.sizes()) +
                                    ", this run needs " + c10::str(w.sizes()));
    w.copy_(it->second);
  }
}

}  // namespace cook::compress::distill

#include "cook/train/adamw.h"

#include <cmath>

#include "cook/core/error.h"

namespace cook::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {
  torch::NoGradGuard no_grad;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (slots_.count(p.name)) throw Error("optimizer", "parameter '" + p.name + "' appears twice");
      Slot slot;
      auto fp32 = p.tensor.options().dtype(torch::kFloat32);
      slot.exp_avg = torch::zeros(p.tensor.sizes(), fp32);
      slot.exp_avg_sq = torch::zeros(p.tensor.sizes(), fp32);
      if (p.tensor.scalar_type() != torch::kFloat32) slot.master = p.tensor.detach().to(torch::kFloat32).clone();
      slots_.emplace(p.name, std::move(slot));
    }
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (const auto& group : groups_) {
    const double group_lr = lr * group.lr_scale;
    for (const auto& p : group.params) {
      const auto& grad_ref = p.tensor.grad();
      if (!grad_ref.defined()) continue;
      Slot& slot = slots_.at(p.name);
      torch::Tensor grad = grad_ref.to(torch::kFloat32);
      torch::Tensor weight = slot.master.defined() ? slot.master : p.tensor;
      slot.exp_avg.mul_(options_.beta1).add_(grad, 1.0 - options_.beta1);
      slot.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
      if (group.weight_decay != 0.0) weight.mul_(1.0 - group_lr * group.weight_decay);
      torch::Tensor denom = (slot.exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(options_.eps);
      weight.addcdiv_(slot.exp_avg, denom, -group_lr / bias1);
      if (slot.master.defined()) p.tensor.copy_(slot.master);
    }
  }
}

void AdamW::zero_grad() {
  for (const auto& group : groups_)
    for (const auto& p : group.params) {
      auto& g = p.tensor.mutable_grad();
      if (g.defined()) g = torch::Tensor();
    }
}

std::vector<torch::Tensor> AdamW::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& group : groups_)
    for (const auto& p : group.params) out.push_back(p.tensor);
  return out;
}

std::vector<std::string> AdamW::state_keys(const std::string& name, torch::ScalarType dtype) {
  std::vector<std::string> keys{"optimizer." + name + ".exp_avg", "optimizer." + name + ".exp_avg_sq"};
  if (dtype != torch::kFloat32) keys.push_back("optimizer." + name + ".master");
  return keys;
}

std::map<std::string, torch::Tensor> AdamW::state_tensors() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, slot] : slots_) {
    out["optimizer." + name + ".exp_avg"] = slot.exp_avg;
    out["optimizer." + name + ".exp_avg_sq"] = slot.exp_avg_sq;
    if (slot.master.defined()) out["optimizer." + name + ".master"] = slot.master;
  }
  return out;
}

void AdamW::load_state_tensors(const std::map<std::string, torch::Tensor>& tensors, int64_t steps_taken,
                               const std::string& where) {
  torch::NoGradGuard no_grad;
  auto restore = [&](const std::string& key, torch::Tensor& into) {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw Error(where, "optimizer state '" + key + "' is missing");
    if (it->second.sizes() != into.sizes())
      throw Error(where, "optimizer state '" + key + "' has shape " + c10::str(it->second.sizes()) +
                             ", expected " + c10::str(into.sizes()));
    into.copy_(it->second);
  };
  for (auto& [name, slot] : slots_) {
    restore("optimizer." + name + ".exp_avg", slot.exp_avg);
    restore("optimizer." + name + ".exp_avg_sq", slot.exp_avg_sq);
    if (slot.master.defined()) restore("optimizer." + name + ".master", slot.master);
  }
  steps_ = steps_taken;
}

void AdamW::sync_master_from_parameters() {
  torch::NoGradGuard no_grad;
  for (const auto& group : groups_)
    for (const auto& p : group.params) {
      Slot& slot = slots_.at(p.name);
      if (slot.master.defined()) slot.master.copy_(p.tensor);
    }
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> squares;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (g.defined()) squares.push_back(g.to(torch::kFloat32).pow(2).sum());
  }
  if (squares.empty()) return 0.0;
  const double norm = torch::stack(squares).sum().sqrt().item<double>();
  if (max_norm > 0.0 && std::isfinite(norm) && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& p : params) {
      auto g = p.grad();
      if (g.defined()) g.mul_(scale);
    }
  }
  return norm;
}

}  // namespace cook::train

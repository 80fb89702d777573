// AdamW (decoupled weight decay, Loshchilov & Hutter) with fp32 state and fp32 master weights:
// parameters may be bf16/fp16 for compute; the optimizer keeps an fp32 copy of each, updates that,
// and writes the rounded result back. State is keyed by parameter name, so checkpoints survive a
// change of parameter order and can later be sharded by name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace cook::train {

struct NamedParameter {
  std::string name;
  torch::Tensor tensor;
};

struct ParamGroup {
  std::string name;
  std::vector<NamedParameter> params;
  double weight_decay = 0.0;
  double lr_scale = 1.0;
};

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

  // One update with learning rate `lr` from each parameter's .grad(); parameters without a
  // gradient are left untouched (their state does not advance).
  void step(double lr);
  void zero_grad();

  int64_t steps_taken() const { return steps_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Every parameter that has a gradient slot, in group order.
  std::vector<torch::Tensor> parameters() const;

  // "optimizer.<param>.exp_avg" / ".exp_avg_sq" / ".master" (only for non-fp32 parameters).
  std::map<std::string, torch::Tensor> state_tensors() const;
  // The state_tensors() keys of one parameter (each an fp32 tensor of the parameter's shape).
  static std::vector<std::string> state_keys(const std::string& name, torch::ScalarType dtype);
  // Restores what state_tensors() saved; a missing or misshaped entry is an error naming it.
  void load_state_tensors(const std::map<std::string, torch::Tensor>& tensors, int64_t steps_taken,
                          const std::string& where);
  // Re-reads master weights from the parameters (after the caller overwrote them, e.g. a load).
  void sync_master_from_parameters();

 private:
  struct Slot {
    torch::Tensor exp_avg, exp_avg_sq, master;  // master undefined when the parameter is fp32
  };
  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, Slot> slots_;
  int64_t steps_ = 0;
};

// Global L2 norm of all gradients (fp32), then scales them so that it is at most `max_norm`
// (no scaling when max_norm <= 0). Returns the norm before clipping (NaN/Inf when non-finite).
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace cook::train

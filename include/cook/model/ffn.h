// The feed-forward part of a GPT-J block, as an interface: the dense FFN is the model's own;
// MoEfication later puts an expert FFN in its place (GptJBlockImpl::replace_ffn).
#pragma once
#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "cook/model/config.h"
#include "cook/model/linear.h"

namespace cook::model {

class FeedForwardImpl : public torch::nn::Module {
 public:
  ~FeedForwardImpl() override = default;
  // x (..., d_model) → (..., d_model).
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

// Applies the activation that `a` names: gelu_new is GELU's tanh approximation.
torch::Tensor apply_activation(Activation a, const torch::Tensor& x);

// fc_in (d → F, bias optional) → activation → fc_out (F → d, bias).
class DenseFeedForwardImpl : public FeedForwardImpl {
 public:
  DenseFeedForwardImpl(int64_t d_model, int64_t d_ff, Activation activation, bool fc_in_bias);
  explicit DenseFeedForwardImpl(const ModelConfig& config)
      : DenseFeedForwardImpl(config.d_model, config.d_ff, config.activation, config.fc_in_bias) {}

  torch::Tensor forward(const torch::Tensor& x) override;
  // The intermediate activations act(fc_in(x)), (..., d_ff): what MoEfication clusters.
  torch::Tensor intermediate(const torch::Tensor& x);

  Activation activation() const { return activation_; }
  cook::nn::Linear fc_in{nullptr};
  cook::nn::Linear fc_out{nullptr};

 private:
  Activation activation_;
};

TORCH_MODULE(DenseFeedForward);

}  // namespace cook::model

#include <torch/torch.h>

#include "cook/model/ffn.h"

namespace cook::model {

torch::Tensor apply_activation(Activation a, const torch::Tensor& x) {
  switch (a) {
    case Activation::GeluNew: return torch::gelu(x, "tanh");
    case Activation::Relu: return torch::relu(x);
  }
  TORCH_CHECK(false, "unknown activation");
}

DenseFeedForwardImpl::DenseFeedForwardImpl(int64_t d_model, int64_t d_ff, Activation activation, bool fc_in_bias)
    : activation_(activation) {
  fc_in = register_module("fc_in", cook::nn::Linear(d_model, d_ff, fc_in_bias));
  fc_out = register_module("fc_out", cook::nn::Linear(d_ff, d_model, true));
}

torch::Tensor DenseFeedForwardImpl::intermediate(const torch::Tensor& x) {
  return apply_activation(activation_, fc_in->forward(x));
}

torch::Tensor DenseFeedForwardImpl::forward(const torch::Tensor& x) { return fc_out->forward(intermediate(x)); }

}  // namespace cook::model

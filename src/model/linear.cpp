#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "cook/core/error.h"
#include "cook/model/linear.h"

namespace cook::nn {

namespace {

std::string shape_string(c10::IntArrayRef sizes) {
  std::ostringstream s;
  s << sizes;
  return s.str();
}

}  // namespace

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias)
    : in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw Error("cook::nn::Linear", "in_features and out_features must be positive, got " +
                                        std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out_features}));
  mask_slot_ = &register_buffer("mask", torch::Tensor());
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  // torch::nn::Linear's scheme: kaiming-uniform weight, bias uniform in ±1/√in.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features_));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

torch::Tensor LinearImpl::effective_weight() const {
  torch::Tensor w = weight;
  if (mask_slot_->defined()) w = w * *mask_slot_;
  if (transform_) w = transform_->transform_weight(*this, w);
  return w;
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (kernel_) return kernel_->forward(*this, x);
  const torch::Tensor in = transform_ ? transform_->transform_input(*this, x) : x;
  return torch::nn::functional::linear(in, effective_weight(), bias);
}

void LinearImpl::set_mask(const torch::Tensor& mask) {
  const bool fits = mask.defined() && mask.dim() == 2 &&
                    (mask.size(0) == out_features_ || mask.size(0) == 1) &&
                    (mask.size(1) == in_features_ || mask.size(1) == 1);
  if (!fits) {
    throw Error("cook::nn::Linear::set_mask",
                "mask of shape " + (mask.defined() ? shape_string(mask.sizes()) : std::string("(undefined)")) +
                    " does not broadcast to the weight's [" + std::to_string(out_features_) + ", " +
                    std::to_string(in_features_) + "]");
  }
  const torch::Tensor value = mask.detach().to(weight.device(), weight.scalar_type());
  // In place when the shape allows: others may hold this buffer's handle (a ZeRO stage-3 shard).
  if (mask_slot_->defined() && mask_slot_->sizes() == value.sizes()) {
    torch::NoGradGuard no_grad;
    mask_slot_->copy_(value);
  } else {
    *mask_slot_ = value.clone();
  }
}

void LinearImpl::clear_mask() { *mask_slot_ = torch::Tensor(); }

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << "cook::nn::Linear(in_features=" << in_features_ << ", out_features=" << out_features_
         << ", bias=" << (bias.defined() ? "true" : "false");
  if (mask_slot_->defined()) stream << ", mask=" << mask_slot_->sizes();
  if (transform_) stream << ", transform=" << transform_->name();
  if (kernel_) stream << ", kernel=" << kernel_->name();
  stream << ")";
}

}  // namespace cook::nn

// Cook's own linear layer. Every projection of the model is one, so compression methods attach
// to it without the model knowing them:
//   - a mask (buffer "mask", multiplied into the weight: pruning),
//   - a WeightTransform (fake quantization with a straight-through estimator, say),
//   - a LinearKernel that replaces the matrix product altogether (int8, 2:4 sparse, ...).
// Each layer owns its attachments; there is no global registry, so two models with different
// compressions live side by side in one process.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace cook::nn {

class LinearImpl;

// Replaces the product of one layer at run time. It keeps whatever it prepared (packed int8
// weights, scales, compressed 2:4 values) itself and reads the rest from the layer.
class LinearKernel {
 public:
  virtual ~LinearKernel() = default;
  virtual std::string name() const = 0;
  // What the layer computes: x (..., in_features) → (..., out_features).
  virtual torch::Tensor forward(const LinearImpl& layer, const torch::Tensor& x) const = 0;
};

// Rewrites the operands of the product while training or evaluating in floating point: the
// (masked) weight, and optionally the input (activation fake-quantization). Must stay
// differentiable where gradients go through it.
class WeightTransform {
 public:
  virtual ~WeightTransform() = default;
  virtual std::string name() const = 0;
  virtual torch::Tensor transform_weight(const LinearImpl& layer, const torch::Tensor& weight) const = 0;
  virtual torch::Tensor transform_input(const LinearImpl& layer, const torch::Tensor& x) const { return x; }
};

class LinearImpl : public torch::nn::Module {
 public:
  // weight (out, in) and, with `bias`, bias (out), registered under those names; initialized as
  // torch::nn::Linear does (the model re-initializes them with its own scheme).
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);

  // y = x·Wᵀ + b with W = transform(weight ⊙ mask), or the kernel's result when one is set.
  torch::Tensor forward(const torch::Tensor& x);

  // The weight the default product uses: weight ⊙ mask, then the transform.
  torch::Tensor effective_weight() const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return bias.defined(); }

  // The mask must broadcast to the weight's shape ((out, in), (out, 1) or (1, in)); it is stored
  // as the buffer "mask" in the weight's dtype and device and moves with the module; a mask of
  // the shape already held is copied in place (a ZeRO stage-3 shard keeps the buffer's handle).
  void set_mask(const torch::Tensor& mask);
  void clear_mask();
  const torch::Tensor& mask() const { return *mask_slot_; }
  bool has_mask() const { return mask_slot_->defined(); }

  void set_weight_transform(std::shared_ptr<const WeightTransform> transform) { transform_ = std::move(transform); }
  const std::shared_ptr<const WeightTransform>& weight_transform() const { return transform_; }

  void set_kernel(std::shared_ptr<const LinearKernel> kernel) { kernel_ = std::move(kernel); }
  const std::shared_ptr<const LinearKernel>& kernel() const { return kernel_; }

  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor weight;  // (out_features, in_features)
  torch::Tensor bias;    // (out_features) or undefined

 private:
  int64_t in_features_;
  int64_t out_features_;
  // The registered buffer's own slot: the layer registers no other buffer, so it stays put.
  torch::Tensor* mask_slot_ = nullptr;
  std::shared_ptr<const WeightTransform> transform_;
  std::shared_ptr<const LinearKernel> kernel_;
};

TORCH_MODULE(Linear);

}  // namespace cook::nn

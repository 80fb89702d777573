// Quantization simulated in floating point while training or evaluating (QAT), attached to a
// cook::nn::Linear. What the layer computes equals, up to float rounding, what the int8 model
// computes: int8 weights × int8 activations, int32 accumulation, rescaled by the two scales.
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "cook/compress/quant/options.h"
#include "cook/model/linear.h"

namespace cook::quant {

// Straight-through fake quantization (Backward::Ste): the weight (per scheme) and, for w8a8, the
// input are replaced by their quantize-dequantize images; gradients pass to the floating-point
// weight and input unchanged: d fq(w) / dw = 1.
class FakeQuantTransform : public nn::WeightTransform {
 public:
  FakeQuantTransform(Scheme scheme, int64_t group_size);
  std::string name() const override;
  torch::Tensor transform_weight(const nn::LinearImpl& layer, const torch::Tensor& weight) const override;
  torch::Tensor transform_input(const nn::LinearImpl& layer, const torch::Tensor& x) const override;

  Scheme scheme() const { return scheme_; }
  int64_t group_size() const { return group_size_; }

 private:
  Scheme scheme_;
  int64_t group_size_;
};

// The w8a8 product with BMCook's backward (Backward::Bmcook), cpm_kernels' GEMMInt8: the forward
// equals FakeQuantTransform's, and the backward reuses the forward's int8 operands X_q, W_q with
// the gradient G (tokens × out) quantized once more:
//   dX = Q_tok(G · diag(s_w)) · W_q          dW = Σ_seq Q_chan(diag(s_x) · G)ᵀ · X_q
// Q_tok: per token over the output channels; Q_chan: per output channel over the tokens of one
// sequence (every leading index of x (..., T, in) is a sequence, as BMCook's batch is). A
// LinearKernel, since a WeightTransform cannot reach the gradient of the output. It uses the
// layer's weight ⊙ mask and bias.
class BmcookInt8Kernel : public nn::LinearKernel {
 public:
  std::string name() const override { return "int8-sim-bmcook"; }
  torch::Tensor forward(const nn::LinearImpl& layer, const torch::Tensor& x) const override;
};

// y = x·Wᵀ + b through BMCook's int8 product, for any x (..., in): what BmcookInt8Kernel runs.
torch::Tensor bmcook_int8_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace cook::quant

// The grouped computation of an expert FFN in int8 (W8A8), for an FFN whose fc_in and fc_out both
// carry the int8 kernel (Int8LinearKernel, as a loaded int8 artefact's do): what a P+D+Q+M model runs at decode.
//
// It computes exactly what the int8 model computes for the masked dense FFN (the neurons of
// unchosen experts zeroed before fc_out), skipping the unchosen experts:
//   1. x is quantized per token, as fc_in's kernel does (same scale, same int8 values);
//   2. per expert, its tokens × its fc_in rows (int8, their own per-row scales) in int32, rescaled
//      by the same expression as the kernel's, then the activation: the hidden values of the
//      chosen neurons, bit for bit those of the dense product;
//   3. per token, one scale over the concatenation of its k experts' hidden values: the absmax
//      of the masked row (its other neurons are zero), so the int8 hidden values are those the
//      dense fc_out kernel quantizes;
//   4. per expert, its tokens' int8 hidden values × its columns of fc_out, added into one int32
//      accumulator per token (exact: the sum over experts is the dense sum over neurons), then
//      one rescale with the token's scale and fc_out's per-row scales.
// Every step is integer-exact or the same float expression as the dense kernel's, so the result
// equals the masked dense int8 FFN bit for bit (the kernel's product is exact on every CPU:
// oneDNN where it has VNNI, the packed loop where it does not). A non-ReLU activation is applied
// by the same function to a differently shaped tensor, which may change its last bit.
//
// The products run on PackedInt8Weight (plain AVX2 loops over prepacked bytes, made once here),
// not oneDNN: a oneDNN matmul call per expert per product costs more than the product itself at
// a few tokens per expert (measured: docs/moefication.md). Memory: the FFN's int8 weights once
// more (about a quarter of the float FFN).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "cook/infer/int8_linear.h"
#include "cook/infer/packed_int8.h"
#include "cook/model/ffn.h"

namespace cook::compress::moe {

class Int8Experts {
 public:
  // Packs each expert's rows of fc_in's int8 weight and columns of fc_out's. `experts` (E, m)
  // int64 partitions fc_in's output channels (= fc_out's input channels). Throws cook::Error
  // naming what does not fit.
  Int8Experts(std::shared_ptr<const infer::Int8LinearKernel> fc_in, std::shared_ptr<const infer::Int8LinearKernel> fc_out,
              const torch::Tensor& experts);

  // True when made from these kernels (the pack is stale otherwise).
  bool made_from(const nn::LinearKernel* fc_in, const nn::LinearKernel* fc_out) const {
    return fc_in == in_.get() && fc_out == out_.get();
  }

  // x (N, d) on the CPU, chosen (N, k) int64 (distinct experts per token) → (N, d) in x's dtype.
  // b_in (F) and b_out (d) are the layers' biases, undefined when they have none.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& chosen, model::Activation activation,
                        const torch::Tensor& b_in, const torch::Tensor& b_out) const;

 private:
  std::shared_ptr<const infer::Int8LinearKernel> in_, out_;  // kept alive: identity = freshness
  torch::Tensor experts_;                                    // (E, m) int64
  std::vector<infer::PackedInt8Weight> w_in_;                // per expert: (m, d)
  std::vector<infer::PackedInt8Weight> w_out_;               // per expert: (d, m)
  torch::Tensor scales_in_;                                  // (E, m): fc_in's row scales, by expert
};

}  // namespace cook::compress::moe

// The expert FFN that MoEfication puts in place of a dense one (GptJBlockImpl::replace_ffn).
//
// It keeps the dense FFN's own fc_in and fc_out (same names, same neuron order: a checkpoint of a
// MoEfied model is a plain dense checkpoint and the MoE file stays valid for it) and adds an
// expert assignment (E experts of F/E neurons) and a router. Per token the router's top-k experts
// are computed, the others skipped:
//   - inference (no gradient needed): the neurons are packed once into expert-contiguous copies
//     of fc_in's rows and fc_out's columns (repacked when the weights change); the (token, expert)
//     pairs are grouped by expert and each expert runs two small matrix products on its tokens
//     only. This is where the time is saved; the packed copies cost the FFN's memory once more.
//   - training (gradients on): the dense product with the neurons of unchosen experts zeroed —
//     the same function, differentiable, no time saved.
//   - int8 inference (fc_in and fc_out both carry the Int8LinearKernel, as a loaded int8
//     artefact's do: P+D+Q+M): the grouped path runs in int8 too (Int8Experts, int8_experts.h):
//     the experts' int8 rows and columns are packed once, x is quantized per token as fc_in's
//     kernel does, and the hidden values per token over the concatenation of its chosen experts'
//     neurons, which is the masked dense row's scale. Partial products of fc_out are summed over
//     experts in int32, so the result is the int8 masked dense FFN bit for bit. The masked
//     dense path keeps running the layers' kernels.
//     Any other kernel on fc_in or fc_out (a calibration recorder, BMCook's QAT kernel) or an
//     int8 kernel on only one of them forces the masked dense path: a replaced product must
//     stay in charge.
// In inference the grouped path is taken when the tokens' choices cover few experts (tokens × k ≤
// E; in int8 also up to kInt8GroupedMaxTokens tokens); otherwise nearly every expert runs anyway and the masked dense product is faster on a CPU
// (measured: docs/moefication.md). set_path forces one. With k = E it computes the dense FFN (up
// to float summation order; in int8, exactly).
#pragma once
#include <cstdint>
#include <memory>
#include <utility>

#include <torch/torch.h>

#include "cook/compress/moe/int8_experts.h"
#include "cook/compress/moe/router.h"
#include "cook/model/ffn.h"

namespace cook::compress::moe {

class ExpertFeedForwardImpl : public model::FeedForwardImpl {
 public:
  // Takes over `dense`'s fc_in and fc_out (shared, not copied). `experts` (E, F/E) int64 must
  // partition the FFN's neurons; the router must score E experts; 1 ≤ top_k ≤ E. Throws
  // cook::Error naming what does not fit.
  ExpertFeedForwardImpl(const model::DenseFeedForwardImpl& dense, const torch::Tensor& experts,
                        std::shared_ptr<RouterImpl> router, int64_t top_k);

  torch::Tensor forward(const torch::Tensor& x) override;

  // The experts chosen for each token: x (N, d) → (N, k) int64.
  torch::Tensor route(const torch::Tensor& x);

  int64_t num_experts() const { return experts_.size(0); }
  int64_t top_k() const { return top_k_; }
  void set_top_k(int64_t k);
  // Which computation inference uses: Auto (see above), Grouped (always skip), MaskedDense.
  enum class Path { Auto, Grouped, MaskedDense };
  // In int8, Auto also takes the grouped path up to this many tokens, however many experts they
  // cover: at 16 tokens it beat the oneDNN masked dense product ~10× on an AVX2 CPU without VNNI
  // (docs/moefication.md); more tokens were not measured.
  static constexpr int64_t kInt8GroupedMaxTokens = 16;
  void set_path(Path p) { path_ = p; }
  const torch::Tensor& experts() const { return experts_; }
  const std::shared_ptr<RouterImpl>& router() const { return router_; }

  cook::nn::Linear fc_in{nullptr};
  cook::nn::Linear fc_out{nullptr};

 private:
  torch::Tensor masked_dense(const torch::Tensor& x, const torch::Tensor& chosen);
  torch::Tensor sparse(const torch::Tensor& x, const torch::Tensor& chosen);
  void pack_if_stale(const torch::Tensor& like);
  torch::Tensor int8_grouped(const torch::Tensor& x, const torch::Tensor& chosen);
  // fc_in's and fc_out's int8 kernels when both carry one, else nulls.
  std::pair<std::shared_ptr<const infer::Int8LinearKernel>, std::shared_ptr<const infer::Int8LinearKernel>>
  int8_kernels() const;

  model::Activation activation_;
  torch::Tensor experts_;  // (E, m) int64 on the CPU
  std::shared_ptr<RouterImpl> router_;
  int64_t top_k_;
  Path path_ = Path::Auto;

  // Expert-contiguous copies for inference, and what they were made from.
  struct Packed {
    torch::Tensor w_in;   // (E, m, d)
    torch::Tensor b_in;   // (E, m) or undefined
    torch::Tensor w_out;  // (E, m, d): fc_out's columns, transposed
    const void* in_ptr = nullptr;
    const void* out_ptr = nullptr;
    int64_t in_version = -1, out_version = -1;
    torch::Device device = torch::kCPU;
    torch::ScalarType dtype = torch::kFloat32;
  } packed_;
  std::unique_ptr<Int8Experts> int8_packed_;  // the int8 copies, when the layers run int8 kernels
};

TORCH_MODULE(ExpertFeedForward);

}  // namespace cook::compress::moe

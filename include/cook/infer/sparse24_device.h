// 2:4 sparse linears on a CUDA device through cuSPARSELt (at::_cslt_*, PyTorch ≥ 2.1 built with
// it): the weight is compressed once (at::_cslt_compress), the algorithm is searched once per
// token-count bucket (at::_cslt_sparse_mm_search) and kept, so that a call does no set-up of its
// own. Where 2:4 is not faster than the dense product for a bucket, the dense weight is used: the
// choice is timed once, at the bucket's first call (`choice`).
//
// The product y = x · Wᵀ runs as (W · xᵀ)ᵀ, the sparse operand first (cuSPARSELt's A), with the
// transpose fused into the kernel. Activations are padded with zero rows to a multiple of 16
// tokens (cuSPARSELt's minimum for int8; 8 for bf16), and the result cut back.
//
// The int8 form (P+Q models) multiplies int8 activations by the int8 2:4 weight into exact int32
// accumulators, which the W8A8 epilogue (int8_device.h) rescales as for a dense weight.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace cook::infer {

// True when this LibTorch declares the cuSPARSELt operations (≥ 2.1); whether its build has
// cuSPARSELt shows at the first compression (an Error naming it).
bool device_sparse24_compiled();

// Throws unless every group of 4 consecutive values along each row of w (N, K) holds at most 2
// non-zeros, and K is a multiple of 4; `where` names the weight.
void check_two_of_four(const torch::Tensor& w, const std::string& where);

class DeviceSparse24Weight {
 public:
  enum class Path { sparse, dense };

  // weight (N, K), bf16 or fp16 (or int8, for multiply()), 2:4 along K, on a CUDA device.
  explicit DeviceSparse24Weight(const torch::Tensor& weight, const std::string& where = "DeviceSparse24Weight");

  int64_t out_features() const { return n_; }
  int64_t in_features() const { return k_; }

  // y (M, N) = x (M, K) · Wᵀ + bias, in the weight's float type, by the path chosen for M.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias) const;
  // The same through cuSPARSELt whatever the choice (tests and benchmarks).
  torch::Tensor forward_sparse(const torch::Tensor& x, const torch::Tensor& bias) const;
  // int8 weight: acc (M, N) int32 = q (M, K) int8 · Wᵀ, exact.
  torch::Tensor multiply(const torch::Tensor& q) const;

  // The path taken for M tokens (timed at its bucket's first use).
  Path choice(int64_t m) const;

 private:
  int64_t n_, k_;
  torch::Tensor dense_;       // (N, K): the fallback
  torch::Tensor compressed_;  // cuSPARSELt's compressed form
  mutable std::mutex mutex_;
  mutable std::map<int64_t, int64_t> algorithm_;  // padded M → algorithm id
  mutable std::map<int64_t, Path> path_;          // M bucket → path

  int64_t algorithm_for(const torch::Tensor& x_padded, std::optional<c10::ScalarType> out_dtype) const;
  torch::Tensor sparse_product(const torch::Tensor& x, const torch::Tensor& bias,
                               std::optional<c10::ScalarType> out_dtype) const;
};

}  // namespace cook::infer

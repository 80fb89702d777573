// An int8 weight packed for exact int8 × int8 → int32 products with few activation rows: the
// products of an expert FFN, where each expert sees only the handful of tokens routed to it (one
// at batch-1 decode). oneDNN's matmul costs a primitive call per product, too much for a (1 × 2048)
// · (2048 × 32) product repeated for every chosen expert; this one is a plain loop that the CPU
// runs from the packed bytes (AVX2 where the CPU has it, scalar otherwise).
//
// Layout: the (N, K) weight is cut into tiles of 16 output channels; inside a tile, for each pair
// of input channels (2p, 2p+1), the 16 channels' two int8 values lie side by side, so one
// sign-extension to int16 and one pairwise multiply-add (vpmaddwd) give 8 channels × 2 inputs.
// N and K are padded with zeros to whole tiles and pairs. Products are exact (int16 products,
// int32 sums: K up to 2^17 cannot overflow), so the result does not depend on the summation
// order and equals any other exact int8 GEMM bit for bit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace cook::infer {

// Activation rows in the form the product reads: per row, ⌈K/2⌉ int32 words, each holding two
// consecutive int8 values as int16 (low half: the even input channel).
class PairedActivations {
 public:
  // q (rows, K) int8, contiguous.
  explicit PairedActivations(const torch::Tensor& q);
  int64_t rows() const { return rows_; }
  int64_t pairs() const { return pairs_; }
  const int32_t* row(int64_t r) const { return data_.data() + r * pairs_; }

 private:
  int64_t rows_, pairs_;
  std::vector<int32_t> data_;
};

class PackedInt8Weight {
 public:
  static constexpr int64_t kTile = 16;  // output channels per tile

  // w (N, K) int8 (any strides). Throws cook::Error naming `where` on another dtype or rank.
  explicit PackedInt8Weight(const torch::Tensor& w, const std::string& where = "PackedInt8Weight");

  int64_t out_features() const { return n_; }
  int64_t in_features() const { return k_; }
  int64_t tiles() const { return tiles_; }

  // For i < m: out[out_rows[i]][n] (+)= Σ_k a.row(a_rows[i])[k] · w[n][k], for the output
  // channels of tiles [tile_begin, tile_end) (all by default). A null a_rows / out_rows means
  // row i. `out` has row stride `ld` (≥ N). Adds into out with `accumulate`, else overwrites.
  // Runs on the calling thread: callers parallelize over experts or over tiles.
  void multiply(const PairedActivations& a, const int64_t* a_rows, int64_t m, int32_t* out, int64_t ld,
                const int64_t* out_rows, bool accumulate, int64_t tile_begin = 0, int64_t tile_end = -1) const;

  // Bytes of the packed weight.
  int64_t bytes() const { return static_cast<int64_t>(data_.size()); }

 private:
  int64_t n_, k_, pairs_, tiles_;
  std::vector<int8_t> data_;  // [tile][pair][16 channels][2]
};

}  // namespace cook::infer

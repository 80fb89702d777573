#include "cook/infer/packed_int8.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cook/core/error.h"

namespace cook::infer {

namespace {

constexpr int64_t kTile = PackedInt8Weight::kTile;
constexpr int64_t kTileBytes = 2 * kTile;  // one pair of input channels of one tile
constexpr int kRowBlock = 4;               // activation rows sharing one pass over a tile

int32_t pair_word(int8_t even, int8_t odd) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(even))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(odd))) << 16));
}

// acc (MB × 16) = Σ_p a[i][p] ⋅ tile[p]: rows × one tile.
template <int MB>
void tile_scalar(const int32_t* const* a, int64_t pairs, const int8_t* w, int32_t* acc) {
  std::fill(acc, acc + MB * kTile, 0);
  for (int64_t p = 0; p < pairs; ++p) {
    const int8_t* wp = w + p * kTileBytes;
    for (int i = 0; i < MB; ++i) {
      const int32_t even = static_cast<int16_t>(a[i][p] & 0xFFFF), odd = static_cast<int16_t>(a[i][p] >> 16);
      for (int64_t c = 0; c < kTile; ++c) acc[i * kTile + c] += wp[2 * c] * even + wp[2 * c + 1] * odd;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
template <int MB>
__attribute__((target("avx2"))) void tile_avx2(const int32_t* const* a, int64_t pairs, const int8_t* w, int32_t* acc) {
  __m256i lo[MB], hi[MB];
  for (int i = 0; i < MB; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m256i w8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + p * kTileBytes));
    const __m256i w_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(w8));       // channels 0-7
    const __m256i w_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(w8, 1));  // channels 8-15
    for (int i = 0; i < MB; ++i) {
      const __m256i x = _mm256_set1_epi32(a[i][p]);
      lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(w_lo, x));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(w_hi, x));
    }
  }
  for (int i = 0; i < MB; ++i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * kTile), lo[i]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * kTile + 8), hi[i]);
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

template <int MB>
void tile(const int32_t* const* a, int64_t pairs, const int8_t* w, int32_t* acc) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_avx2()) return tile_avx2<MB>(a, pairs, w, acc);
#endif
  tile_scalar<MB>(a, pairs, w, acc);
}

void tile_rows(int rows, const int32_t* const* a, int64_t pairs, const int8_t* w, int32_t* acc) {
  switch (rows) {
    case 1: return tile<1>(a, pairs, w, acc);
    case 2: return tile<2>(a, pairs, w, acc);
    case 3: return tile<3>(a, pairs, w, acc);
    default: return tile<4>(a, pairs, w, acc);
  }
}

}  // namespace

PairedActivations::PairedActivations(const torch::Tensor& q) {
  if (!q.defined() || q.scalar_type() != torch::kInt8 || q.dim() != 2 || !q.is_contiguous() || !q.device().is_cpu())
    throw Error("PairedActivations", "needs a contiguous 2-D int8 CPU tensor (rows, K)");
  rows_ = q.size(0);
  const int64_t k = q.size(1);
  pairs_ = (k + 1) / 2;
  data_.assign(rows_ * pairs_, 0);
  const int8_t* src = q.data_ptr<int8_t>();
  for (int64_t r = 0; r < rows_; ++r) {
    const int8_t* x = src + r * k;
    int32_t* out = data_.data() + r * pairs_;
    for (int64_t p = 0; p < k / 2; ++p) out[p] = pair_word(x[2 * p], x[2 * p + 1]);
    if (k % 2) out[pairs_ - 1] = pair_word(x[k - 1], 0);
  }
}

PackedInt8Weight::PackedInt8Weight(const torch::Tensor& w, const std::string& where) {
  if (!w.defined() || w.scalar_type() != torch::kInt8 || w.dim() != 2)
    throw Error(where, "the weight to pack must be a 2-D int8 tensor (out, in)");
  n_ = w.size(0);
  k_ = w.size(1);
  pairs_ = (k_ + 1) / 2;
  tiles_ = (n_ + kTile - 1) / kTile;
  data_.assign(tiles_ * pairs_ * kTileBytes, 0);
  const torch::Tensor c = w.to(torch::kCPU).contiguous();
  const int8_t* src = c.data_ptr<int8_t>();
  for (int64_t n = 0; n < n_; ++n) {
    int8_t* t = data_.data() + (n / kTile) * pairs_ * kTileBytes + 2 * (n % kTile);
    for (int64_t k = 0; k < k_; ++k) t[(k / 2) * kTileBytes + (k % 2)] = src[n * k_ + k];
  }
}

void PackedInt8Weight::multiply(const PairedActivations& a, const int64_t* a_rows, int64_t m, int32_t* out, int64_t ld,
                                const int64_t* out_rows, bool accumulate, int64_t tile_begin, int64_t tile_end) const {
  if (a.pairs() != pairs_)
    throw Error("PackedInt8Weight::multiply", "activations of " + std::to_string(2 * a.pairs()) +
                                                  " (paired) input channels for a weight of " + std::to_string(k_));
  if (tile_end < 0) tile_end = tiles_;
  int32_t acc[kRowBlock * kTile];
  const int32_t* rows[kRowBlock];
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const int8_t* w = data_.data() + t * pairs_ * kTileBytes;
    const int64_t n0 = t * kTile, width = std::min(kTile, n_ - n0);
    for (int64_t i0 = 0; i0 < m; i0 += kRowBlock) {
      const int block = static_cast<int>(std::min<int64_t>(kRowBlock, m - i0));
      for (int i = 0; i < block; ++i) rows[i] = a.row(a_rows ? a_rows[i0 + i] : i0 + i);
      tile_rows(block, rows, pairs_, w, acc);
      for (int i = 0; i < block; ++i) {
        int32_t* o = out + (out_rows ? out_rows[i0 + i] : i0 + i) * ld + n0;
        const int32_t* s = acc + i * kTile;
        if (accumulate) {
          for (int64_t c = 0; c < width; ++c) o[c] += s[c];
        } else {
          std::copy(s, s + width, o);
        }
      }
    }
  }
}

}  // namespace cook::infer

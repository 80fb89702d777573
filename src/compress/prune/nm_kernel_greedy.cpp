#include <ATen/Parallel.h>

#include <array>

#include "magnitude_key.h"
#include "nm_kernels.h"

namespace cook::prune::kernels {

namespace {

// Rows of blocks per thread at least.
constexpr int64_t kBlockRowGrain = 4;

// A block entry's visiting key: the magnitude above 4 bits of (15 − entry), so that keys are
// distinct and, among equal magnitudes, the lower entry has the larger key.
template <typename T>
struct GreedyKey;
template <>
struct GreedyKey<float> {
  using type = uint64_t;
};
template <>
struct GreedyKey<double> {
  using type = unsigned __int128;
};

// Green's 60-comparator sorting network for 16 inputs (it sorts all 2^16 inputs of 0s and 1s, so
// every input; the greedy tests compare with a plain stable sort on blocks full of ties).
constexpr int kSortNetwork[60][2] = {
    {0, 13}, {1, 12}, {2, 15}, {3, 14}, {4, 8},   {5, 6},   {7, 11},  {9, 10},  {0, 5},   {1, 7},   {2, 9},  {3, 4},
    {6, 13}, {8, 14}, {10, 15}, {11, 12}, {0, 1}, {2, 3},   {4, 5},   {6, 8},   {7, 9},   {10, 11}, {12, 13}, {14, 15},
    {0, 2},  {1, 3},  {4, 10}, {5, 11},  {6, 7},  {8, 9},   {12, 14}, {13, 15}, {1, 2},   {3, 12},  {4, 6},  {5, 7},
    {8, 10}, {9, 11}, {13, 14}, {1, 4},  {2, 6},  {5, 8},   {7, 10},  {9, 13},  {11, 14}, {2, 4},   {3, 6},  {9, 12},
    {11, 13}, {3, 5}, {6, 8},  {7, 9},   {10, 12}, {3, 4},  {5, 6},   {7, 8},   {9, 10},  {11, 12}, {6, 7},  {8, 9}};

template <int I, typename Key>
inline void sort_step(std::array<Key, 16>& k) {
  if constexpr (I < 60) {
    constexpr int a = kSortNetwork[I][0], b = kSortNetwork[I][1];
    const Key x = k[a], y = k[b];
    const bool swap = x < y;
    k[a] = swap ? y : x;
    k[b] = swap ? x : y;
    sort_step<I + 1>(k);
  }
}

// Unrolled at compile time so that every exchange is a branch-free select.
template <typename Key>
void sort_descending(std::array<Key, 16>& k) {
  sort_step<0>(k);
}

// Greedy on the sorted keys: row and column counts are 4-bit fields of one word each.
template <typename Key>
uint32_t greedy_keep_bits(const std::array<Key, 16>& sorted) {
  uint32_t row_counts = 0, col_counts = 0, kept = 0;
  for (const Key& key : sorted) {
    const uint32_t e = 15u - static_cast<uint32_t>(key & 15u);
    const uint32_t row_shift = 4u * (e >> 2), col_shift = 4u * (e & 3u);
    const uint32_t ok = (((row_counts >> row_shift) & 15u) < 2u) & (((col_counts >> col_shift) & 15u) < 2u);
    row_counts += ok << row_shift;
    col_counts += ok << col_shift;
    kept |= ok << e;
  }
  return kept;
}

}  // namespace

template <typename T>
void greedy_2d(const T* score, int64_t rows, int64_t cols, bool* keep) {
  using Key = typename GreedyKey<T>::type;
  at::parallel_for(0, rows / 4, kBlockRowGrain, [&](int64_t begin, int64_t end) {
    std::array<Key, 16> keys;
    for (int64_t br = begin; br < end; ++br) {
      const T* in = score + 4 * br * cols;
      bool* out = keep + 4 * br * cols;
      for (int64_t col = 0; col < cols; col += 4) {
        for (int e = 0; e < 16; ++e)
          keys[e] = (Key(magnitude_key(in[(e >> 2) * cols + col + (e & 3)])) << 4) | Key(15 - e);
        sort_descending(keys);
        const uint32_t kept = greedy_keep_bits(keys);
        for (int e = 0; e < 16; ++e) out[(e >> 2) * cols + col + (e & 3)] = (kept >> e) & 1u;
      }
    }
  });
}

template void greedy_2d<float>(const float*, int64_t, int64_t, bool*);
template void greedy_2d<double>(const double*, int64_t, int64_t, bool*);

}  // namespace cook::prune::kernels

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "nm_kernels.h"

namespace cook::prune::kernels {

namespace {

// Rows of blocks per thread at least.
constexpr int64_t kBlockRowGrain = 4;

// Blocks scored together, one per vector lane.
constexpr int kLanes = 4;

// One value per block of a tile (GCC vector extensions: SSE2 code by default, AVX2 in the clone
// that a CPU with AVX2 runs). Wider vectors made GCC fall back to scalar code.
typedef double LaneDoubles __attribute__((vector_size(8 * kLanes)));
typedef int64_t LaneInts __attribute__((vector_size(8 * kLanes)));
typedef int32_t LaneInt32s __attribute__((vector_size(4 * kLanes)));
typedef float LaneFloats __attribute__((vector_size(4 * kLanes)));

// Candidates are scanned in this many interleaved chains (candidate p in chain p % kChains), so
// that one candidate's compare-and-select need not wait for the previous one's.
constexpr int kChains = 4;

// For each candidate, the column set (4 bits) it keeps in each block row.
using RowSets = std::array<uint8_t, 4>;

std::vector<RowSets> row_sets_of(const std::vector<uint16_t>& patterns) {
  if (patterns.empty()) throw std::invalid_argument("best_2d: no candidate patterns");
  std::vector<RowSets> sets;
  for (uint16_t p : patterns)
    sets.push_back({uint8_t(p & 15u), uint8_t((p >> 4) & 15u), uint8_t((p >> 8) & 15u), uint8_t((p >> 12) & 15u)});
  return sets;
}

// One tile of kLanes blocks side by side: `tile[r]` holds the 4·kLanes scores of block row r
// (lane l's columns at 4l..4l+3). Writes the winning candidate of each lane, -1 for a block with
// a NaN or an infinite score.
__attribute__((target_clones("avx2", "default"))) void best_of_tile(const float tile[4][4 * kLanes],
                                                                     const std::vector<RowSets>& candidates,
                                                                     int64_t winner[kLanes]) {
  static_assert(kLanes == 4, "the transpose below is 4×4");
  // Kept score of every column set of every block row, |score| widened to double.
  LaneDoubles set_sum[4][16];
  LaneInts finite = LaneInts{} - 1;
  for (int r = 0; r < 4; ++r) {
    LaneInt32s lane[4];  // lane[l]: the 4 columns of block l, as bits
    std::memcpy(lane, tile[r], sizeof lane);
    const LaneInt32s t0 = __builtin_shuffle(lane[0], lane[1], LaneInt32s{0, 4, 1, 5});
    const LaneInt32s t1 = __builtin_shuffle(lane[0], lane[1], LaneInt32s{2, 6, 3, 7});
    const LaneInt32s t2 = __builtin_shuffle(lane[2], lane[3], LaneInt32s{0, 4, 1, 5});
    const LaneInt32s t3 = __builtin_shuffle(lane[2], lane[3], LaneInt32s{2, 6, 3, 7});
    const LaneInt32s column_bits[4] = {__builtin_shuffle(t0, t2, LaneInt32s{0, 1, 4, 5}),
                                       __builtin_shuffle(t0, t2, LaneInt32s{2, 3, 6, 7}),
                                       __builtin_shuffle(t1, t3, LaneInt32s{0, 1, 4, 5}),
                                       __builtin_shuffle(t1, t3, LaneInt32s{2, 3, 6, 7})};
    LaneDoubles column[4];  // column[c]: entry (r, c) of every lane
    for (int c = 0; c < 4; ++c) {
      const LaneFloats magnitude = reinterpret_cast<LaneFloats>(column_bits[c] & 0x7FFFFFFF);
      column[c] = __builtin_convertvector(magnitude, LaneDoubles);
      finite &= column[c] <= std::numeric_limits<double>::max();  // false for inf and NaN
    }
    set_sum[r][0] = LaneDoubles{};
    for (int set = 1; set < 16; ++set) set_sum[r][set] = set_sum[r][set & (set - 1)] + column[__builtin_ctz(set)];
  }
  // Within a chain a later candidate must be strictly better; selects are written with masks
  // because GCC turns a vector `?:` into scalar code.
  LaneDoubles best[kChains];
  LaneInts arg[kChains];
  for (int k = 0; k < kChains; ++k) {
    best[k] = LaneDoubles{} - 1.0;  // every sum is >= 0
    arg[k] = LaneInts{};
  }
  const size_t count = candidates.size();
  for (size_t first = 0; first < count; first += kChains) {
    for (int k = 0; k < kChains && first + k < count; ++k) {
      const RowSets& c = candidates[first + k];
      const LaneDoubles sum = set_sum[0][c[0]] + set_sum[1][c[1]] + set_sum[2][c[2]] + set_sum[3][c[3]];
      const LaneInts better = sum > best[k];
      best[k] = reinterpret_cast<LaneDoubles>((reinterpret_cast<LaneInts>(sum) & better) |
                                              (reinterpret_cast<LaneInts>(best[k]) & ~better));
      arg[k] = ((LaneInts{} + static_cast<int64_t>(first + k)) & better) | (arg[k] & ~better);
    }
  }
  // Merge the chains: the larger sum, on equal sums the earlier candidate.
  LaneDoubles top = best[0];
  LaneInts top_arg = arg[0];
  for (int k = 1; k < kChains; ++k) {
    const LaneInts better = (best[k] > top) | ((best[k] == top) & (arg[k] < top_arg));
    top = reinterpret_cast<LaneDoubles>((reinterpret_cast<LaneInts>(best[k]) & better) |
                                        (reinterpret_cast<LaneInts>(top) & ~better));
    top_arg = (arg[k] & better) | (top_arg & ~better);
  }
  for (int l = 0; l < kLanes; ++l) winner[l] = finite[l] ? top_arg[l] : -1;
}

// The winner of a block with a NaN or an infinite score, by the rule of the earlier batched float
// product (kept score Σ |a_e|·bit_e, then the first argmax): anything times NaN and 0 · inf are NaN,
// argmax takes the first NaN. So a NaN gives the first candidate; infinities alone give the first
// candidate that drops one of them (or the first, if every candidate keeps them all).
int64_t non_finite_winner(const float tile[4][4 * kLanes], int64_t lane, const std::vector<uint16_t>& patterns) {
  uint32_t infinite = 0;
  for (int e = 0; e < 16; ++e) {
    const float a = std::fabs(tile[e >> 2][4 * lane + (e & 3)]);
    if (std::isnan(a)) return 0;
    if (std::isinf(a)) infinite |= 1u << e;
  }
  for (size_t p = 0; p < patterns.size(); ++p)
    if (infinite & ~uint32_t(patterns[p])) return static_cast<int64_t>(p);
  return 0;
}

}  // namespace

void best_2d(const float* score, int64_t rows, int64_t cols, const std::vector<uint16_t>& patterns, bool* keep) {
  const std::vector<RowSets> candidates = row_sets_of(patterns);
  const int64_t blocks_per_row = cols / 4;
  at::parallel_for(0, rows / 4, kBlockRowGrain, [&](int64_t begin, int64_t end) {
    float tile[4][4 * kLanes];
    int64_t winner[kLanes];
    for (int64_t br = begin; br < end; ++br) {
      for (int64_t first = 0; first < blocks_per_row; first += kLanes) {
        const int64_t lanes = std::min<int64_t>(kLanes, blocks_per_row - first);
        if (lanes < kLanes) std::memset(tile, 0, sizeof tile);
        for (int r = 0; r < 4; ++r) std::memcpy(tile[r], score + (4 * br + r) * cols + 4 * first, 4 * lanes * sizeof(float));
        best_of_tile(tile, candidates, winner);
        for (int64_t l = 0; l < lanes; ++l) {
          const uint16_t p = patterns[winner[l] >= 0 ? winner[l] : non_finite_winner(tile, l, patterns)];
          for (int e = 0; e < 16; ++e) keep[(4 * br + (e >> 2)) * cols + 4 * (first + l) + (e & 3)] = (p >> e) & 1u;
        }
      }
    }
  });
}

}  // namespace cook::prune::kernels

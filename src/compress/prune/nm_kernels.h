// The loops behind nm_masks.h: one C++ pass over a row-major (rows × cols) score array, parallel
// over groups or rows of 4×4 blocks, writing `keep` (same shape, true = kept). The rules and their
// tie-breaking are those of nm_masks.h; the callers check the shapes.
#pragma once
#include <cstdint>
#include <vector>

namespace cook::prune::kernels {

// m4n2_1d over `groups` groups of 4 consecutive entries. An entry is kept when fewer than 2 of its
// group beat it: larger, or equal at a lower index (a NaN beats nothing and is beaten by nothing).
template <typename T>
void keep_2_of_4(const T* score, int64_t groups, bool* keep);

// m4n2_2d_greedy: entries visited by descending magnitude, NaN first, ties by index.
template <typename T>
void greedy_2d(const T* score, int64_t rows, int64_t cols, bool* keep);

// m4n2_2d_best over the candidate patterns (bit e = entry e of the block, row-major), in order.
// Kept magnitudes are summed in double; the first pattern with the largest sum wins. A block with
// a NaN gets patterns[0]; one with infinities (and no NaN) the first pattern that drops one of
// them: the rule of the earlier batched float product, where 0 · inf is NaN and argmax takes the
// first NaN.
void best_2d(const float* score, int64_t rows, int64_t cols, const std::vector<uint16_t>& patterns, bool* keep);

}  // namespace cook::prune::kernels

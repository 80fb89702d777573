// The loop behind unstructured.h: prune the `count` smallest magnitudes of one or more float arrays
// taken as one sequence (the layers of a global threshold, in order).
//
// The rule is that of a kthvalue threshold t (the count-th smallest |x|, NaN the largest): prune
// every |x| < t, then the first entries (in sequence order) equal to t until `count` are pruned.
// When t is NaN (count exceeds the non-NaN entries) nothing is pruned, as `|x| < NaN` and
// `|x| == NaN` are false. The threshold is found by a two-pass radix select on the magnitude bits
// (16 high bits, then 16 low), parallel over chunks, with no sort and no copy of the scores.
#pragma once
#include <cstdint>
#include <vector>

namespace cook::prune::kernels {

struct FloatArray {
  const float* data = nullptr;
  int64_t size = 0;
};

// Writes keep[i][j] (true = kept) for every entry j of scores[i]; count <= 0 keeps everything.
void prune_smallest_magnitudes(const std::vector<FloatArray>& scores, int64_t count, const std::vector<bool*>& keep);

}  // namespace cook::prune::kernels

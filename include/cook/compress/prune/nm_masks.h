// 2:4 masks from a score matrix (|w| for magnitude pruning, |w|·‖x‖ for Wanda). A mask is a bool
// tensor of the weight's shape (out, in): true = kept. Every function is deterministic: equal
// scores are decided by index (the lower flat index wins), never by sort order.
//
//   m4n2_1d         in each group of 4 consecutive inputs of a row, keep the 2 largest.
//   m4n2_2d_greedy  BMCook's rule per 4×4 block: visit entries by descending score (ties by index),
//                   keep one while its row and its column each hold fewer than 2 kept. At most 2
//                   per row and per column of the block (sometimes fewer).
//   m4n2_2d_best    the best 4×4 pattern with at most 2 per row and per column (most kept score),
//                   searched over the 186 maximal ones: the 90 with exactly 2 per row and column
//                   (BMCook's and NVIDIA ASP's candidates) and 96 with 7 entries. The 90 alone are
//                   not enough: greedy can end with 7 entries that no full pattern contains (rows
//                   0-2 taking columns {0,1}, {0,2}, {1,2} leave row 3 only column 3), and such a
//                   block keeps more than any of the 90. With all 186, best ≥ greedy on every
//                   block. Kept scores are compared as float32 magnitudes summed in double (exact
//                   while a block's magnitudes are within a factor 2^26 of each other); ties go to
//                   the first pattern in valid_2d_patterns() order. A block holding a NaN gets
//                   the first pattern, one holding infinities the first that drops one of them
//                   (what the earlier float product gave: 0 · inf is NaN, argmax takes the first).
// NaN counts as the largest magnitude for greedy; for m4n2_1d it beats nothing and nothing beats
// it. The 2-D masks are 2:4 along both the inputs and the outputs, so the transposed weight (the
// backward pass) is 2:4 too. Each mask is one C++ pass over the scores (float32 or float64; other
// types are widened to float32), parallel over groups or rows of blocks: about 0.05–0.5 s for a
// 16384×4096 matrix on one core (docs/pruning.md).
#pragma once
#include <torch/torch.h>

namespace cook::prune {

// Scores must be 2-D and floating; the 1-D mask needs in % 4 == 0, the 2-D masks both dims % 4.
// Errors (cook::Error) name `where` (a parameter name, say) and the shape.
torch::Tensor m4n2_1d(const torch::Tensor& score, const std::string& where = "m4n2_1d");
torch::Tensor m4n2_2d_greedy(const torch::Tensor& score, const std::string& where = "m4n2_2d_greedy");
torch::Tensor m4n2_2d_best(const torch::Tensor& score, const std::string& where = "m4n2_2d_best");

// The 186 maximal 4×4 patterns as (186, 16) float rows (row-major within the block): the 90 full
// ones first, then the 96 with 7 entries, each group in lexicographic order of the bits read
// from entry 0.
constexpr int64_t kFull2dPatterns = 90;
const torch::Tensor& valid_2d_patterns();

// True when every group of 4 consecutive entries along dim 1 keeps at most 2.
bool is_2to4_along_inputs(const torch::Tensor& mask);
// True when every 4×4 block keeps at most 2 per row and per column.
bool is_2to4_2d(const torch::Tensor& mask);

}  // namespace cook::prune

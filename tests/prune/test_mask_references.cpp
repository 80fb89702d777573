// The mask loops against plain references written the slow, obvious way, on random matrices
// full of ties, with NaN and inf, in several dtypes and shapes. (Until the loops replaced the
// tensor-op versions this file compared with those; the references encode the same rules.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"

using namespace cook::prune;

namespace {

// |x| in double (exact for every float type), row-major.
std::vector<double> magnitudes(const torch::Tensor& score) {
  const torch::Tensor a = score.detach().abs().to(torch::kFloat64).contiguous();
  return std::vector<double>(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
}

// Larger magnitude first, NaN the largest; equal ones keep their order under a stable sort.
bool visited_before(double a, double b) { return (std::isnan(a) && !std::isnan(b)) || a > b; }

torch::Tensor to_mask(const std::vector<char>& keep, const torch::Tensor& like) {
  std::vector<uint8_t> bytes(keep.begin(), keep.end());
  return torch::from_blob(bytes.data(), like.sizes(), torch::kUInt8).to(torch::kBool);
}

std::vector<int> block_entries(int64_t cols, int64_t br, int64_t bc) {
  std::vector<int> at(16);
  for (int e = 0; e < 16; ++e) at[e] = static_cast<int>((4 * br + e / 4) * cols + 4 * bc + e % 4);
  return at;
}

// In each group of 4: kept when fewer than 2 others beat it (larger, or equal at a lower index).
torch::Tensor reference_1d(const torch::Tensor& score) {
  const auto a = magnitudes(score);
  std::vector<char> keep(a.size());
  for (size_t g = 0; g < a.size(); g += 4)
    for (size_t j = 0; j < 4; ++j) {
      int beaten = 0;
      for (size_t k = 0; k < 4; ++k)
        if (k != j) beaten += k < j ? a[g + k] >= a[g + j] : a[g + k] > a[g + j];
      keep[g + j] = beaten < 2;
    }
  return to_mask(keep, score);
}

// BMCook's rule per block: visit by descending magnitude (ties by index), keep while the row and
// the column hold fewer than 2.
torch::Tensor reference_greedy(const torch::Tensor& score) {
  const auto a = magnitudes(score);
  const int64_t rows = score.size(0), cols = score.size(1);
  std::vector<char> keep(a.size(), 0);
  for (int64_t br = 0; br < rows / 4; ++br)
    for (int64_t bc = 0; bc < cols / 4; ++bc) {
      const auto at = block_entries(cols, br, bc);
      std::vector<int> order(16);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return visited_before(a[at[x]], a[at[y]]); });
      int row_count[4] = {0, 0, 0, 0}, col_count[4] = {0, 0, 0, 0};
      for (int e : order)
        if (row_count[e / 4] < 2 && col_count[e % 4] < 2) {
          keep[at[e]] = 1;
          ++row_count[e / 4];
          ++col_count[e % 4];
        }
    }
  return to_mask(keep, score);
}

// The first of the 186 patterns with the largest kept float32 magnitude (summed in double). A
// block with a NaN gets the first pattern; one with infinities the first that drops one of them.
torch::Tensor reference_best(const torch::Tensor& score) {
  const auto a = magnitudes(score.to(torch::kFloat32));
  const torch::Tensor table = valid_2d_patterns().contiguous();
  const std::vector<float> patterns(table.data_ptr<float>(), table.data_ptr<float>() + table.numel());
  const int64_t count = table.size(0);
  const int64_t rows = score.size(0), cols = score.size(1);
  std::vector<char> keep(a.size(), 0);
  for (int64_t br = 0; br < rows / 4; ++br)
    for (int64_t bc = 0; bc < cols / 4; ++bc) {
      const auto at = block_entries(cols, br, bc);
      bool has_nan = false, has_inf = false;
      for (int i : at) {
        has_nan = has_nan || std::isnan(a[i]);
        has_inf = has_inf || std::isinf(a[i]);
      }
      int64_t winner = 0;
      for (int64_t p = 0; has_inf && !has_nan && p < count; ++p) {
        bool drops_one = false;
        for (int e = 0; e < 16; ++e) drops_one = drops_one || (std::isinf(a[at[e]]) && patterns[p * 16 + e] == 0);
        if (drops_one) {
          winner = p;
          break;
        }
      }
      double best = -1.0;
      for (int64_t p = 0; !has_nan && !has_inf && p < count; ++p) {
        double sum = 0.0;
        for (int e = 0; e < 16; ++e) sum += patterns[p * 16 + e] > 0 ? a[at[e]] : 0.0;
        if (sum > best) {
          best = sum;
          winner = p;
        }
      }
      for (int e = 0; e < 16; ++e) keep[at[e]] = patterns[winner * 16 + e] > 0;
    }
  return to_mask(keep, score);
}

// Prune the `count` smallest float32 magnitudes of the scores taken in order (NaN the largest,
// ties by position); if the count-th smallest is NaN, nothing.
std::vector<torch::Tensor> reference_unstructured(const std::vector<torch::Tensor>& scores, int64_t count) {
  std::vector<double> a;
  for (const auto& s : scores) {
    const auto m = magnitudes(s.to(torch::kFloat32));
    a.insert(a.end(), m.begin(), m.end());
  }
  std::vector<int64_t> order(a.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return visited_before(a[y], a[x]); });
  std::vector<char> keep(a.size(), 1);
  if (count > 0 && !std::isnan(a[order[count - 1]]))
    for (int64_t i = 0; i < count; ++i) keep[order[i]] = 0;
  std::vector<torch::Tensor> masks;
  size_t offset = 0;
  for (const auto& s : scores) {
    masks.push_back(to_mask(std::vector<char>(keep.begin() + offset, keep.begin() + offset + s.numel()), s));
    offset += s.numel();
  }
  return masks;
}

int64_t pruned_count(int64_t numel, double sparsity) { return static_cast<int64_t>(std::llround(sparsity * numel)); }

enum class Values { Normal, SmallIntegers, ZerosAndOnes, CoarseGrid, WithNaNAndInf };

torch::Tensor matrix(int64_t r, int64_t c, Values kind, uint64_t seed, torch::Dtype dtype = torch::kFloat32) {
  auto gen = at::detail::createCPUGenerator(seed);
  torch::Tensor m = torch::randn({r, c}, gen, torch::kFloat64);
  switch (kind) {
    case Values::Normal: break;
    case Values::SmallIntegers: m = torch::randint(-3, 4, {r, c}, gen, torch::kFloat64); break;
    case Values::ZerosAndOnes: m = torch::randint(0, 2, {r, c}, gen, torch::kFloat64); break;
    case Values::CoarseGrid: m = (m * 2).round() / 2; break;
    case Values::WithNaNAndInf: {
      const torch::Tensor u = torch::rand({r, c}, gen, torch::kFloat64);
      m = torch::where(u < 0.02, torch::full_like(m, std::nan("")), m);
      m = torch::where(u > 0.98, torch::full_like(m, -INFINITY), m);
      m = torch::where((u > 0.5) & (u < 0.52), torch::full_like(m, INFINITY), m);
      break;
    }
  }
  return m.to(dtype);
}

const std::vector<Values> kAllValues = {Values::Normal, Values::SmallIntegers, Values::ZerosAndOnes, Values::CoarseGrid,
                                        Values::WithNaNAndInf};
// Tiles of 4 blocks and a partial last tile (260 / 4 = 65 blocks), one block, tall and wide.
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{4, 4}, {8, 12}, {64, 64}, {32, 260}, {128, 36}};
const std::vector<torch::Dtype> kDtypes = {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kFloat16};

std::string label(int64_t r, int64_t c, Values v, torch::Dtype d, uint64_t seed) {
  return std::to_string(r) + "x" + std::to_string(c) + " values " + std::to_string(int(v)) + " dtype " +
         std::string(c10::toString(d)) + " seed " + std::to_string(seed);
}

// Checks `mask(w) == reference(w)` on every shape, value kind and dtype, seeds counting up from `seed`.
template <typename Mask, typename Reference>
void expect_equal_on_every_matrix(Mask mask, Reference reference, uint64_t seed) {
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes) {
        const torch::Tensor w = matrix(r, c, v, ++seed, d);
        EXPECT_TRUE(torch::equal(mask(w), reference(w))) << label(r, c, v, d, seed);
      }
}

}  // namespace

TEST(MaskReferences, OneDimensional) {
  expect_equal_on_every_matrix([](const torch::Tensor& w) { return m4n2_1d(w); }, reference_1d, 100);
  const torch::Tensor odd_rows = matrix(3, 8, Values::SmallIntegers, 7);
  EXPECT_TRUE(torch::equal(m4n2_1d(odd_rows), reference_1d(odd_rows)));
  const torch::Tensor transposed = matrix(16, 8, Values::SmallIntegers, 8).t();
  EXPECT_TRUE(torch::equal(m4n2_1d(transposed), reference_1d(transposed)));
}

TEST(MaskReferences, Greedy) {
  expect_equal_on_every_matrix([](const torch::Tensor& w) { return m4n2_2d_greedy(w); }, reference_greedy, 200);
  // Many blocks of distinct magnitudes: visiting orders of every kind.
  const torch::Tensor w = matrix(256, 256, Values::Normal, 9);
  EXPECT_TRUE(torch::equal(m4n2_2d_greedy(w), reference_greedy(w)));
}

TEST(MaskReferences, Best) {
  expect_equal_on_every_matrix([](const torch::Tensor& w) { return m4n2_2d_best(w); }, reference_best, 300);
}

TEST(MaskReferences, Unstructured) {
  uint64_t seed = 400;
  for (auto [r, c] : kShapes)
    for (Values v : kAllValues)
      for (torch::Dtype d : kDtypes)
        for (double s : {0.0, 0.1, 0.5, 0.9, 0.97}) {
          const torch::Tensor w = matrix(r, c, v, ++seed, d);
          EXPECT_TRUE(torch::equal(unstructured_mask(w, s), reference_unstructured({w}, pruned_count(w.numel(), s))[0]))
              << label(r, c, v, d, seed) << " sparsity " << s;
        }
  // 300k entries: several chunks of the select, ties spread over them.
  for (Values v : {Values::Normal, Values::SmallIntegers, Values::ZerosAndOnes})
    for (double s : {0.3, 0.5}) {
      const torch::Tensor w = matrix(300, 1000, v, ++seed);
      EXPECT_TRUE(torch::equal(unstructured_mask(w, s), reference_unstructured({w}, pruned_count(w.numel(), s))[0]))
          << int(v) << " " << s;
    }
}

TEST(MaskReferences, Global) {
  uint64_t seed = 500;
  for (Values v : kAllValues)
    for (double s : {0.0, 0.2, 0.5, 0.95}) {
      const std::vector<torch::Tensor> scores = {matrix(300, 400, v, ++seed), matrix(8, 12, v, ++seed, torch::kFloat64),
                                                 matrix(500, 250, v, ++seed, torch::kBFloat16), matrix(1, 3, v, ++seed)};
      int64_t total = 0;
      for (const auto& t : scores) total += t.numel();
      const auto got = unstructured_masks_global(scores, s);
      const auto want = reference_unstructured(scores, pruned_count(total, s));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(torch::equal(got[i], want[i])) << "values " << int(v) << " sparsity " << s << " layer " << i;
    }
}

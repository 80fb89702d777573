// PackedInt8Weight: the exact int8 product the int8 expert FFN runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cook/core/error.h"
#include "cook/infer/packed_int8.h"

namespace cook::infer {
namespace {

torch::Tensor random_int8(int64_t rows, int64_t cols) {
  return torch::randint(-127, 128, {rows, cols}, torch::kInt64).to(torch::kInt8);
}

// a (M, K) · w (N, K)ᵀ in int64, as int32.
torch::Tensor reference(const torch::Tensor& a, const torch::Tensor& w) {
  return torch::matmul(a.to(torch::kInt64), w.to(torch::kInt64).t()).to(torch::kInt32);
}

TEST(PackedInt8, EqualsTheIntegerProductForAnyShape) {
  torch::manual_seed(3);
  for (int64_t n : {1, 15, 16, 17, 40}) {
    for (int64_t k : {1, 2, 7, 64, 301}) {
      const torch::Tensor w = random_int8(n, k);
      const PackedInt8Weight packed(w);
      for (int64_t m : {1, 2, 3, 4, 5, 9}) {
        const torch::Tensor a = random_int8(m, k);
        torch::Tensor out = torch::full({m, n}, 12345, torch::kInt32);
        packed.multiply(PairedActivations(a), nullptr, m, out.data_ptr<int32_t>(), n, nullptr, false);
        EXPECT_TRUE(torch::equal(out, reference(a, w))) << "N " << n << " K " << k << " M " << m;
      }
    }
  }
}

TEST(PackedInt8, ExtremesDoNotSaturate) {
  const int64_t k = 4096;
  const torch::Tensor w = torch::full({16, k}, -127, torch::kInt8);
  const torch::Tensor a = torch::full({2, k}, -127, torch::kInt8);
  torch::Tensor out = torch::empty({2, 16}, torch::kInt32);
  PackedInt8Weight(w).multiply(PairedActivations(a), nullptr, 2, out.data_ptr<int32_t>(), 16, nullptr, false);
  EXPECT_TRUE(out.eq(127 * 127 * k).all().item<bool>());
}

TEST(PackedInt8, GathersRowsScattersOutputsAccumulatesAndSplitsTiles) {
  torch::manual_seed(5);
  const int64_t n = 40, k = 33;
  const torch::Tensor w = random_int8(n, k), a = random_int8(6, k);
  const PackedInt8Weight packed(w);
  const PairedActivations pairs(a);
  const std::vector<int64_t> a_rows{5, 0, 3}, out_rows{2, 0, 2};
  torch::Tensor out = torch::ones({3, 48}, torch::kInt32);
  // Tiles one at a time, as threads split them.
  for (int64_t t = 0; t < packed.tiles(); ++t)
    packed.multiply(pairs, a_rows.data(), 3, out.data_ptr<int32_t>(), 48, out_rows.data(), true, t, t + 1);
  const torch::Tensor full = reference(a, w);
  torch::Tensor want = torch::ones({3, 48}, torch::kInt32);
  want[2].narrow(0, 0, n) += full[5] + full[3];
  want[0].narrow(0, 0, n) += full[0];
  EXPECT_TRUE(torch::equal(out, want));
}

TEST(PackedInt8, ClearErrors) {
  EXPECT_THROW(PackedInt8Weight(torch::zeros({4, 8})), Error);
  EXPECT_THROW(PairedActivations(torch::zeros({2, 8})), Error);
  const PackedInt8Weight w(torch::zeros({4, 8}, torch::kInt8));
  torch::Tensor out = torch::empty({1, 4}, torch::kInt32);
  EXPECT_THROW(w.multiply(PairedActivations(torch::zeros({1, 6}, torch::kInt8)), nullptr, 1, out.data_ptr<int32_t>(), 4,
                          nullptr, false),
               Error);
}

}  // namespace
}  // namespace cook::infer

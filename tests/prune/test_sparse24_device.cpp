// 2:4 products on CUDA through cuSPARSELt (sparse24_device.h): bf16 within bf16's rounding of the
// dense product, int8 exact, the path choice agreeing with both. The checks of the weight run
// everywhere; the products skip without a CUDA device.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "cook/compress/prune/nm_masks.h"
#include "cook/core/error.h"
#include "cook/infer/sparse24_device.h"

namespace cook::infer {
namespace {

torch::Tensor two_of_four(int64_t n, int64_t k) {
  const torch::Tensor w = torch::randn({n, k});
  return w * prune::m4n2_1d(w.abs()).to(w.scalar_type());
}

TEST(Sparse24Device, RefusesAWeightThatIsNotTwoOfFour) {
  torch::manual_seed(3);
  EXPECT_NO_THROW(check_two_of_four(two_of_four(8, 16), "w"));
  torch::Tensor w = two_of_four(8, 16);
  w[5][9] = 1.0f;
  w[5][10] = 1.0f;
  w[5][11] = 1.0f;
  try {
    check_two_of_four(w, "blocks.0.ffn.fc_in.weight");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.ffn.fc_in.weight: is not 2:4 sparse"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_two_of_four(torch::zeros({4, 6}), "w"), Error);
  EXPECT_THROW(DeviceSparse24Weight(two_of_four(16, 32), "w"), Error);  // on the CPU
}

class Sparse24Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    if (!device_sparse24_compiled()) GTEST_SKIP() << "this LibTorch has no cuSPARSELt operations (< 2.1)";
  }
  const torch::Device gpu{torch::kCUDA, 0};
};

TEST_F(Sparse24Cuda, Bf16ProductMatchesTheDenseOne) {
  torch::manual_seed(4);
  const torch::Tensor w = two_of_four(64, 128).to(gpu, torch::kBFloat16);
  const torch::Tensor bias = torch::randn({64}).to(gpu, torch::kBFloat16);
  const DeviceSparse24Weight sparse(w);
  for (int64_t m : {1, 5, 16, 40, 256}) {
    const torch::Tensor x = torch::randn({m, 128}).to(gpu, torch::kBFloat16);
    const torch::Tensor expected = torch::addmm(bias.to(torch::kFloat32), x.to(torch::kFloat32), w.to(torch::kFloat32).t());
    const torch::Tensor got = sparse.forward_sparse(x, bias);
    ASSERT_EQ(got.sizes(), expected.sizes()) << "M " << m;
    // bf16 output: one rounding of a value of magnitude ≲ 40.
    EXPECT_LE((got.to(torch::kFloat32) - expected).abs().max().item<double>(), 0.25) << "M " << m;
    const torch::Tensor chosen = sparse.forward(x, bias);
    EXPECT_LE((chosen.to(torch::kFloat32) - expected).abs().max().item<double>(), 0.25) << "M " << m;
  }
}

TEST_F(Sparse24Cuda, Int8ProductIsExact) {
  torch::manual_seed(5);
  const torch::Tensor w = torch::randint(-127, 128, {64, 128}, torch::kInt8);
  const torch::Tensor w24 = (w * prune::m4n2_1d(w.abs().to(torch::kFloat32)).to(torch::kInt8)).to(gpu);
  const DeviceSparse24Weight sparse(w24);
  for (int64_t m : {1, 17, 64, 300}) {
    const torch::Tensor q = torch::randint(-127, 128, {m, 128}, torch::kInt8);
    const torch::Tensor expected = q.to(torch::kInt64).mm(w24.cpu().to(torch::kInt64).t());
    const torch::Tensor got = sparse.multiply(q.to(gpu));
    ASSERT_EQ(got.sizes(), expected.sizes()) << "M " << m;
    EXPECT_TRUE(torch::equal(got.cpu().to(torch::kInt64), expected)) << "M " << m;
  }
}

}  // namespace
}  // namespace cook::infer

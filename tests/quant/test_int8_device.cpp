// The device path of the int8 kernel (int8_device.h) gives the CPU kernel's bits: here through its
// exact float64 product on the CPU (the padding for at::_int_mm, the quantization by
// quant::quantize_rows, the epilogue), and through at::_int_mm where a CUDA device is present.
// (That quantize_rows equals the CPU kernel's own pass, ties and zero rows included, is
// Int8Kernel.QuantizeTokensEqualsTheSimulation.)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cook/compress/quant/numerics.h"
#include "cook/core/error.h"
#include "cook/infer/int8_device.h"
#include "cook/infer/int8_linear.h"

namespace cook::infer {
namespace {

// Shapes that at::_int_mm cannot take as they are: M ≤ 16, K not a multiple of 8 or below 16, N
// not a multiple of 8.
void expect_same_bits(torch::Device device) {
  torch::manual_seed(12);
  for (auto [n, k] : {std::pair<int64_t, int64_t>{13, 20}, {32, 64}, {8, 5}}) {
    for (bool bias : {false, true}) {
      nn::Linear layer(k, n, bias);
      const quant::Quantized qw = quant::quantize_rows(layer->weight.detach());
      layer->set_kernel(std::make_shared<Int8LinearKernel>(qw.values, qw.scales));
      for (int64_t m : {1, 3, 16, 17, 40}) {
        torch::NoGradGuard g;
        const torch::Tensor x = torch::randn({m, k}) * 3;
        const torch::Tensor on_cpu = layer->forward(x);
        const DeviceInt8Weight w(qw.values, qw.scales, device);
        const torch::Tensor direct = w.forward(x.to(device), bias ? layer->bias.to(device) : torch::Tensor()).cpu();
        EXPECT_TRUE(torch::equal(direct, on_cpu)) << "N " << n << ", K " << k << ", M " << m << ", bias " << bias;
        const torch::Tensor q = quant::quantize_rows(x.to(device)).values;
        const torch::Tensor reference = q.cpu().to(torch::kInt64).mm(qw.values.t().to(torch::kInt64));
        EXPECT_TRUE(torch::equal(w.multiply(q).cpu().to(torch::kInt64), reference)) << "M " << m;
      }
    }
  }
}

TEST(Int8Device, PaddedProductAndEpilogueGiveTheCpuKernelsBits) { expect_same_bits(torch::kCPU); }

TEST(Int8Device, CudaProductGivesTheCpuKernelsBits) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!device_int8_matmul_available()) GTEST_SKIP() << "this LibTorch has no at::_int_mm (< 2.1)";
  expect_same_bits(torch::Device(torch::kCUDA, 0));
  // The layer itself, moved to the GPU, runs its int8 kernel there (bf16 input converted).
  nn::Linear layer(64, 48, true);
  const quant::Quantized qw = quant::quantize_rows(layer->weight.detach());
  layer->set_kernel(std::make_shared<Int8LinearKernel>(qw.values, qw.scales));
  torch::NoGradGuard g;
  const torch::Tensor x = torch::randn({5, 64});
  const torch::Tensor on_cpu = layer->forward(x);
  layer->to(torch::Device(torch::kCUDA, 0));
  EXPECT_TRUE(torch::equal(layer->forward(x.cuda()).cpu(), on_cpu));
}

TEST(Int8Device, RejectsMismatchedShapes) {
  const DeviceInt8Weight w(torch::zeros({4, 8}, torch::kInt8), torch::ones({4}), torch::kCPU);
  EXPECT_THROW(w.multiply(torch::zeros({2, 7}, torch::kInt8)), Error);
  EXPECT_THROW(DeviceInt8Weight(torch::zeros({4, 8}), torch::ones({4}), torch::kCPU), Error);
  EXPECT_THROW(DeviceInt8Weight(torch::zeros({4, 8}, torch::kInt8), torch::ones({3}), torch::kCPU), Error);
}

}  // namespace
}  // namespace cook::infer

// One linear layer on the GPU, int8 against bf16, with GPT-J's shapes (q/k/v/out 4096 → 4096,
// fc_in 4096 → 16384, fc_out 16384 → 4096) and M = 1 … 8192 tokens:
//   bf16       LibTorch's linear on bf16 weights and activations (cuBLAS);
//   int8       what a loaded int8 model runs: Cook's Int8LinearKernel on a bf16 input (per-token
//              quantization, at::_int_mm, the rescale epilogue, back to bf16);
//   int8-mm    at::_int_mm alone on int8 operands, the bound the rest of the path adds to;
//   graphs     bf16 and int8 again, 20 calls captured in a CUDA graph and replayed: the time
//              without the host's launch overhead.
// Each time is per call: calls are repeated for at least --min-ms milliseconds after a warm-up,
// and the clock stops when the device has finished them. Prints a Markdown table. Without a CUDA
// device, or with a LibTorch without at::_int_mm, it says so and measures nothing.
// A plain program (no Google Benchmark), so that it builds where only LibTorch is installed.
//   build/bench/bench_int8_cuda [--min-ms 200]
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "cook/compress/quant/numerics.h"
#include "cuda_timing.h"
#include "cook/infer/int8_device.h"
#include "cook/infer/int8_linear.h"
#include "cook/model/linear.h"

namespace {

using cook::bench::time_call;

const torch::Device kGpu(torch::kCUDA, 0);

int usage(const char* self, int status) {
  (status ? std::cerr : std::cout) << "usage: " << self << " [--min-ms MS]\n"
                                   << "  int8 (Cook's kernel and at::_int_mm alone) against bf16 linears on the GPU\n"
                                   << "  --min-ms MS   time each case for at least MS milliseconds (default 200)\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  double min_ms = 200;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) return usage(argv[0], 0);
    if (!std::strcmp(argv[i], "--min-ms") && i + 1 < argc) {
      min_ms = std::stod(argv[++i]);
      continue;
    }
    std::cerr << argv[0] << ": unknown option '" << argv[i] << "'\n";
    return usage(argv[0], 2);
  }
  if (!torch::cuda::is_available()) {
    std::cout << "bench_int8_cuda: no CUDA device here; nothing measured\n";
    return 0;
  }
  if (!cook::infer::device_int8_matmul_available()) {
    std::cout << "bench_int8_cuda: this LibTorch has no at::_int_mm (needs 2.1 or later); nothing measured\n";
    return 0;
  }
  torch::InferenceMode guard;
  const auto bf16 = torch::dtype(torch::kBFloat16).device(kGpu);
  std::cout << "| M | N × K | bf16 µs | int8 µs | int8-mm µs | int8 vs bf16 | int8-mm vs bf16 | graphs: bf16 µs | int8 µs | int8 vs bf16 |\n"
            << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096}, {16384, 4096}, {4096, 16384}}) {
    torch::manual_seed(0);
    cook::nn::Linear layer(k, n, true);
    const cook::quant::Quantized q = cook::quant::quantize_rows(layer->weight.detach());
    layer->set_kernel(std::make_shared<cook::infer::Int8LinearKernel>(q.values, q.scales));
    layer->to(kGpu, torch::kBFloat16);
    const torch::Tensor w = layer->weight.detach(), b = layer->bias.detach();
    const cook::infer::DeviceInt8Weight w8(q.values, q.scales, kGpu);
    for (int64_t m : {1, 16, 32, 128, 512, 2048, 8192}) {
      const torch::Tensor x = torch::randn({m, k}, bf16);
      const torch::Tensor x8 = torch::randint(-127, 128, {m, k}, torch::dtype(torch::kInt8).device(kGpu));
      const double t_bf16 = time_call([&] { torch::nn::functional::linear(x, w, b); }, min_ms);
      const double t_int8 = time_call([&] { layer->forward(x); }, min_ms);
      const double t_mm = time_call([&] { w8.multiply(x8); }, min_ms);
      double g_bf16 = 0, g_int8 = 0;
#ifdef COOK_TORCH_HAS_CUDA
      g_bf16 = cook::bench::time_graph([&] { torch::nn::functional::linear(x, w, b); }, min_ms);
      g_int8 = cook::bench::time_graph([&] { layer->forward(x); }, min_ms);
#endif
      std::printf("| %lld | %lld × %lld | %.1f | %.1f | %.1f | %.2f× | %.2f× | %.1f | %.1f | %.2f× |\n",
                  static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k), t_bf16, t_int8, t_mm,
                  t_bf16 / t_int8, t_bf16 / t_mm, g_bf16, g_int8, g_int8 > 0 ? g_bf16 / g_int8 : 0.0);
      std::fflush(stdout);
    }
  }
  return 0;
}

// 2:4 sparse against dense linears on the GPU through cuSPARSELt (sparse24_device.h), with GPT-J's
// shapes (fc_in 4096 → 16384, fc_out 16384 → 4096, q/k/v/out 4096 → 4096) and M = 1 … 16384:
//   bf16:   dense (LibTorch's mm, cuBLAS) and 2:4 (compressed once, algorithm searched once),
//           eager and with 20 calls captured in a CUDA graph and replayed; and the path that
//           DeviceSparse24Weight::forward chose for M (its own timing, at the first call);
//   int8:   int8 × int8 → int32 products, dense (at::_int_mm, weight (N, K) passed transposed)
//           and 2:4, eager.
// Prints Markdown tables. Without a CUDA device or cuSPARSELt it says so and measures nothing.
// A plain program (no Google Benchmark), so that it builds where only LibTorch is installed.
//   build/bench/bench_sparse24_cuda [--min-ms 30]
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "cook/compress/prune/nm_masks.h"
#include "cook/infer/int8_device.h"
#include "cook/infer/sparse24_device.h"
#include "cuda_timing.h"

namespace {

using cook::bench::time_call;
const torch::Device kGpu(torch::kCUDA, 0);
constexpr int64_t kShapes[3][2] = {{16384, 4096}, {4096, 16384}, {4096, 4096}};  // N × K
constexpr int64_t kTokens[] = {1, 32, 128, 512, 2048, 8192, 16384};

int usage(const char* self, int status) {
  (status ? std::cerr : std::cout) << "usage: " << self << " [--min-ms MS]\n"
                                   << "  2:4 (cuSPARSELt) against dense linears on the GPU, bf16 and int8\n"
                                   << "  --min-ms MS   time each case for at least MS milliseconds (default 30)\n";
  return status;
}

torch::Tensor two_of_four(const torch::Tensor& w) {
  return w * cook::prune::m4n2_1d(w.abs().to(torch::kFloat32)).to(w.scalar_type());
}

// Microseconds per call replayed from a CUDA graph; 0 where the call cannot be captured.
double graph_us(const std::function<void()>& call, double min_ms) {
#ifdef COOK_TORCH_HAS_CUDA
  try {
    return cook::bench::time_graph(call, min_ms);
  } catch (const c10::Error&) {
  }
#endif
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double min_ms = 30;
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
    std::cout << "bench_sparse24_cuda: no CUDA device here; nothing measured\n";
    return 0;
  }
  if (!cook::infer::device_sparse24_compiled()) {
    std::cout << "bench_sparse24_cuda: this LibTorch has no cuSPARSELt operations (needs 2.1 or later); nothing measured\n";
    return 0;
  }
  torch::InferenceMode guard;
  const auto bf16 = torch::dtype(torch::kBFloat16).device(kGpu);
  std::cout << "## bf16\n\n| M | N × K | dense µs | 2:4 µs | 2:4 vs dense | graph: dense µs | 2:4 µs | 2:4 vs dense | forward picks |\n"
            << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& shape : kShapes) {
    const int64_t n = shape[0], k = shape[1];
    torch::manual_seed(0);
    const torch::Tensor w = two_of_four(torch::randn({n, k}, bf16));
    const cook::infer::DeviceSparse24Weight sparse(w, "bench weight");
    for (int64_t m : kTokens) {
      const torch::Tensor x = torch::randn({m, k}, bf16);
      const double dense_us = time_call([&] { torch::mm(x, w.t()); }, min_ms);
      const double sparse_us = time_call([&] { sparse.forward_sparse(x, torch::Tensor()); }, min_ms);
      const double dense_g = graph_us([&] { torch::mm(x, w.t()); }, min_ms);
      const double sparse_g = graph_us([&] { sparse.forward_sparse(x, torch::Tensor()); }, min_ms);
      const bool picks_sparse = sparse.choice(m) == cook::infer::DeviceSparse24Weight::Path::sparse;
      std::printf("| %lld | %lld × %lld | %.1f | %.1f | %.2f× | %.1f | %.1f | %.2f× | %s |\n", static_cast<long long>(m),
                  static_cast<long long>(n), static_cast<long long>(k), dense_us, sparse_us, dense_us / sparse_us,
                  dense_g, sparse_g, sparse_g > 0 ? dense_g / sparse_g : 0.0, picks_sparse ? "2:4" : "dense");
      std::fflush(stdout);
    }
  }
  std::cout << "\n## int8 (int32 accumulators)\n\n| M | N × K | dense µs | 2:4 µs | 2:4 vs dense |\n|---|---|---|---|---|\n";
  for (const auto& shape : kShapes) {
    const int64_t n = shape[0], k = shape[1];
    torch::manual_seed(0);
    const torch::Tensor w8 = two_of_four(torch::randint(-127, 128, {n, k}, torch::dtype(torch::kInt8).device(kGpu)));
    const cook::infer::DeviceSparse24Weight sparse(w8, "bench int8 weight");
    const cook::infer::DeviceInt8Weight dense(w8, torch::ones({n}), kGpu);
    for (int64_t m : kTokens) {
      const torch::Tensor q = torch::randint(-127, 128, {m, k}, torch::dtype(torch::kInt8).device(kGpu));
      const double dense_us = time_call([&] { dense.multiply(q); }, min_ms);
      double sparse_us = 0;
      try {
        sparse_us = time_call([&] { sparse.multiply(q); }, min_ms);
      } catch (const std::exception& e) {
        std::printf("| %lld | %lld × %lld | %.1f | failed: %s | |\n", static_cast<long long>(m), static_cast<long long>(n),
                    static_cast<long long>(k), dense_us, e.what());
        continue;
      }
      std::printf("| %lld | %lld × %lld | %.1f | %.1f | %.2f× |\n", static_cast<long long>(m), static_cast<long long>(n),
                  static_cast<long long>(k), dense_us, sparse_us, dense_us / sparse_us);
      std::fflush(stdout);
    }
  }
  return 0;
}

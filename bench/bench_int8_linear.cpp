// One linear layer, int8 (oneDNN, per-token activation quantization included) against fp32
// (LibTorch's at::linear), at M tokens × K inputs → N outputs with GPT-J's shapes:
//   attention projections 4096 → 4096, fc_in 4096 → 16384, fc_out 16384 → 4096.
//   build/bench/bench_int8_linear [--benchmark_filter=int8]
// GFLOP/s counts 2·M·N·K per call; the speedup is the ratio of the two times at the same shape.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "bench_main.h"
#include "cook/compress/quant/numerics.h"
#include "cook/infer/int8_linear.h"
#include "cook/model/linear.h"

namespace {

void set_counters(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}

void BM_LinearFp32(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  torch::manual_seed(0);
  cook::nn::Linear layer(k, n, true);
  const torch::Tensor x = torch::randn({m, k});
  torch::InferenceMode guard;
  benchmark::DoNotOptimize(layer->forward(x));
  for (auto _ : state) {
    torch::Tensor y = layer->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_counters(state, m, n, k);
}

void BM_LinearInt8(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  torch::manual_seed(0);
  cook::nn::Linear layer(k, n, true);
  const cook::quant::Quantized q = cook::quant::quantize_rows(layer->weight);
  layer->set_kernel(std::make_shared<cook::infer::Int8LinearKernel>(q.values, q.scales));
  const torch::Tensor x = torch::randn({m, k});
  torch::InferenceMode guard;
  benchmark::DoNotOptimize(layer->forward(x));  // creates the primitive and packs the weights
  for (auto _ : state) {
    torch::Tensor y = layer->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_counters(state, m, n, k);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 16, 128, 512})
    for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096}, {16384, 4096}, {4096, 16384}}) b->Args({m, n, k});
  b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime();
}

BENCHMARK(BM_LinearFp32)->Apply(shapes);
BENCHMARK(BM_LinearInt8)->Apply(shapes);

}  // namespace

int main(int argc, char** argv) { return cook::bench::run_benchmarks_as_cook_runs(argc, argv); }

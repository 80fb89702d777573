// Time to compute pruning masks of one GPT-J FFN matrix (16384×4096, fp32) on the CPU: the 2:4
// masks (1-D, BMCook's 2-D greedy, 2-D best of 186 patterns) and unstructured magnitude at 50%.
// LibTorch's thread count (the `threads` counter) follows OMP_NUM_THREADS.
//   [OMP_NUM_THREADS=2] build/bench/bench_prune_masks [--benchmark_filter=2d]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/prune/unstructured.h"

namespace {

torch::Tensor weight(int64_t rows, int64_t cols) {
  auto gen = at::detail::createCPUGenerator(1);
  return torch::randn({rows, cols}, gen, torch::kFloat32);
}

template <typename F>
void run(benchmark::State& state, F&& mask_of) {
  const torch::Tensor w = weight(state.range(0), state.range(1));
  for (auto _ : state) {
    torch::Tensor mask = mask_of(w);
    benchmark::DoNotOptimize(mask.data_ptr());
  }
  state.counters["threads"] = torch::get_num_threads();
  state.counters["Melem/s"] =
      benchmark::Counter(double(w.numel()) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

void BM_M4N2_1d(benchmark::State& s) { run(s, [](const torch::Tensor& w) { return cook::prune::m4n2_1d(w); }); }
void BM_M4N2_2dGreedy(benchmark::State& s) { run(s, [](const torch::Tensor& w) { return cook::prune::m4n2_2d_greedy(w); }); }
void BM_M4N2_2dBest(benchmark::State& s) { run(s, [](const torch::Tensor& w) { return cook::prune::m4n2_2d_best(w); }); }
void BM_Unstructured50(benchmark::State& s) {
  run(s, [](const torch::Tensor& w) { return cook::prune::unstructured_mask(w, 0.5); });
}

}  // namespace

BENCHMARK(BM_M4N2_1d)->Args({16384, 4096})->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_M4N2_2dGreedy)->Args({16384, 4096})->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_M4N2_2dBest)->Args({16384, 4096})->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Unstructured50)->Args({16384, 4096})->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_MAIN();

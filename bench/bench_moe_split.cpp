// The split step at GPT-J's size: 16384 fc_in rows of width 4096 into 512 experts of 32, by
// balanced k-means with the auction assignment, with `cook moe split`'s defaults (3 restarts,
// ≤ 15 iterations). The rows are drawn normal (an initialized FFN). Target: < 60 s on this CPU.
// Also one exact balanced assignment of the 16384 × 512 benefit matrix on its own.
//   build/bench/bench_moe_split
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "cook/compress/moe/balanced_kmeans.h"

namespace {

void BM_SplitGptJ(benchmark::State& state) {
  torch::manual_seed(0);
  const torch::Tensor w = torch::randn({16384, 4096});
  cook::compress::moe::BalancedKMeansOptions o;
  o.clusters = 512;
  int64_t iterations = 0;
  double inertia = 0;
  for (auto _ : state) {
    const auto r = cook::compress::moe::balanced_kmeans(w, o);
    iterations = r.iterations;
    inertia = r.inertia;
  }
  state.counters["kmeans_iterations"] = static_cast<double>(iterations);
  state.counters["inertia"] = inertia;
  state.counters["threads"] = torch::get_num_threads();
}

void BM_AssignmentGptJ(benchmark::State& state) {
  torch::manual_seed(1);
  // Benefits of the shape k-means produces: 2 x·c − ‖c‖² for normalized x.
  const torch::Tensor x = torch::nn::functional::normalize(torch::randn({16384, 4096}),
                                                           torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor c = x.narrow(0, 0, 512);
  const torch::Tensor benefit = torch::mm(x, c.t()).mul_(2.0).sub_(c.pow(2).sum(1).unsqueeze(0));
  for (auto _ : state) benchmark::DoNotOptimize(cook::compress::moe::balanced_assignment(benefit));
}

BENCHMARK(BM_SplitGptJ)->Name("split/16384x4096/512")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_AssignmentGptJ)->Name("assignment/16384x512")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();

// The expert FFN against the dense FFN it came from, on the CPU, in inference mode: one FFN of a
// GPT-J-like shape scaled to fit (d 2048, F 8192, 256 experts of 32 neurons: GPT-J's expert
// size; weights 128 MB, far beyond the caches, as GPT-J's are), at batch 1 and 16 tokens, with
// k/E = 10%, 20%, 30% (k = 26, 51, 77), routed by an MLP router (its cost included); at batch 16
// both the automatic choice (masked dense when tokens × k > E) and the grouped path forced.
//   build/bench/bench_moe_ffn [--benchmark_filter=batch1]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/router.h"
#include "cook/model/ffn.h"

namespace {

constexpr int64_t kDModel = 2048, kDff = 8192, kExperts = 256;

struct Setup {
  cook::model::DenseFeedForward dense{nullptr};
  torch::Tensor experts;
  torch::Tensor centroids;
};

Setup& setup() {
  static Setup s = [] {
    torch::manual_seed(0);
    Setup s;
    s.dense = cook::model::DenseFeedForward(kDModel, kDff, cook::model::Activation::Relu, false);
    torch::NoGradGuard no_grad;
    s.dense->fc_in->weight.normal_(0, 0.02);
    s.dense->fc_out->weight.normal_(0, 0.02);
    s.dense->eval();
    // A random balanced split: the time does not depend on which neurons share an expert.
    s.experts = torch::randperm(kDff, torch::kInt64).view({kExperts, kDff / kExperts});
    s.experts = std::get<0>(s.experts.sort(1)).contiguous();
    s.centroids = torch::randn({kExperts, kDModel});
    return s;
  }();
  return s;
}

void report(benchmark::State& state, int64_t tokens) {
  state.SetItemsProcessed(state.iterations() * tokens);
  state.counters["threads"] = torch::get_num_threads();
}

void BM_DenseFfn(benchmark::State& state) {
  Setup& s = setup();
  const int64_t tokens = state.range(0);
  const torch::Tensor x = torch::randn({tokens, kDModel});
  torch::InferenceMode inference;
  benchmark::DoNotOptimize(s.dense->forward(x));
  for (auto _ : state) {
    torch::Tensor y = s.dense->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  report(state, tokens);
  state.SetLabel("dense, " + std::to_string(tokens) + " tokens");
}

void BM_ExpertFfn(benchmark::State& state) {
  Setup& s = setup();
  const int64_t tokens = state.range(0), percent = state.range(1), grouped = state.range(2);
  const int64_t k = (kExperts * percent + 50) / 100;
  auto router = std::make_shared<cook::compress::moe::MlpRouterImpl>(s.centroids);
  cook::compress::moe::ExpertFeedForward ffn(*s.dense, s.experts, router, k);
  using Path = cook::compress::moe::ExpertFeedForwardImpl::Path;
  ffn->set_path(grouped ? Path::Grouped : Path::Auto);
  const torch::Tensor x = torch::randn({tokens, kDModel});
  torch::InferenceMode inference;
  benchmark::DoNotOptimize(ffn->forward(x));  // packs the experts once
  for (auto _ : state) {
    torch::Tensor y = ffn->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  report(state, tokens);
  state.counters["k"] = static_cast<double>(k);
  state.SetLabel(std::string(grouped ? "grouped" : "auto") + ", " + std::to_string(tokens) + " tokens, k/E " +
                 std::to_string(percent) + "%");
}

BENCHMARK(BM_DenseFfn)->Name("batch1/dense")->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ExpertFfn)
    ->Name("batch1/experts")
    ->Args({1, 10, 0})->Args({1, 20, 0})->Args({1, 30, 0})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_DenseFfn)->Name("batch16/dense")->Arg(16)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ExpertFfn)
    ->Name("batch16/experts")
    ->Args({16, 10, 0})->Args({16, 20, 0})->Args({16, 30, 0})
    ->Args({16, 10, 1})->Args({16, 20, 1})->Args({16, 30, 1})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);

}  // namespace
BENCHMARK_MAIN();

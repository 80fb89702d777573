// The expert FFN against the dense FFN it came from, on the CPU, in inference mode: one FFN of a
// GPT-J-like shape scaled to fit (d 2048, F 8192, 256 experts of 32 neurons: GPT-J's expert
// size; weights 128 MB, far beyond the caches, as GPT-J's are), at batch 1 and 16 tokens, with
// k/E = 10%, 20%, 30% (k = 26, 51, 77), routed by an MLP router (its cost included); at batch 16
// both the automatic choice (masked dense when tokens × k > E) and the grouped path forced. Each
// in float32 and in int8 (W8A8: the weights quantized per row, the oneDNN int8 kernel on fc_in and
// fc_out, as a loaded int8 artefact has them). Last, one expert-sized product (1 token × 32 rows
// of 2048) on oneDNN and on the packed int8 weight the int8 grouped path uses.
//   build/bench/bench_moe_ffn [--benchmark_filter=batch1]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/router.h"
#include "cook/compress/quant/numerics.h"
#include "cook/infer/int8_linear.h"
#include "cook/infer/packed_int8.h"
#include "cook/model/ffn.h"

namespace {

constexpr int64_t kDModel = 2048, kDff = 8192, kExperts = 256;

struct Setup {
  cook::model::DenseFeedForward dense{nullptr};
  cook::model::DenseFeedForward dense_int8{nullptr};  // the same weights, int8 kernels attached
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
    s.dense_int8 = cook::model::DenseFeedForward(kDModel, kDff, cook::model::Activation::Relu, false);
    s.dense_int8->fc_in->weight.copy_(s.dense->fc_in->weight);
    s.dense_int8->fc_out->weight.copy_(s.dense->fc_out->weight);
    s.dense_int8->fc_out->bias.copy_(s.dense->fc_out->bias);
    for (cook::nn::LinearImpl* l : {s.dense_int8->fc_in.get(), s.dense_int8->fc_out.get()}) {
      const cook::quant::Quantized q = cook::quant::quantize_rows(l->weight);
      l->set_kernel(std::make_shared<cook::infer::Int8LinearKernel>(q.values, q.scales));
    }
    s.dense_int8->eval();
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

cook::model::DenseFeedForward& ffn_of(Setup& s, bool int8) { return int8 ? s.dense_int8 : s.dense; }

void BM_DenseFfn(benchmark::State& state) {
  Setup& s = setup();
  const int64_t tokens = state.range(0);
  const bool int8 = state.range(1) != 0;
  cook::model::DenseFeedForward& dense = ffn_of(s, int8);
  const torch::Tensor x = torch::randn({tokens, kDModel});
  torch::InferenceMode inference;
  benchmark::DoNotOptimize(dense->forward(x));
  for (auto _ : state) {
    torch::Tensor y = dense->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  report(state, tokens);
  state.SetLabel(std::string("dense ") + (int8 ? "int8" : "fp32") + ", " + std::to_string(tokens) + " tokens");
}

void BM_ExpertFfn(benchmark::State& state) {
  Setup& s = setup();
  const int64_t tokens = state.range(0), percent = state.range(1), grouped = state.range(2);
  const bool int8 = state.range(3) != 0;
  const int64_t k = (kExperts * percent + 50) / 100;
  auto router = std::make_shared<cook::compress::moe::MlpRouterImpl>(s.centroids);
  cook::compress::moe::ExpertFeedForward ffn(*ffn_of(s, int8), s.experts, router, k);
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
  state.SetLabel(std::string(int8 ? "int8 " : "fp32 ") + (grouped ? "grouped" : "auto") + ", " +
                 std::to_string(tokens) + " tokens, k/E " + std::to_string(percent) + "%");
}

// One expert's fc_in product for one token: (1 × 2048) int8 · (2048 × 32), quantization of the
// token included. Arg 0: oneDNN (Int8LinearKernel, also rescales); 1: PackedInt8Weight.
void BM_ExpertSizedProduct(benchmark::State& state) {
  const bool packed = state.range(0) != 0;
  const int64_t rows = kDff / kExperts;
  torch::manual_seed(1);
  cook::nn::Linear layer(kDModel, rows, false);
  const cook::quant::Quantized q = cook::quant::quantize_rows(layer->weight.detach());
  const auto kernel = std::make_shared<cook::infer::Int8LinearKernel>(q.values, q.scales);
  const cook::infer::PackedInt8Weight weight(q.values);
  const torch::Tensor x = torch::randn({1, kDModel});
  torch::InferenceMode inference;
  torch::Tensor qx = torch::empty({1, kDModel}, torch::kInt8), sx = torch::empty({1});
  torch::Tensor acc = torch::empty({1, rows}, torch::kInt32);
  for (auto _ : state) {
    if (packed) {
      cook::infer::quantize_tokens(x.data_ptr<float>(), 1, kDModel, qx.data_ptr<int8_t>(), sx.data_ptr<float>());
      weight.multiply(cook::infer::PairedActivations(qx), nullptr, 1, acc.data_ptr<int32_t>(), rows, nullptr, false);
      benchmark::DoNotOptimize(acc.data_ptr());
    } else {
      torch::Tensor y = kernel->forward(*layer, x);
      benchmark::DoNotOptimize(y.data_ptr());
    }
  }
  state.SetLabel(packed ? "packed int8 (AVX2 loop)" : "oneDNN Int8LinearKernel");
}

BENCHMARK(BM_DenseFfn)
    ->Name("batch1/dense")
    ->Args({1, 0})->Args({1, 1})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ExpertFfn)
    ->Name("batch1/experts")
    ->Args({1, 10, 0, 0})->Args({1, 20, 0, 0})->Args({1, 30, 0, 0})
    ->Args({1, 10, 0, 1})->Args({1, 20, 0, 1})->Args({1, 30, 0, 1})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_DenseFfn)
    ->Name("batch16/dense")
    ->Args({16, 0})->Args({16, 1})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ExpertFfn)
    ->Name("batch16/experts")
    ->Args({16, 10, 0, 0})->Args({16, 20, 0, 0})->Args({16, 30, 0, 0})
    ->Args({16, 10, 1, 0})->Args({16, 20, 1, 0})->Args({16, 30, 1, 0})
    ->Args({16, 10, 0, 1})->Args({16, 20, 0, 1})->Args({16, 30, 0, 1})
    ->Args({16, 10, 1, 1})->Args({16, 20, 1, 1})->Args({16, 30, 1, 1})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ExpertSizedProduct)
    ->Name("product/expert-sized")
    ->Arg(0)->Arg(1)
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(1.0);

}  // namespace
BENCHMARK_MAIN();

// Forward throughput of the GPT-J model on the CPU, in inference mode: tokens per second for the
// `tiny` and `small` presets at batch 8 × 256 tokens (or the preset's context, if shorter).
//   build/bench/bench_forward [--benchmark_filter=small]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "cook/model/config.h"
#include "cook/model/gptj.h"

namespace {

void BM_Forward(benchmark::State& state, const std::string& preset_name) {
  const cook::model::ModelConfig config = cook::model::preset(preset_name);
  const int64_t batch = state.range(0);
  const int64_t seq = std::min<int64_t>(state.range(1), config.n_positions);
  cook::model::GptJ model(config);
  model->eval();
  torch::manual_seed(0);
  cook::model::ForwardInput input;
  input.input_ids = torch::randint(0, std::min<int64_t>(config.vocab_size, 50257), {batch, seq});

  torch::InferenceMode inference;
  benchmark::DoNotOptimize(model->forward(input).logits);  // warm-up: allocator, thread pool
  for (auto _ : state) {
    torch::Tensor logits = model->forward(input).logits;
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  const double tokens = static_cast<double>(batch * seq);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * tokens));
  state.counters["tokens/s"] = benchmark::Counter(tokens * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["params_M"] = static_cast<double>(config.parameter_count()) / 1e6;
  state.counters["threads"] = torch::get_num_threads();
  state.SetLabel(preset_name + " batch " + std::to_string(batch) + " seq " + std::to_string(seq));
}

BENCHMARK_CAPTURE(BM_Forward, tiny, std::string("tiny"))
    ->Args({8, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Forward, small, std::string("small"))
    ->Args({8, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();

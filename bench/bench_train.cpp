// Training throughput on the CPU: tokens per second of full optimizer steps (forward, loss,
// backward, clipping, AdamW) for the `tiny` and `small` presets at batch 8 × 128, with and without
// activation checkpointing. Each benchmark iteration is one step on random tokens; the first step
// (allocations, thread pool) runs before timing starts.
//   build/bench/bench_train [--benchmark_filter=small]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <string>

#include "bench_main.h"
#include "cook/core/resources.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"
#include "cook/train/trainer.h"

namespace {

// Random windows, as many as asked for; position is the count handed out.
class RandomTokens : public cook::train::BatchSource {
 public:
  RandomTokens(int64_t batch, int64_t seq, int64_t vocab) : batch_(batch), seq_(seq), vocab_(vocab) {}
  cook::train::Batch next() override {
    ++served_;
    torch::Tensor window = torch::randint(0, vocab_, {batch_, seq_ + 1});
    return {window.narrow(1, 0, seq_).contiguous(), window.narrow(1, 1, seq_).contiguous(), {}};
  }
  nlohmann::json position() const override { return served_; }
  void restore(const nlohmann::json& position) override { served_ = position.get<int64_t>(); }

 private:
  int64_t batch_, seq_, vocab_, served_ = 0;
};

void BM_TrainStep(benchmark::State& state, const std::string& preset_name, bool recompute) {
  const cook::model::ModelConfig config = cook::model::preset(preset_name);
  const int64_t batch = state.range(0);
  const int64_t seq = std::min<int64_t>(state.range(1), config.n_positions);
  torch::manual_seed(0);
  cook::model::GptJ model(config);
  model->set_activation_checkpointing(recompute);
  cook::train::TrainerOptions options;
  options.progress = false;
  options.stop_on_signal = false;
  options.schedule.kind = cook::train::ScheduleKind::Constant;
  options.schedule.start_lr = 1e-4;
  auto data = std::make_shared<RandomTokens>(batch, seq, std::min<int64_t>(config.vocab_size, 50257));
  // The trainer runs up to options.steps; each iteration raises the target by one step.
  int64_t target = 1;
  options.steps = target;
  cook::train::Trainer trainer(model, options, data);
  trainer.run();  // warm-up step, untimed
  for (auto _ : state) {
    trainer.set_target_steps(++target);
    trainer.run();
  }
  const double tokens = static_cast<double>(batch * seq);
  state.counters["tokens/s"] = benchmark::Counter(tokens * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = static_cast<double>(cook::peak_resident_memory_bytes()) / 1048576.0;
  state.counters["threads"] = torch::get_num_threads();
  state.SetLabel(preset_name + " batch " + std::to_string(batch) + " seq " + std::to_string(seq) +
                 (recompute ? " recompute" : ""));
}

BENCHMARK_CAPTURE(BM_TrainStep, tiny, std::string("tiny"), false)
    ->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK_CAPTURE(BM_TrainStep, small, std::string("small"), false)
    ->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(10.0);
BENCHMARK_CAPTURE(BM_TrainStep, small_recompute, std::string("small"), true)
    ->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(10.0);

}  // namespace

int main(int argc, char** argv) { return cook::bench::run_benchmarks_as_cook_runs(argc, argv); }

// End-to-end generation on the CPU, int8 (w8a8 artefact, oneDNN kernels on every block linear)
// against fp32, as `cook generate` runs it: a 16-token prompt, then 128 new tokens one at a time
// with the KV cache, greedy, batch 1. Random weights (speed does not depend on them), no stop token.
//   build/bench/bench_int8_generate [--benchmark_filter=small]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "bench_main.h"
#include "cook/compress/quant/artefact.h"
#include "cook/infer/generate.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"

namespace {

constexpr int64_t kPrompt = 16, kNew = 128;

// A ≈300 M-parameter GPT-J (d 1024, 16 blocks, d_ff 4096: 201 M in the blocks, 103 M in the
// embedding and LM head), where the block linears, not the LM head, dominate a decoding step.
cook::model::ModelConfig config_named(const std::string& name) {
  if (name != "300m") return cook::model::preset(name);
  cook::model::ModelConfig c = cook::model::preset("small");
  c.d_model = 1024;
  c.n_layer = 16;
  c.n_head = 16;
  c.rotary_dim = 64;
  c.d_ff = 4096;
  return c;
}

void BM_Generate(benchmark::State& state, const std::string& preset, bool int8) {
  const cook::model::ModelConfig config = config_named(preset);
  cook::model::GptJ model(config);
  model->init_weights(0.02, 1);
  if (int8) {
    cook::quant::QuantOptions o;
    o.is_quant = true;
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("cook_bench_int8_" + std::to_string(::getpid()) + ".safetensors")).string();
    cook::quant::export_quantized(path, *model, o);
    model = cook::quant::load_quantized(path);
    std::filesystem::remove(path);
  }
  model->eval();
  std::vector<int64_t> prompt;
  for (int64_t i = 0; i < kPrompt; ++i) prompt.push_back(100 + 37 * i);
  cook::infer::GenerateOptions o;
  o.max_new_tokens = kNew;
  o.sampling.greedy = true;
  at::Generator gen = at::detail::createCPUGenerator(1);
  cook::infer::generate(*model, prompt, o, gen);  // warm-up: primitives, allocator
  int64_t tokens = 0;
  for (auto _ : state) tokens += static_cast<int64_t>(cook::infer::generate(*model, prompt, o, gen).size());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
  state.SetLabel(preset + (int8 ? " int8 (w8a8)" : " fp32"));
}

BENCHMARK_CAPTURE(BM_Generate, small_fp32, std::string("small"), false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Generate, small_int8, std::string("small"), true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Generate, m300_fp32, std::string("300m"), false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Generate, m300_int8, std::string("300m"), true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) { return cook::bench::run_benchmarks_as_cook_runs(argc, argv); }

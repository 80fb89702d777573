// What distillation costs a training step on the CPU: forward, loss, backward and AdamW step of a
// student (the `small` preset with 3 of its 6 layers) alone, and with the `small` teacher run on
// the same batch for logits KD and for logits + hidden-state KD. Batch 4 × 128 tokens.
//   build/bench/bench_distill [--benchmark_filter=logits]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>
#include <string>

#include "cook/compress/distill/extension.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"
#include "cook/train/adamw.h"
#include "cook/train/evaluate.h"

namespace {

using namespace cook;

enum class Kd { None, Logits, LogitsHidden };

void BM_TrainStep(benchmark::State& state, Kd kd) {
  torch::manual_seed(0);
  const model::ModelConfig teacher_config = model::preset("small");
  model::ModelConfig student_config = teacher_config;
  student_config.n_layer = teacher_config.n_layer / 2;
  model::GptJ student(student_config);
  student->init_weights(0.02, 1);
  student->train();

  std::shared_ptr<compress::distill::DistillExtension> ext;
  if (kd != Kd::None) {
    model::GptJ teacher(teacher_config);
    teacher->init_weights(0.02, 2);
    compress::distill::DistillOptions o;
    o.ce_scale = 1.0;
    o.ce_temp = 2.0;
    if (kd == Kd::LogitsHidden) o.mse_hidn_scale = 1.0;
    ext = std::make_shared<compress::distill::DistillExtension>(compress::distill::Teacher(teacher), student, o);
  }
  std::vector<train::NamedParameter> params;
  for (const auto& item : student->named_parameters()) params.push_back({item.key(), item.value()});
  std::vector<train::ParamGroup> groups{{"all", params, 0.01, 1.0}};
  if (ext)
    for (auto& g : ext->parameter_groups()) groups.push_back(g);
  train::AdamW optimizer(groups, {});

  const int64_t batch = 4, seq = 128;
  const torch::Tensor window = torch::randint(0, 50257, {batch, seq + 1});
  train::Batch b;
  b.input_ids = window.narrow(1, 0, seq).contiguous();
  b.labels = window.narrow(1, 1, seq).contiguous();

  auto step = [&] {
    optimizer.zero_grad();
    model::ForwardInput in{b.input_ids, {}, {}};
    if (ext) ext->request(in.request);
    model::ForwardOutput out = student->forward(in);
    torch::Tensor loss = train::language_model_loss(out.logits, b.labels);
    if (ext) {
      train::LossTerms terms;
      ext->add_losses(b, out, terms);
      for (const auto& [name, t] : terms) loss = loss + t;
    }
    loss.backward();
    optimizer.step(1e-4);
    return loss.item<double>();
  };
  step();  // warm-up: allocator, thread pool
  for (auto _ : state) benchmark::DoNotOptimize(step());
  const double tokens = static_cast<double>(batch * seq);
  state.counters["tokens/s"] = benchmark::Counter(tokens * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}

BENCHMARK_CAPTURE(BM_TrainStep, student_alone, Kd::None)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK_CAPTURE(BM_TrainStep, kd_logits, Kd::Logits)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK_CAPTURE(BM_TrainStep, kd_logits_hidden, Kd::LogitsHidden)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();

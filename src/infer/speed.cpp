#include "cook/infer/speed.h"

#include <torch/cuda.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "cook/core/error.h"

namespace cook::infer {

namespace {

void require_positive(int64_t value, const char* flag) {
  if (value <= 0) throw Error(flag, "must be positive, got " + std::to_string(value));
}

torch::Device model_device(model::GptJImpl& model) { return model.embed->weight.device(); }

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

torch::Tensor random_ids(const model::GptJImpl& model, int64_t batch, int64_t len, uint64_t seed,
                         const torch::Device& device) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, model.config().vocab_size, {batch, len}, gen, torch::kInt64).to(device);
}

// Runs `run` (which returns the seconds it measured) warmup times untimed, then repeats times.
Throughput repeat(const SpeedOptions& o, int64_t batch, int64_t tokens, const std::function<double()>& run) {
  for (int64_t i = 0; i < o.warmup; ++i) run();
  Throughput t;
  t.batch = batch;
  t.tokens = tokens;
  for (int64_t i = 0; i < o.repeats; ++i) t.seconds.push_back(run());
  t.median_seconds = median(t.seconds);
  t.tokens_per_second = t.median_seconds > 0 ? static_cast<double>(tokens) / t.median_seconds : 0.0;
  return t;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Eval mode and no-grad for the scope; the training mode is restored after.
struct InferenceScope {
  explicit InferenceScope(model::GptJImpl& m) : model(m), was_training(m.is_training()) { model.eval(); }
  ~InferenceScope() {
    if (was_training) model.train();
  }
  model::GptJImpl& model;
  bool was_training;
  torch::NoGradGuard no_grad;
};

}  // namespace

void SpeedOptions::validate(const model::ModelConfig& config) const {
  require_positive(prompt_len, "--speed-prompt-len");
  require_positive(decode_tokens, "--speed-decode-tokens");
  if (decode_batches.empty()) throw Error("--speed-decode-batches", "give at least one batch size");
  for (int64_t b : decode_batches) require_positive(b, "--speed-decode-batches");
  require_positive(prefill_batch, "--speed-prefill-batch");
  require_positive(prefill_len, "--speed-prefill-len");
  require_positive(repeats, "--speed-repeats");
  if (warmup < 0) throw Error("--speed-warmup", "must not be negative, got " + std::to_string(warmup));
  if (prompt_len + decode_tokens > config.n_positions)
    throw Error("--speed-decode-tokens", std::to_string(prompt_len) + " prompt + " + std::to_string(decode_tokens) +
                                             " decoded tokens exceed the model's context of " +
                                             std::to_string(config.n_positions) + " (--speed-prompt-len)");
  if (prefill_len > config.n_positions)
    throw Error("--speed-prefill-len", std::to_string(prefill_len) + " is longer than the model's context of " +
                                           std::to_string(config.n_positions));
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

Throughput measure_decode(model::GptJImpl& model, int64_t batch, const SpeedOptions& o) {
  InferenceScope scope(model);
  const torch::Device device = model_device(model);
  const torch::Tensor prompt = random_ids(model, batch, o.prompt_len, o.seed, device);
  return repeat(o, batch, batch * o.decode_tokens, [&] {
    model::KvCache cache;
    torch::Tensor logits = model.forward_cached(prompt, cache).logits;
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t step = 0; step < o.decode_tokens; ++step) {
      const torch::Tensor next = logits.select(1, logits.size(1) - 1).argmax(-1, /*keepdim=*/true);  // (B, 1)
      logits = model.forward_cached(next, cache).logits;
    }
    synchronize(device);
    return seconds_since(start);
  });
}

Throughput measure_prefill(model::GptJImpl& model, const SpeedOptions& o) {
  InferenceScope scope(model);
  const torch::Device device = model_device(model);
  const torch::Tensor ids = random_ids(model, o.prefill_batch, o.prefill_len, o.seed + 1, device);
  return repeat(o, o.prefill_batch, o.prefill_batch * o.prefill_len, [&] {
    model::KvCache cache;
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor logits = model.forward_cached(ids, cache).logits;
    synchronize(device);
    return seconds_since(start);
  });
}

SpeedResult measure_speed(model::GptJImpl& model, const SpeedOptions& o) {
  o.validate(model.config());
  SpeedResult r;
  r.threads = at::get_num_threads();
  r.device = model_device(model).str();
  r.prompt_len = o.prompt_len;
  r.prefill_len = o.prefill_len;
  for (int64_t b : o.decode_batches) r.decode.push_back(measure_decode(model, b, o));
  r.prefill = measure_prefill(model, o);
  return r;
}

}  // namespace cook::infer

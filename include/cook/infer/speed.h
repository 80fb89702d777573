// Inference speed of a model, by wall clock, on the device its parameters are on:
//   - decode: B sequences of random prompt tokens are prefilled (not timed), then `decode_tokens`
//     steps are timed, each running one new token per sequence through forward_cached (the KV
//     cache) and choosing the next one greedily (argmax). tokens/s = B · decode_tokens / time.
//   - prefill: one forward_cached over a fresh cache of (prefill_batch, prefill_len) random
//     tokens, timed. tokens/s = prefill_batch · prefill_len / time.
// Each measurement runs `warmup` untimed times, then `repeats` timed times, and reports the
// median. On a CUDA device the clock is read after torch::cuda::synchronize(). Runs in eval mode
// under no-grad (the model's mode is restored after). CPU figures depend on the thread count,
// which the result records (at::get_num_threads()).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cook/model/gptj.h"

namespace cook::infer {

struct SpeedOptions {
  int64_t prompt_len = 64;                        // prompt tokens per sequence before decoding
  int64_t decode_tokens = 32;                     // timed decode steps
  std::vector<int64_t> decode_batches = {1, 16};  // sequences decoded together; one measurement each
  int64_t prefill_batch = 1;
  int64_t prefill_len = 256;                      // tokens per sequence of the prefill measurement
  int64_t warmup = 1;                             // untimed runs before each measurement
  int64_t repeats = 3;                            // timed runs; the median is reported
  uint64_t seed = 1;                              // the random token ids

  // Every size positive (warmup ≥ 0), prompt_len + decode_tokens and prefill_len within the
  // model's n_positions. Throws cook::Error naming the flag of `cook report` at fault
  // (--speed-prompt-len, --speed-decode-tokens, --speed-decode-batches, --speed-prefill-batch,
  // --speed-prefill-len, --speed-warmup, --speed-repeats).
  void validate(const model::ModelConfig& config) const;
};

struct Throughput {
  int64_t batch = 0;             // sequences per run
  int64_t tokens = 0;            // tokens per timed run
  double median_seconds = 0.0;   // of the timed runs
  double tokens_per_second = 0.0;  // tokens / median_seconds
  std::vector<double> seconds;   // every timed run, in order
};

struct SpeedResult {
  std::vector<Throughput> decode;  // one per SpeedOptions::decode_batches, in that order
  Throughput prefill;
  int64_t prefill_len = 0;
  int64_t prompt_len = 0;
  int threads = 0;       // at::get_num_threads() during the measurement
  std::string device;    // "cpu", "cuda:0", ...
};

// Validates the options against the model's config, then measures as described above.
SpeedResult measure_speed(model::GptJImpl& model, const SpeedOptions& options);

// The two measurements alone (options validated by the caller).
Throughput measure_decode(model::GptJImpl& model, int64_t batch, const SpeedOptions& options);
Throughput measure_prefill(model::GptJImpl& model, const SpeedOptions& options);

// The median of the values (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> values);

}  // namespace cook::infer

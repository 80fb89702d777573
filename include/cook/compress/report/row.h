// One line of the compression report: a model variant measured against the dense reference on
// the same evaluation tokens, on the same machine.
//
// Definitions (BMCook's and llama.cpp's):
//   relative_performance  reference loss / this loss (> 1: better than the reference)
//   kl                    mean over tokens of KL(reference ‖ this) of the next-token distributions
//   top1_agreement        fraction of tokens where both put the same token first
//   speedup               this tokens/s / the dense row's tokens/s, per measurement
//   peak_rss_bytes        VmHWM after this model's measurement, the high-water mark having been
//                         reset just before it (peak_rss_scoped). It covers the whole process:
//                         the reference model (held for the comparison) is resident too. When the
//                         reset fails, it is the process lifetime's peak and peak_rss_scoped false.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cook/compress/report/parameters.h"
#include "cook/infer/speed.h"
#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::compress::report {

struct MeasureOptions {
  int64_t eval_batches = 0;  // batches of the evaluation source (0: all)
  bool speed = true;         // measure decode and prefill speed
  infer::SpeedOptions speed_options;
};

struct ModelRow {
  std::string name;
  std::string passes;  // the compression applied, e.g. "P+D+Q" or "dense"
  ParameterCounts parameters;
  std::vector<std::string> artefacts;  // the files (or folders) the model is stored in
  int64_t artefact_bytes = 0;          // their size on disk, together

  double loss = 0.0;  // mean next-token cross-entropy (nats) on the evaluation tokens
  double perplexity = 0.0;
  double reference_loss = 0.0;  // the reference's, on the same tokens
  double relative_performance = 0.0;
  double kl = 0.0;
  double top1_agreement = 0.0;
  int64_t eval_tokens = 0;

  std::optional<infer::SpeedResult> speed;     // absent when not measured
  std::vector<std::optional<double>> decode_speedup;  // per speed->decode entry; absent without a dense figure
  std::optional<double> prefill_speedup;

  int64_t peak_rss_bytes = 0;
  int64_t rss_before_bytes = 0;  // VmRSS when the measurement started
  bool peak_rss_scoped = false;
  double measure_seconds = 0.0;  // wall time of the whole measurement
};

// Total size of the files; a folder counts every regular file under it. Throws cook::Error
// naming a path that does not exist.
int64_t artefact_size(const std::vector<std::string>& paths);

// Measures `model` against `reference` (which may be the same model: the dense row) on at most
// options.eval_batches batches of `source`, then its speed (options.speed). `dense` is the dense
// row for the speedups; without it they are set only when `model` is `reference` (1 by
// definition of the ratio), else left absent. Restores both models' training modes.
ModelRow measure_model(const std::string& name, const std::string& passes, model::GptJ& model,
                       model::GptJ& reference, const train::EvalSource& source,
                       const std::vector<std::string>& artefacts, const MeasureOptions& options,
                       const ModelRow* dense = nullptr);

// Sets the row's speedups from the dense row's speed (matching decode entries by batch size).
void set_speedups(ModelRow& row, const ModelRow& dense);

nlohmann::json to_json(const ModelRow& row);

}  // namespace cook::compress::report

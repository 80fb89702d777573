// The flow of `cook compress`, step by step, each resumable:
//   1. the dense model: model.load, or trained for model.dense_steps and cached in
//      <save_dir>/dense/model.safetensors (a second run reuses it; an interrupted one resumes);
//   2. compression training of the student (the dense model with the passes attached, passes.h)
//      in <save_dir>/compressed-<passes> (e.g. compressed-pdq: checkpoints, metrics.jsonl; an
//      interrupted run resumes). Several combinations share one save dir and its dense model;
//   3. export: compressed-<passes>/model.safetensors (masks applied), and with quantization the
//      int8 artefact model-int8.safetensors;
//   4. with MoEfication: experts and routers (moefy_trained.h), compressed-<passes>/moe.safetensors.
// The report (report step) measures what step 3 and 4 wrote.
#pragma once
#include <optional>
#include <ostream>
#include <string>

#include "cook/compress/plan/config.h"
#include "cook/compress/plan/moefy_trained.h"
#include "cook/model/gptj.h"
#include "cook/train/trainer.h"

namespace cook::compress::plan {

struct RunOptions {
  std::string save_dir;  // required
  bool progress = true;
};

// Step 1. Returns the dense checkpoint's path, or "" when neither model.load nor dense_steps is
// given (the student then starts from the preset's initialization).
std::string prepare_dense(const CompressConfig& c, const RunOptions& run, std::ostream& log);

struct CompressedModel {
  model::GptJ model{nullptr};        // the trained student as it was trained (passes attached, experts in place)
  train::TrainResult training;
  std::string checkpoint;            // step 3
  std::string int8_artefact;         // step 3, with quantization and export.int8
  std::optional<MoefyReport> moe;    // step 4
};

// Steps 2–4 from the dense checkpoint (may be "", see prepare_dense).
CompressedModel compress(const CompressConfig& c, const std::string& dense_checkpoint, const RunOptions& run,
                         std::ostream& log);

}  // namespace cook::compress::plan

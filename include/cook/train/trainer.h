// The training engine every compression method runs inside: AdamW with fp32 master weights, a
// learning-rate schedule, gradient accumulation and clipping, evaluation, atomic checkpoints with
// exact resume, skipped non-finite steps, JSON-lines metrics and a progress bar.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/core/folder_lock.h"
#include "cook/model/gptj.h"
#include "cook/train/adamw.h"
#include "cook/train/batch.h"
#include "cook/train/evaluate.h"
#include "cook/train/extension.h"
#include "cook/train/lr_schedule.h"
#include "cook/train/parallel.h"

namespace cook::train {

struct TrainerOptions {
  int64_t steps = 100;            // optimizer steps to reach (a resumed run continues to this)
  int64_t grad_accum = 1;         // micro-batches per optimizer step
  LrSchedule schedule;
  AdamWOptions adam;
  double weight_decay = 0.01;     // applied to matrices and embeddings, never to biases or norms
  double clip_norm = 1.0;         // <= 0 disables clipping
  int64_t log_interval = 10;
  int64_t eval_interval = 0;      // 0: only at the end
  int64_t eval_batches = 0;       // 0: the whole validation source
  int64_t save_interval = 0;      // 0: only at the end
  int64_t keep_last = 3;
  // In a parallel run, one shard per rank (each rank writes what it owns) instead of one
  // consolidated checkpoint gathered onto rank 0 (checkpoint_dir.h). Either resumes on any
  // world size; alone, a process always writes the consolidated form.
  bool sharded_checkpoints = false;
  std::string save_dir;           // empty: no checkpoints, no metrics file
  int64_t max_nonfinite_in_row = 5;
  bool progress = true;           // progress bar on a terminal, plain lines otherwise
  bool stop_on_signal = true;     // SIGINT/SIGTERM save a checkpoint and end the run cleanly
  double time_limit_s = 0;        // > 0: end after the step that crosses it (evaluated, checkpointed)
};

// Checks every option's range (finite, positive where it must be); errors name the option's key.
void validate(const TrainerOptions& options);

struct TrainResult {
  int64_t steps_done = 0;
  int64_t skipped_steps = 0;
  bool stopped_by_signal = false;
  int stop_signal = 0;             // the signal's number (0: another rank's, or none)
  bool stopped_by_time_limit = false;
  std::optional<EvalResult> final_eval;
  std::string last_checkpoint;   // empty when none was written
};

class Trainer {
 public:
  Trainer(model::GptJ model, TrainerOptions options, std::shared_ptr<BatchSource> train_data,
          std::shared_ptr<EvalSource> eval_data = nullptr);

  // Before run(): extensions add losses, hooks, parameters and checkpoint state.
  void add_extension(std::shared_ptr<TrainingExtension> extension);
  // Before run() and resume(): trains as one rank of a multi-process run (see parallel.h). The
  // train source must already give this rank's share of each batch; only rank 0 writes metrics,
  // checkpoints and the progress bar, and losses and norms are the global ones.
  void set_parallel(std::shared_ptr<ParallelTraining> parallel);
  // Restores model, optimizer, schedule, data position, RNG and extension state from a
  // checkpoint folder written by this trainer ("latest" picks the newest under save_dir).
  void resume(const std::string& checkpoint);

  TrainResult run();
  EvalResult evaluate();

  // The step the next run() trains to (TrainerOptions::steps until changed).
  void set_target_steps(int64_t steps) { options_.steps = steps; }

  int64_t step() const { return step_; }
  model::GptJ& model() { return model_; }

 private:
  struct StepStats;
  void build_optimizer();
  StepStats train_step();
  // Takes the save folder's lock (the writer; core/folder_lock.h): one run per folder. Held from
  // resume() or run() until run() returns, so that a later trainer of this process may take it.
  void hold_save_dir();
  std::string save_checkpoint();
  std::string save_checkpoint_shards();
  // The writer's share of every checkpoint: the extensions' tensors and the RNG into `optimizer`,
  // and trainer.json.
  nlohmann::json add_trainer_state(std::map<std::string, torch::Tensor>& optimizer);
  void log_metrics(const nlohmann::json& record);
  void zero_all_grads();
  double global_grad_norm_and_clip();
  bool any_rank(bool local, const std::string& what);

  model::GptJ model_;
  TrainerOptions options_;
  std::shared_ptr<BatchSource> train_data_;
  std::shared_ptr<EvalSource> eval_data_;
  std::vector<std::shared_ptr<TrainingExtension>> extensions_;
  std::shared_ptr<ParallelTraining> parallel_;
  std::unique_ptr<AdamW> optimizer_;
  std::vector<torch::Tensor> trainable_;  // every trainable parameter (the optimizer may hold a shard)
  int64_t step_ = 0;
  int64_t tokens_seen_ = 0;
  FolderLock save_dir_lock_;
};

}  // namespace cook::train

// cook train: BMCook's GPT-J training flags, plus what a real run needs.
#include <CLI/CLI.hpp>


#include <cmath>
#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/train_distill.h"
#include "cook/cli/train_quant.h"
#include "cook/cli/moe_options.h"
#include "cook/cli/train_pruning.h"
#include "cook/core/error.h"
#include "cook/model/placement.h"
#include "cook/text/token_dataset.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/train/distributed/environment.h"
#include "cook/train/distributed/zero.h"
#include "cook/train/stopped_run.h"
#include "cook/train/memory_estimate.h"
#include "cook/train/token_batches.h"
#include "cook/train/trainer.h"
#include "cook/weights/checkpoint.h"

namespace cook::cli {

namespace {

struct TrainArgs {
  ModelArgs model;
  QuantArgs quant;
  std::string save_dir;
  std::string data;
  double start_lr = 0.01;   // BMCook's default (Noam: the peak is start_lr/√warmup)
  std::string schedule = "noam";
  int64_t warmup = 100;
  double min_lr = 0.0;
  int64_t log_interval = 1;
  int64_t save_interval = 1000;
  int64_t eval_interval = 0;
  int64_t eval_batches = 0;
  int64_t keep_last = 3;
  bool checkpoint_shards = false;
  int64_t resuming_step = 0;
  std::string resume;
  bool eval_only = false;
  int64_t batch_size = 8;
  int64_t seq_len = 256;
  int64_t steps = 0;
  double epochs = 0.0;
  int64_t grad_accum = 1;
  double weight_decay = 0.01;
  double clip = 1.0;
  bool no_progress = false;
  bool activation_checkpointing = false;
  double time_limit_min = 0;
  bool dry_run = false;
  // Distributed training (under torchrun or cook launch).
  int zero = 0;
  std::string dist_backend = "auto";
  double dist_timeout_s = 300;
  double bucket_mb = 25;
  // Compression passes (each wired in its own train_<method>.cpp).
  DistillArgs distill;
  PruningTrainArgs pruning;
  TrainMoeArgs moe;
};

void print_eval(const std::string& what, const train::EvalResult& e) {
  std::cout << what << ": loss " << e.loss << ", perplexity " << e.perplexity << " over " << e.tokens << " tokens\n";
}

// The rank's share of a multi-process run when torchrun's environment is there; nullptr otherwise.
std::shared_ptr<train::distributed::ZeroTraining> join_run(const TrainArgs& a, torch::Device device) {
  auto env = train::distributed::read_worker_environment();
  if (!env) {
    if (a.zero < 0 || a.zero > 3) throw Error("--zero", "expected 0, 1, 2 or 3, got " + std::to_string(a.zero));
    return nullptr;  // one process: every ZeRO stage is plain training
  }
  train::distributed::CommunicatorOptions comm;
  comm.backend = a.dist_backend;
  comm.device = device;
  comm.timeout_s = a.dist_timeout_s;
  train::distributed::ZeroOptions zero;
  zero.stage = a.zero;
  zero.bucket_mb = a.bucket_mb;
  auto communicator = std::make_shared<train::distributed::Communicator>(*env, comm);
  return std::make_shared<train::distributed::ZeroTraining>(communicator, zero);
}

// --dry-run: every check that needs no model (options, the checkpoints' configs, the token data's
// headers against the model), then the plan and the memory estimate per rank. Nothing is allocated
// or written; a run whose estimate exceeds this machine's memory (on the CPU) exits with an error.
void dry_run(const TrainArgs& a) {
  ModelArgs model_args = a.model;
  const auto quant = resolve_quant(a.quant, model_args);
  const torch::Device device = model::parse_device(model_args.device, "--device", /*require_available=*/false);
  train::TrainingShape shape;
  shape.model = model_config(model_args);
  shape.dtype = model::parse_dtype(model_args.dtype, "--dtype");
  shape.batch_size = a.batch_size;
  shape.seq_len = a.seq_len;
  shape.zero_stage = a.zero;
  if (auto env = train::distributed::read_worker_environment()) shape.world_size = env->world_size;
  shape.activation_checkpointing = a.activation_checkpointing;
  shape.quantization_aware = quant.has_value();
  shape.pruning_masks = a.pruning.use_pruning;
  shape.fused_attention = train::fused_attention_in_training();
  if (a.distill.use_kd) {
    if (a.distill.load_teacher.empty()) throw Error("--use-kd", "needs --load-teacher (the teacher's checkpoint)");
    std::optional<std::string> preset;
    if (!a.distill.teacher_model.empty()) preset = a.distill.teacher_model;
    shape.teacher = weights::read_checkpoint(a.distill.load_teacher, preset).config;
  }
  if (a.seq_len > shape.model.n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(shape.model.n_positions));
  const text::TokenDataset train_split = text::TokenDataset::open(a.data, text::kTrainSplit);
  (void)text::TokenDataset::open(a.data, text::kValidationSplit);
  check_vocabulary(shape.model, train_split);

  const train::MemoryEstimate e = train::estimate_training_memory(shape);
  std::cout << "dry run: " << (a.eval_only ? "evaluate" : "train") << " a model of "
            << shape.model.parameter_count() << " parameters (d_model " << shape.model.d_model << ", "
            << shape.model.n_layer << " blocks, vocabulary " << shape.model.vocab_size << ") on " << device.str()
            << " in " << model_args.dtype << ", batch " << a.batch_size << " x " << a.seq_len << ", ZeRO "
            << a.zero << " over " << shape.world_size << " rank(s)"
            << (shape.quantization_aware ? ", quantization-aware" : "") << (shape.pruning_masks ? ", pruned" : "")
            << (shape.teacher ? ", distilled" : "") << "\n"
            << "token data: " << a.data << " (" << train_split.num_tokens() << " training tokens)\n"
            << "memory per rank at the peak of a step (estimate):\n"
            << e.table();
  train::check_fits_in_memory(e.total(), device, "--dry-run");
}

void run_train(const CLI::App& cmd, const TrainArgs& a) {
  if (a.data.empty()) throw Error("--data", "is required: a folder written by 'cook data prepare'");
  if (a.dry_run) return dry_run(a);
  // LibTorch seeds its global generator from the OS: seeded here, two runs with the same options
  // (or one run resumed any number of times) write the same checkpoint bytes.
  torch::manual_seed(static_cast<uint64_t>(a.model.seed));
  ModelArgs model_args = a.model;
  // Under torchrun each local rank takes its own GPU: --device cuda means cuda:LOCAL_RANK.
  if (auto env = train::distributed::read_worker_environment(); env && model_args.device == "cuda")
    model_args.device = "cuda:" + std::to_string(env->local_rank);
  const auto quant = resolve_quant(a.quant, model_args);
  ModelSetup setup = build_model(model_args);
  if (quant) attach_quant(*setup.model, *quant);
  apply_moe(setup.model, a.moe.moe);
  auto train_split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, text::kTrainSplit));
  auto valid_split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, text::kValidationSplit));
  check_vocabulary(setup.model->config(), *train_split);
  // Flipped bytes in a shard would be trained on silently: every byte is checked once up front.
  train_split->verify();
  valid_split->verify();
  if (a.seq_len > setup.model->config().n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(setup.model->config().n_positions));
  auto eval_source = std::make_shared<train::TokenEvalSource>(valid_split, a.batch_size, a.seq_len);

  auto parallel = join_run(a, setup.model->parameters().front().device());
  const bool writer = !parallel || parallel->is_writer();
  train::TrainerOptions o;
  train::TokenBatchOptions batches{a.batch_size, a.seq_len, a.model.seed, parallel ? parallel->rank() : 0,
                                   parallel ? parallel->world_size() : 1};
  auto train_source = std::make_shared<train::TokenBatchSource>(train_split, batches);
  if (a.steps > 0 && a.epochs > 0) throw Error("--steps", "give --steps or --epochs, not both");
  o.steps = a.steps;
  if (a.epochs > 0)
    o.steps = static_cast<int64_t>(std::ceil(a.epochs * train_source->batches_per_epoch() / double(a.grad_accum)));
  if (o.steps <= 0 && !a.eval_only) throw Error("--steps", "give --steps N or --epochs E (N, E > 0)");
  o.grad_accum = a.grad_accum;
  o.schedule.kind = train::parse_schedule_kind(a.schedule, "--schedule");
  o.schedule.start_lr = a.start_lr;
  o.schedule.warmup_steps = a.warmup;
  o.schedule.total_steps = o.steps;
  o.schedule.min_lr = a.min_lr;
  o.weight_decay = a.weight_decay;
  o.clip_norm = a.clip;
  o.log_interval = a.log_interval;
  o.eval_interval = a.eval_interval;
  o.eval_batches = a.eval_batches;
  o.save_interval = a.save_interval;
  o.keep_last = a.keep_last;
  o.sharded_checkpoints = a.checkpoint_shards;
  o.save_dir = a.save_dir;
  o.progress = !a.no_progress;
  if (a.time_limit_min < 0) throw Error("--time-limit", "must not be negative");
  o.time_limit_s = a.time_limit_min * 60.0;

  // Stage 3 keeps one block whole at a time only when blocks are recomputed in backward.
  setup.model->set_activation_checkpointing(a.activation_checkpointing || (parallel && a.zero == 3));
  train::Trainer trainer(setup.model, o, train_source, eval_source);
  if (parallel) trainer.set_parallel(parallel);
  setup_distillation(cmd, a.distill, trainer);
  // Under ZeRO-3 the writer's forward passes gather each block from its owner: every rank runs them.
  const auto save_hidden = [&](bool write) {
    if (write || (parallel && parallel->shards_parameters()))
      save_hidden_if_asked(setup.model, a.moe, a.data, a.save_dir, a.batch_size, a.seq_len, !a.no_progress, write);
  };
  if (a.eval_only) {
    const auto e = trainer.evaluate();
    if (writer) print_eval("validation", e);
    save_hidden(writer);
    return;
  }
  attach_pruning(trainer, a.pruning);
  if (!a.resume.empty()) trainer.resume(a.resume);
  else if (a.resuming_step > 0) trainer.resume(train::checkpoint_path(a.save_dir, a.resuming_step));
  auto result = trainer.run();
  if (!writer) {
    if (!result.stopped_by_signal) save_hidden(false);
    train::throw_if_stopped(result, a.save_dir, "resume with --resume latest");
    return;
  }
  std::cout << "trained to step " << result.steps_done << " (" << result.skipped_steps << " skipped)";
  if (!result.last_checkpoint.empty()) std::cout << "; checkpoint " << result.last_checkpoint;
  std::cout << "\n";
  if (result.final_eval) print_eval("validation", *result.final_eval);
  if (!result.stopped_by_signal) save_hidden(true);
  train::throw_if_stopped(result, a.save_dir, "resume with --resume latest");
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train (or evaluate with --eval) a GPT-J-family model on token data");
  add_model_options(*cmd, args->model);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--save-dir", args->save_dir, "Folder for checkpoints and metrics.jsonl");
  cmd->add_option("--data", args->data, "Token-data folder from 'cook data prepare'");
  cmd->add_option("--start-lr", args->start_lr, "Start learning rate (Noam: peak = start-lr/sqrt(warmup))")->capture_default_str();
  cmd->add_option("--schedule", args->schedule, "Learning-rate schedule: noam, cosine or constant")->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Warm-up steps")->capture_default_str();
  cmd->add_option("--min-lr", args->min_lr, "Final learning rate of the cosine schedule")->capture_default_str();
  cmd->add_option("--log-interval", args->log_interval, "Log metrics every N steps")->capture_default_str();
  cmd->add_option("--save-interval", args->save_interval, "Checkpoint every N steps")->capture_default_str();
  cmd->add_option("--eval-interval", args->eval_interval, "Evaluate every N steps (0: at the end only)")->capture_default_str();
  cmd->add_option("--eval-batches", args->eval_batches, "Validation batches per evaluation (0: all)")->capture_default_str();
  cmd->add_option("--keep-last", args->keep_last, "Checkpoints to keep")->capture_default_str();
  cmd->add_flag("--checkpoint-shards", args->checkpoint_shards,
                "Under torchrun/cook launch: each rank writes the part of a checkpoint it owns "
                "(model.rank-R-of-W.safetensors, ...) instead of one consolidated file gathered onto rank 0; "
                "either resumes on any world size");
  cmd->add_option("--resuming-step", args->resuming_step, "Continue from the checkpoint of this step (BMCook)");
  cmd->add_option("--resume", args->resume, "Continue from a checkpoint folder, or 'latest' under --save-dir");
  cmd->add_flag("--eval", args->eval_only, "Only evaluate the model on the validation split");
  cmd->add_option("--batch-size", args->batch_size, "Windows per micro-batch")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per window")->capture_default_str();
  cmd->add_option("--steps", args->steps, "Optimizer steps to train to");
  cmd->add_option("--epochs", args->epochs, "Epochs to train (instead of --steps)");
  cmd->add_option("--grad-accum", args->grad_accum, "Micro-batches per optimizer step")->capture_default_str();
  cmd->add_option("--weight-decay", args->weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--clip-grad", args->clip, "Clip the global gradient norm to this (0: off)")->capture_default_str();
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar");
  cmd->add_flag("--dry-run", args->dry_run,
                "Check the run (options, checkpoints' configs, token data) and print the plan and the memory "
                "estimate per rank, without building the model or training");
  cmd->add_option("--time-limit", args->time_limit_min,
                  "Minutes of training after which the run evaluates, saves and ends (0: none)");
  cmd->add_flag("--activation-checkpointing", args->activation_checkpointing,
                "Recompute each block's activations in backward instead of keeping them (less memory)");
  // BMCook's compression flags.
  add_distill_options(*cmd, args->distill);
  cmd->add_flag("--use-pruning", args->pruning.use_pruning, "Use 2:4 pruning");
  cmd->add_option("--pruning-mask-path", args->pruning.mask_path, "Pruning masks file (loaded if it exists, else saved)");
  add_pruning_train_options(*cmd, args->pruning);
  add_train_moe_options(*cmd, args->moe);
  add_quant_options(*cmd, args->quant);
  cmd->add_option("--zero", args->zero,
                  "Under torchrun/cook launch: 0 data parallel, 1 + sharded optimizer state, 2 + sharded gradients, "
                  "3 + parameters sharded per block (turns on --activation-checkpointing)")
      ->capture_default_str();
  cmd->add_option("--dist-backend", args->dist_backend, "Process group: auto (nccl on CUDA, else gloo), gloo or nccl")
      ->capture_default_str();
  cmd->add_option("--dist-timeout", args->dist_timeout_s,
                  "Seconds a collective may wait for the other ranks before the run stops with an error naming them")
      ->capture_default_str();
  cmd->add_option("--bucket-mb", args->bucket_mb, "Gradient bucket size in MB")->capture_default_str();
  cmd->callback([cmd, args] { run_train(*cmd, *args); });
}

}  // namespace cook::cli

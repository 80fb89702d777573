// cook train: BMCook's GPT-J training flags, plus what a real run needs.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/train_pruning.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/train/token_batches.h"
#include "cook/train/trainer.h"

namespace cook::cli {

namespace {

struct TrainArgs {
  ModelArgs model;
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
  // Compression flags: parsed here, wired by their own passes.
  bool use_kd = false, kd_ce_logits = false, kd_mse_last_hidden = false, kd_mse_hidn = false, kd_mse_att = false,
       kd_mse_emb = false, save_hidden = false, moe = false, init_with_teacher = false;
  double kd_loss_scale = 1.0, kd_temp = 1.0;
  std::string load_teacher, moe_ckpt;
  PruningTrainArgs pruning;
  int64_t num_expert = 512, topk = 102;
};

void reject_unavailable(const CLI::App& cmd) {
  for (const char* flag : {"--use-kd", "--kd-loss-scale", "--kd-temp", "--kd-ce-logits", "--kd-mse-last-hidden",
                           "--kd-mse-hidn", "--kd-mse-att", "--kd-mse-emb", "--load-teacher", "--init-with-teacher",
                           "--save-hidden", "--moe", "--moe-ckpt",
                           "--num-expert", "--topk"}) {
    if (cmd.get_option(flag)->count() > 0)
      throw Error(flag, "is not available yet in this version of Cook (its compression pass has not landed)");
  }
}

void print_eval(const std::string& what, const train::EvalResult& e) {
  std::cout << what << ": loss " << e.loss << ", perplexity " << e.perplexity << " over " << e.tokens << " tokens\n";
}

void run_train(const CLI::App& cmd, const TrainArgs& a) {
  reject_unavailable(cmd);
  if (a.data.empty()) throw Error("--data", "is required: a folder written by 'cook data prepare'");
  ModelSetup setup = build_model(a.model);
  auto train_split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, text::kTrainSplit));
  auto valid_split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, text::kValidationSplit));
  check_vocabulary(setup.model->config(), *train_split);
  if (a.seq_len > setup.model->config().n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(setup.model->config().n_positions));
  auto eval_source = std::make_shared<train::TokenEvalSource>(valid_split, a.batch_size, a.seq_len);

  train::TrainerOptions o;
  train::TokenBatchOptions batches{a.batch_size, a.seq_len, a.model.seed, 0, 1};
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
  o.save_dir = a.save_dir;
  o.progress = !a.no_progress;

  train::Trainer trainer(setup.model, o, train_source, eval_source);
  if (a.eval_only) {
    print_eval("validation", trainer.evaluate());
    return;
  }
  attach_pruning(trainer, a.pruning);
  if (!a.resume.empty()) trainer.resume(a.resume);
  else if (a.resuming_step > 0) trainer.resume(train::checkpoint_path(a.save_dir, a.resuming_step));
  auto result = trainer.run();
  std::cout << "trained to step " << result.steps_done << " (" << result.skipped_steps << " skipped)";
  if (!result.last_checkpoint.empty()) std::cout << "; checkpoint " << result.last_checkpoint;
  std::cout << "\n";
  if (result.final_eval) print_eval("validation", *result.final_eval);
  if (result.stopped_by_signal) std::cout << "stopped by a signal; resume with --resume latest\n";
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
  // BMCook's compression flags.
  cmd->add_flag("--use-kd", args->use_kd, "Use knowledge distillation");
  cmd->add_option("--kd-loss-scale", args->kd_loss_scale, "KD loss is multiplied by this");
  cmd->add_option("--kd-temp", args->kd_temp, "Temperature in KD");
  cmd->add_flag("--kd-ce-logits", args->kd_ce_logits, "Soft cross-entropy on the teacher's logits");
  cmd->add_flag("--kd-mse-last-hidden", args->kd_mse_last_hidden, "MSE on the last hidden states");
  cmd->add_flag("--kd-mse-hidn", args->kd_mse_hidn, "MSE on every hidden state");
  cmd->add_flag("--kd-mse-att", args->kd_mse_att, "MSE on the attention scores");
  cmd->add_flag("--kd-mse-emb", args->kd_mse_emb, "MSE on the embeddings");
  cmd->add_option("--load-teacher", args->load_teacher, "Teacher checkpoint");
  cmd->add_flag("--init-with-teacher", args->init_with_teacher, "Initialize the student with the teacher");
  cmd->add_flag("--use-pruning", args->pruning.use_pruning, "Use 2:4 pruning");
  cmd->add_option("--pruning-mask-path", args->pruning.mask_path, "Pruning masks file (loaded if it exists, else saved)");
  add_pruning_train_options(*cmd, args->pruning);
  cmd->add_flag("--save-hidden", args->save_hidden, "Save FFN inputs for MoEfication");
  cmd->add_flag("--moe", args->moe, "MoEfied FFNs");
  cmd->add_option("--moe-ckpt", args->moe_ckpt, "MoE router checkpoint");
  cmd->add_option("--num-expert", args->num_expert, "Number of experts");
  cmd->add_option("--topk", args->topk, "Experts used per token");
  cmd->callback([cmd, args] { run_train(*cmd, *args); });
}

}  // namespace cook::cli

#include "cook/train/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>

#include "cook/core/error.h"
#include "cook/core/folder_lock.h"
#include "cook/core/progress.h"
#include "cook/core/resources.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/train/stop_signal.h"

namespace cook::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool is_decayed(const std::string& name, const torch::Tensor& p) {
  // Matrices and embeddings decay; biases and layer-norm gains do not.
  return p.dim() >= 2 && name.find(".ln") == std::string::npos && name.rfind("ln_", 0) != 0;
}

torch::Tensor rng_state() { return at::detail::getDefaultCPUGenerator().get_state(); }
void set_rng_state(const torch::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle to the shared generator
  generator.set_state(state);
}

}  // namespace

void validate(const TrainerOptions& o) {
  auto finite = [](const char* key, double v) {
    if (!std::isfinite(v)) throw Error(key, "must be a finite number, got " + std::to_string(v));
  };
  auto positive = [&](const char* key, double v) {
    finite(key, v);
    if (v <= 0) throw Error(key, "must be positive, got " + std::to_string(v));
  };
  auto not_negative = [&](const char* key, double v) {
    finite(key, v);
    if (v < 0) throw Error(key, "must not be negative, got " + std::to_string(v));
  };
  not_negative("steps", double(o.steps));
  if (o.grad_accum < 1) throw Error("grad_accum", "must be at least 1, got " + std::to_string(o.grad_accum));
  positive("start_lr", o.schedule.start_lr);
  not_negative("warmup", double(o.schedule.warmup_steps));
  not_negative("min_lr", o.schedule.min_lr);
  not_negative("weight_decay", o.weight_decay);
  finite("clip_grad", o.clip_norm);  // <= 0 turns clipping off
  not_negative("log_interval", double(o.log_interval));
  not_negative("eval_interval", double(o.eval_interval));
  not_negative("eval_batches", double(o.eval_batches));
  not_negative("save_interval", double(o.save_interval));
  not_negative("keep_last", double(o.keep_last));
  not_negative("time_limit", o.time_limit_s);
  for (auto [key, beta] : {std::pair{"adam_beta1", o.adam.beta1}, std::pair{"adam_beta2", o.adam.beta2}})
    if (!(beta >= 0 && beta < 1)) throw Error(key, "must be in [0, 1), got " + std::to_string(beta));
  positive("adam_eps", o.adam.eps);
}

struct Trainer::StepStats {
  double loss = 0.0;        // total (task + extension terms), mean over micro-batches
  double lm_loss = 0.0;
  std::map<std::string, double> terms;
  double grad_norm = 0.0;
  double lr = 0.0;
  int64_t tokens = 0;
  bool skipped = false;
};

Trainer::Trainer(model::GptJ model, TrainerOptions options, std::shared_ptr<BatchSource> train_data,
                 std::shared_ptr<EvalSource> eval_data)
    : model_(std::move(model)),
      options_(std::move(options)),
      train_data_(std::move(train_data)),
      eval_data_(std::move(eval_data)) {
  validate(options_);
}

void Trainer::hold_save_dir() {
  if (options_.save_dir.empty() || save_dir_lock_.held() || (parallel_ && !parallel_->is_writer())) return;
  save_dir_lock_ = FolderLock(options_.save_dir);
}

void Trainer::add_extension(std::shared_ptr<TrainingExtension> extension) {
  if (optimizer_) throw Error("trainer", "extension '" + extension->name() + "' added after training started");
  extensions_.push_back(std::move(extension));
}

void Trainer::set_parallel(std::shared_ptr<ParallelTraining> parallel) {
  if (optimizer_) throw Error("trainer", "set_parallel after training started");
  parallel_ = std::move(parallel);
}

void Trainer::build_optimizer() {
  ParamGroup decay{"decay", {}, options_.weight_decay, 1.0};
  ParamGroup no_decay{"no_decay", {}, 0.0, 1.0};
  for (const auto& item : model_->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (is_decayed(item.key(), item.value()) ? decay : no_decay).params.push_back({item.key(), item.value()});
  }
  std::vector<ParamGroup> groups{decay, no_decay};
  for (const auto& ext : extensions_)
    for (auto& g : ext->parameter_groups()) groups.push_back(std::move(g));
  trainable_.clear();
  for (const auto& g : groups)
    for (const auto& p : g.params) trainable_.push_back(p.tensor);
  if (parallel_) {
    parallel_->attach_model(model_);
    groups = parallel_->shard_optimizer(groups);
    for (const auto& ext : extensions_) ext->join(*parallel_);
  }
  optimizer_ = std::make_unique<AdamW>(std::move(groups), options_.adam);
}

void Trainer::zero_all_grads() {
  for (auto& p : trainable_) {
    auto& g = p.mutable_grad();
    if (g.defined()) g = torch::Tensor();
  }
}

double Trainer::global_grad_norm_and_clip() {
  if (!parallel_) return clip_grad_norm(trainable_, options_.clip_norm);
  torch::NoGradGuard no_grad;
  // Each rank adds the squares of the gradients it owns; the sum over ranks is the global norm².
  double local = 0.0;
  for (const auto& p : parallel_->owned_parameters())
    if (p.grad().defined()) local += p.grad().to(torch::kFloat32).pow(2).sum().item<double>();
  const double norm = std::sqrt(parallel_->sum({local}, "gradient norm")[0]);
  if (options_.clip_norm > 0.0 && std::isfinite(norm) && norm > options_.clip_norm) {
    const double scale = options_.clip_norm / (norm + 1e-6);
    for (auto& p : trainable_)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
  return norm;
}

bool Trainer::any_rank(bool local, const std::string& what) {
  if (!parallel_) return local;
  return parallel_->sum({local ? 1.0 : 0.0}, what)[0] > 0.0;
}

Trainer::StepStats Trainer::train_step() {
  StepStats stats;
  zero_all_grads();
  const double scale = 1.0 / static_cast<double>(options_.grad_accum);
  const torch::Device device = model_->parameters().front().device();
  bool finite = true;
  for (int64_t micro = 0; micro < options_.grad_accum; ++micro) {
    Batch batch = train_data_->next().to(device);
    model::ForwardInput input{batch.input_ids, batch.attention_mask, {}};
    for (const auto& ext : extensions_) ext->request(input.request);
    model::ForwardOutput out = model_->forward(input);
    torch::Tensor lm = language_model_loss(out.logits, batch.labels);
    LossTerms terms;
    for (const auto& ext : extensions_) ext->add_losses(batch, out, terms);
    torch::Tensor total = lm;
    for (const auto& [name, value] : terms) total = total + value;
    const double total_value = total.item<double>();
    finite = finite && std::isfinite(total_value);
    stats.loss += total_value * scale;
    stats.lm_loss += lm.item<double>() * scale;
    for (const auto& [name, value] : terms) stats.terms[name] += value.item<double>() * scale;
    stats.tokens += batch.target_count();
    if (parallel_) parallel_->prepare_backward(micro + 1 == options_.grad_accum);
    (total * scale).backward();
  }
  if (parallel_) {
    parallel_->finish_gradients();
    // The global mean loss (every rank's micro-batches hold the same number of windows) and the
    // global token count.
    std::vector<double> local{stats.loss, stats.lm_loss, static_cast<double>(stats.tokens)};
    for (const auto& [name, value] : stats.terms) local.push_back(value);
    const auto global = parallel_->sum(local, "loss");
    const double world = static_cast<double>(parallel_->world_size());
    stats.loss = global[0] / world;
    stats.lm_loss = global[1] / world;
    stats.tokens = static_cast<int64_t>(global[2]);
    size_t k = 3;
    for (auto& [name, value] : stats.terms) value = global[k++] / world;
    finite = std::isfinite(stats.loss);  // a non-finite loss on any rank makes the sum non-finite
  }
  for (const auto& ext : extensions_) ext->before_step(step_ + 1);
  stats.grad_norm = global_grad_norm_and_clip();
  if (!finite || !std::isfinite(stats.grad_norm)) {
    stats.skipped = true;
    zero_all_grads();
    return stats;
  }
  stats.lr = options_.schedule.at(step_ + 1);
  optimizer_->step(stats.lr);
  if (parallel_) parallel_->after_optimizer_step();
  ++step_;
  for (const auto& ext : extensions_) ext->after_step(step_);
  return stats;
}

EvalResult Trainer::evaluate() {
  if (!eval_data_) return {};
  return train::evaluate(model_, *eval_data_, options_.eval_batches);
}

nlohmann::json Trainer::add_trainer_state(std::map<std::string, torch::Tensor>& optimizer) {
  nlohmann::json ext_meta = nlohmann::json::object();
  for (const auto& ext : extensions_) {
    nlohmann::json meta = nlohmann::json::object();
    std::map<std::string, torch::Tensor> tensors;
    ext->save_state(tensors, meta);
    for (auto& [k, v] : tensors) optimizer["extension." + ext->name() + "." + k] = v;
    ext_meta[ext->name()] = meta;
  }
  optimizer["trainer.rng_state"] = rng_state();
  return {{"step", step_},
          {"optimizer_steps", optimizer_->steps_taken()},
          {"tokens_seen", tokens_seen_},
          {"data_position", train_data_->position()},
          {"schedule", {{"kind", schedule_kind_name(options_.schedule.kind)},
                        {"start_lr", options_.schedule.start_lr},
                        {"warmup_steps", options_.schedule.warmup_steps},
                        {"total_steps", options_.schedule.total_steps}}},
          {"extensions", ext_meta}};
}

std::string Trainer::save_checkpoint() {
  if (options_.save_dir.empty()) return "";
  if (parallel_ && options_.sharded_checkpoints) return save_checkpoint_shards();
  CheckpointContents contents;
  contents.config = model_->config();
  if (parallel_) {
    // One consolidated checkpoint, which any world size can resume: rank 0 writes it, and each
    // tensor it does not hold is gathered onto it when its turn to be written comes, so it never
    // holds the whole sharded model or optimizer state. Every rank takes part in every gather.
    contents.model_lazy = parallel_->checkpoint_parameters(model_);
    contents.optimizer_lazy = parallel_->checkpoint_optimizer_state(*optimizer_);
    if (!parallel_->is_writer()) {
      for (const auto* list : {&contents.model_lazy, &contents.optimizer_lazy})
        for (const auto& t : *list) t.make();
      parallel_->barrier("checkpoint written");
      return checkpoint_path(options_.save_dir, step_);
    }
  } else {
    for (const auto& item : model_->named_parameters()) contents.model[item.key()] = item.value();
    contents.optimizer = optimizer_->state_tensors();
  }
  contents.trainer = add_trainer_state(contents.optimizer);
  hold_save_dir();
  std::string folder = write_checkpoint(options_.save_dir, step_, contents);
  prune_checkpoints(options_.save_dir, options_.keep_last);
  remove_leftovers(options_.save_dir);
  if (parallel_) parallel_->barrier("checkpoint written");
  return folder;
}

std::string Trainer::save_checkpoint_shards() {
  const bool writer = parallel_->is_writer();
  const std::string temp = checkpoint_temp_path(options_.save_dir, step_);
  if (writer) prepare_checkpoint_temp(temp);
  parallel_->barrier("checkpoint folder made");
  CheckpointContents part;
  part.config = model_->config();
  part.model = parallel_->owned_checkpoint_parameters(model_);
  part.optimizer = parallel_->owned_optimizer_state(*optimizer_);
  nlohmann::json trainer;
  if (writer) trainer = add_trainer_state(part.optimizer);
  write_checkpoint_part(temp, parallel_->rank(), parallel_->world_size(), part);
  parallel_->barrier("checkpoint parts written");
  std::string folder = checkpoint_path(options_.save_dir, step_);
  if (writer) {
    folder = commit_checkpoint(options_.save_dir, step_, temp, trainer);
    prune_checkpoints(options_.save_dir, options_.keep_last);
    remove_leftovers(options_.save_dir);
  }
  parallel_->barrier("checkpoint written");
  return folder;
}

void Trainer::resume(const std::string& checkpoint) {
  hold_save_dir();
  std::string folder = checkpoint;
  if (checkpoint == "latest") {
    auto all = list_checkpoints(options_.save_dir);
    if (all.empty()) throw Error("--resume", "no checkpoint under '" + options_.save_dir + "/checkpoints'");
    folder = all.back();
  }
  // The model is loaded before the optimizer is built, while every parameter is whole (a
  // parallel run may shard them when the optimizer is built).
  const bool build_after_load = !optimizer_;
  CheckpointContents contents = read_checkpoint_dir(folder);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model_->named_parameters()) {
      auto it = contents.model.find(item.key());
      if (it == contents.model.end()) throw Error(folder + "/model.safetensors", "tensor '" + item.key() + "' is missing");
      if (it->second.sizes() != item.value().sizes())
        throw Error(folder + "/model.safetensors", "tensor '" + item.key() + "' has shape " + c10::str(it->second.sizes()) +
                                                        ", the model has " + c10::str(item.value().sizes()));
      item.value().copy_(it->second);
    }
  }
  if (build_after_load) build_optimizer();
  const auto& t = contents.trainer;
  const std::string where = folder + "/trainer.json";
  try {
    step_ = t.at("step").get<int64_t>();
    tokens_seen_ = t.at("tokens_seen").get<int64_t>();
    optimizer_->load_state_tensors(contents.optimizer, t.at("optimizer_steps").get<int64_t>(),
                                   folder + "/optimizer.safetensors");
    train_data_->restore(t.at("data_position"));
    for (const auto& ext : extensions_) {
      std::map<std::string, torch::Tensor> tensors;
      const std::string prefix = "extension." + ext->name() + ".";
      for (const auto& [k, v] : contents.optimizer)
        if (k.rfind(prefix, 0) == 0) tensors[k.substr(prefix.size())] = v;
      const auto& metas = t.at("extensions");
      ext->load_state(tensors, metas.contains(ext->name()) ? metas.at(ext->name()) : nlohmann::json::object());
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, e.what());
  }
  auto rng = contents.optimizer.find("trainer.rng_state");
  if (rng == contents.optimizer.end()) throw Error(folder + "/optimizer.safetensors", "tensor 'trainer.rng_state' is missing");
  set_rng_state(rng->second.clone());
}

void Trainer::log_metrics(const nlohmann::json& record) {
  if (options_.save_dir.empty() || (parallel_ && !parallel_->is_writer())) return;
  std::ofstream out(options_.save_dir + "/metrics.jsonl", std::ios::app);
  out << record.dump() << "\n";
  if (!out) throw Error(options_.save_dir + "/metrics.jsonl", "cannot append metrics");
}

TrainResult Trainer::run() {
  if (!optimizer_) build_optimizer();
  const bool writer = !parallel_ || parallel_->is_writer();
  hold_save_dir();
  std::optional<StopSignal> stop;
  if (options_.stop_on_signal) stop.emplace();
  model_->train();
  TrainResult result;
  const int64_t first_step = step_;
  Progress::Options bar_options;
  bar_options.label = "train";
  bar_options.total = options_.steps - first_step;
  bar_options.item_name = "steps";
  bar_options.mode = options_.progress && writer ? Progress::Mode::automatic : Progress::Mode::off;
  Progress bar(bar_options);
  int64_t nonfinite_in_row = 0;
  const auto run_start = Clock::now();
  auto window_start = run_start;
  int64_t window_tokens = 0;
  while (step_ < options_.steps) {
    const int64_t attempted = step_ + 1;
    StepStats stats = train_step();
    if (stats.skipped) {
      ++result.skipped_steps;
      ++nonfinite_in_row;
      bar.message("step " + std::to_string(attempted) + ": non-finite " +
                  (std::isfinite(stats.loss) ? "gradient (norm " + std::to_string(stats.grad_norm) + ")"
                                             : "loss (" + std::to_string(stats.loss) + ")") +
                  ", step skipped");
      log_metrics({{"step", attempted}, {"skipped", true}, {"loss", stats.loss}, {"grad_norm", stats.grad_norm}});
      if (nonfinite_in_row >= options_.max_nonfinite_in_row)
        throw Error("training", std::to_string(nonfinite_in_row) + " non-finite steps in a row at step " +
                                    std::to_string(attempted) + "; stopped (the last checkpoint is intact)");
      continue;
    }
    nonfinite_in_row = 0;
    tokens_seen_ += stats.tokens;
    window_tokens += stats.tokens;
    bar.set_note("step " + std::to_string(step_) + "  loss " + format_fixed(stats.loss, 3) + "  lr " +
                 format_scientific(stats.lr, 2));
    bar.set(step_ - first_step);
    if (options_.log_interval > 0 && step_ % options_.log_interval == 0) {
      const double elapsed = seconds_since(window_start);
      nlohmann::json record = {{"step", step_},
                               {"loss", stats.loss},
                               {"lm_loss", stats.lm_loss},
                               {"lr", stats.lr},
                               {"grad_norm", stats.grad_norm},
                               {"tokens", tokens_seen_},
                               {"tokens_per_s", elapsed > 0 ? window_tokens / elapsed : 0.0},
                               {"memory_mb", resident_memory_bytes() / 1048576.0}};
      for (const auto& [name, value] : stats.terms) record[name] = value;
      log_metrics(record);
      window_start = Clock::now();
      window_tokens = 0;
    }
    const bool last = step_ == options_.steps;
    if (!last && options_.eval_interval > 0 && step_ % options_.eval_interval == 0 && eval_data_) {
      EvalResult e = evaluate();
      bar.message("step " + std::to_string(step_) + ": validation loss " + format_fixed(e.loss, 4) +
                  ", perplexity " + format_fixed(e.perplexity, 2));
      log_metrics({{"step", step_}, {"eval_loss", e.loss}, {"eval_ppl", e.perplexity}, {"eval_tokens", e.tokens}});
    }
    if (!last && options_.save_interval > 0 && step_ % options_.save_interval == 0)
      result.last_checkpoint = save_checkpoint();
    // Every rank must stop at the same step: the decisions are agreed on (any rank's counts).
    const bool time_up = any_rank(
        options_.time_limit_s > 0 && step_ < options_.steps && seconds_since(run_start) >= options_.time_limit_s,
        "time limit");
    const bool signalled = stop ? any_rank(stop->requested(), "stop signal") : false;
    if (time_up) {
      result.stopped_by_time_limit = true;
      bar.message("time limit of " + format_duration(options_.time_limit_s) + " reached at step " +
                  std::to_string(step_) + ": evaluating, saving a checkpoint and stopping");
      break;
    }
    if (signalled) {
      result.stopped_by_signal = true;
      result.stop_signal = stop->signal_number();
      bar.message(stop->requested() ? "signal " + std::to_string(stop->signal_number()) + " received: saving a checkpoint and stopping"
                                    : "another rank received a signal: saving a checkpoint and stopping");
      break;
    }
  }
  bar.finish();
  result.steps_done = step_;
  if (!result.stopped_by_signal && eval_data_) {
    result.final_eval = evaluate();
    log_metrics({{"step", step_},
                 {"eval_loss", result.final_eval->loss},
                 {"eval_ppl", result.final_eval->perplexity},
                 {"eval_tokens", result.final_eval->tokens}});
  }
  std::string saved = save_checkpoint();
  if (!saved.empty()) result.last_checkpoint = saved;
  save_dir_lock_ = FolderLock();  // the run is over: a later trainer of this process may take the folder
  return result;
}

}  // namespace cook::train

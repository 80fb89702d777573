#include "cook/compress/plan/pipeline.h"

#include <filesystem>

#include "cook/compress/distill/teacher.h"
#include "cook/compress/plan/passes.h"
#include "cook/compress/quant/artefact.h"
#include "cook/core/error.h"
#include "cook/core/resources.h"
#include "cook/model/placement.h"
#include "cook/text/token_dataset.h"
#include "cook/train/checkpoint_dir.h"
#include "cook/train/stopped_run.h"
#include "cook/train/token_batches.h"
#include "cook/weights/checkpoint.h"

namespace cook::compress::plan {

namespace fs = std::filesystem;

namespace {

struct Splits {
  std::shared_ptr<text::TokenDataset> train, validation;
};

Splits open_splits(const CompressConfig& c, const model::ModelConfig& config) {
  const std::string where = c.source + ": data.tokens";
  if (c.data.tokens.empty()) throw Error(where, "is required: a folder written by 'cook data prepare' (or --data)");
  Splits s;
  try {
    s.train = std::make_shared<text::TokenDataset>(text::TokenDataset::open(c.data.tokens, text::kTrainSplit));
    s.validation = std::make_shared<text::TokenDataset>(text::TokenDataset::open(c.data.tokens, text::kValidationSplit));
    // Flipped bytes in a shard would be trained on silently: every byte is checked once up front.
    s.train->verify();
    s.validation->verify();
  } catch (const std::exception& e) {
    rethrow_with_context(where, e);
  }
  const int64_t vocab = s.train->manifest().tokenizer.vocab_size;
  if (vocab > config.vocab_size)
    throw Error(where, "its vocabulary of " + std::to_string(vocab) + " ids does not fit the model's " +
                           std::to_string(config.vocab_size));
  if (c.training.seq_len > config.n_positions)
    throw Error(c.source + ": training.seq_len", std::to_string(c.training.seq_len) +
                                                     " is longer than the model's context of " +
                                                     std::to_string(config.n_positions));
  return s;
}

train::TrainerOptions trainer_options(const CompressConfig& c, int64_t steps, double start_lr, int64_t warmup,
                                      const std::string& dir, bool progress) {
  const TrainingSection& t = c.training;
  train::TrainerOptions o;
  o.steps = steps;
  o.grad_accum = t.grad_accum;
  o.schedule.kind = train::parse_schedule_kind(t.schedule, c.source + ": training.schedule");
  o.schedule.start_lr = start_lr;
  o.schedule.warmup_steps = std::min(warmup, steps);
  o.schedule.total_steps = steps;
  o.schedule.min_lr = t.min_lr;
  o.weight_decay = t.weight_decay;
  o.clip_norm = t.clip_grad;
  o.log_interval = t.log_interval;
  o.eval_interval = t.eval_interval;
  o.eval_batches = t.eval_batches;
  o.save_interval = t.save_interval;
  o.save_dir = dir;
  o.progress = progress;
  o.time_limit_s = t.time_limit_min * 60.0;
  return o;
}

std::shared_ptr<train::TokenBatchSource> batches(const CompressConfig& c, const Splits& s) {
  return std::make_shared<train::TokenBatchSource>(
      s.train, train::TokenBatchOptions{c.training.batch_size, c.training.seq_len, static_cast<uint64_t>(c.model.seed), 0, 1});
}

std::shared_ptr<train::TokenEvalSource> validation(const CompressConfig& c, const Splits& s) {
  return std::make_shared<train::TokenEvalSource>(s.validation, c.training.batch_size, c.training.seq_len);
}

void resume_if_interrupted(train::Trainer& trainer, const std::string& dir, std::ostream& log) {
  if (train::list_checkpoints(dir).empty()) return;
  log << "resuming from the latest checkpoint in " << dir << "\n";
  trainer.resume("latest");
}

model::GptJ model_from(const std::string& checkpoint, const std::string& preset, const model::ModelConfig& config) {
  model::GptJ m(config);
  weights::Checkpoint ckpt = weights::read_checkpoint(checkpoint, preset);
  ckpt.config = config;  // a ReLU student takes the GeLU model's weights, less the fc_in biases it has not
  if (!config.fc_in_bias)
    for (int64_t i = 0; i < config.n_layer; ++i) ckpt.tensors.erase("blocks." + std::to_string(i) + ".ffn.fc_in.bias");
  weights::load_into(*m, std::move(ckpt));
  return m;
}

// The models train on model.device in model.dtype; the trainer keeps fp32 master weights for bf16.
void place_for_training(model::GptJ& m, const CompressConfig& c) {
  m->to(model::parse_device(c.model.device, c.source + ": model.device"),
        model::parse_dtype(c.model.dtype, c.source + ": model.dtype"));
}

// Options whose validity depends on the model's shape, checked before any training, so that a
// mistake never surfaces only after the dense phase, the compression and the export.
void check_against_model(const CompressConfig& c, const model::ModelConfig& dense) {
  const model::ModelConfig student = student_config(c, dense);
  const int64_t experts = c.moefication.options.num_expert;
  if (c.moefies() && student.d_ff % experts != 0)
    throw Error(c.source + ": MoEfication.num_expert", std::to_string(experts) + " experts do not divide d_ff " +
                                                           std::to_string(student.d_ff) + " into equal parts");
}

}  // namespace

std::string prepare_dense(const CompressConfig& c, const RunOptions& run, std::ostream& log) {
  if (!c.model.load.empty()) {
    if (!fs::exists(c.model.load)) throw Error(c.source + ": model.load", "no such file: " + c.model.load);
    check_against_model(c, weights::read_checkpoint(c.model.load, c.model.preset).config);
    return c.model.load;
  }
  check_against_model(c, model::preset(c.model.preset));
  if (c.model.dense_steps == 0) return "";
  const std::string dir = (fs::path(run.save_dir) / "dense").string();
  const std::string cached = (fs::path(dir) / "model.safetensors").string();
  if (fs::exists(cached)) {
    log << "dense model: " << cached << " (cached)\n";
    return cached;
  }
  const model::ModelConfig config = model::preset(c.model.preset);
  torch::manual_seed(static_cast<uint64_t>(c.model.seed));
  model::GptJ dense(config);
  place_for_training(dense, c);
  const Splits splits = open_splits(c, config);
  log << "dense model: training " << c.model.preset << " for " << c.model.dense_steps << " steps in " << dir << "\n";
  train::Trainer trainer(dense, trainer_options(c, c.model.dense_steps, c.model.dense_start_lr, c.model.dense_warmup, dir, run.progress),
                         batches(c, splits), validation(c, splits));
  resume_if_interrupted(trainer, dir, log);
  const train::TrainResult r = trainer.run();
  train::throw_if_stopped(r, dir, "run cook compress again to resume the dense training");
  if (r.steps_done < c.model.dense_steps)
    throw Error(dir, "dense training stopped at step " + std::to_string(r.steps_done) + " of " +
                         std::to_string(c.model.dense_steps) + "; run again to resume");
  dense->to(torch::kCPU, torch::kFloat32);
  weights::save_checkpoint(cached, *dense, config);
  return cached;
}

CompressedModel compress(const CompressConfig& c, const std::string& dense_checkpoint, const RunOptions& run,
                         std::ostream& log) {
  if (run.save_dir.empty()) throw Error("--save-dir", "is required");
  const model::ModelConfig dense_config = dense_checkpoint.empty()
                                              ? model::preset(c.model.preset)
                                              : weights::read_checkpoint(dense_checkpoint, c.model.preset).config;
  const model::ModelConfig config = student_config(c, dense_config);
  const Splits splits = open_splits(c, config);

  CompressedModel out;
  torch::manual_seed(static_cast<uint64_t>(c.model.seed));
  out.model = dense_checkpoint.empty() ? model::GptJ(config) : model_from(dense_checkpoint, c.model.preset, config);
  out.model->set_activation_checkpointing(c.training.activation_checkpointing);
  place_for_training(out.model, c);
  std::optional<distill::Teacher> teacher;
  if (c.distills()) {
    model::GptJ teacher_model = model_from(dense_checkpoint, c.model.preset, dense_config);
    place_for_training(teacher_model, c);
    teacher.emplace(teacher_model);
  }

  const fs::path dir = fs::path(run.save_dir) / c.compressed_folder();
  ensure_directory(dir.string());
  train::Trainer trainer(out.model, trainer_options(c, c.training.steps, c.training.start_lr, c.training.warmup, dir.string(), run.progress),
                         batches(c, splits), validation(c, splits));
  log << "compressing (" << c.passes_tag() << ") for " << c.training.steps << " steps in " << dir.string() << "\n";
  attach_passes(trainer, c, std::move(teacher), log);
  resume_if_interrupted(trainer, dir.string(), log);
  out.training = trainer.run();
  train::throw_if_stopped(out.training, dir.string(), "run cook compress again to resume the compression");
  // The export, the MoE split and the report run on the CPU, in float32 (exact from bf16).
  out.model->to(torch::kCPU, torch::kFloat32);

  if (c.export_.checkpoint) {
    out.checkpoint = (dir / "model.safetensors").string();
    weights::save_checkpoint(out.checkpoint, *out.model, config, {{"cook.compress.passes", c.passes_tag()}});
    log << "wrote " << out.checkpoint << "\n";
  }
  if (c.quantizes() && c.export_.int8) {
    out.int8_artefact = (dir / "model-int8.safetensors").string();
    quant::QuantOptions o = c.quantization;
    o.quantized_module = cook_module_patterns(config, o.quantized_module);  // as attach_passes selected them
    const auto names = quant::export_quantized(out.int8_artefact, *out.model, o);
    log << "wrote " << out.int8_artefact << " (" << names.size() << " quantized linears)\n";
  }
  if (c.moefies()) {
    train::TokenEvalSource train_tokens(splits.train, c.training.batch_size, c.training.seq_len);
    out.moe = moefy_trained(out.model, c, train_tokens, dir.string(), run.progress, log);
  }
  return out;
}

}  // namespace cook::compress::plan

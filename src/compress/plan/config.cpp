#include "cook/compress/plan/config.h"

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"
#include "cook/model/placement.h"
#include "cook/train/lr_schedule.h"

namespace cook::compress::plan {

namespace {

using nlohmann::json;

const json kEmpty = json::object();

const json& section_of(JsonFields& top, const char* key) {
  const json* s = top.value(key);
  return s ? *s : kEmpty;
}

ModelSection read_model(const json& j, const std::string& where) {
  ModelSection m;
  JsonFields f(j, where);
  f.string("preset", m.preset);
  f.string("load", m.load);
  f.integer("dense_steps", m.dense_steps);
  f.number("dense_start_lr", m.dense_start_lr);
  f.integer("dense_warmup", m.dense_warmup);
  f.integer("seed", m.seed);
  f.string("device", m.device);
  f.string("dtype", m.dtype);
  f.boolean("relu", m.relu);
  f.finish();
  return m;
}

DataSection read_data(const json& j, const std::string& where) {
  DataSection d;
  JsonFields f(j, where);
  f.string("tokens", d.tokens);
  f.finish();
  return d;
}

TrainingSection read_training(const json& j, const std::string& where) {
  TrainingSection t;
  JsonFields f(j, where);
  f.integer("steps", t.steps);
  f.integer("batch_size", t.batch_size);
  f.integer("seq_len", t.seq_len);
  f.number("start_lr", t.start_lr);
  f.string("schedule", t.schedule);
  f.integer("warmup", t.warmup);
  f.number("min_lr", t.min_lr);
  f.number("weight_decay", t.weight_decay);
  f.number("clip_grad", t.clip_grad);
  f.integer("grad_accum", t.grad_accum);
  f.integer("log_interval", t.log_interval);
  f.integer("eval_interval", t.eval_interval);
  f.integer("eval_batches", t.eval_batches);
  f.integer("save_interval", t.save_interval);
  f.boolean("activation_checkpointing", t.activation_checkpointing);
  f.number("time_limit_min", t.time_limit_min);
  f.finish();
  return t;
}

MoeSection read_moe(const json& j, const std::string& where) {
  MoeSection m;
  m.options.router = moe::RouterKind::Mlp;
  JsonFields f(j, where);
  moe::read_moe_fields(f, m.options);
  f.integer("split_restarts", m.split_restarts);
  f.integer("split_iterations", m.split_iterations);
  f.integer("hidden_tokens", m.hidden_tokens);
  f.integer("router_epochs", m.router_epochs);
  f.number("router_lr", m.router_lr);
  f.finish();
  return m;
}

ExportSection read_export(const json& j, const std::string& where) {
  ExportSection e;
  JsonFields f(j, where);
  f.boolean("checkpoint", e.checkpoint);
  f.boolean("int8", e.int8);
  f.finish();
  return e;
}

ReportSection read_report(const json& j, const std::string& where) {
  ReportSection r;
  JsonFields f(j, where);
  f.integer("eval_batches", r.eval_batches);
  f.boolean("speed", r.speed);
  f.integer("prompt_tokens", r.prompt_tokens);
  f.integer("decode_tokens", r.decode_tokens);
  f.integer("prefill_tokens", r.prefill_tokens);
  f.boolean("plots", r.plots);
  f.finish();
  return r;
}

void require(bool ok, const std::string& path, const std::string& what) {
  if (!ok) throw Error(path, what);
}

void require_positive(int64_t v, const std::string& path) {
  require(v > 0, path, "must be positive, got " + std::to_string(v));
}

void require_non_negative(int64_t v, const std::string& path) {
  require(v >= 0, path, "must not be negative, got " + std::to_string(v));
}

}  // namespace

std::string CompressConfig::passes_tag() const {
  std::string tag;
  auto add = [&](bool on, const char* letter) {
    if (on) tag += (tag.empty() ? "" : "+") + std::string(letter);
  };
  add(prunes(), "P");
  add(distills(), "D");
  add(quantizes(), "Q");
  add(moefies(), "M");
  return tag.empty() ? "dense" : tag;
}

namespace {
std::string letters(const CompressConfig& c) {
  std::string out;
  for (char ch : c.passes_tag())
    if (ch != '+') out += static_cast<char>(ch - 'A' + 'a');
  return out;
}
}  // namespace

std::string CompressConfig::compressed_folder() const { return "compressed-" + letters(*this); }
std::string CompressConfig::report_folder() const { return "report-" + letters(*this); }

CompressConfig compress_config_from_json(const json& j, const std::string& where) {
  CompressConfig c;
  c.source = where;
  JsonFields top(j, where);
  c.model = read_model(section_of(top, "model"), where + ": model");
  c.data = read_data(section_of(top, "data"), where + ": data");
  c.training = read_training(section_of(top, "training"), where + ": training");
  c.distillation = distill::distill_options_from_json(section_of(top, "distillation"), where + ": distillation");
  c.pruning = prune::pruning_options_from_json(section_of(top, "pruning"), where + ": pruning");
  c.quantization = quant::quant_options_from_json(section_of(top, "quantization"), where + ": quantization");
  c.moefication = read_moe(section_of(top, "MoEfication"), where + ": MoEfication");
  c.export_ = read_export(section_of(top, "export"), where + ": export");
  c.report = read_report(section_of(top, "report"), where + ": report");
  top.finish();
  validate(c);
  return c;
}

CompressConfig read_compress_config(const std::string& path) {
  return compress_config_from_json(read_json_file(path, "the compress config"), path);
}

json to_json(const CompressConfig& c) {
  const TrainingSection& t = c.training;
  const MoeSection& m = c.moefication;
  json moe = moe::to_json(m.options);
  moe.erase("moe_path");  // written by the run, not read
  moe["split_restarts"] = m.split_restarts;
  moe["split_iterations"] = m.split_iterations;
  moe["hidden_tokens"] = m.hidden_tokens;
  moe["router_epochs"] = m.router_epochs;
  moe["router_lr"] = m.router_lr;
  return {
      {"model", {{"preset", c.model.preset}, {"load", c.model.load}, {"dense_steps", c.model.dense_steps},
                 {"dense_start_lr", c.model.dense_start_lr},
                 {"dense_warmup", c.model.dense_warmup},
                 {"seed", c.model.seed}, {"device", c.model.device}, {"dtype", c.model.dtype},
                 {"relu", c.model.relu}}},
      {"data", {{"tokens", c.data.tokens}}},
      {"training",
       {{"steps", t.steps}, {"batch_size", t.batch_size}, {"seq_len", t.seq_len}, {"start_lr", t.start_lr},
        {"schedule", t.schedule}, {"warmup", t.warmup}, {"min_lr", t.min_lr}, {"weight_decay", t.weight_decay},
        {"clip_grad", t.clip_grad}, {"grad_accum", t.grad_accum}, {"log_interval", t.log_interval},
        {"eval_interval", t.eval_interval}, {"eval_batches", t.eval_batches}, {"save_interval", t.save_interval},
        {"activation_checkpointing", t.activation_checkpointing}, {"time_limit_min", t.time_limit_min}}},
      {"distillation", distill::to_json(c.distillation)},
      {"pruning", prune::to_json(c.pruning)},
      {"quantization", quant::to_json(c.quantization)},
      {"MoEfication", moe},
      {"export", {{"checkpoint", c.export_.checkpoint}, {"int8", c.export_.int8}}},
      {"report",
       {{"eval_batches", c.report.eval_batches}, {"speed", c.report.speed}, {"prompt_tokens", c.report.prompt_tokens},
        {"decode_tokens", c.report.decode_tokens}, {"prefill_tokens", c.report.prefill_tokens},
        {"plots", c.report.plots}}},
  };
}

void validate(const CompressConfig& c) {
  const std::string& w = c.source;
  const TrainingSection& t = c.training;
  require(!c.model.preset.empty(), w + ": model.preset", "must name a preset (tiny, small, gpt-j, gpt-j-6b)");
  model::parse_device(c.model.device, w + ": model.device", /*require_available=*/false);
  model::parse_dtype(c.model.dtype, w + ": model.dtype");
  require_non_negative(c.model.dense_steps, w + ": model.dense_steps");
  require_non_negative(c.model.dense_warmup, w + ": model.dense_warmup");
  require(c.model.dense_start_lr > 0, w + ": model.dense_start_lr", "must be positive");
  require(c.model.load.empty() || c.model.dense_steps == 0, w + ": model.dense_steps",
          "trains a dense model when there is none; model.load already gives one (give one of them)");
  require_positive(t.steps, w + ": training.steps");
  require_positive(t.batch_size, w + ": training.batch_size");
  require_positive(t.seq_len, w + ": training.seq_len");
  require_positive(t.grad_accum, w + ": training.grad_accum");
  require_positive(t.log_interval, w + ": training.log_interval");
  require_non_negative(t.warmup, w + ": training.warmup");
  require_non_negative(t.eval_interval, w + ": training.eval_interval");
  require_non_negative(t.eval_batches, w + ": training.eval_batches");
  require_non_negative(t.save_interval, w + ": training.save_interval");
  require(t.start_lr > 0, w + ": training.start_lr", "must be positive");
  require(t.min_lr >= 0, w + ": training.min_lr", "must not be negative");
  require(t.time_limit_min >= 0, w + ": training.time_limit_min", "must not be negative");
  train::parse_schedule_kind(t.schedule, w + ": training.schedule");

  const bool any = c.prunes() || c.distills() || c.quantizes() || c.moefies();
  require(any, w, "nothing to compress: turn on at least one of pruning.is_pruning, quantization.is_quant, "
                  "MoEfication.is_moefy, or a distillation scale (ce_scale, mse_*_scale) > 0");
  if (c.distills())
    require(!c.model.load.empty() || c.model.dense_steps > 0, w + ": distillation",
            "needs a trained teacher: give model.load (the dense checkpoint) or model.dense_steps > 0");
  if (c.prunes()) c.pruning.spec(w + ": pruning");
  if (c.pruning.is_pruning && c.pruning.ramp.enabled())
    require(c.pruning.ramp.end_step <= t.steps, w + ": pruning.ramp.end_step",
            "ends after training.steps " + std::to_string(t.steps) + ": the final sparsity would never be reached");

  const MoeSection& m = c.moefication;
  m.options.validate(w + ": MoEfication", /*need_file=*/false);
  if (c.moefies()) {
    require(m.options.moe_path.empty(), w + ": MoEfication.moe_path",
            "is written by cook compress (<save_dir>/compressed-<passes>/moe.safetensors); leave it out");
    require_positive(m.options.num_expert, w + ": MoEfication.num_expert");
    require_positive(m.split_restarts, w + ": MoEfication.split_restarts");
    require_positive(m.split_iterations, w + ": MoEfication.split_iterations");
    require_positive(m.hidden_tokens, w + ": MoEfication.hidden_tokens");
    require_positive(m.router_epochs, w + ": MoEfication.router_epochs");
    require(m.router_lr > 0, w + ": MoEfication.router_lr", "must be positive");
    require(m.options.router != moe::RouterKind::Oracle, w + ": MoEfication.router",
            "'oracle' computes every expert to choose (a measurement, not a compressed model): use mlp or centroid");
  }
  require_non_negative(c.report.eval_batches, w + ": report.eval_batches");
  require_positive(c.report.prompt_tokens, w + ": report.prompt_tokens");
  require_positive(c.report.decode_tokens, w + ": report.decode_tokens");
  require_positive(c.report.prefill_tokens, w + ": report.prefill_tokens");
}

}  // namespace cook::compress::plan

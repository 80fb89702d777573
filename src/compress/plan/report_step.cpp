#include "cook/compress/plan/report_step.h"

#include <filesystem>
#include <optional>

#include "cook/compress/moe/moefy.h"
#include "cook/compress/plan/passes.h"
#include "cook/compress/quant/artefact.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"
#include "cook/weights/checkpoint.h"

namespace cook::compress::plan {

namespace {

model::GptJ load_checkpoint(const std::string& path, const std::optional<std::string>& preset) {
  weights::Checkpoint ckpt = weights::read_checkpoint(path, preset);
  model::GptJ m(ckpt.config);
  weights::load_into(*m, std::move(ckpt));
  return m;
}

}  // namespace

model::GptJ load_exported(const CompressConfig& c, const CompressedModel& out) {
  model::GptJ m{nullptr};
  if (!out.int8_artefact.empty()) m = quant::load_quantized(out.int8_artefact);
  else if (!out.checkpoint.empty()) m = load_checkpoint(out.checkpoint, std::nullopt);  // its own config (a ReLU student differs from the preset)
  else throw Error(c.source + ": export", "nothing was exported to report on: turn export.checkpoint on");
  if (out.moe) {
    moe::MoeOptions options = c.moefication.options;
    options.moe_path = out.moe->moe_path;
    moe::moefy(*m, options);
  }
  m->eval();
  return m;
}

report::WrittenReport report_compression(const CompressConfig& c, const std::string& dense_checkpoint,
                                         const CompressedModel& out, const RunOptions& run, std::ostream& log) {
  if (dense_checkpoint.empty())
    throw Error(c.source + ": model", "the report compares with the dense model: give model.load or model.dense_steps");
  model::GptJ dense = load_checkpoint(dense_checkpoint, c.model.preset);
  dense->eval();
  model::GptJ compressed = load_exported(c, out);

  auto validation = std::make_shared<text::TokenDataset>(text::TokenDataset::open(c.data.tokens, text::kValidationSplit));
  train::TokenEvalSource source(validation, c.training.batch_size, c.training.seq_len);
  report::MeasureOptions o;
  o.eval_batches = c.report.eval_batches;
  o.speed = c.report.speed;
  o.speed_options.prompt_len = c.report.prompt_tokens;
  o.speed_options.decode_tokens = c.report.decode_tokens;
  o.speed_options.prefill_len = c.report.prefill_tokens;
  if (o.speed) o.speed_options.validate(dense->config());

  std::vector<std::string> artefacts{out.int8_artefact.empty() ? out.checkpoint : out.int8_artefact};
  if (out.moe) artefacts.push_back(out.moe->moe_path);
  log << "report: measuring the dense model and " << c.passes_tag() << " on " << c.report.eval_batches
      << " validation batches" << (o.speed ? ", then their speed" : "") << "\n";
  report::Report r;
  r.machine = report::describe_machine();
  r.settings = {{"config", c.source},
                {"data", c.data.tokens},
                {"split", "validation"},
                {"batch_size", c.training.batch_size},
                {"seq_len", c.training.seq_len},
                {"eval_batches", c.report.eval_batches},
                {"compression_steps", out.training.steps_done}};
  r.rows.push_back(report::measure_model("dense", "dense", dense, dense, source, {dense_checkpoint}, o));
  r.rows.push_back(report::measure_model(c.passes_tag(), c.passes_tag(), compressed, dense, source, artefacts, o,
                                         &r.rows.front()));
  report::WriteOptions w;
  w.plots = c.report.plots;
  const report::WrittenReport written =
      report::write_report(r, (std::filesystem::path(run.save_dir) / c.report_folder()).string(), w);
  log << written.plots.message << "\n";
  return written;
}

}  // namespace cook::compress::plan

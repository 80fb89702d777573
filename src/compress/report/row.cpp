#include "cook/compress/report/row.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "cook/core/error.h"
#include "cook/core/resources.h"
#include "cook/infer/compare.h"

namespace cook::compress::report {

namespace fs = std::filesystem;

int64_t artefact_size(const std::vector<std::string>& paths) {
  int64_t bytes = 0;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) throw Error(path, "no such file or folder (artefact)");
    if (fs::is_directory(status)) {
      for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file()) bytes += static_cast<int64_t>(entry.file_size());
    } else {
      bytes += static_cast<int64_t>(fs::file_size(path));
    }
  }
  return bytes;
}

void set_speedups(ModelRow& row, const ModelRow& dense) {
  row.decode_speedup.assign(row.speed ? row.speed->decode.size() : 0, std::nullopt);
  row.prefill_speedup.reset();
  if (!row.speed || !dense.speed) return;
  for (size_t i = 0; i < row.speed->decode.size(); ++i) {
    for (const infer::Throughput& d : dense.speed->decode)
      if (d.batch == row.speed->decode[i].batch && d.tokens_per_second > 0)
        row.decode_speedup[i] = row.speed->decode[i].tokens_per_second / d.tokens_per_second;
  }
  const infer::Throughput& p = dense.speed->prefill;
  if (p.batch == row.speed->prefill.batch && dense.speed->prefill_len == row.speed->prefill_len &&
      p.tokens_per_second > 0)
    row.prefill_speedup = row.speed->prefill.tokens_per_second / p.tokens_per_second;
}

ModelRow measure_model(const std::string& name, const std::string& passes, model::GptJ& model,
                       model::GptJ& reference, const train::EvalSource& source,
                       const std::vector<std::string>& artefacts, const MeasureOptions& options,
                       const ModelRow* dense) {
  if (options.speed) options.speed_options.validate(model->config());
  const auto start = std::chrono::steady_clock::now();
  ModelRow row;
  row.name = name;
  row.passes = passes;
  row.artefacts = artefacts;
  row.artefact_bytes = artefact_size(artefacts);
  row.peak_rss_scoped = reset_peak_resident_memory();
  row.rss_before_bytes = resident_memory_bytes();

  row.parameters = count_parameters(*model);
  const infer::Comparison c = infer::compare_to_reference(model, reference, source, options.eval_batches);
  row.loss = c.loss;
  row.perplexity = std::exp(c.loss);
  row.reference_loss = c.reference_loss;
  row.relative_performance = c.reference_loss / c.loss;
  row.kl = c.kl;
  row.top1_agreement = c.top1_agreement;
  row.eval_tokens = c.tokens;

  if (options.speed) row.speed = infer::measure_speed(*model, options.speed_options);
  if (dense != nullptr) {
    set_speedups(row, *dense);
  } else if (model.get() == reference.get()) {
    set_speedups(row, row);
  } else {
    row.decode_speedup.assign(row.speed ? row.speed->decode.size() : 0, std::nullopt);
  }
  row.peak_rss_bytes = peak_resident_memory_bytes();
  row.measure_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return row;
}

namespace {

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json throughput_json(const infer::Throughput& t, const std::optional<double>& speedup) {
  return {{"batch", t.batch},
          {"tokens", t.tokens},
          {"tokens_per_second", t.tokens_per_second},
          {"median_seconds", t.median_seconds},
          {"seconds", t.seconds},
          {"speedup", optional_json(speedup)}};
}

}  // namespace

nlohmann::json to_json(const ModelRow& r) {
  nlohmann::json j = {{"name", r.name},
                      {"passes", r.passes},
                      {"parameters", r.parameters.total},
                      {"nonzero_parameters", r.parameters.nonzero},
                      {"active_parameters_per_token", r.parameters.active},
                      {"artefacts", r.artefacts},
                      {"artefact_bytes", r.artefact_bytes},
                      {"loss", r.loss},
                      {"perplexity", r.perplexity},
                      {"reference_loss", r.reference_loss},
                      {"relative_performance", r.relative_performance},
                      {"kl", r.kl},
                      {"top1_agreement", r.top1_agreement},
                      {"eval_tokens", r.eval_tokens},
                      {"peak_rss_bytes", r.peak_rss_bytes},
                      {"rss_before_bytes", r.rss_before_bytes},
                      {"peak_rss_scope", r.peak_rss_scoped ? "measurement" : "process"},
                      {"measure_seconds", r.measure_seconds}};
  if (!r.speed) {
    j["speed"] = nullptr;
    return j;
  }
  nlohmann::json decode = nlohmann::json::array();
  for (size_t i = 0; i < r.speed->decode.size(); ++i)
    decode.push_back(throughput_json(r.speed->decode[i], i < r.decode_speedup.size() ? r.decode_speedup[i] : std::nullopt));
  nlohmann::json prefill = throughput_json(r.speed->prefill, r.prefill_speedup);
  prefill["seq_len"] = r.speed->prefill_len;
  j["speed"] = {{"device", r.speed->device},
                {"threads", r.speed->threads},
                {"prompt_len", r.speed->prompt_len},
                {"decode", decode},
                {"prefill", prefill}};
  return j;
}

}  // namespace cook::compress::report

#include "cook/compress/report/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cook/core/resources.h"
#include "cook/io/atomic_file.h"

namespace cook::compress::report {

namespace {

std::string format_count(int64_t n) {
  const double v = static_cast<double>(n);
  if (n >= 1000000000) return format_fixed(v / 1e9, 2) + " G";
  if (n >= 1000000) return format_fixed(v / 1e6, 2) + " M";
  if (n >= 10000) return format_fixed(v / 1e3, 1) + " k";
  return std::to_string(n);
}

std::string format_general(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string percent(double fraction) { return format_fixed(100.0 * fraction, 1) + " %"; }

std::string with_speedup(const infer::Throughput& t, const std::optional<double>& speedup) {
  std::string s = format_fixed(t.tokens_per_second, t.tokens_per_second >= 100 ? 0 : 1);
  if (speedup) s += " (" + format_fixed(*speedup, 2) + "×)";
  return s;
}

// The decode batch sizes that any row measured, in the order they first appear.
std::vector<int64_t> decode_batches(const Report& report) {
  std::vector<int64_t> batches;
  for (const ModelRow& r : report.rows) {
    if (!r.speed) continue;
    for (const infer::Throughput& t : r.speed->decode)
      if (std::find(batches.begin(), batches.end(), t.batch) == batches.end()) batches.push_back(t.batch);
  }
  return batches;
}

bool any_speed(const Report& report) {
  for (const ModelRow& r : report.rows)
    if (r.speed) return true;
  return false;
}

std::string table(const Report& report) {
  const std::vector<int64_t> batches = decode_batches(report);
  const bool speed = any_speed(report);
  std::ostringstream s;
  s << "| model | passes | parameters | non-zero | active / token | size on disk | loss | perplexity | relative "
       "performance | KL to dense | top-1 agreement |";
  for (int64_t b : batches) s << " decode tok/s, batch " << b << " |";
  if (speed) s << " prefill tok/s |";
  s << " peak RSS |\n|---|---|";
  for (int i = 0; i < 9; ++i) s << "---:|";
  for (size_t i = 0; i < batches.size(); ++i) s << "---:|";
  if (speed) s << "---:|";
  s << "---:|\n";
  for (const ModelRow& r : report.rows) {
    s << "| " << r.name << " | " << r.passes << " | " << format_count(r.parameters.total) << " | "
      << format_count(r.parameters.nonzero) << " | " << format_count(r.parameters.active) << " | "
      << format_bytes(static_cast<double>(r.artefact_bytes)) << " | " << format_fixed(r.loss, 4) << " | "
      << format_fixed(r.perplexity, 2) << " | " << percent(r.relative_performance) << " | "
      << format_general(r.kl, 3) << " | " << percent(r.top1_agreement) << " |";
    for (int64_t b : batches) {
      std::string cell = "–";
      if (r.speed)
        for (size_t i = 0; i < r.speed->decode.size(); ++i)
          if (r.speed->decode[i].batch == b)
            cell = with_speedup(r.speed->decode[i], i < r.decode_speedup.size() ? r.decode_speedup[i] : std::nullopt);
      s << " " << cell << " |";
    }
    if (speed) s << " " << (r.speed ? with_speedup(r.speed->prefill, r.prefill_speedup) : "–") << " |";
    s << " " << format_bytes(static_cast<double>(r.peak_rss_bytes)) << (r.peak_rss_scoped ? "" : " (process)")
      << " |\n";
  }
  return s.str();
}

std::string speed_setup(const Report& report) {
  for (const ModelRow& r : report.rows) {
    if (!r.speed) continue;
    const infer::SpeedResult& sp = *r.speed;
    std::ostringstream s;
    s << "decode: a prompt of " << sp.prompt_len << " random tokens per sequence, then "
      << (sp.decode.empty() ? 0 : sp.decode[0].tokens / sp.decode[0].batch)
      << " greedy steps with the KV cache, one new token per sequence per step, timed; prefill: one forward over "
      << sp.prefill.batch << " × " << sp.prefill_len << " tokens; median of " << sp.prefill.seconds.size()
      << " timed runs after warm-up, wall clock, on " << sp.device << " with " << sp.threads << " threads";
    return s.str();
  }
  return "not measured";
}

void write_json(const std::string& path, const nlohmann::json& j) { io::write_file_atomic(path, j.dump(2) + "\n"); }

}  // namespace

nlohmann::json to_json(const Report& report, const PlotOutcome* plots) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ModelRow& r : report.rows) rows.push_back(to_json(r));
  nlohmann::json j = {{"format", "cook.report"}, {"version", 1},          {"machine", to_json(report.machine)},
                      {"settings", report.settings}, {"rows", rows}};
  if (plots != nullptr) j["plots"] = {{"made", plots->made}, {"files", plots->files}, {"message", plots->message}};
  return j;
}

std::string render_markdown(const Report& report, const PlotOutcome* plots) {
  const MachineInfo& m = report.machine;
  std::ostringstream s;
  s << "# Compression report\n\n" << table(report) << "\n";
  s << "## Columns\n\n"
       "- **passes**: the compression applied (P pruning, D distillation, Q int8 quantization, M MoEfication).\n"
       "- **parameters**: every parameter of the model as it runs (MoE routers included); **non-zero**: those "
       "not zero, each linear's weight counted as weight ⊙ mask; **active / token**: what one token reads (an "
       "MoE FFN skips the experts it does not choose).\n"
       "- **size on disk**: the bytes of the model's file(s).\n"
       "- **loss**: mean next-token cross-entropy (nats) on the evaluation tokens; **perplexity**: e^loss.\n"
       "- **relative performance**: dense loss / this loss on the same tokens (BMCook's definition).\n"
       "- **KL to dense**: mean over tokens of KL(dense ‖ this) of the next-token distributions (nats); "
       "**top-1 agreement**: the fraction of tokens whose most likely next token is the dense model's "
       "(llama.cpp's --kl-divergence protocol).\n"
       "- **decode tok/s, batch B**: generated tokens per second with the KV cache, B sequences decoded "
       "together; **prefill tok/s**: prompt tokens per second of one forward pass; (n×) the speedup over "
       "the dense row.\n"
       "- **peak RSS**: the process's resident-memory high-water mark during this model's measurement (reset "
       "just before it; it includes the dense reference, held for the comparison); \"(process)\" marks a peak "
       "over the whole process because the reset failed.\n\n";
  s << "Speed: " << speed_setup(report) << ".\n\n";
  s << "## Machine\n\n"
    << "- CPU: " << m.cpu << ", " << m.logical_cpus << " logical CPUs; LibTorch threads: " << m.torch_threads << "\n"
    << "- memory: " << format_bytes(static_cast<double>(m.memory_bytes)) << "; LibTorch " << m.libtorch
    << "; oneDNN int8 kernels: " << (m.onednn ? "yes" : "no") << "; CUDA: " << (m.cuda ? "yes" : "no") << "\n\n";
  if (!report.settings.empty()) {
    s << "## Settings\n\n";
    for (const auto& item : report.settings.items()) s << "- " << item.key() << ": " << item.value().dump() << "\n";
    s << "\n";
  }
  s << "## Plots\n\n";
  if (plots == nullptr) {
    s << "Not asked for.\n";
  } else if (!plots->made) {
    s << plots->message << "\n";
  } else {
    for (const std::string& f : plots->files) {
      const std::string name = f.substr(f.find_last_of('/') + 1);
      s << "![" << name << "](" << name << ")\n";
    }
  }
  return s.str();
}

WrittenReport write_report(const Report& report, const std::string& dir, const WriteOptions& options) {
  ensure_directory(dir);
  WrittenReport w;
  w.json_path = dir + "/report.json";
  w.markdown_path = dir + "/report.md";
  write_json(w.json_path, to_json(report));
  const PlotOutcome* plots = nullptr;
  if (options.plots) {
    w.plots = make_plots(w.json_path, dir, options.python, options.plot_script);
    plots = &w.plots;
  } else {
    w.plots.message = "plots skipped: not asked for";
  }
  write_json(w.json_path, to_json(report, plots));
  io::write_file_atomic(w.markdown_path, render_markdown(report, plots));
  return w;
}

}  // namespace cook::compress::report

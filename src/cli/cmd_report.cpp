// cook report: measures a dense model and compressed variants of it on the same tokens and the
// same machine (size, non-zeros, loss, relative performance, KL, top-1 agreement, decode and
// prefill speed, peak memory) and writes report.json, report.md and plots into a folder.
#include <CLI/CLI.hpp>

#include <ATen/Parallel.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/moe_options.h"
#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/moefy.h"
#include "cook/compress/quant/artefact.h"
#include "cook/compress/report/report.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"

namespace cook::cli {

namespace {

namespace report = compress::report;

struct ReportArgs {
  std::string reference;
  std::string reference_name = "dense";
  std::vector<std::string> models;     // NAME=PATH
  std::vector<std::string> passes;     // NAME=LABEL
  std::vector<std::string> artefacts;  // NAME=PATH
  std::string data;
  std::string split = text::kValidationSplit;
  int64_t batch_size = 8;
  int64_t seq_len = 256;
  int64_t eval_batches = 0;
  std::string out;
  std::string device = "cpu";
  int64_t threads = 0;
  bool no_speed = false;
  bool no_plots = false;
  infer::SpeedOptions speed;
  MoeArgs moe;
  std::vector<std::string> moe_models;
};

// "NAME=VALUE" → (NAME, VALUE); the error names the flag.
std::pair<std::string, std::string> split_pair(const std::string& item, const std::string& flag, const char* value) {
  const size_t eq = item.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == item.size())
    throw Error(flag, "'" + item + "' is not NAME=" + value);
  return {item.substr(0, eq), item.substr(eq + 1)};
}

struct Variant {
  std::string name, path;
};

// The --model list in order, with names checked (unique, not the reference's) and files present.
std::vector<Variant> variants(const ReportArgs& a) {
  std::vector<Variant> out;
  std::set<std::string> names{a.reference_name};
  for (const std::string& item : a.models) {
    auto [name, path] = split_pair(item, "--model", "PATH");
    if (!names.insert(name).second)
      throw Error("--model", "the name '" + name + "' is used twice (the reference is '" + a.reference_name + "')");
    if (!std::filesystem::exists(path)) throw Error("--model", name + "=" + path + ": " + path + ": no such file");
    out.push_back({name, path});
  }
  return out;
}

// NAME=VALUE lists by name; every NAME must be the reference or a --model.
std::multimap<std::string, std::string> by_name(const std::vector<std::string>& items, const std::string& flag,
                                                const char* value, const std::set<std::string>& known) {
  std::multimap<std::string, std::string> out;
  for (const std::string& item : items) {
    auto [name, v] = split_pair(item, flag, value);
    if (known.count(name) == 0) throw Error(flag, "'" + name + "' is not the name of the reference or of a --model");
    out.emplace(name, v);
  }
  return out;
}

// The passes a model shows: Q (int8 artefact), P (over 10 % of the blocks' linear weights are
// exactly zero, or masked), M (MoEfied). Distillation leaves no trace in the weights.
std::string detect_passes(model::GptJImpl& m, const std::string& path) {
  torch::NoGradGuard no_grad;
  int64_t zeros = 0, weights = 0;
  bool moe = false;
  for (const auto& block : m.blocks()) {
    if (dynamic_cast<const compress::moe::ExpertFeedForwardImpl*>(block->ffn().get()) != nullptr) moe = true;
    for (const auto& module : block->modules(false)) {
      const auto* linear = dynamic_cast<const cook::nn::LinearImpl*>(module.get());
      if (linear == nullptr) continue;
      const torch::Tensor w = linear->has_mask() ? linear->weight * linear->mask() : linear->weight;
      zeros += w.eq(0).sum().item<int64_t>();
      weights += w.numel();
    }
  }
  std::string passes;
  auto add = [&](const char* p) { passes += (passes.empty() ? "" : "+") + std::string(p); };
  if (weights > 0 && zeros * 10 > weights) add("P");
  if (std::filesystem::is_regular_file(path) && quant::is_quantized_file(path)) add("Q");
  if (moe) add("M");
  return passes.empty() ? "none seen" : passes;
}

model::GptJ load(const std::string& path, const ReportArgs& a) {
  ModelArgs args;
  args.load = path;
  args.device = a.device;
  return build_model(args).model;
}

void run_report(const ReportArgs& a) {
  if (a.reference.empty()) throw Error("--reference", "is required: the dense model the others are compared with");
  if (a.out.empty()) throw Error("--out", "is required: the folder to write the report into");
  if (!std::filesystem::exists(a.reference)) throw Error("--reference", a.reference + ": no such file");
  if (a.threads < 0) throw Error("--threads", "must not be negative");
  if (a.eval_batches < 0) throw Error("--eval-batches", "must not be negative");
  if (a.threads > 0) at::set_num_threads(static_cast<int>(a.threads));

  const std::vector<Variant> models = variants(a);
  std::set<std::string> known{a.reference_name};
  for (const Variant& v : models) known.insert(v.name);
  const auto passes = by_name(a.passes, "--passes", "LABEL", known);
  const auto extra = by_name(a.artefacts, "--artefact", "PATH", known);
  const compress::moe::MoeOptions moe = moe_options(a.moe);
  std::set<std::string> moe_names(a.moe_models.begin(), a.moe_models.end());
  if (!moe.is_moefy && !moe_names.empty()) throw Error("--moe-models", "is given without --moe");
  if (moe.is_moefy && moe_names.empty())
    throw Error("--moe-models", "is required with --moe: the --model names to run MoEfied");
  for (const std::string& n : moe_names) {
    if (n == a.reference_name) throw Error("--moe-models", "'" + n + "' is the reference, which stays dense");
    if (known.count(n) == 0) throw Error("--moe-models", "'" + n + "' is not the name of a --model");
  }

  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, a.split));
  train::TokenEvalSource source(split, a.batch_size, a.seq_len);
  report::MeasureOptions options;
  options.eval_batches = a.eval_batches;
  options.speed = !a.no_speed;
  options.speed_options = a.speed;

  auto artefacts_of = [&](const std::string& name, const std::string& path) {
    std::vector<std::string> files{path};
    for (auto [it, end] = extra.equal_range(name); it != end; ++it) files.push_back(it->second);
    if (moe_names.count(name)) files.push_back(moe.moe_path);
    return files;
  };
  auto passes_of = [&](const std::string& name, model::GptJImpl& m, const std::string& path,
                       const std::string& fallback) {
    const auto it = passes.find(name);
    return it != passes.end() ? it->second : fallback.empty() ? detect_passes(m, path) : fallback;
  };
  auto check = [&](model::GptJ& m, const std::string& what) {
    try {
      check_vocabulary(m->config(), *split);
      if (a.seq_len > m->config().n_positions)
        throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                     std::to_string(m->config().n_positions));
      if (options.speed) options.speed_options.validate(m->config());
    } catch (const std::exception& e) {
      rethrow_with_context(what, e);
    }
  };

  report::Report r;
  r.machine = report::describe_machine();
  r.settings = {{"reference", a.reference}, {"data", a.data},       {"split", a.split},
                {"batch_size", a.batch_size}, {"seq_len", a.seq_len}, {"eval_batches", a.eval_batches}};
  if (options.speed)
    r.settings["speed"] = {{"prompt_len", a.speed.prompt_len},       {"decode_tokens", a.speed.decode_tokens},
                           {"decode_batches", a.speed.decode_batches}, {"prefill_batch", a.speed.prefill_batch},
                           {"prefill_len", a.speed.prefill_len},       {"warmup", a.speed.warmup},
                           {"repeats", a.speed.repeats}};

  model::GptJ reference = load(a.reference, a);
  check(reference, "--reference " + a.reference);
  std::cerr << "report: measuring " << a.reference_name << " (" << a.reference << ")\n";
  r.rows.push_back(report::measure_model(a.reference_name, passes_of(a.reference_name, *reference, a.reference, "dense"),
                                         reference, reference, source, artefacts_of(a.reference_name, a.reference),
                                         options));
  for (const Variant& v : models) {
    model::GptJ m = load(v.path, a);  // one variant in memory at a time, beside the reference
    if (moe_names.count(v.name)) {
      const int64_t n = compress::moe::moefy(*m, moe);
      std::cerr << "report: " << v.name << ": " << n << " FFNs MoEfied from " << moe.moe_path << " (top-" << moe.topk
                << ")\n";
    }
    check(m, "--model " + v.name);
    std::cerr << "report: measuring " << v.name << " (" << v.path << ")\n";
    r.rows.push_back(report::measure_model(v.name, passes_of(v.name, *m, v.path, ""), m, reference, source,
                                           artefacts_of(v.name, v.path), options, &r.rows.front()));
  }

  report::WriteOptions w;
  w.plots = !a.no_plots;
  const report::WrittenReport written = report::write_report(r, a.out, w);
  std::cout << report::render_markdown(r, w.plots ? &written.plots : nullptr) << "\n";
  std::cout << "report: " << written.markdown_path << ", " << written.json_path << "\n" << written.plots.message << "\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  ReportArgs& a = *args;
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Measure a dense model and compressed variants of it on the same tokens and machine, and write\n"
      "report.json, report.md and PNG plots into --out. Per model: parameters, non-zeros, parameters\n"
      "used per token, size on disk, validation loss, perplexity, relative performance (dense loss /\n"
      "loss), KL(dense || model), top-1 agreement, decode tokens/s (KV cache) at each --speed-decode-batches\n"
      "size, prefill tokens/s, speedups over dense, peak resident memory. Models are Cook checkpoints,\n"
      "Hugging Face folders or int8 artefacts (cook export --int8, run with oneDNN int8 kernels).\n"
      "Example:\n"
      "  cook report --reference dense.safetensors --model q8=q8.safetensors --model pd=pd.safetensors \\\n"
      "              --data runs/sotu --out runs/report --eval-batches 20");
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--reference", a.reference, "The dense model: the first row, and what the others are compared with")
      ->required();
  cmd->add_option("--reference-name", a.reference_name, "The reference's name in the report")->capture_default_str();
  cmd->add_option("--model", a.models, "A compressed variant as NAME=PATH (repeat for several; rows keep this order)")
      ->expected(1, -1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--passes", a.passes,
                  "NAME=LABEL: the compression a model went through, e.g. q8=P+D+Q (default: what can be seen: "
                  "P when over 10 % of the block weights are zero, Q for an int8 artefact, M with --moe; "
                  "'dense' for the reference)")
      ->expected(1, -1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--artefact", a.artefacts,
                  "NAME=PATH: another file the model needs, counted in its size on disk (the MoE file of --moe "
                  "is counted already)")
      ->expected(1, -1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--data", a.data, "Token-data folder from 'cook data prepare'")->required();
  cmd->add_option("--split", a.split, "Split to evaluate on")->capture_default_str();
  cmd->add_option("--batch-size", a.batch_size, "Evaluation windows per batch")->capture_default_str();
  cmd->add_option("--seq-len", a.seq_len, "Tokens per evaluation window")->capture_default_str();
  cmd->add_option("--eval-batches", a.eval_batches, "Evaluate on at most this many batches (0: the whole split)")
      ->capture_default_str();
  cmd->add_option("--out", a.out, "Folder to write report.json, report.md and the plots into")->required();
  cmd->add_option("--device", a.device, "Device to run the models on (cpu, cuda, cuda:N)")->capture_default_str();
  cmd->add_option("--threads", a.threads, "LibTorch CPU threads (0: LibTorch's default)")->capture_default_str();
  cmd->add_flag("--no-speed", a.no_speed, "Skip the speed measurements");
  cmd->add_option("--speed-prompt-len", a.speed.prompt_len, "Decode: prompt tokens per sequence before the timed steps")
      ->capture_default_str();
  cmd->add_option("--speed-decode-tokens", a.speed.decode_tokens, "Decode: timed steps (one new token per sequence each)")
      ->capture_default_str();
  cmd->add_option("--speed-decode-batches", a.speed.decode_batches, "Decode: batch sizes to measure, e.g. 1,16")
      ->delimiter(',')
      ->expected(1, -1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->capture_default_str();
  cmd->add_option("--speed-prefill-batch", a.speed.prefill_batch, "Prefill: sequences per forward")->capture_default_str();
  cmd->add_option("--speed-prefill-len", a.speed.prefill_len, "Prefill: tokens per sequence")->capture_default_str();
  cmd->add_option("--speed-warmup", a.speed.warmup, "Untimed runs before each speed measurement")->capture_default_str();
  cmd->add_option("--speed-repeats", a.speed.repeats, "Timed runs per speed measurement (the median is reported)")
      ->capture_default_str();
  cmd->add_flag("--no-plots", a.no_plots, "Do not draw the PNG plots");
  add_moe_options(*cmd, a.moe);
  cmd->add_option("--moe-models", a.moe_models, "With --moe: the --model names to run MoEfied")
      ->expected(1, -1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->callback([args] { run_report(*args); });
}

}  // namespace cook::cli

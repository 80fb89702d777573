// cook compress --config RUN.json --save-dir DIR: the main job. Trains or loads the dense model,
// compresses it with every pass the config turns on, exports the result and reports on it.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cook/cli/commands.h"
#include "cook/compress/plan/config.h"
#include "cook/compress/plan/dry_run.h"
#include "cook/compress/plan/pipeline.h"
#include "cook/compress/plan/report_step.h"
#include "cook/core/error.h"
#include "cook/core/folder_lock.h"
#include "cook/core/json_fields.h"
#include "cook/core/resources.h"
#include "cook/io/atomic_file.h"

namespace cook::cli {

namespace {

struct CompressArgs {
  std::string config;
  std::string save_dir;
  std::string data;
  std::string load;
  int64_t steps = 0;
  std::string device, dtype;
  std::vector<std::string> set;
  bool print_config = false;
  bool no_progress = false;
  bool no_report = false;
  bool dry_run = false;
};

// --set training.steps=5: the key path's value replaced by the JSON value (or the text as a string).
void apply_set(nlohmann::json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("--set", "'" + assignment + "' is not KEY.PATH=VALUE");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    value = text;
  }
  nlohmann::json* node = &j;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw Error("--set", "'" + path + "' has an empty key");
    if (!node->is_object()) throw Error("--set", "'" + path + "': " + key + " is inside a value that is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    if (node->is_null()) *node = nlohmann::json::object();
    start = dot + 1;
  }
}

compress::plan::CompressConfig effective_config(const CompressArgs& a) {
  nlohmann::json j = a.config.empty() ? nlohmann::json::object() : read_json_file(a.config, "the compress config");
  if (!j.is_object()) throw Error(a.config, "must be a JSON object of sections");
  if (!a.data.empty()) j["data"]["tokens"] = a.data;
  if (!a.load.empty()) j["model"]["load"] = a.load;
  if (a.steps > 0) j["training"]["steps"] = a.steps;
  if (!a.device.empty()) j["model"]["device"] = a.device;
  if (!a.dtype.empty()) j["model"]["dtype"] = a.dtype;
  for (const auto& s : a.set) apply_set(j, s);
  return compress::plan::compress_config_from_json(j, a.config.empty() ? "config" : a.config);
}

void run_compress(const CompressArgs& a) {
  const compress::plan::CompressConfig c = effective_config(a);
  if (a.print_config) {
    std::cout << compress::plan::to_json(c).dump(2) << "\n";
    return;
  }
  if (a.dry_run) return compress::plan::dry_run(c, std::cout);
  if (a.save_dir.empty()) throw Error("--save-dir", "is required: the folder for the models, checkpoints and report");
  const FolderLock one_run_per_folder(a.save_dir);
  io::write_file_atomic((std::filesystem::path(a.save_dir) / "config.json").string(),
                            compress::plan::to_json(c).dump(2) + "\n");
  compress::plan::RunOptions run{a.save_dir, !a.no_progress};
  const std::string dense = compress::plan::prepare_dense(c, run, std::cout);
  compress::plan::CompressedModel out = compress::plan::compress(c, dense, run, std::cout);
  if (out.training.final_eval)
    std::cout << "validation after compression (" << c.passes_tag() << "): loss " << out.training.final_eval->loss
              << ", perplexity " << out.training.final_eval->perplexity << "\n";
  if (a.no_report) return;
  const auto written = compress::plan::report_compression(c, dense, out, run, std::cout);
  std::ifstream markdown(written.markdown_path);
  std::cout << "\n" << markdown.rdbuf() << "\nreport: " << written.markdown_path << "\n";
}

}  // namespace

void add_compress_command(CLI::App& app) {
  auto a = std::make_shared<CompressArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compress",
      "Compress a model with any combination of pruning, distillation, quantization and MoEfication from one JSON "
      "config (BMCook's sections and keys accepted), export it and report on it");
  cmd->add_option("--config", a->config, "The compress config (JSON; see README 'cook compress'); none: defaults");
  cmd->add_option("--save-dir", a->save_dir, "Folder for the dense and compressed models, checkpoints and the report");
  cmd->add_option("--data", a->data, "Token-data folder (sets data.tokens)");
  cmd->add_option("--load", a->load, "Dense checkpoint: the teacher and the student's start (sets model.load)");
  cmd->add_option("--steps", a->steps, "Compression training steps (sets training.steps)");
  cmd->add_option("--device", a->device, "Train on cpu, cuda or cuda:N (sets model.device; default cpu)");
  cmd->add_option("--dtype", a->dtype, "fp32, or bf16 with fp32 master weights (sets model.dtype; default fp32)");
  cmd->add_option("--set", a->set, "KEY.PATH=VALUE: set any config key (VALUE is JSON, else a string); repeatable");
  cmd->add_flag("--print-config", a->print_config, "Print the effective config, defaults filled in, and exit");
  cmd->add_flag("--no-progress", a->no_progress, "No progress bars");
  cmd->add_flag("--no-report", a->no_report, "Skip the measurements and the report");
  cmd->add_flag("--dry-run", a->dry_run,
                "Check the run (config, dense checkpoint, token data) and print its phases with a memory estimate "
                "for each, without building a model or writing anything");
  cmd->callback([a] { run_compress(*a); });
}

}  // namespace cook::cli

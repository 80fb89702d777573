// cook prune masks: computes the pruning masks of a checkpoint's selected weights ahead of
// training (BMCook's pruning_mask_path file), by magnitude (2:4 1-D/2-D, unstructured) or one-shot
// from calibration data (Wanda, SparseGPT), and optionally writes the pruned model.
#include <CLI/CLI.hpp>

#include <chrono>
#include <sstream>
#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/compress/prune/prune_model.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"
#include "cook/weights/checkpoint.h"

namespace cook::cli {

namespace {

struct PruneMasksArgs {
  ModelArgs model;
  std::string method;
  std::string pattern;
  double sparsity = 0.5;
  bool global = false;
  std::string modules = "proj,fc_";
  std::string data;
  int64_t calib_batches = 16;
  int64_t batch_size = 4;
  int64_t seq_len = 256;
  double dampening = 0.01;
  int64_t block_size = 128;
  bool no_sequential = false;
  std::string output;
  std::string save_model;
  bool no_progress = false;
};

std::vector<std::string> split_modules(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<torch::Tensor> calibration_batches(const PruneMasksArgs& a, const model::ModelConfig& config) {
  if (a.data.empty()) throw Error("--data", "is required by --method " + a.method + ": token data for calibration");
  if (a.calib_batches <= 0) throw Error("--calib-batches", "must be positive");
  if (a.seq_len > config.n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(config.n_positions));
  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, text::kTrainSplit));
  check_vocabulary(config, *split);
  train::TokenBatchSource source(split, {a.batch_size, a.seq_len, a.model.seed, 0, 1});
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < a.calib_batches; ++i) batches.push_back(source.next().input_ids);
  return batches;
}

void run_prune_masks(const PruneMasksArgs& a) {
  if (a.model.load.empty()) throw Error("--load", "is required: the checkpoint whose weights are pruned");
  prune::OneShotOptions o;
  o.spec = prune::make_mask_spec(a.method, a.pattern, a.sparsity, a.global, {"--method", "--pattern", "--sparsity"});
  o.dampening = a.dampening;
  o.block_size = a.block_size;
  o.sequential = !a.no_sequential;
  o.progress = !a.no_progress;
  ModelSetup setup = build_model(a.model);
  const auto layers = prune::select_layers(*setup.model, split_modules(a.modules), "--modules");
  std::vector<torch::Tensor> calibration;
  if (prune::needs_calibration(o.spec.method)) calibration = calibration_batches(a, setup.model->config());
  else if (!a.data.empty()) throw Error("--data", "--method " + a.method + " uses no calibration data");

  const auto start = std::chrono::steady_clock::now();
  prune::MaskSet set = prune::prune_model(setup.model, layers, o, calibration);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  prune::save_masks(a.output, set);
  std::cout << "masks of " << layers.size() << " weights (" << set.method << ", " << set.pattern << ", sparsity "
            << set.sparsity << ") in " << seconds << " s: " << a.output << "\n";
  if (!a.save_model.empty()) {
    std::ostringstream sparsity;
    sparsity << set.sparsity;
    weights::save_checkpoint(a.save_model, *setup.model, setup.model->config(),
                             {{"pruning.method", set.method}, {"pruning.pattern", set.pattern},
                              {"pruning.sparsity", sparsity.str()}, {"pruning.source", setup.source}});
    std::cout << "pruned model: " << a.save_model << "\n";
  }
}

}  // namespace

void add_prune_command(CLI::App& app) {
  CLI::App* prune = app.add_subcommand("prune", "Pruning masks and one-shot pruned models");
  prune->require_subcommand(1);
  auto args = std::make_shared<PruneMasksArgs>();
  CLI::App* cmd = prune->add_subcommand("masks", "Compute the pruning masks of a checkpoint's selected weights");
  add_model_options(*cmd, args->model);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--method", args->method,
                  "m4n2_1d, m4n2_2d (= m4n2_2d_greedy), m4n2_2d_best, magnitude, wanda, sparsegpt")
      ->required();
  cmd->add_option("--pattern", args->pattern, "wanda/sparsegpt: 2:4 (default) or unstructured");
  cmd->add_option("--sparsity", args->sparsity, "Fraction pruned by unstructured masks")->capture_default_str();
  cmd->add_flag("--global", args->global, "magnitude: one threshold over all selected weights");
  cmd->add_option("--modules", args->modules, "Comma-separated substrings of the weights to prune (BMCook's pruned_module)")
      ->capture_default_str();
  cmd->add_option("--data", args->data, "Token-data folder whose train split calibrates wanda/sparsegpt");
  cmd->add_option("--calib-batches", args->calib_batches, "Calibration batches")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Windows per calibration batch")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per calibration window")->capture_default_str();
  cmd->add_option("--dampening", args->dampening, "sparsegpt: fraction of the mean Hessian diagonal added")
      ->capture_default_str();
  cmd->add_option("--block-size", args->block_size, "sparsegpt: columns per block")->capture_default_str();
  cmd->add_flag("--no-sequential", args->no_sequential,
                "Calibrate every block on the dense model's inputs (faster, less accurate)");
  cmd->add_option("--output", args->output, "Masks file (.safetensors)")->required();
  cmd->add_option("--save-model", args->save_model, "Also write the pruned model as a Cook checkpoint");
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar");
  cmd->callback([args] { run_prune_masks(*args); });
}

}  // namespace cook::cli

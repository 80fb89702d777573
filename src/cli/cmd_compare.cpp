// cook compare: a (compressed) checkpoint against its reference on a token-data split: both
// losses, KL(reference ‖ model) and top-1 agreement.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/core/error.h"
#include "cook/infer/compare.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"

namespace cook::cli {

namespace {

struct CompareArgs {
  ModelArgs model;
  std::string reference;
  std::string data;
  std::string split = text::kValidationSplit;
  int64_t batch_size = 8;
  int64_t seq_len = 256;
  int64_t max_batches = 0;
  bool json = false;
};

void run_compare(const CompareArgs& a) {
  if (a.model.load.empty()) throw Error("--load", "is required: the checkpoint to compare");
  if (a.reference.empty()) throw Error("--reference", "is required: the checkpoint to compare against");
  ModelSetup setup = build_model(a.model);
  ModelArgs ref_args = a.model;
  ref_args.load = a.reference;
  ModelSetup ref = build_model(ref_args);
  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, a.split));
  check_vocabulary(setup.model->config(), *split);
  if (a.seq_len > setup.model->config().n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(setup.model->config().n_positions));
  train::TokenEvalSource source(split, a.batch_size, a.seq_len);
  const infer::Comparison c = infer::compare_to_reference(setup.model, ref.model, source, a.max_batches);
  if (a.json) {
    std::cout << nlohmann::json{{"checkpoint", setup.source}, {"reference", ref.source}, {"split", a.split},
                                {"loss", c.loss}, {"reference_loss", c.reference_loss}, {"kl", c.kl},
                                {"top1_agreement", c.top1_agreement}, {"tokens", c.tokens}}.dump()
              << "\n";
  } else {
    std::cout << setup.source << " vs " << ref.source << " [" << a.split << ", " << c.tokens << " tokens]: loss "
              << c.loss << " (reference " << c.reference_loss << "), KL " << c.kl << ", top-1 agreement "
              << c.top1_agreement << "\n";
  }
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand("compare", "Loss, KL divergence and top-1 agreement of a checkpoint against a reference");
  add_model_options(*cmd, args->model);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--reference", args->reference, "The reference checkpoint (e.g. the fp32 model)");
  cmd->add_option("--data", args->data, "Token-data folder from 'cook data prepare'")->required();
  cmd->add_option("--split", args->split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Windows per batch")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per window")->capture_default_str();
  cmd->add_option("--max-batches", args->max_batches, "Evaluate at most this many batches (0: all)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_compare(*args); });
}

}  // namespace cook::cli

// cook eval: mean loss and perplexity of a checkpoint on a token-data split.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/moe_options.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/evaluate.h"
#include "cook/train/token_batches.h"

namespace cook::cli {

namespace {

struct EvalArgs {
  ModelArgs model;
  MoeArgs moe;
  std::string data;
  std::string split = text::kValidationSplit;
  int64_t batch_size = 8;
  int64_t seq_len = 256;
  int64_t max_batches = 0;
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  if (a.model.load.empty()) throw Error("--load", "is required: the checkpoint to evaluate");
  ModelSetup setup = build_model(a.model);
  apply_moe(setup.model, a.moe);
  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, a.split));
  check_vocabulary(setup.model->config(), *split);
  if (a.seq_len > setup.model->config().n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context of " +
                                 std::to_string(setup.model->config().n_positions));
  train::TokenEvalSource source(split, a.batch_size, a.seq_len);
  train::EvalResult r = train::evaluate(setup.model, source, a.max_batches);
  if (a.json) {
    std::cout << nlohmann::json{{"checkpoint", setup.source}, {"data", a.data}, {"split", a.split},
                                {"seq_len", a.seq_len}, {"loss", r.loss}, {"perplexity", r.perplexity},
                                {"tokens", r.tokens}}.dump()
              << "\n";
  } else {
    std::cout << setup.source << " on " << a.data << " [" << a.split << "]: loss " << r.loss << ", perplexity "
              << r.perplexity << " over " << r.tokens << " tokens\n";
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Perplexity of a checkpoint on a token-data split");
  add_model_options(*cmd, args->model);
  add_moe_options(*cmd, args->moe);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--data", args->data, "Token-data folder from 'cook data prepare'")->required();
  cmd->add_option("--split", args->split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Windows per batch")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per window")->capture_default_str();
  cmd->add_option("--max-batches", args->max_batches, "Evaluate at most this many batches (0: all)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace cook::cli

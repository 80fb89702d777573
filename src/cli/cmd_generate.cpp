// cook generate: continues a prompt with a checkpoint, greedily or by sampling (temperature, top-k,
// top-p), using the KV cache; prints the continuation's text.
#include <CLI/CLI.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/moe_options.h"
#include "cook/core/error.h"
#include "cook/core/input_file.h"
#include "cook/core/paths.h"
#include "cook/infer/generate.h"
#include "cook/text/tokenizer.h"

namespace cook::cli {

namespace {

struct GenerateArgs {
  ModelArgs model;
  MoeArgs moe;
  std::string tokenizer = default_tokenizer_dir();
  std::string prompt;
  std::string prompt_file;
  int64_t max_new_tokens = 64;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  bool greedy = false;
};

std::string read_prompt(const GenerateArgs& a) {
  if (a.prompt_file.empty()) return a.prompt;
  try {
    return read_input_file(a.prompt_file);
  } catch (const std::exception& e) {
    rethrow_with_context("--prompt-file", e);
  }
}

void run_generate(const GenerateArgs& a) {
  infer::GenerateOptions o;
  o.max_new_tokens = a.max_new_tokens;
  o.sampling.greedy = a.greedy;
  o.sampling.temperature = a.temperature;
  o.sampling.top_k = a.top_k;
  o.sampling.top_p = a.top_p;
  o.sampling.validate();  // option errors before the (slow) model load
  if (a.max_new_tokens < 0) throw Error("--max-new-tokens", "must be ≥ 0, got " + std::to_string(a.max_new_tokens));
  if (a.model.load.empty()) throw Error("--load", "is required: the checkpoint to generate with");
  const std::string prompt = read_prompt(a);
  if (prompt.empty()) throw Error(a.prompt_file.empty() ? "--prompt" : "--prompt-file", "the prompt is empty");
  if (!std::filesystem::is_directory(a.tokenizer))
    throw Error("--tokenizer", a.tokenizer + ": no such folder (it should hold encoder.json + vocab.bpe, or tokenizer.json)");
  const text::Tokenizer tokenizer = text::Tokenizer::from_dir(a.tokenizer);

  ModelSetup setup = build_model(a.model);
  apply_moe(setup.model, a.moe);
  setup.model->eval();
  const model::ModelConfig& config = setup.model->config();
  if (tokenizer.vocab_size() > config.vocab_size)
    throw Error("--tokenizer", "its vocabulary of " + std::to_string(tokenizer.vocab_size()) +
                                   " ids does not fit the model's " + std::to_string(config.vocab_size));
  const std::vector<int32_t> ids = tokenizer.encode(prompt);
  if (static_cast<int64_t>(ids.size()) >= config.n_positions)
    throw Error(a.prompt_file.empty() ? "--prompt" : "--prompt-file",
                std::to_string(ids.size()) + " tokens leave no room in the model's context of " +
                    std::to_string(config.n_positions));
  o.stop_id = tokenizer.end_of_text_id();
  o.vocab_limit = tokenizer.vocab_size();  // the model's padding ids past the tokenizer's have no text

  at::Generator gen = at::detail::createCPUGenerator(a.model.seed);
  const std::vector<int64_t> out = infer::generate(*setup.model, std::vector<int64_t>(ids.begin(), ids.end()), o, gen);
  std::cout << tokenizer.decode(std::vector<int32_t>(out.begin(), out.end())) << std::endl;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt with a checkpoint (greedy or sampled)");
  add_model_options(*cmd, args->model);
  add_moe_options(*cmd, args->moe);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer folder: encoder.json + vocab.bpe, or tokenizer.json")
      ->capture_default_str();
  auto* prompt = cmd->add_option("--prompt", args->prompt, "Text to continue");
  auto* prompt_file = cmd->add_option("--prompt-file", args->prompt_file, "File whose text to continue");
  prompt->excludes(prompt_file);
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "Generate at most this many tokens")->capture_default_str();
  cmd->add_option("--temperature", args->temperature, "Divide the logits by this (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", args->top_k, "Sample among the k most likely tokens (0: all)")->capture_default_str();
  cmd->add_option("--top-p", args->top_p, "Sample among the smallest set of tokens with mass ≥ p, in (0, 1]")
      ->capture_default_str();
  cmd->add_flag("--greedy", args->greedy, "Always take the most likely token");
  cmd->callback([args] {
    if (args->prompt.empty() && args->prompt_file.empty()) throw Error("--prompt", "give --prompt or --prompt-file");
    run_generate(*args);
  });
}

}  // namespace cook::cli

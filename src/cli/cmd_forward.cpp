// `cook forward --load CKPT --input IDS.safetensors --output OUT.safetensors [--hidden]`:
// runs the model on the input's `input_ids` (B, T) (and `attention_mask` (B, T) when the file has
// one) and writes float32 `logits` (B, T, V) and, with --hidden, `hidden_states.{0..n_layer}` in
// the layout of Hugging Face's output_hidden_states: 0 is the embedding output, 1..n_layer-1 the
// block outputs, n_layer the last block's output after ln_f. CKPT is any checkpoint Cook reads
// (Hugging Face folder, Cook checkpoint, BMCook .bin with --model).
#include <CLI/CLI.hpp>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/core/error.h"
#include "cook/model/forward.h"
#include "cook/model/gptj.h"
#include "cook/weights/tensor_io.h"

namespace cook::cli {

namespace {

struct ForwardArgs {
  ModelArgs model;
  std::string input;
  std::string output;
  bool hidden = false;
};

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// A (B, T) integer tensor of the input file, copied out of the mapping.
torch::Tensor read_token_tensor(const weights::LoadedTensors& file, const std::string& path, const std::string& name,
                                bool required) {
  auto it = file.tensors.find(name);
  if (it == file.tensors.end()) {
    if (!required) return {};
    std::string names;
    size_t listed = 0;
    for (const auto& [n, t] : file.tensors) {
      if (listed++ == 8) {
        names += ", ... (" + std::to_string(file.tensors.size()) + " in all)";
        break;
      }
      names += (names.empty() ? "" : ", ") + n;
    }
    throw Error(path, "no tensor '" + name + "' (the file holds: " + (names.empty() ? "nothing" : names) + ")");
  }
  const torch::Tensor& t = it->second;
  const auto type = t.scalar_type();
  if (c10::isFloatingType(type) || c10::isComplexType(type)) {
    throw Error(path, "tensor '" + name + "': expected integers, got " + c10::toString(type));
  }
  if (t.dim() != 2) throw Error(path, "tensor '" + name + "': expected (batch, seq_len), got shape " + shape_of(t));
  return t.to(torch::kInt64).clone();
}

void run_forward(const ForwardArgs& a) {
  const weights::LoadedTensors file = weights::load_safetensors(a.input);
  model::ForwardInput input;
  input.input_ids = read_token_tensor(file, a.input, "input_ids", true);
  input.attention_mask = read_token_tensor(file, a.input, "attention_mask", false);
  if (input.attention_mask.defined() && !input.attention_mask.sizes().equals(input.input_ids.sizes())) {
    throw Error(a.input, "tensor 'attention_mask': shape " + shape_of(input.attention_mask) +
                             " does not match input_ids " + shape_of(input.input_ids));
  }

  ModelSetup setup = build_model(a.model);
  model::GptJ& net = setup.model;
  net->eval();
  input.request.logits = true;
  input.request.embedding = a.hidden;
  input.request.hidden_states = a.hidden;
  input.request.final_hidden = a.hidden;

  torch::InferenceMode inference;
  model::ForwardOutput out;
  try {
    out = net->forward(input);
  } catch (const Error& e) {
    rethrow_with_context(a.input, e);  // "IDS.safetensors: input_ids: token id ... outside ..."
  }

  auto cpu32 = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32).contiguous(); };
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  tensors.emplace_back("logits", cpu32(out.logits));
  if (a.hidden) {
    const size_t n = out.hidden_states.size();
    tensors.emplace_back("hidden_states.0", cpu32(out.embedding));
    for (size_t i = 0; i + 1 < n; ++i) tensors.emplace_back("hidden_states." + std::to_string(i + 1), cpu32(out.hidden_states[i]));
    tensors.emplace_back("hidden_states." + std::to_string(n), cpu32(out.final_hidden));
  }
  weights::save_safetensors(a.output, tensors,
                            {{"cook.source", setup.source},
                             {"note", "hidden_states.0 is the embedding output; the last is after ln_f"}});
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forward", "Run the model on token ids from a .safetensors file and write its logits (and hidden states)");
  add_model_options(*cmd, args->model);
  cmd->get_option("--load")->required();
  cmd->add_option("--input", args->input, "safetensors file with input_ids (B, T) and optionally attention_mask (B, T)")
      ->required();
  cmd->add_option("--output", args->output, "safetensors file to write: logits (B, T, V) as float32")->required();
  cmd->add_flag("--hidden", args->hidden,
                "Also write hidden_states.{0..n_layer} (embedding, block outputs, after ln_f), as Hugging Face does");
  cmd->callback([args] { run_forward(*args); });
}

}  // namespace cook::cli

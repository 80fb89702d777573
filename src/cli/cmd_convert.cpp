// cook convert: rewrites a checkpoint Cook reads (HF folder, Cook .safetensors, BMCook .bin) as a
// Cook checkpoint, a Hugging Face folder or a BMCook .bin. The weights pass through unchanged.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <optional>
#include <system_error>

#include "cook/cli/commands.h"
#include "cook/core/error.h"
#include "cook/model/config.h"
#include "cook/weights/checkpoint.h"

namespace cook::cli {

namespace {

struct ConvertArgs {
  std::string load;
  std::string model;  // preset: required for a BMCook .bin, else checked against the checkpoint
  std::string to;
  std::string output;
};

void run_convert(const ConvertArgs& a) {
  if (a.to != "cook" && a.to != "hf" && a.to != "bmcook")
    throw Error("--to", "'" + a.to + "' is not a format (cook, hf, bmcook)");
  std::error_code ec;
  if (std::filesystem::exists(a.output) && std::filesystem::equivalent(a.output, a.load, ec))
    throw Error("--output", a.output + " is the checkpoint being read");
  std::optional<std::string> preset;
  if (!a.model.empty()) preset = a.model;
  const weights::Checkpoint ckpt = weights::read_checkpoint(a.load, preset);
  if (a.to == "cook") {
    weights::save_checkpoint(a.output, ckpt.tensors, ckpt.config);
  } else if (a.to == "hf") {
    weights::write_hf_folder(a.output, ckpt.config, ckpt.tensors);
  } else {
    weights::write_bmcook_bin(a.output, ckpt.config, ckpt.tensors);
  }
  std::cout << a.load << " (" << weights::kind_name(ckpt.kind) << ", " << ckpt.tensors.size() << " tensors) -> "
            << a.output << " (" << a.to << ")\n";
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Rewrite a checkpoint as Cook, Hugging Face or BMCook weights");
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--load", args->load, "Checkpoint to read: HF folder, Cook .safetensors or BMCook .bin")->required();
  cmd->add_option("--model", args->model, "Model preset (required for a BMCook .bin, which holds no config)");
  cmd->add_option("--to", args->to, "Output format: cook (.safetensors), hf (folder), bmcook (.bin)")->required();
  cmd->add_option("--output", args->output, "Output file (cook, bmcook) or folder (hf)")->required();
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace cook::cli

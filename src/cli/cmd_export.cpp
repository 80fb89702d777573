// cook export: writes a deployable artefact of a checkpoint. With --int8, the quantized artefact
// (int8 weights + per-row scales, or int4 + per-group scales; docs/formats.md) that `cook
// generate`/`cook eval --load` run with int8 kernels; without, a plain Cook checkpoint.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/cli/train_quant.h"
#include "cook/compress/quant/artefact.h"
#include "cook/core/error.h"
#include "cook/weights/checkpoint.h"

namespace cook::cli {

namespace {

struct ExportArgs {
  ModelArgs model;
  QuantArgs quant;
  std::string out;
  bool int8 = false;
};

void run_export(const ExportArgs& a) {
  if (a.model.load.empty()) throw Error("--load", "is required: the checkpoint to export");
  if (a.out.empty()) throw Error("--out", "is required: the .safetensors file to write");
  if (a.model.device != "cpu") throw Error("--device", "export runs on the CPU");
  ModelArgs model_args = a.model;
  model_args.dtype = "fp32";
  const auto quant = resolve_quant(a.quant, model_args, a.int8);
  ModelSetup setup = build_model(model_args);
  int64_t fp32_bytes = 0;
  for (const auto& p : setup.model->parameters()) fp32_bytes += p.numel() * 4;
  if (quant) {
    const auto names = quant::export_quantized(a.out, *setup.model, *quant);
    // The quantized linears alone: fp32 weight bytes against integer values plus scales.
    auto modules = setup.model->named_modules("", false);
    int64_t before = 0, after = 0;
    for (const auto& name : names) {
      const torch::Tensor& w = modules[name]->named_parameters(false)["weight"];
      const int64_t out = w.size(0), in = w.size(1);
      before += out * in * 4;
      after += quant->scheme == quant::Scheme::W4 ? out * in / 2 + out * (in / quant->group_size) * 4 : out * in + out * 4;
    }
    std::cout << "quantized " << names.size() << " linears (" << quant::scheme_name(quant->scheme) << "): " << before
              << " bytes of fp32 weights -> " << after << " bytes (" << std::fixed << std::setprecision(3)
              << double(after) / double(before) << ")\n";
  } else {
    weights::save_checkpoint(a.out, *setup.model, setup.model->config());
  }
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(a.out));
  std::cout << "wrote " << a.out << ": " << bytes << " bytes (" << std::fixed << std::setprecision(3)
            << double(bytes) / double(fp32_bytes) << " of the " << fp32_bytes << " bytes of fp32 parameters)\n";
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a deployable artefact (--int8: quantized weights and scales)");
  add_model_options(*cmd, args->model);
  cmd->add_option("--config", "JSON file of options (keys are option names without dashes)");
  cmd->add_option("--out", args->out, "The .safetensors file to write");
  cmd->add_flag("--int8", args->int8, "Quantize the block linears (w8a8 unless --quant-scheme says otherwise)");
  add_quant_options(*cmd, args->quant);
  cmd->callback([args] { run_export(*args); });
}

}  // namespace cook::cli

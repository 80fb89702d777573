#include "cook/cli/model_setup.h"

#include <CLI/CLI.hpp>

#include "cook/compress/quant/artefact.h"
#include "cook/compress/quant/bmcook_int8.h"
#include "cook/core/error.h"
#include "cook/model/placement.h"
#include "cook/text/token_dataset.h"
#include "cook/weights/checkpoint.h"

namespace cook::cli {

void add_model_options(CLI::App& cmd, ModelArgs& a) {
  cmd.add_option("--model", a.model, "Model preset (" + [] {
    std::string names;
    for (const auto& n : model::preset_names()) names += (names.empty() ? "" : ", ") + n;
    return names;
  }() + ")");
  cmd.add_option("--load", a.load, "Checkpoint to start from: HF folder, Cook .safetensors, BMCook .bin (or its int8 export)");
  cmd.add_option("--n-layer", a.n_layer, "Blocks of the model built from --model (default: the preset's)");
  cmd.add_option("--init-std", a.init_std, "Std of the normal initialization")->capture_default_str();
  cmd.add_option("--seed", a.seed, "Seed of initialization and data order")->capture_default_str();
  cmd.add_option("--device", a.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--dtype", a.dtype, "fp32 or bf16 (bf16 computes in bf16, keeps fp32 master weights)")
      ->capture_default_str();
}

ModelSetup build_model(const ModelArgs& a) {
  ModelSetup setup;
  const torch::Device device = model::parse_device(a.device, "--device");
  const torch::Dtype dtype = model::parse_dtype(a.dtype, "--dtype");
  if (!a.load.empty() && a.n_layer != 0)
    throw Error("--n-layer", "shapes a model built from --model; a checkpoint (--load) has its own");
  if (!a.load.empty() && quant::is_quantized_file(a.load)) {
    // An int8 artefact (cook export --int8): int8 kernels on the CPU, simulated elsewhere.
    setup.model = quant::load_quantized(a.load, {device.is_cpu()});
    setup.source = a.load;
  } else if (!a.load.empty() && quant::is_bmcook_int8_file(a.load)) {
    // BMCook's int8 export: no config inside, the preset gives the shape.
    if (a.model.empty()) throw Error("--model", "is required with BMCook's int8 export " + a.load + " (it holds no config)");
    setup.model = quant::load_bmcook_int8(a.load, model::preset(a.model), {device.is_cpu()});
    setup.source = a.load;
  } else if (!a.load.empty()) {
    std::optional<std::string> preset;
    if (!a.model.empty()) preset = a.model;
    weights::Checkpoint ckpt = weights::read_checkpoint(a.load, preset);
    setup.model = model::GptJ(ckpt.config);
    weights::load_into(*setup.model, std::move(ckpt));
    setup.source = a.load;
  } else {
    if (a.model.empty()) throw Error("--model", "give a preset (--model) or a checkpoint (--load)");
    model::ModelConfig config;
    try {
      config = model::preset(a.model);
    } catch (const std::exception& e) {
      rethrow_with_context("--model", e);
    }
    if (a.n_layer != 0) {
      config.n_layer = a.n_layer;
      config.validate("--n-layer");
    }
    setup.model = model::GptJ(config);
    setup.model->init_weights(a.init_std, a.seed);
    setup.source = "init:" + a.model;
  }
  setup.model->to(device, dtype);
  return setup;
}

model::ModelConfig model_config(const ModelArgs& a) {
  if (!a.load.empty() && a.n_layer != 0)
    throw Error("--n-layer", "shapes a model built from --model; a checkpoint (--load) has its own");
  if (!a.load.empty()) {
    if (quant::is_quantized_file(a.load) || quant::is_bmcook_int8_file(a.load))
      throw Error("--load", a.load + " is an int8 export, made for inference: training starts from a float checkpoint");
    std::optional<std::string> preset;
    if (!a.model.empty()) preset = a.model;
    return weights::read_checkpoint(a.load, preset).config;
  }
  if (a.model.empty()) throw Error("--model", "give a preset (--model) or a checkpoint (--load)");
  model::ModelConfig config;
  try {
    config = model::preset(a.model);
  } catch (const std::exception& e) {
    rethrow_with_context("--model", e);
  }
  if (a.n_layer != 0) {
    config.n_layer = a.n_layer;
    config.validate("--n-layer");
  }
  return config;
}

void check_vocabulary(const model::ModelConfig& config, const text::TokenDataset& data) {
  const int64_t vocab = data.manifest().tokenizer.vocab_size;
  if (vocab > config.vocab_size)
    throw Error(data.dir(), "token data uses a vocabulary of " + std::to_string(vocab) +
                                " ids but the model has only " + std::to_string(config.vocab_size));
}

}  // namespace cook::cli

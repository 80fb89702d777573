// The options every model-using command shares (--model, --load, --init-std, --seed, --device,
// --dtype) and the one way Cook turns them into a model on its device.
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "cook/model/gptj.h"

namespace CLI {
class App;
}
namespace cook::text {
class TokenDataset;
}

namespace cook::cli {

struct ModelArgs {
  std::string model;          // preset name; with --load it must agree with the checkpoint
  std::string load;           // any checkpoint Cook reads (HF folder, Cook checkpoint, BMCook .bin)
  int64_t n_layer = 0;        // > 0: the preset with this many blocks (e.g. a shallower student)
  double init_std = 0.02;     // BMCook's --init-std
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string dtype = "fp32"; // fp32 | bf16
};

struct ModelSetup {
  model::GptJ model{nullptr};
  std::string source;         // the checkpoint it came from, or "init:<preset>"
};

void add_model_options(CLI::App& cmd, ModelArgs& args);
// Builds the model: from --load (its config, or --model for a BMCook .bin), else --model
// initialized with --init-std and --seed; then moves it to --device and --dtype.
ModelSetup build_model(const ModelArgs& args);
// The config build_model would give the model, without building it (a checkpoint's header and
// config only): for --dry-run.
model::ModelConfig model_config(const ModelArgs& args);
// Token data must fit the model's vocabulary; the error names the data folder.
void check_vocabulary(const model::ModelConfig& config, const text::TokenDataset& data);

}  // namespace cook::cli

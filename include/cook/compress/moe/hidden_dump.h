// The hidden dump of MoEfication: every FFN's input for N tokens of a token-data split, what the
// router learns from. One folder:
//   layer-{i}.safetensors   tensor "ffn_input" (N, d_model) float32
//   manifest.json           {"format": "cook.moe.hidden/1", "tokens", "d_model", "n_layer",
//                            "files": [...], "source": {...}}
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::compress::moe {

struct HiddenDumpOptions {
  int64_t tokens = 65536;   // how many token positions to record
  bool progress = true;
  // false: run the forward passes and write nothing. The ranks of a ZeRO-3 run other than the
  // writer do this, because each block's parameters reach the writer through collectives that
  // every rank must join.
  bool write = true;
};

// Runs `model` (eval mode, no grad) over the source's batches in order until `tokens` positions
// are recorded and writes the folder (created if needed; files atomically). `source_info` goes
// into the manifest. Returns the number of tokens recorded (fewer when the source runs out).
int64_t dump_ffn_inputs(model::GptJ& model, const train::EvalSource& source, const std::string& folder,
                        const HiddenDumpOptions& options, const nlohmann::json& source_info = nlohmann::json::object());

struct HiddenDump {
  std::string folder;
  int64_t tokens = 0, d_model = 0, n_layer = 0;
  nlohmann::json manifest;
  // Layer i's inputs (tokens, d_model); errors name the file.
  torch::Tensor layer(int64_t i) const;
};
// Reads and checks the manifest (a missing folder or file is an error naming it).
HiddenDump open_hidden_dump(const std::string& folder);

}  // namespace cook::compress::moe

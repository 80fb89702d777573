// The MoE file: what `cook moe split` and `cook moe router` write and `--moe-ckpt` reads. One
// safetensors file of plain tensors (never pickled modules), for each MoEfied layer i:
//   layers.{i}.experts            (E, F/E) int64   the neurons of each expert, ascending
//   layers.{i}.centroids          (E, d)   float32 the split's centroids (the centroid router)
//   layers.{i}.router.{w1,b1,w2,b2}        float32 the trained MLP router, when there is one
// and metadata: cook.moe.format_version "1", cook.moe.num_expert, cook.moe.d_model, cook.moe.d_ff,
// cook.moe.report (JSON: how it was made, coverage figures).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace cook::compress::moe {

inline constexpr const char* kMoeFormatVersion = "1";

struct MoeLayer {
  torch::Tensor experts;                          // (E, F/E) int64
  torch::Tensor centroids;                        // (E, d) float32
  std::map<std::string, torch::Tensor> mlp_router;  // w1, b1, w2, b2, or empty
};

struct MoeFile {
  int64_t num_expert = 0;
  int64_t d_model = 0;
  int64_t d_ff = 0;
  std::map<int64_t, MoeLayer> layers;  // by block index
  nlohmann::json report = nlohmann::json::object();
};

// Checks every layer against the header (shapes, partition) and writes atomically.
void save_moe_file(const std::string& path, const MoeFile& file);
// Reads and checks: a missing file, a missing or mis-shaped tensor, an unknown tensor name or a
// bad metadata value is a cook::Error naming the file and the tensor or key.
MoeFile load_moe_file(const std::string& path);

}  // namespace cook::compress::moe

// MoEfication of a trained (compressed) student, the last pass of `cook compress`: records the FFN
// inputs of the first tokens of the training split, clusters each FFN's neurons into balanced
// experts (balanced k-means on fc_in's rows), trains one MLP router per layer on the recorded
// inputs, writes the MoE file and puts the expert FFNs in place with the config's top-k.
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "cook/compress/plan/config.h"
#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::compress::plan {

struct MoefyReport {
  std::string moe_path;          // the MoE file written
  int64_t tokens = 0;            // FFN inputs the routers learnt from
  double router_coverage = 0.0;  // mean held-out share of the positive activation mass in the top-k
  double centroid_coverage = 0.0;
};

// `folder` receives hidden/ (the recorded inputs) and moe.safetensors. The model must have dense
// FFNs; it leaves with expert FFNs. Errors name the config key (num_expert not dividing d_ff).
MoefyReport moefy_trained(model::GptJ& model, const CompressConfig& c, const train::EvalSource& train_tokens,
                          const std::string& folder, bool progress, std::ostream& log);

}  // namespace cook::compress::plan

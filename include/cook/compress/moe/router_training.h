// Training MoEfication's MLP router for one layer, from recorded FFN inputs.
//
// Targets: for a batch of tokens, each expert's positive activation mass (experts.h) divided by
// the largest mass in the batch: soft labels in [0, 1]; loss: binary cross-entropy on the router's
// logits; Adam. A seeded 10% of the tokens is held out; after every epoch the held-out coverage
// (share of positive activation mass inside the router's top-k) is measured and the router of
// the best coverage is kept.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "cook/compress/moe/router.h"
#include "cook/model/ffn.h"

namespace cook::compress::moe {

struct RouterTrainingOptions {
  int64_t epochs = 30;     // MoEfication's MLPCenter: range(30)
  int64_t batch_size = 512;
  double learning_rate = 1e-2;
  double held_out = 0.1;   // share of the tokens kept for model selection
  int64_t top_k = 1;       // the k the coverage is measured at
  uint64_t seed = 1;
};

struct RouterTrainingReport {
  std::vector<double> train_loss;      // mean BCE of each epoch
  std::vector<double> held_out_loss;   // before training (index 0), then after each epoch
  std::vector<double> held_out_coverage;  // the same points
  int64_t best_epoch = 0;              // 0: the initialization was best
  double coverage = 0.0;               // held-out coverage of the kept router
  double centroid_coverage = 0.0;      // held-out coverage of the centroid router, for comparison
  double oracle_coverage = 0.0;        // of the oracle (1 when the activations are non-negative)
};

// Trains `router` in place on `inputs` (N, d) of the layer whose dense FFN is `ffn`, with the
// split `experts` and its `centroids` (for the comparison). `on_epoch` (optional) is called
// after each epoch. Throws cook::Error for inconsistent shapes or too few tokens.
RouterTrainingReport train_mlp_router(MlpRouterImpl& router, model::DenseFeedForwardImpl& ffn,
                                      const torch::Tensor& experts, const torch::Tensor& centroids,
                                      const torch::Tensor& inputs, const RouterTrainingOptions& options,
                                      const std::function<void(int64_t epoch, double loss)>& on_epoch = {});

}  // namespace cook::compress::moe

// Routers: per token, a score for each expert; the expert FFN computes the top-k of them.
//   - MLP router (MoEfication's): x/‖x‖ → Linear d→E (initialized with the expert centroids) →
//     tanh → Linear E→E (initialized with the identity) → logits. Trained (router_training.h).
//   - centroid router (MoEfication's similarity selection): −‖x/‖x‖ − centroid‖, no training. The
//     centroids are means of unit rows, shorter than 1 and each of its own length, so this ranks
//     otherwise than the dot product x · centroid (it is x̂ · c − ‖c‖²/2, up to terms equal for all experts).
//   - oracle router: the true positive activation mass of each expert (computes the whole fc_in,
//     so it saves nothing: the quality ceiling of a split).
// Router tensors are buffers: they move with the model, are frozen in training and never enter a
// model checkpoint; the MoE file (moe_file.h) holds them.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "cook/model/config.h"
#include "cook/model/linear.h"

namespace cook::compress::moe {

class RouterImpl : public torch::nn::Module {
 public:
  // "mlp", "centroid" or "oracle".
  virtual std::string kind() const = 0;
  // x (N, d) → scores (N, E), higher = more of the token's activation mass expected there.
  virtual torch::Tensor scores(const torch::Tensor& x) = 0;
  // The tensors to store, by their short names ("w1", "centroids", ...).
  virtual std::map<std::string, torch::Tensor> tensors() const = 0;
  virtual int64_t num_experts() const = 0;
};

class MlpRouterImpl : public RouterImpl {
 public:
  // Initialized as MoEfication does: w1 = centroids (E, d), b1 = 0, w2 = identity, b2 = 0.
  explicit MlpRouterImpl(const torch::Tensor& centroids);
  // From stored tensors w1 (E, d), b1 (E), w2 (E, E), b2 (E); errors name `where` and the tensor.
  MlpRouterImpl(const std::map<std::string, torch::Tensor>& stored, int64_t d_model, const std::string& where);

  std::string kind() const override { return "mlp"; }
  torch::Tensor scores(const torch::Tensor& x) override;
  std::map<std::string, torch::Tensor> tensors() const override;
  int64_t num_experts() const override { return w1.size(0); }

  // The same computation with trainable copies, for training (router_training.h).
  static torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& w1, const torch::Tensor& b1,
                              const torch::Tensor& w2, const torch::Tensor& b2);

  torch::Tensor w1, b1, w2, b2;
};
TORCH_MODULE(MlpRouter);

// The centroid router's scores: minus the squared distance of each normalized token x (N, d) to
// each centroid (E, d); their order is MoEfication's ParamCenter ranking, −‖x/‖x‖ − c‖.
torch::Tensor centroid_scores(const torch::Tensor& x, const torch::Tensor& centroids);

class CentroidRouterImpl : public RouterImpl {
 public:
  explicit CentroidRouterImpl(const torch::Tensor& centroids);
  std::string kind() const override { return "centroid"; }
  torch::Tensor scores(const torch::Tensor& x) override;
  std::map<std::string, torch::Tensor> tensors() const override { return {{"centroids", centroids}}; }
  int64_t num_experts() const override { return centroids.size(0); }

  torch::Tensor centroids;  // (E, d)
};
TORCH_MODULE(CentroidRouter);

class OracleRouterImpl : public RouterImpl {
 public:
  // Reads the FFN's fc_in (not registered here: it stays the FFN's parameter).
  OracleRouterImpl(std::shared_ptr<cook::nn::LinearImpl> fc_in, model::Activation activation,
                   const torch::Tensor& experts);
  std::string kind() const override { return "oracle"; }
  torch::Tensor scores(const torch::Tensor& x) override;
  std::map<std::string, torch::Tensor> tensors() const override { return {}; }
  int64_t num_experts() const override { return experts.size(0); }

  torch::Tensor experts;  // (E, F/E) int64 on the CPU (a plain member: Module::to would convert a buffer's dtype)

 private:
  std::shared_ptr<cook::nn::LinearImpl> fc_in_;
  model::Activation activation_;
};
TORCH_MODULE(OracleRouter);

}  // namespace cook::compress::moe

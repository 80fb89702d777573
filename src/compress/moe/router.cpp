#include "cook/compress/moe/router.h"

#include <sstream>

#include "cook/compress/moe/experts.h"
#include "cook/core/error.h"
#include "cook/model/ffn.h"

namespace cook::compress::moe {

namespace {

torch::Tensor stored_tensor(const std::map<std::string, torch::Tensor>& stored, const std::string& name,
                            std::vector<int64_t> shape, const std::string& where) {
  auto it = stored.find(name);
  if (it == stored.end()) throw Error(where, "router tensor '" + name + "' is missing");
  const torch::Tensor& t = it->second;
  if (t.sizes() != c10::IntArrayRef(shape)) {
    std::ostringstream s;
    s << "router tensor '" << name << "' has shape " << t.sizes() << ", expected " << c10::IntArrayRef(shape);
    throw Error(where, s.str());
  }
  if (!t.is_floating_point()) throw Error(where, "router tensor '" + name + "' is not floating point");
  return t.to(torch::kFloat32).clone();
}

torch::Tensor normalized(const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-6); }

}  // namespace

MlpRouterImpl::MlpRouterImpl(const torch::Tensor& centroids) {
  const torch::Tensor c = centroids.detach().to(torch::kFloat32).clone();
  const int64_t e = c.size(0);
  w1 = register_buffer("w1", c);
  b1 = register_buffer("b1", torch::zeros({e}, c.options()));
  w2 = register_buffer("w2", torch::eye(e, c.options()));
  b2 = register_buffer("b2", torch::zeros({e}, c.options()));
}

MlpRouterImpl::MlpRouterImpl(const std::map<std::string, torch::Tensor>& stored, int64_t d_model,
                             const std::string& where) {
  auto w1_it = stored.find("w1");
  if (w1_it == stored.end() || w1_it->second.dim() != 2) throw Error(where, "router tensor 'w1' (E, d) is missing");
  const int64_t e = w1_it->second.size(0);
  w1 = register_buffer("w1", stored_tensor(stored, "w1", {e, d_model}, where));
  b1 = register_buffer("b1", stored_tensor(stored, "b1", {e}, where));
  w2 = register_buffer("w2", stored_tensor(stored, "w2", {e, e}, where));
  b2 = register_buffer("b2", stored_tensor(stored, "b2", {e}, where));
}

torch::Tensor MlpRouterImpl::logits(const torch::Tensor& x, const torch::Tensor& w1, const torch::Tensor& b1,
                                    const torch::Tensor& w2, const torch::Tensor& b2) {
  return torch::nn::functional::linear(torch::tanh(torch::nn::functional::linear(normalized(x), w1, b1)), w2, b2);
}

torch::Tensor MlpRouterImpl::scores(const torch::Tensor& x) {
  const torch::Tensor xf = x.to(w1.scalar_type());
  return logits(xf, w1, b1, w2, b2);
}

std::map<std::string, torch::Tensor> MlpRouterImpl::tensors() const {
  return {{"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", b2}};
}

CentroidRouterImpl::CentroidRouterImpl(const torch::Tensor& c) {
  centroids = register_buffer("centroids", c.detach().to(torch::kFloat32).clone());
}

torch::Tensor centroid_scores(const torch::Tensor& x, const torch::Tensor& centroids) {
  // −‖x̂ − c‖² = 2·x̂·c − ‖c‖² − 1: the order of the distance, as one matrix product.
  return 2.0 * torch::mm(normalized(x.to(centroids.scalar_type())), centroids.t()) - centroids.pow(2).sum(-1) - 1.0;
}

torch::Tensor CentroidRouterImpl::scores(const torch::Tensor& x) { return centroid_scores(x, centroids); }

OracleRouterImpl::OracleRouterImpl(std::shared_ptr<cook::nn::LinearImpl> fc_in, model::Activation activation,
                                   const torch::Tensor& e)
    : fc_in_(std::move(fc_in)), activation_(activation) {
  if (!fc_in_) throw Error("oracle router", "fc_in is null");
  check_experts(e, fc_in_->out_features(), "oracle router: experts");
  experts = e.to(torch::kCPU).clone();
}

torch::Tensor OracleRouterImpl::scores(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return expert_mass(model::apply_activation(activation_, fc_in_->forward(x)), experts);  // moved per call: small
}

}  // namespace cook::compress::moe

#include "cook/compress/moe/router_training.h"

#include <ATen/CPUGeneratorImpl.h>

#include "cook/compress/moe/experts.h"
#include "cook/core/error.h"

namespace cook::compress::moe {

namespace {

// Positive activation mass (N, E) of inputs x through the dense FFN's fc_in.
torch::Tensor mass_of(model::DenseFeedForwardImpl& ffn, const torch::Tensor& experts, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return expert_mass(ffn.intermediate(x.to(ffn.fc_in->weight.scalar_type())).to(torch::kFloat32), experts);
}

torch::Tensor soft_labels(const torch::Tensor& mass) { return mass / mass.max().clamp_min(1e-12); }

}  // namespace

RouterTrainingReport train_mlp_router(MlpRouterImpl& router, model::DenseFeedForwardImpl& ffn,
                                      const torch::Tensor& experts, const torch::Tensor& centroids,
                                      const torch::Tensor& inputs, const RouterTrainingOptions& o,
                                      const std::function<void(int64_t, double)>& on_epoch) {
  const std::string where = "router training";
  const int64_t e = experts.size(0);
  if (!inputs.defined() || inputs.dim() != 2 || inputs.size(1) != ffn.fc_in->in_features())
    throw Error(where, "expected FFN inputs (tokens, " + std::to_string(ffn.fc_in->in_features()) + ")");
  if (router.num_experts() != e) throw Error(where, "the router and the split disagree on the number of experts");
  if (o.top_k < 1 || o.top_k > e) throw Error(where, "topk: must be in [1, " + std::to_string(e) + "]");
  if (o.epochs < 0 || o.batch_size <= 0 || !(o.held_out > 0 && o.held_out < 1))
    throw Error(where, "epochs ≥ 0, batch size > 0 and a held-out share in (0, 1) are needed");
  const int64_t n = inputs.size(0);
  const int64_t n_held = std::max<int64_t>(1, static_cast<int64_t>(n * o.held_out));
  if (n - n_held < 1) throw Error(where, "too few tokens (" + std::to_string(n) + ") to hold some out");

  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  const torch::Tensor x_all = inputs.to(torch::kCPU, torch::kFloat32);
  const torch::Tensor perm = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64));
  const torch::Tensor x_held = x_all.index_select(0, perm.narrow(0, 0, n_held));
  const torch::Tensor x_train = x_all.index_select(0, perm.narrow(0, n_held, n - n_held));
  const torch::Tensor mass_held = mass_of(ffn, experts, x_held);
  const torch::Tensor mass_train = mass_of(ffn, experts, x_train);

  // Trainable copies of the router's tensors.
  std::vector<torch::Tensor> p;
  for (const torch::Tensor& t : {router.w1, router.b1, router.w2, router.b2})
    p.push_back(t.detach().to(torch::kFloat32).clone().set_requires_grad(true));
  torch::optim::Adam adam(p, torch::optim::AdamOptions(o.learning_rate));

  RouterTrainingReport report;
  auto evaluate = [&]() {
    torch::NoGradGuard no_grad;
    const torch::Tensor z = MlpRouterImpl::logits(x_held, p[0], p[1], p[2], p[3]);
    report.held_out_loss.push_back(
        torch::binary_cross_entropy_with_logits(z, soft_labels(mass_held)).item<double>());
    const double c = coverage(mass_held, std::get<1>(z.topk(o.top_k, 1)));
    report.held_out_coverage.push_back(c);
    return c;
  };
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor cen = centroids.to(torch::kFloat32);
    report.centroid_coverage = coverage(mass_held, std::get<1>(centroid_scores(x_held, cen).topk(o.top_k, 1)));
    report.oracle_coverage = coverage(mass_held, std::get<1>(mass_held.topk(o.top_k, 1)));
  }
  double best = evaluate();
  std::vector<torch::Tensor> best_p;
  for (auto& t : p) best_p.push_back(t.detach().clone());

  const int64_t n_train = x_train.size(0);
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(n_train, gen, torch::TensorOptions().dtype(torch::kInt64));
    double sum = 0;
    int64_t batches = 0;
    for (int64_t start = 0; start < n_train; start += o.batch_size) {
      const torch::Tensor idx = order.narrow(0, start, std::min(o.batch_size, n_train - start));
      const torch::Tensor z = MlpRouterImpl::logits(x_train.index_select(0, idx), p[0], p[1], p[2], p[3]);
      const torch::Tensor loss = torch::binary_cross_entropy_with_logits(z, soft_labels(mass_train.index_select(0, idx)));
      adam.zero_grad();
      loss.backward();
      adam.step();
      sum += loss.item<double>();
      ++batches;
    }
    report.train_loss.push_back(sum / batches);
    const double c = evaluate();
    if (c > best) {
      best = c;
      report.best_epoch = epoch;
      for (size_t i = 0; i < p.size(); ++i) best_p[i] = p[i].detach().clone();
    }
    if (on_epoch) on_epoch(epoch, report.train_loss.back());
  }
  report.coverage = best;
  torch::NoGradGuard no_grad;
  router.w1.copy_(best_p[0]);
  router.b1.copy_(best_p[1]);
  router.w2.copy_(best_p[2]);
  router.b2.copy_(best_p[3]);
  return report;
}

}  // namespace cook::compress::moe

#include "cook/compress/moe/experts.h"

#include "cook/core/error.h"

namespace cook::compress::moe {

torch::Tensor experts_from_labels(const torch::Tensor& labels, int64_t num_experts) {
  const std::string where = "expert labels";
  if (!labels.defined() || labels.dim() != 1) throw Error(where, "expected a 1-D tensor of cluster ids");
  const int64_t f = labels.size(0);
  if (num_experts <= 0 || f % num_experts != 0)
    throw Error(where, std::to_string(num_experts) + " experts do not divide " + std::to_string(f) + " neurons");
  const torch::Tensor l = labels.to(torch::kCPU, torch::kInt64);
  if (f > 0 && (l.min().item<int64_t>() < 0 || l.max().item<int64_t>() >= num_experts))
    throw Error(where, "a label is outside [0, " + std::to_string(num_experts) + ")");
  const torch::Tensor counts = torch::bincount(l, {}, num_experts);
  if (!counts.eq(f / num_experts).all().item<bool>())
    throw Error(where, "clusters are not all of size " + std::to_string(f / num_experts));
  // Stable sort by label keeps each expert's neurons ascending.
  const torch::Tensor order = std::get<1>(l.sort(/*stable=*/true, 0, false));
  return order.view({num_experts, f / num_experts}).contiguous();
}

void check_experts(const torch::Tensor& experts, int64_t d_ff, const std::string& where) {
  if (!experts.defined() || experts.dim() != 2 || experts.scalar_type() != torch::kInt64)
    throw Error(where, "expected an (experts, neurons per expert) int64 tensor");
  const int64_t e = experts.size(0), m = experts.size(1);
  if (e <= 0 || e * m != d_ff)
    throw Error(where, std::to_string(e) + " experts of " + std::to_string(m) + " neurons do not cover the FFN's " +
                           std::to_string(d_ff) + " neurons");
  const torch::Tensor flat = experts.reshape({-1}).to(torch::kCPU);
  if (flat.min().item<int64_t>() < 0 || flat.max().item<int64_t>() >= d_ff)
    throw Error(where, "a neuron id is outside [0, " + std::to_string(d_ff) + ")");
  if (!torch::bincount(flat, {}, d_ff).eq(1).all().item<bool>())
    throw Error(where, "not a partition: some neuron is in no expert or in two");
}

torch::Tensor expert_of_neuron(const torch::Tensor& experts) {
  const int64_t e = experts.size(0), m = experts.size(1);
  const torch::Tensor ids = torch::arange(e, experts.options()).unsqueeze(1).expand({e, m}).reshape({-1});
  return torch::empty({e * m}, experts.options()).scatter_(0, experts.reshape({-1}), ids);
}

torch::Tensor expert_mass(const torch::Tensor& h, const torch::Tensor& experts) {
  const int64_t e = experts.size(0), m = experts.size(1);
  const torch::Tensor flat = experts.reshape({-1}).to(h.device());
  return h.clamp_min(0).index_select(-1, flat).view({h.size(0), e, m}).sum(-1);
}

double coverage(const torch::Tensor& mass, const torch::Tensor& chosen) {
  const double total = mass.sum().item<double>();
  if (total <= 0) return 1.0;
  return mass.gather(1, chosen).sum().item<double>() / total;
}

}  // namespace cook::compress::moe

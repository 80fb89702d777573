#include "cook/compress/report/parameters.h"

#include <unordered_map>

#include "cook/compress/moe/expert_ffn.h"

namespace cook::compress::report {

namespace {

int64_t nonzero_entries(const torch::Tensor& t) { return t.ne(0).sum().item<int64_t>(); }

}  // namespace

ParameterCounts count_parameters(const model::GptJImpl& model) {
  torch::NoGradGuard no_grad;
  // The masks of the masked linears, by the weight they apply to.
  std::unordered_map<const c10::TensorImpl*, torch::Tensor> masks;
  for (const auto& module : model.modules(/*include_self=*/false))
    if (const auto* linear = dynamic_cast<const cook::nn::LinearImpl*>(module.get()))
      if (linear->has_mask()) masks.emplace(linear->weight.unsafeGetTensorImpl(), linear->mask());

  ParameterCounts c;
  for (const auto& p : model.parameters()) {
    c.total += p.numel();
    const auto mask = masks.find(p.unsafeGetTensorImpl());
    c.nonzero += nonzero_entries(mask == masks.end() ? p : p * mask->second);
  }
  c.active = c.total;
  for (const auto& block : model.blocks()) {
    const auto* experts = dynamic_cast<const moe::ExpertFeedForwardImpl*>(block->ffn().get());
    if (experts == nullptr) continue;
    for (const auto& t : experts->router()->buffers()) {
      c.total += t.numel();
      c.nonzero += nonzero_entries(t);
      c.active += t.numel();
    }
    const double skipped = 1.0 - static_cast<double>(experts->top_k()) / static_cast<double>(experts->num_experts());
    int64_t expert_params = experts->fc_out->weight.numel();
    if (experts->router()->kind() != "oracle") {
      expert_params += experts->fc_in->weight.numel();
      if (experts->fc_in->has_bias()) expert_params += experts->fc_in->bias.numel();
    }
    c.active -= static_cast<int64_t>(skipped * static_cast<double>(expert_params) + 0.5);
  }
  return c;
}

}  // namespace cook::compress::report

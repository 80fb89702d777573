#include "cook/compress/moe/expert_ffn.h"

#include "cook/compress/moe/experts.h"
#include "cook/core/error.h"

namespace cook::compress::moe {

ExpertFeedForwardImpl::ExpertFeedForwardImpl(const model::DenseFeedForwardImpl& dense, const torch::Tensor& experts,
                                             std::shared_ptr<RouterImpl> router, int64_t top_k)
    : activation_(dense.activation()), router_(std::move(router)), top_k_(top_k) {
  const int64_t d_ff = dense.fc_in->out_features();
  check_experts(experts, d_ff, "expert FFN: experts");
  experts_ = experts.to(torch::kCPU).contiguous();
  if (!router_) throw Error("expert FFN", "the router is null");
  if (router_->num_experts() != experts_.size(0))
    throw Error("expert FFN", "the router scores " + std::to_string(router_->num_experts()) + " experts, the split has " +
                                  std::to_string(experts_.size(0)));
  set_top_k(top_k);
  fc_in = register_module("fc_in", dense.fc_in);
  fc_out = register_module("fc_out", dense.fc_out);
  register_module("router", router_);
}

void ExpertFeedForwardImpl::set_top_k(int64_t k) {
  if (k < 1 || k > num_experts())
    throw Error("topk", "must be in [1, " + std::to_string(num_experts()) + "] (the number of experts), got " +
                            std::to_string(k));
  top_k_ = k;
}

torch::Tensor ExpertFeedForwardImpl::route(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return std::get<1>(router_->scores(x).topk(top_k_, -1, true, false));
}

torch::Tensor ExpertFeedForwardImpl::forward(const torch::Tensor& x) {
  const int64_t d = x.size(-1);
  const torch::Tensor flat = x.reshape({-1, d});
  const torch::Tensor chosen = route(flat);
  const bool needs_grad = torch::GradMode::is_enabled() && (fc_in->weight.requires_grad() || x.requires_grad());
  const bool int8 = int8_kernels().first != nullptr;
  // Another replaced product must stay in charge: only the masked dense path runs it.
  const bool hooked = (fc_in->kernel() || fc_out->kernel()) && !int8;
  const int64_t tokens = flat.size(0);
  const bool few_experts = tokens * top_k_ <= num_experts();
  bool grouped = path_ == Path::Grouped ||
                 (path_ == Path::Auto && (few_experts || (int8 && tokens <= kInt8GroupedMaxTokens)));
  if (needs_grad || hooked) grouped = false;
  torch::Tensor y = !grouped ? masked_dense(flat, chosen) : int8 ? int8_grouped(flat, chosen) : sparse(flat, chosen);
  auto shape = x.sizes().vec();
  return y.view(shape);
}

torch::Tensor ExpertFeedForwardImpl::masked_dense(const torch::Tensor& x, const torch::Tensor& chosen) {
  const torch::Tensor h = model::apply_activation(activation_, fc_in->forward(x));
  torch::Tensor keep = torch::zeros({x.size(0), num_experts()}, h.options()).scatter_(1, chosen, 1.0);
  const torch::Tensor owner = expert_of_neuron(experts_).to(h.device());
  return fc_out->forward(h * keep.index_select(1, owner));
}

std::pair<std::shared_ptr<const infer::Int8LinearKernel>, std::shared_ptr<const infer::Int8LinearKernel>>
ExpertFeedForwardImpl::int8_kernels() const {
  auto in = std::dynamic_pointer_cast<const infer::Int8LinearKernel>(fc_in->kernel());
  auto out = std::dynamic_pointer_cast<const infer::Int8LinearKernel>(fc_out->kernel());
  if (!in || !out) return {};
  return {std::move(in), std::move(out)};
}

torch::Tensor ExpertFeedForwardImpl::int8_grouped(const torch::Tensor& x, const torch::Tensor& chosen) {
  auto [in, out] = int8_kernels();
  if (!int8_packed_ || !int8_packed_->made_from(in.get(), out.get()))
    int8_packed_ = std::make_unique<Int8Experts>(std::move(in), std::move(out), experts_);
  return int8_packed_->forward(x, chosen, activation_, fc_in->bias, fc_out->bias);
}

void ExpertFeedForwardImpl::pack_if_stale(const torch::Tensor& like) {
  const torch::Tensor& wi = fc_in->weight;
  const torch::Tensor& wo = fc_out->weight;
  Packed& p = packed_;
  const bool fresh = p.w_in.defined() && p.in_ptr == wi.data_ptr() && p.out_ptr == wo.data_ptr() &&
                     p.in_version == wi._version() && p.out_version == wo._version() && p.device == like.device() &&
                     p.dtype == like.scalar_type() && !fc_in->has_mask() && !fc_out->has_mask() &&
                     !fc_in->weight_transform() && !fc_out->weight_transform();
  if (fresh) return;
  torch::NoGradGuard no_grad;
  const int64_t e = num_experts(), m = experts_.size(1), d = fc_in->in_features();
  const torch::Tensor order = experts_.reshape({-1}).to(wi.device());
  p.w_in = fc_in->effective_weight().index_select(0, order).view({e, m, d}).to(like.device(), like.scalar_type());
  p.b_in = fc_in->has_bias() ? fc_in->bias.index_select(0, order).view({e, m}).to(like.device(), like.scalar_type())
                             : torch::Tensor();
  p.w_out = fc_out->effective_weight().t().index_select(0, order).view({e, m, d}).to(like.device(), like.scalar_type());
  p.in_ptr = wi.data_ptr();
  p.out_ptr = wo.data_ptr();
  p.in_version = wi._version();
  p.out_version = wo._version();
  p.device = like.device();
  p.dtype = like.scalar_type();
}

torch::Tensor ExpertFeedForwardImpl::sparse(const torch::Tensor& x, const torch::Tensor& chosen) {
  pack_if_stale(x);
  const int64_t n = x.size(0), k = top_k_, e = num_experts(), m = experts_.size(1), d = x.size(1);
  // (token, expert) pairs grouped by expert.
  const torch::Tensor pair_expert = chosen.reshape({-1});
  const torch::Tensor order = std::get<1>(pair_expert.sort(/*stable=*/true, 0, false));
  const torch::Tensor pair_token = torch::div(order, k, "floor");
  const torch::Tensor counts = torch::bincount(pair_expert, {}, e).to(torch::kCPU);
  const int64_t* count = counts.data_ptr<int64_t>();
  const torch::Tensor xs = n == 1 ? x.expand({n * k, d}) : x.index_select(0, pair_token);
  torch::Tensor h = torch::empty({n * k, m}, x.options());
  torch::Tensor ys = torch::empty({n * k, d}, x.options());
  int64_t start = 0;
  for (int64_t j = 0; j < e; ++j) {
    const int64_t c = count[j];
    if (c == 0) continue;
    torch::Tensor hj = h.narrow(0, start, c);
    if (packed_.b_in.defined()) {
      torch::addmm_out(hj, packed_.b_in[j], xs.narrow(0, start, c), packed_.w_in[j].t());
    } else {
      torch::mm_out(hj, xs.narrow(0, start, c), packed_.w_in[j].t());
    }
    if (activation_ == model::Activation::Relu) hj.relu_();
    else hj.copy_(model::apply_activation(activation_, hj));
    torch::Tensor yj = ys.narrow(0, start, c);
    torch::mm_out(yj, hj, packed_.w_out[j]);
    start += c;
  }
  torch::Tensor y = n == 1 ? ys.sum(0, true) : torch::zeros({n, d}, x.options()).index_add_(0, pair_token, ys);
  if (fc_out->has_bias()) y.add_(fc_out->bias.to(y.scalar_type()));
  return y;
}

}  // namespace cook::compress::moe

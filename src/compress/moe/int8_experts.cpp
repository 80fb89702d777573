#include "cook/compress/moe/int8_experts.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "cook/compress/moe/experts.h"
#include "cook/core/error.h"

namespace cook::compress::moe {

namespace {
constexpr const char* kWhere = "int8 expert FFN";
}  // namespace

Int8Experts::Int8Experts(std::shared_ptr<const infer::Int8LinearKernel> fc_in,
                         std::shared_ptr<const infer::Int8LinearKernel> fc_out, const torch::Tensor& experts)
    : in_(std::move(fc_in)), out_(std::move(fc_out)) {
  if (!in_ || !out_) throw Error(kWhere, "needs the int8 kernels of both fc_in and fc_out");
  const torch::Tensor& w_in = in_->weight();    // (F, d)
  const torch::Tensor& w_out = out_->weight();  // (d, F)
  const int64_t d_ff = w_in.size(0);
  if (w_out.size(1) != d_ff || w_out.size(0) != w_in.size(1))
    throw Error(kWhere, "fc_in's int8 weight is [" + std::to_string(d_ff) + ", " + std::to_string(w_in.size(1)) +
                            "] but fc_out's is [" + std::to_string(w_out.size(0)) + ", " +
                            std::to_string(w_out.size(1)) + "]: not the two halves of one FFN");
  check_experts(experts, d_ff, std::string(kWhere) + ": experts");
  experts_ = experts.to(torch::kCPU).contiguous();
  const int64_t e = experts_.size(0), m = experts_.size(1);
  w_in_.reserve(e);
  w_out_.reserve(e);
  for (int64_t j = 0; j < e; ++j) {
    w_in_.emplace_back(w_in.index_select(0, experts_[j]), std::string(kWhere) + ": fc_in");
    w_out_.emplace_back(w_out.index_select(1, experts_[j]), std::string(kWhere) + ": fc_out");
  }
  scales_in_ = in_->scales().index_select(0, experts_.reshape({-1})).view({e, m}).contiguous();
}

torch::Tensor Int8Experts::forward(const torch::Tensor& x, const torch::Tensor& chosen, model::Activation activation,
                                   const torch::Tensor& b_in, const torch::Tensor& b_out) const {
  const int64_t e = experts_.size(0), m = experts_.size(1), d = in_->weight().size(1);
  if (x.dim() != 2 || x.size(1) != d)
    throw Error(kWhere, "input must be (tokens, " + std::to_string(d) + "), got " + std::to_string(x.dim()) + "-D with " +
                            std::to_string(x.size(-1)) + " features");
  if (!x.device().is_cpu()) throw Error(kWhere, "the int8 expert FFN runs on the CPU only");
  if (chosen.dim() != 2 || chosen.size(0) != x.size(0) || chosen.size(1) > e)
    throw Error(kWhere, "chosen must be (tokens, k ≤ " + std::to_string(e) + ") expert ids");
  const int64_t n = x.size(0), k = chosen.size(1);
  if (n == 0) return torch::empty({0, d}, x.options());

  // 1. x per token, as fc_in's kernel quantizes it.
  const torch::Tensor xf = x.to(torch::kFloat32).contiguous();
  torch::Tensor qx = torch::empty({n, d}, torch::kInt8), sx = torch::empty({n}, torch::kFloat32);
  infer::quantize_tokens(xf.data_ptr<float>(), n, d, qx.data_ptr<int8_t>(), sx.data_ptr<float>());
  const infer::PairedActivations x_pairs(qx);

  // The (token, expert) pairs grouped by expert; a pair's id is token · k + slot.
  const torch::Tensor pair_expert = chosen.reshape({-1}).to(torch::kCPU, torch::kInt64).contiguous();
  const torch::Tensor pair_id = std::get<1>(pair_expert.sort(/*stable=*/true, 0, false)).contiguous();
  const torch::Tensor pair_token = torch::div(pair_id, k, "floor").contiguous();
  const torch::Tensor counts = torch::bincount(pair_expert, {}, e).contiguous();
  std::vector<int64_t> start(e + 1, 0);
  for (int64_t j = 0; j < e; ++j) start[j + 1] = start[j] + counts.data_ptr<int64_t>()[j];
  const int64_t* ids = pair_id.data_ptr<int64_t>();
  const int64_t* tokens = pair_token.data_ptr<int64_t>();

  // 2. Hidden values of each pair, in pair-id order: row t·k + s is token t's s-th expert.
  const torch::Tensor bias_in =
      b_in.defined() ? b_in.to(torch::kFloat32).index_select(0, experts_.reshape({-1})).contiguous() : torch::Tensor();
  torch::Tensor h = torch::empty({n * k, m}, torch::kFloat32);
  float* hp = h.data_ptr<float>();
  const float* sxp = sx.data_ptr<float>();
  at::parallel_for(0, e, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> acc;
    std::vector<float> row_scales, hidden;
    for (int64_t j = begin; j < end; ++j) {
      const int64_t c = start[j + 1] - start[j];
      if (c == 0) continue;
      acc.resize(c * m);
      row_scales.resize(c);
      hidden.resize(c * m);
      w_in_[j].multiply(x_pairs, tokens + start[j], c, acc.data(), m, nullptr, /*accumulate=*/false);
      for (int64_t i = 0; i < c; ++i) row_scales[i] = sxp[tokens[start[j] + i]];
      infer::rescale_accumulators(acc.data(), c, m, row_scales.data(), scales_in_.data_ptr<float>() + j * m,
                                  bias_in.defined() ? bias_in.data_ptr<float>() + j * m : nullptr, hidden.data());
      for (int64_t i = 0; i < c; ++i) std::copy_n(hidden.data() + i * m, m, hp + ids[start[j] + i] * m);
    }
  });
  h = model::apply_activation(activation, h).contiguous();

  // 3. One scale per token over its k experts' hidden values (a row of (N, k·m)).
  torch::Tensor qh = torch::empty({n, k * m}, torch::kInt8), sh = torch::empty({n}, torch::kFloat32);
  infer::quantize_tokens(h.data_ptr<float>(), n, k * m, qh.data_ptr<int8_t>(), sh.data_ptr<float>());
  const infer::PairedActivations h_pairs(qh.view({n * k, m}));

  // 4. Σ over each token's experts of its int8 hidden values × the expert's fc_out columns, in
  // int32; threads split fc_out's output channels, so no two write the same accumulator.
  torch::Tensor acc = torch::zeros({n, d}, torch::kInt32);
  int32_t* accp = acc.data_ptr<int32_t>();
  at::parallel_for(0, w_out_.front().tiles(), 16, [&](int64_t begin, int64_t end) {
    for (int64_t j = 0; j < e; ++j) {
      const int64_t c = start[j + 1] - start[j];
      if (c > 0) w_out_[j].multiply(h_pairs, ids + start[j], c, accp, d, tokens + start[j], /*accumulate=*/true, begin, end);
    }
  });
  torch::Tensor y = torch::empty({n, d}, torch::kFloat32);
  const torch::Tensor bias_out = b_out.defined() ? b_out.to(torch::kFloat32).contiguous() : torch::Tensor();
  infer::rescale_accumulators(accp, n, d, sh.data_ptr<float>(), out_->scales().data_ptr<float>(),
                              bias_out.defined() ? bias_out.data_ptr<float>() : nullptr, y.data_ptr<float>());
  return y.to(x.scalar_type());
}

}  // namespace cook::compress::moe

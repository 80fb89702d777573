#include "cook/model/recompute.h"

#include <cstdint>

#include "cook/core/error.h"

namespace cook::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Autograd runs forward() with gradients off, so the block records nothing; backward() replays the
// block with gradients on and pushes the incoming gradient through the replay, which accumulates
// the parameters' gradients and yields the input's.
struct RecomputedBlock : torch::autograd::Function<RecomputedBlock> {
  static torch::Tensor forward(AutogradContext* autograd, torch::Tensor x, GptJBlockImpl* block,
                               const AttentionContext* ctx) {
    autograd->saved_data["block"] = reinterpret_cast<int64_t>(block);
    autograd->saved_data["sin"] = ctx->sin;
    autograd->saved_data["cos"] = ctx->cos;
    autograd->saved_data["allowed"] = ctx->allowed;
    autograd->saved_data["padded"] = ctx->padded;
    autograd->save_for_backward({x});
    return block->forward(x, *ctx).hidden;
  }

  static variable_list backward(AutogradContext* autograd, variable_list grad_output) {
    auto* block = reinterpret_cast<GptJBlockImpl*>(autograd->saved_data["block"].toInt());
    AttentionContext ctx;
    ctx.sin = autograd->saved_data["sin"].toTensor();
    ctx.cos = autograd->saved_data["cos"].toTensor();
    ctx.allowed = autograd->saved_data["allowed"].toTensor();
    ctx.padded = autograd->saved_data["padded"].toBool();
    torch::Tensor x = autograd->get_saved_variables()[0].detach().requires_grad_(true);
    torch::Tensor hidden;
    {
      torch::AutoGradMode enable(true);
      hidden = block->forward(x, ctx).hidden;
    }
    torch::autograd::backward({hidden}, {grad_output[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor forward_recomputed(GptJBlockImpl& block, const torch::Tensor& x, const AttentionContext& ctx) {
  if (!x.requires_grad()) throw Error("forward_recomputed", "the block input does not require grad");
  if (ctx.need_scores) throw Error("forward_recomputed", "attention scores cannot be returned from a recomputed block");
  return RecomputedBlock::apply(x, &block, &ctx);
}

}  // namespace cook::model

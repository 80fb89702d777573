#include <torch/torch.h>

#include "cook/core/error.h"
#include "cook/model/block.h"

namespace cook::model {

GptJBlockImpl::GptJBlockImpl(const ModelConfig& config) {
  ln = register_module(
      "ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.d_model}).eps(config.layer_norm_eps)));
  attn = register_module("attn", Attention(config));
  ffn_ = register_module("ffn", std::make_shared<DenseFeedForwardImpl>(config));
}

BlockOutput GptJBlockImpl::forward(const torch::Tensor& x, const AttentionContext& ctx) {
  if (on_forward_begin) on_forward_begin(*this);
  BlockOutput out;
  out.ffn_input = ln->forward(x);
  AttentionOutput a = attn->forward(out.ffn_input, ctx);
  const torch::Tensor f = ffn_->forward(out.ffn_input);
  out.hidden = a.output + f + x;  // GPT-J's order: attn + ffn + residual
  out.scores = std::move(a.scores);
  if (on_forward_end) on_forward_end(*this);
  return out;
}

BlockOutput GptJBlockImpl::forward_cached(const torch::Tensor& x, const AttentionContext& ctx,
                                          torch::Tensor& k_cache, torch::Tensor& v_cache) {
  if (on_forward_begin) on_forward_begin(*this);
  BlockOutput out;
  out.ffn_input = ln->forward(x);
  AttentionOutput a = attn->forward_cached(out.ffn_input, ctx, k_cache, v_cache);
  const torch::Tensor f = ffn_->forward(out.ffn_input);
  out.hidden = a.output + f + x;
  if (on_forward_end) on_forward_end(*this);
  return out;
}

std::shared_ptr<FeedForwardImpl> GptJBlockImpl::replace_ffn(std::shared_ptr<FeedForwardImpl> ffn) {
  if (!ffn) throw Error("GptJBlock::replace_ffn", "the new FFN is null");
  std::shared_ptr<FeedForwardImpl> old = ffn_;
  ffn_ = replace_module("ffn", std::move(ffn));
  return old;
}

std::shared_ptr<DenseFeedForwardImpl> GptJBlockImpl::dense_ffn() const {
  return std::dynamic_pointer_cast<DenseFeedForwardImpl>(ffn_);
}

}  // namespace cook::model

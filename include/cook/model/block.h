// One GPT-J block: h = ln(x); out = x + attn(h) + ffn(h) (attention and FFN in parallel on the
// same layer-norm output). Parameters: ln.{weight,bias}, attn.{q,k,v,out}_proj.weight,
// ffn.fc_in.{weight,bias?}, ffn.fc_out.{weight,bias}.
#pragma once
#include <functional>
#include <memory>

#include <torch/torch.h>

#include "cook/model/attention.h"
#include "cook/model/config.h"
#include "cook/model/ffn.h"

namespace cook::model {

struct BlockOutput {
  torch::Tensor hidden;     // (B, T, d) the block's output
  torch::Tensor ffn_input;  // (B, T, d) the layer-norm output that attention and FFN share
  torch::Tensor scores;     // (B, H, T, T) when the context asked for scores
};

class GptJBlockImpl : public torch::nn::Module {
 public:
  explicit GptJBlockImpl(const ModelConfig& config);

  BlockOutput forward(const torch::Tensor& x, const AttentionContext& ctx);
  // forward() on new tokens with this block's KV cache (see AttentionImpl::forward_cached).
  BlockOutput forward_cached(const torch::Tensor& x, const AttentionContext& ctx, torch::Tensor& k_cache,
                             torch::Tensor& v_cache);

  // Puts another FFN (an expert FFN, say) in place of this block's, under the same name "ffn";
  // returns the one it replaced. The new one must map (..., d_model) to (..., d_model).
  std::shared_ptr<FeedForwardImpl> replace_ffn(std::shared_ptr<FeedForwardImpl> ffn);
  const std::shared_ptr<FeedForwardImpl>& ffn() const { return ffn_; }
  // The dense FFN, or nullptr once it has been replaced by another kind.
  std::shared_ptr<DenseFeedForwardImpl> dense_ffn() const;

  torch::nn::LayerNorm ln{nullptr};
  Attention attn{nullptr};

  // Called at the start and at the end of every forward of this block (the recomputation in
  // backward too, see recompute.h), when set: lets a trainer that shards parameters bring this
  // block's in just before use and release them after (train/distributed/zero.h, stage 3).
  std::function<void(GptJBlockImpl&)> on_forward_begin, on_forward_end;

 private:
  std::shared_ptr<FeedForwardImpl> ffn_;
};

TORCH_MODULE(GptJBlock);

}  // namespace cook::model

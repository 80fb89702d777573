#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <sstream>

#include "cook/core/error.h"
#include "cook/model/gptj.h"
#include "cook/model/recompute.h"

namespace cook::model {

namespace {

ModelConfig validated(const ModelConfig& config) {
  config.validate("model config");
  return config;
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::ostringstream s;
  s << sizes;
  return s.str();
}

}  // namespace

GptJImpl::GptJImpl(const ModelConfig& config) : config_(validated(config)) {
  embed = register_module("embed", torch::nn::Embedding(config_.vocab_size, config_.d_model));
  block_list = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.n_layer; ++i) {
    GptJBlock block(config_);
    block_list->push_back(block);
    blocks_.push_back(block);
  }
  ln_f = register_module(
      "ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config_.d_model}).eps(config_.layer_norm_eps)));
  lm_head = register_module("lm_head", cook::nn::Linear(config_.d_model, config_.vocab_size, true));
  init_weights(config_.init_std, 0);
}

void GptJImpl::init_weights(double std, uint64_t seed) {
  if (!std::isfinite(std) || std <= 0) throw Error("init_std", "must be a positive finite number, got " + std::to_string(std));
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto normal = [&](torch::Tensor& p) {
    p.copy_(torch::empty(p.sizes(), torch::kFloat32).normal_(0.0, std, gen));
  };
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<cook::nn::LinearImpl*>(module.get())) {
      normal(linear->weight);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* emb = dynamic_cast<torch::nn::EmbeddingImpl*>(module.get())) {
      normal(emb->weight);
    } else if (auto* norm = dynamic_cast<torch::nn::LayerNormImpl*>(module.get())) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

int64_t GptJImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor GptJImpl::checked_ids(const torch::Tensor& ids_in) const {
  if (!ids_in.defined() || ids_in.dim() != 2 || ids_in.size(0) == 0 || ids_in.size(1) == 0) {
    throw Error("input_ids", "expected a non-empty (batch, seq_len) tensor, got " +
                                 (ids_in.defined() ? shape_string(ids_in.sizes()) : std::string("undefined")));
  }
  if (c10::isFloatingType(ids_in.scalar_type()) || c10::isComplexType(ids_in.scalar_type()) ||
      ids_in.scalar_type() == torch::kBool) {
    throw Error("input_ids", std::string("expected integer token ids, got ") + c10::toString(ids_in.scalar_type()));
  }
  const torch::Tensor ids = ids_in.to(embed->weight.device(), torch::kInt64);
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocab_size) {
    throw Error("input_ids", "token id " + std::to_string(lo < 0 ? lo : hi) + " is outside [0, " +
                                 std::to_string(config_.vocab_size) + ")");
  }
  return ids;
}

ForwardOutput GptJImpl::forward(const ForwardInput& input) {
  const torch::Tensor& ids_in = input.input_ids;
  if (ids_in.defined() && ids_in.dim() == 2 && ids_in.size(1) > config_.n_positions) {
    throw Error("input_ids", "sequence length " + std::to_string(ids_in.size(1)) + " exceeds n_positions " +
                                 std::to_string(config_.n_positions));
  }
  const torch::Tensor ids = checked_ids(ids_in);
  const int64_t B = ids_in.size(0), T = ids_in.size(1);
  const torch::Device device = embed->weight.device();
  if (input.attention_mask.defined() &&
      (input.attention_mask.dim() != 2 || input.attention_mask.size(0) != B || input.attention_mask.size(1) != T)) {
    throw Error("attention_mask", "shape " + shape_string(input.attention_mask.sizes()) +
                                      " does not match input_ids " + shape_string(ids_in.sizes()));
  }

  const ForwardRequest& req = input.request;
  ForwardOutput out;
  const AttentionContext ctx = make_attention_context(config_, T, input.attention_mask, device, req.attention_scores);

  torch::Tensor h = embed->forward(ids);
  if (req.embedding) out.embedding = h;
  const bool recompute = recompute_blocks_ && is_training() && torch::GradMode::is_enabled() &&
                         !req.attention_scores && !req.ffn_inputs;
  for (auto& block : blocks_) {
    if (recompute && h.requires_grad()) {
      h = forward_recomputed(*block, h, ctx);
      if (req.hidden_states) out.hidden_states.push_back(h);
      continue;
    }
    BlockOutput b = block->forward(h, ctx);
    h = std::move(b.hidden);
    if (req.hidden_states) out.hidden_states.push_back(h);
    if (req.attention_scores) out.attention_scores.push_back(std::move(b.scores));
    if (req.ffn_inputs) out.ffn_inputs.push_back(std::move(b.ffn_input));
  }
  if (!req.final_hidden && !req.logits) return out;
  h = ln_f->forward(h);
  if (req.final_hidden) out.final_hidden = h;
  if (req.logits) out.logits = lm_head->forward(h);
  return out;
}

ForwardOutput GptJImpl::forward_cached(const torch::Tensor& input_ids, KvCache& cache) {
  const torch::Tensor ids = checked_ids(input_ids);
  const int64_t B = ids.size(0), n_new = ids.size(1), past = cache.length();
  if (past + n_new > config_.n_positions) {
    throw Error("input_ids", "position " + std::to_string(past + n_new - 1) + " is beyond the model's context (" +
                                 std::to_string(past) + " cached + " + std::to_string(n_new) +
                                 " new tokens, n_positions " + std::to_string(config_.n_positions) + ")");
  }
  if (past > 0 && cache.layers[0].k.size(0) != B) {
    throw Error("input_ids", "batch " + std::to_string(B) + " does not match the KV cache's batch " +
                                 std::to_string(cache.layers[0].k.size(0)));
  }
  if (cache.layers.empty()) cache.layers.resize(blocks_.size());
  if (cache.layers.size() != blocks_.size()) {
    throw Error("KvCache", "holds " + std::to_string(cache.layers.size()) + " layers, the model has " +
                               std::to_string(blocks_.size()));
  }
  const AttentionContext ctx = make_cached_attention_context(config_, past, n_new, ids.device());
  torch::Tensor h = embed->forward(ids);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i]->forward_cached(h, ctx, cache.layers[i].k, cache.layers[i].v).hidden;
  }
  ForwardOutput out;
  out.logits = lm_head->forward(ln_f->forward(h));
  return out;
}

torch::Tensor ForwardInput::mask_from_lengths(const torch::Tensor& lengths, int64_t seq_len) {
  if (!lengths.defined() || lengths.dim() != 1) {
    throw Error("lengths", "expected a 1-D tensor of sequence lengths, got " +
                               (lengths.defined() ? shape_string(lengths.sizes()) : std::string("undefined")));
  }
  if (seq_len < 0) throw Error("seq_len", "must not be negative, got " + std::to_string(seq_len));
  const torch::Tensor len = lengths.to(torch::kInt64);
  if (len.numel() > 0) {
    const int64_t lo = len.min().item<int64_t>(), hi = len.max().item<int64_t>();
    if (lo < 0 || hi > seq_len) {
      throw Error("lengths", "length " + std::to_string(lo < 0 ? lo : hi) + " is outside [0, " +
                                 std::to_string(seq_len) + "]");
    }
  }
  const torch::Tensor pos = torch::arange(seq_len, len.options());
  return pos.unsqueeze(0).lt(len.unsqueeze(1)).to(torch::kInt64);
}

}  // namespace cook::model

#include "cook/compress/moe/moefy.h"

#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/moe/moefication_files.h"
#include "cook/compress/moe/router.h"
#include "cook/core/error.h"

namespace cook::compress::moe {

int64_t moefy(model::GptJImpl& model, const MoeFile& file, const MoeOptions& o, const std::string& name) {
  const model::ModelConfig& c = model.config();
  if (file.d_model != c.d_model || file.d_ff != c.d_ff)
    throw Error(name, "made for d_model " + std::to_string(file.d_model) + ", d_ff " + std::to_string(file.d_ff) +
                          "; the model has " + std::to_string(c.d_model) + ", " + std::to_string(c.d_ff));
  if (o.num_expert != 0 && o.num_expert != file.num_expert)
    throw Error("num_expert", std::to_string(o.num_expert) + " asked for, but " + name + " splits each FFN into " +
                                  std::to_string(file.num_expert) + " experts");
  if (o.topk < 1 || o.topk > file.num_expert)
    throw Error("topk", "must be in [1, " + std::to_string(file.num_expert) + "], got " + std::to_string(o.topk));
  auto blocks = model.blocks();
  for (const auto& [i, layer] : file.layers) {
    if (i >= static_cast<int64_t>(blocks.size()))
      throw Error(name, "layer " + std::to_string(i) + " does not exist in a model of " + std::to_string(blocks.size()) +
                            " layers");
    if (!blocks[i]->dense_ffn()) throw Error(name, "layer " + std::to_string(i) + ": the FFN is not dense (moefied twice?)");
    if (o.router == RouterKind::Mlp && layer.mlp_router.empty())
      throw Error(name, "layer " + std::to_string(i) + " has no MLP router (train one with 'cook moe router')");
  }
  const torch::Device device = model.embed->weight.device();
  const torch::ScalarType dtype = model.embed->weight.scalar_type();
  for (const auto& [i, layer] : file.layers) {
    auto dense = blocks[i]->dense_ffn();
    std::shared_ptr<RouterImpl> router;
    RouterKind kind = o.router;
    if (kind == RouterKind::Auto) kind = layer.mlp_router.empty() ? RouterKind::Centroid : RouterKind::Mlp;
    switch (kind) {
      case RouterKind::Mlp:
        router = std::make_shared<MlpRouterImpl>(layer.mlp_router, c.d_model, name + ": layer " + std::to_string(i));
        break;
      case RouterKind::Centroid: router = std::make_shared<CentroidRouterImpl>(layer.centroids); break;
      default: router = std::make_shared<OracleRouterImpl>(dense->fc_in.ptr(), dense->activation(), layer.experts); break;
    }
    router->to(device, dtype);
    blocks[i]->replace_ffn(std::make_shared<ExpertFeedForwardImpl>(*dense, layer.experts, router, o.topk));
  }
  return static_cast<int64_t>(file.layers.size());
}

int64_t moefy(model::GptJImpl& model, const MoeOptions& o) {
  if (!o.is_moefy) return 0;
  o.validate("MoEfication");
  return moefy(model, load_moe_source(o.moe_path, model), o, o.moe_path);
}

int64_t unmoefy(model::GptJImpl& model) {
  int64_t n = 0;
  for (auto& block : model.blocks()) {
    auto expert = std::dynamic_pointer_cast<ExpertFeedForwardImpl>(block->ffn());
    if (!expert) continue;
    auto dense = std::make_shared<model::DenseFeedForwardImpl>(model.config());
    dense->replace_module("fc_in", expert->fc_in.ptr());
    dense->fc_in = expert->fc_in;
    dense->replace_module("fc_out", expert->fc_out.ptr());
    dense->fc_out = expert->fc_out;
    block->replace_ffn(dense);
    ++n;
  }
  return n;
}

}  // namespace cook::compress::moe

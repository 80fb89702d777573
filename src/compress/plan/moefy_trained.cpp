#include "cook/compress/plan/moefy_trained.h"

#include <filesystem>

#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/experts.h"
#include "cook/compress/moe/hidden_dump.h"
#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/moefy.h"
#include "cook/compress/moe/router.h"
#include "cook/compress/moe/router_training.h"
#include "cook/core/error.h"
#include "cook/core/progress.h"

namespace cook::compress::plan {

MoefyReport moefy_trained(model::GptJ& model, const CompressConfig& c, const train::EvalSource& train_tokens,
                          const std::string& folder, bool progress, std::ostream& log) {
  const MoeSection& m = c.moefication;
  const model::ModelConfig& config = model->config();
  const int64_t experts = m.options.num_expert;
  if (config.d_ff % experts != 0)
    throw Error(c.source + ": MoEfication.num_expert", std::to_string(experts) + " experts do not divide d_ff " +
                                                           std::to_string(config.d_ff) + " into equal parts");
  const auto mode = progress ? Progress::Mode::automatic : Progress::Mode::off;
  MoefyReport report;
  const std::string hidden = (std::filesystem::path(folder) / "hidden").string();
  moe::HiddenDumpOptions dump_options;
  dump_options.tokens = m.hidden_tokens;
  dump_options.progress = progress;
  report.tokens = moe::dump_ffn_inputs(model, train_tokens, hidden, dump_options, {{"by", "cook compress"}});
  const moe::HiddenDump dump = moe::open_hidden_dump(hidden);

  moe::BalancedKMeansOptions split;
  split.clusters = experts;
  split.restarts = m.split_restarts;
  split.max_iterations = m.split_iterations;
  split.seed = static_cast<uint64_t>(c.model.seed);
  moe::RouterTrainingOptions router_options;
  router_options.epochs = m.router_epochs;
  router_options.learning_rate = m.router_lr;
  router_options.top_k = m.options.topk;
  router_options.seed = static_cast<uint64_t>(c.model.seed);

  Progress::Options po;
  po.label = "moefy";
  po.total = config.n_layer;
  po.item_name = "layers";
  po.mode = mode;
  Progress bar(po);
  moe::MoeFile file;
  file.num_expert = experts;
  file.d_model = config.d_model;
  file.d_ff = config.d_ff;
  auto blocks = model->blocks();
  for (int64_t i = 0; i < config.n_layer; ++i) {
    auto dense = blocks[i]->dense_ffn();
    if (!dense) throw Error(c.source + ": MoEfication", "block " + std::to_string(i) + " has no dense FFN to split");
    const moe::BalancedKMeansResult r = moe::balanced_kmeans(dense->fc_in->effective_weight().detach(), split);
    moe::MoeLayer layer{moe::experts_from_labels(r.labels, experts), r.centroids, {}};
    moe::MlpRouter router(layer.centroids);
    const moe::RouterTrainingReport trained =
        moe::train_mlp_router(*router, *dense, layer.experts, layer.centroids, dump.layer(i), router_options);
    layer.mlp_router = router->tensors();
    report.router_coverage += trained.coverage / config.n_layer;
    report.centroid_coverage += trained.centroid_coverage / config.n_layer;
    file.layers[i] = std::move(layer);
    bar.advance(1);
  }
  bar.finish();
  file.report = {{"by", "cook compress"}, {"config", c.source}, {"tokens", report.tokens},
                 {"router_coverage", report.router_coverage}, {"centroid_coverage", report.centroid_coverage}};
  report.moe_path = (std::filesystem::path(folder) / "moe.safetensors").string();
  moe::save_moe_file(report.moe_path, file);
  moe::MoeOptions options = m.options;
  options.moe_path = report.moe_path;
  moe::moefy(*model, file, options, report.moe_path);
  log << "MoEfication: " << config.n_layer << " layers × " << experts << " experts, top-" << m.options.topk
      << "; router coverage " << report.router_coverage << " (centroid router " << report.centroid_coverage
      << ") on " << report.tokens << " tokens; " << report.moe_path << "\n";
  return report;
}

}  // namespace cook::compress::plan

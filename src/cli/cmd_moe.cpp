// cook moe: the MoEfication pipeline after ReLU-fication.
//   cook moe dump    FFN inputs of N tokens of a split (one file per layer + manifest)
//   cook moe split   each FFN's neurons into E equal experts (balanced k-means) → MoE file
//   cook moe router  an MLP router per layer trained on a dump → MoE file; reports coverage
// Then `cook eval|generate|train --moe --moe-ckpt FILE --topk K` runs the MoEfied model.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cook/cli/commands.h"
#include "cook/cli/model_setup.h"
#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/experts.h"
#include "cook/compress/moe/hidden_dump.h"
#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/moefication_files.h"
#include "cook/compress/moe/router_training.h"
#include "cook/core/error.h"
#include "cook/core/progress.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"

namespace cook::cli {

namespace {

namespace moe = compress::moe;

struct DumpArgs {
  ModelArgs model;
  std::string data, split = text::kTrainSplit, output;
  int64_t tokens = 65536, batch_size = 8, seq_len = 256;
  bool no_progress = false;
};

struct SplitArgs {
  ModelArgs model;
  std::string output;
  int64_t num_expert = 0, restarts = 3, iterations = 15;
  uint64_t split_seed = 1;
  bool no_progress = false;
};

struct RouterArgs {
  ModelArgs model;
  std::string split_file, hidden, output;
  int64_t topk = 0, epochs = moe::RouterTrainingOptions{}.epochs, batch_size = 512;
  double lr = 1e-2;
  uint64_t router_seed = 1;
  bool no_progress = false;
};

Progress::Mode progress_mode(bool off) { return off ? Progress::Mode::off : Progress::Mode::automatic; }

// The dense ReLU model the pipeline works on, with a warning for a GeLU model.
ModelSetup load_model(const ModelArgs& a) {
  if (a.load.empty()) throw Error("--load", "is required: the (ReLU) checkpoint to MoEfy");
  ModelSetup setup = build_model(a);
  setup.model->eval();
  if (setup.model->config().activation != model::Activation::Relu)
    std::cerr << "moe: warning: " << a.load << " is not a ReLU model; MoEfication assumes ReLU (train a "
              << "<preset>-relu model with distillation first)\n";
  return setup;
}

void run_dump(const DumpArgs& a) {
  if (a.output.empty()) throw Error("--output", "is required: the folder to write");
  ModelSetup setup = load_model(a.model);
  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(a.data, a.split));
  check_vocabulary(setup.model->config(), *split);
  if (a.seq_len > setup.model->config().n_positions)
    throw Error("--seq-len", std::to_string(a.seq_len) + " is longer than the model's context");
  train::TokenEvalSource source(split, a.batch_size, a.seq_len);
  moe::HiddenDumpOptions o;
  o.tokens = a.tokens;
  o.progress = !a.no_progress;
  const int64_t n = moe::dump_ffn_inputs(setup.model, source, a.output, o,
                                         {{"checkpoint", setup.source}, {"data", a.data}, {"split", a.split},
                                          {"seq_len", a.seq_len}});
  std::cout << "wrote the FFN inputs of " << n << " tokens × " << setup.model->config().n_layer << " layers to "
            << a.output << "\n";
}

void run_split(const SplitArgs& a) {
  if (a.output.empty()) throw Error("--output", "is required: the MoE file to write");
  if (a.num_expert <= 0) throw Error("--num-expert", "is required: experts per FFN");
  ModelSetup setup = load_model(a.model);
  const model::ModelConfig& c = setup.model->config();
  if (c.d_ff % a.num_expert != 0)
    throw Error("--num-expert", std::to_string(a.num_expert) + " experts do not divide the FFN width d_ff " +
                                    std::to_string(c.d_ff) + " into equal parts");
  moe::BalancedKMeansOptions o;
  o.clusters = a.num_expert;
  o.restarts = a.restarts;
  o.max_iterations = a.iterations;
  o.seed = a.split_seed;
  Progress::Options po;
  po.label = "moe split";
  po.total = c.n_layer * a.restarts * a.iterations;
  po.item_name = "iterations";
  po.mode = progress_mode(a.no_progress);
  Progress bar(po);
  moe::MoeFile file;
  file.num_expert = a.num_expert;
  file.d_model = c.d_model;
  file.d_ff = c.d_ff;
  nlohmann::json layers = nlohmann::json::array();
  auto blocks = setup.model->blocks();
  for (int64_t i = 0; i < c.n_layer; ++i) {
    auto dense = blocks[i]->dense_ffn();
    if (!dense) throw Error(a.model.load, "layer " + std::to_string(i) + ": the FFN is not dense");
    const int64_t before = bar.done();
    const auto t0 = std::chrono::steady_clock::now();
    const moe::BalancedKMeansResult r =
        moe::balanced_kmeans(dense->fc_in->weight, o, [&] { bar.advance(1); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.set(before + a.restarts * a.iterations);  // restarts that converged early
    file.layers[i] = {moe::experts_from_labels(r.labels, a.num_expert), r.centroids, {}};
    std::ostringstream line;
    line << "layer " << i << ": inertia " << std::fixed << std::setprecision(2) << r.inertia << " (restart "
         << r.best_restart << ", " << r.iterations << " iterations, " << std::setprecision(1) << seconds << " s)";
    bar.message(line.str());
    layers.push_back({{"layer", i}, {"inertia", r.inertia}, {"iterations", r.iterations}, {"seconds", seconds}});
  }
  bar.finish();
  file.report = {{"split", {{"checkpoint", setup.source}, {"method", "balanced k-means, auction assignment"},
                            {"restarts", a.restarts}, {"max_iterations", a.iterations}, {"seed", a.split_seed},
                            {"layers", layers}}}};
  moe::save_moe_file(a.output, file);
  std::cout << "wrote " << a.output << ": " << c.n_layer << " layers × " << a.num_expert << " experts of "
            << c.d_ff / a.num_expert << " neurons\n";
}

void run_router(const RouterArgs& a) {
  if (a.output.empty()) throw Error("--output", "is required: the MoE file to write");
  if (a.split_file.empty()) throw Error("--split-file", "is required: the MoE file 'cook moe split' wrote");
  if (a.hidden.empty()) throw Error("--hidden", "is required: the folder 'cook moe dump' wrote");
  ModelSetup setup = load_model(a.model);
  const model::ModelConfig& c = setup.model->config();
  moe::MoeFile file = moe::load_moe_source(a.split_file, *setup.model);
  if (file.d_model != c.d_model || file.d_ff != c.d_ff)
    throw Error(a.split_file, "was made for another model shape (d_model " + std::to_string(file.d_model) +
                                  ", d_ff " + std::to_string(file.d_ff) + ")");
  if (a.topk <= 0 || a.topk > file.num_expert)
    throw Error("--topk", "must be in [1, " + std::to_string(file.num_expert) + "]");
  const moe::HiddenDump dump = moe::open_hidden_dump(a.hidden);
  if (dump.d_model != c.d_model) throw Error(a.hidden, "d_model differs from the model's");
  moe::RouterTrainingOptions o;
  o.epochs = a.epochs;
  o.batch_size = a.batch_size;
  o.learning_rate = a.lr;
  o.top_k = a.topk;
  o.seed = a.router_seed;
  Progress::Options po;
  po.label = "moe router";
  po.total = static_cast<int64_t>(file.layers.size()) * a.epochs;
  po.item_name = "epochs";
  po.mode = progress_mode(a.no_progress);
  Progress bar(po);
  auto blocks = setup.model->blocks();
  nlohmann::json layers = nlohmann::json::array();
  std::ostringstream table;
  table << "| layer | MLP router | centroid router | oracle | best epoch |\n|---|---|---|---|---|\n";
  double sum_mlp = 0, sum_cen = 0;
  for (auto& entry : file.layers) {
    const int64_t i = entry.first;
    moe::MoeLayer& layer = entry.second;
    if (i >= c.n_layer) throw Error(a.split_file, "layer " + std::to_string(i) + " is not in the model");
    moe::MlpRouter router(layer.centroids);
    const moe::RouterTrainingReport r =
        moe::train_mlp_router(*router, *blocks[i]->dense_ffn(), layer.experts, layer.centroids, dump.layer(i), o,
                              [&](int64_t epoch, double loss) {
                                std::ostringstream note;
                                note << "layer " << i << " loss " << std::setprecision(4) << loss;
                                bar.set_note(note.str());
                                bar.advance(1);
                              });
    layer.mlp_router = router->tensors();
    table << "| " << i << " | " << std::fixed << std::setprecision(3) << r.coverage << " | " << r.centroid_coverage
          << " | " << r.oracle_coverage << " | " << r.best_epoch << " |\n";
    sum_mlp += r.coverage;
    sum_cen += r.centroid_coverage;
    layers.push_back({{"layer", i}, {"coverage", r.coverage}, {"centroid_coverage", r.centroid_coverage},
                      {"oracle_coverage", r.oracle_coverage}, {"best_epoch", r.best_epoch},
                      {"train_loss", r.train_loss}, {"held_out_loss", r.held_out_loss}});
  }
  bar.finish();
  file.report["router"] = {{"hidden", a.hidden}, {"tokens", dump.tokens}, {"topk", a.topk}, {"epochs", a.epochs},
                           {"learning_rate", a.lr}, {"layers", layers}};
  moe::save_moe_file(a.output, file);
  const double n = static_cast<double>(file.layers.size());
  std::cout << "held-out coverage at top-" << a.topk << " of " << file.num_expert << " experts:\n"
            << table.str() << std::fixed << std::setprecision(3) << "mean: MLP router " << sum_mlp / n
            << ", centroid router " << sum_cen / n << "\nwrote " << a.output << "\n";
}

}  // namespace

void add_moe_command(CLI::App& app) {
  CLI::App* moe_cmd = app.add_subcommand("moe", "MoEfication: dump FFN inputs, split FFNs into experts, train routers");
  moe_cmd->require_subcommand(1);

  auto d = std::make_shared<DumpArgs>();
  CLI::App* dump = moe_cmd->add_subcommand("dump", "Record every FFN's input for N tokens of a split");
  add_model_options(*dump, d->model);
  dump->add_option("--config", "JSON file of options (keys are option names without dashes)");
  dump->add_option("--data", d->data, "Token-data folder from 'cook data prepare'")->required();
  dump->add_option("--split", d->split, "Split to read")->capture_default_str();
  dump->add_option("--tokens", d->tokens, "Tokens to record")->capture_default_str();
  dump->add_option("--batch-size", d->batch_size, "Windows per batch")->capture_default_str();
  dump->add_option("--seq-len", d->seq_len, "Tokens per window")->capture_default_str();
  dump->add_option("--output", d->output, "Folder to write (layer-N.safetensors + manifest.json)");
  dump->add_flag("--no-progress", d->no_progress, "No progress bar");
  dump->callback([d] { run_dump(*d); });

  auto s = std::make_shared<SplitArgs>();
  CLI::App* split = moe_cmd->add_subcommand("split", "Split each FFN into equal experts (balanced k-means)");
  add_model_options(*split, s->model);
  split->add_option("--config", "JSON file of options (keys are option names without dashes)");
  split->add_option("--num-expert", s->num_expert, "Experts per FFN (must divide d_ff)");
  split->add_option("--restarts", s->restarts, "k-means restarts (the least inertia is kept)")->capture_default_str();
  split->add_option("--iterations", s->iterations, "k-means iterations per restart at most")->capture_default_str();
  split->add_option("--split-seed", s->split_seed, "Seed of the initial centroids")->capture_default_str();
  split->add_option("--output", s->output, "MoE file to write");
  split->add_flag("--no-progress", s->no_progress, "No progress bar");
  split->callback([s] { run_split(*s); });

  auto r = std::make_shared<RouterArgs>();
  CLI::App* router = moe_cmd->add_subcommand("router", "Train each layer's MLP router on a dump; report coverage");
  add_model_options(*router, r->model);
  router->add_option("--config", "JSON file of options (keys are option names without dashes)");
  router->add_option("--split-file", r->split_file, "MoE file from 'cook moe split'");
  router->add_option("--hidden", r->hidden, "Folder from 'cook moe dump' (or 'cook train --save-hidden')");
  router->add_option("--topk", r->topk, "Experts per token the coverage is measured at");
  router->add_option("--epochs", r->epochs, "Training epochs per layer")->capture_default_str();
  router->add_option("--batch-size", r->batch_size, "Tokens per step")->capture_default_str();
  router->add_option("--lr", r->lr, "Adam learning rate")->capture_default_str();
  router->add_option("--router-seed", r->router_seed, "Seed of the held-out choice and the order")->capture_default_str();
  router->add_option("--output", r->output, "MoE file to write (the split plus the routers)");
  router->add_flag("--no-progress", r->no_progress, "No progress bar");
  router->callback([r] { run_router(*r); });
}

}  // namespace cook::cli

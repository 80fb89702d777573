// Wires the pruning pass into `cook train`.
#include "cook/cli/train_pruning.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "cook/compress/prune/pruning_pass.h"
#include "cook/core/error.h"
#include "cook/core/json_fields.h"
#include "cook/train/trainer.h"

namespace cook::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

prune::PruningOptions options_from_config(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "the pruning config");
  if (!j.is_object() || !j.contains("pruning")) throw Error(path, "has no \"pruning\" section");
  return prune::pruning_options_from_json(j.at("pruning"), path + ": pruning");
}

}  // namespace

void add_pruning_train_options(CLI::App& cmd, PruningTrainArgs& a) {
  cmd.add_option("--pruning-method", a.method,
                 "Mask method: m4n2_1d, m4n2_2d (greedy), m4n2_2d_best, magnitude (unstructured)")
      ->capture_default_str();
  cmd.add_option("--pruning-modules", a.modules, "Comma-separated substrings of the weights to prune")
      ->capture_default_str();
  cmd.add_option("--pruning-sparsity", a.sparsity, "Sparsity of unstructured (magnitude) masks")->capture_default_str();
  cmd.add_option("--pruning-config", a.pruning_config,
                 "BMCook config file whose \"pruning\" section sets the pass (instead of the flags above)");
}

void attach_pruning(train::Trainer& trainer, const PruningTrainArgs& a) {
  if (!a.use_pruning) {
    if (!a.mask_path.empty()) throw Error("--pruning-mask-path", "needs --use-pruning");
    if (!a.pruning_config.empty()) throw Error("--pruning-config", "needs --use-pruning");
    return;
  }
  prune::PruningOptions o;
  std::string where = "--use-pruning";
  if (!a.pruning_config.empty()) {
    o = options_from_config(a.pruning_config);
    where = a.pruning_config + ": pruning";
    if (!o.is_pruning) throw Error(where + ".is_pruning", "is false, but --use-pruning asks for pruning");
    if (!a.mask_path.empty()) o.pruning_mask_path = a.mask_path;
  } else {
    o.is_pruning = true;
    o.pruning_mask_path = a.mask_path;
    o.mask_method = a.method;
    o.pruned_module = split_list(a.modules);
    o.sparsity = a.sparsity;
    // Check the flags first so that errors name them.
    prune::make_mask_spec(a.method, "", a.sparsity, false, {"--pruning-method", "--pruning-method", "--pruning-sparsity"});
    prune::select_layers(*trainer.model(), o.pruned_module, "--pruning-modules");
  }
  trainer.add_extension(prune::make_pruning_pass(trainer.model(), o, where, &std::cout));
}

}  // namespace cook::cli

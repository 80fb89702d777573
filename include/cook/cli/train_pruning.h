// `cook train --use-pruning [--pruning-mask-path F]`: BMCook's pruning flags, plus Cook's choice of
// method, modules and sparsity. The masks are loaded from the mask file when it exists, else
// computed from the starting weights and saved there.
#pragma once
#include <string>

namespace CLI {
class App;
}
namespace cook::train {
class Trainer;
}

namespace cook::cli {

struct PruningTrainArgs {
  bool use_pruning = false;
  std::string mask_path;
  std::string method = "m4n2_1d";
  std::string modules = "proj,fc_";
  double sparsity = 0.5;
  std::string pruning_config;  // a BMCook config file; its "pruning" section
};

// --pruning-method, --pruning-modules, --pruning-sparsity, --pruning-config (the BMCook flags
// --use-pruning and --pruning-mask-path are declared by cmd_train).
void add_pruning_train_options(CLI::App& cmd, PruningTrainArgs& args);
// Adds the pruning pass to the trainer when asked to (before any resume).
void attach_pruning(train::Trainer& trainer, const PruningTrainArgs& args);

}  // namespace cook::cli

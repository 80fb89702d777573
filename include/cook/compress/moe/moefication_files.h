// MoEfication's files, as BMCook's GPT-J example reads them (example/moe BMMoE.moefy with
// checkpoint = --moe-ckpt DIR) and its MoEfication scripts write them:
//   DIR/gp_split/dec_layers.{i}.ff.fc_in_weight
//       torch.save of the expert of each fc_in neuron: a list of d_ff ints (trans_gp.py) or numpy
//       integers (ParamSplit.save, param_cluster_example.py; also found under DIR/param_split/).
//       Experts are numbered 0 … E-1 and equal in size.
//   DIR/gp_split/dec_layers.{i}.ff.fc_in_weight.model   (or .model_input_compl, the name
//       mlp_select_example.py gives it before it is renamed)
//       torch.save of the whole MLP router module (MLPCenter): torch.nn.Sequential(
//       Linear(d, E, bias=False), Tanh(), Linear(E, E, bias=False)) applied to x/‖x‖ — Cook's MLP
//       router with zero biases. Optional: a layer without one gets the centroid router.
// A layer with no label file stays dense (BMMoE skips it). The labels become Cook's experts
// (ascending neurons per expert); the centroids, which these files do not hold, are computed from
// the model's fc_in as MoEfication's ParamCenter does (the mean of each expert's normalized rows).
#pragma once
#include <string>

#include "cook/compress/moe/moe_file.h"
#include "cook/model/gptj.h"

namespace cook::compress::moe {

// True when `path` is a folder (the form MoEfication's files come in).
bool is_moefication_folder(const std::string& path);

// Reads the folder for `model`. Errors name the file and what is wrong: labels that are not a
// list of integers, not d_ff of them, experts of unequal sizes or a different count per layer, a
// router that is not that Sequential or has the wrong shapes; and the files looked for when there
// are none.
MoeFile read_moefication_folder(const std::string& dir, const model::GptJImpl& model);

// A MoE file of either kind: Cook's (moe_file.h) or MoEfication's folder.
MoeFile load_moe_source(const std::string& path, const model::GptJImpl& model);

}  // namespace cook::compress::moe

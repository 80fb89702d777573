#include "cook/cli/moe_options.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include "cook/compress/moe/hidden_dump.h"
#include "cook/compress/moe/moefy.h"
#include "cook/core/error.h"
#include "cook/text/token_dataset.h"
#include "cook/train/token_batches.h"

namespace cook::cli {

void add_moe_options(CLI::App& cmd, MoeArgs& a) {
  cmd.add_flag("--moe", a.moe, "Run MoEfied FFNs (experts + router from --moe-ckpt)");
  cmd.add_option("--moe-ckpt", a.moe_ckpt, "MoE file from 'cook moe split' / 'cook moe router', or a MoEfication folder (BMCook's gp_split/)");
  cmd.add_option("--num-expert", a.num_expert, "Experts per FFN (checked against the MoE file; 0: the file's)");
  cmd.add_option("--topk", a.topk, "Experts computed per token");
  cmd.add_option("--moe-router", a.router, "Router: auto (MLP if trained, else centroid), mlp, centroid, oracle")
      ->capture_default_str();
}

compress::moe::MoeOptions moe_options(const MoeArgs& a) {
  compress::moe::MoeOptions o;
  if (!a.moe) {
    if (!a.moe_ckpt.empty()) throw Error("--moe-ckpt", "is given without --moe");
    if (a.topk != 0) throw Error("--topk", "is given without --moe");
    if (a.num_expert != 0) throw Error("--num-expert", "is given without --moe");
    return o;
  }
  if (a.moe_ckpt.empty()) throw Error("--moe-ckpt", "is required with --moe (the file 'cook moe router' wrote)");
  if (a.topk <= 0) throw Error("--topk", "is required with --moe: how many experts each token uses");
  if (a.num_expert < 0) throw Error("--num-expert", "must be positive");
  o.is_moefy = true;
  o.moe_path = a.moe_ckpt;
  o.topk = a.topk;
  o.num_expert = a.num_expert;
  o.router = compress::moe::parse_router_kind(a.router, "--moe-router");
  return o;
}

void apply_moe(model::GptJ& model, const MoeArgs& a) {
  const compress::moe::MoeOptions o = moe_options(a);
  if (!o.is_moefy) return;
  const int64_t n = compress::moe::moefy(*model, o);
  std::cerr << "moe: " << n << " FFNs MoEfied from " << o.moe_path << " (top-" << o.topk << ", router "
            << a.router << ")\n";
}

void add_train_moe_options(CLI::App& cmd, TrainMoeArgs& a) {
  add_moe_options(cmd, a.moe);
  cmd.add_flag("--save-hidden", a.save_hidden, "Save FFN inputs for MoEfication (after training, or with --eval)");
  cmd.add_option("--hidden-tokens", a.hidden_tokens, "Tokens whose FFN inputs --save-hidden records")
      ->capture_default_str();
  cmd.add_option("--hidden-dir", a.hidden_dir, "Folder for --save-hidden (default: <save-dir>/hidden)");
}

void save_hidden_if_asked(model::GptJ& model, const TrainMoeArgs& a, const std::string& data,
                          const std::string& save_dir, int64_t batch_size, int64_t seq_len, bool progress,
                          bool write) {
  if (!a.save_hidden) return;
  std::string dir = a.hidden_dir;
  if (dir.empty()) {
    if (save_dir.empty()) throw Error("--save-hidden", "give --hidden-dir or --save-dir");
    dir = save_dir + "/hidden";
  }
  auto split = std::make_shared<text::TokenDataset>(text::TokenDataset::open(data, text::kTrainSplit));
  train::TokenEvalSource source(split, batch_size, seq_len);
  compress::moe::HiddenDumpOptions o;
  o.tokens = a.hidden_tokens;
  o.progress = progress;
  o.write = write;
  const int64_t n = compress::moe::dump_ffn_inputs(
      model, source, dir, o, {{"data", data}, {"split", text::kTrainSplit}, {"seq_len", seq_len}});
  if (write) std::cout << "saved the FFN inputs of " << n << " tokens in " << dir << "\n";
}

}  // namespace cook::cli

// The MoEfication flags of the model-running commands (train, eval, generate): BMCook's --moe,
// --moe-ckpt, --num-expert, --topk, plus Cook's --moe-router; and `cook train --save-hidden`.
#pragma once
#include <cstdint>
#include <string>

#include "cook/compress/moe/options.h"
#include "cook/model/gptj.h"

namespace CLI {
class App;
}

namespace cook::cli {

struct MoeArgs {
  bool moe = false;
  std::string moe_ckpt;
  int64_t num_expert = 0;  // 0: the MoE file's
  int64_t topk = 0;
  std::string router = "auto";
};

void add_moe_options(CLI::App& cmd, MoeArgs& args);
// Options as MoeOptions (flags given without --moe are an error naming the flag).
compress::moe::MoeOptions moe_options(const MoeArgs& args);
// With --moe, replaces the model's FFNs by expert FFNs and says so on stderr; else nothing.
void apply_moe(model::GptJ& model, const MoeArgs& args);

// cook train: the MoE flags and --save-hidden (record FFN inputs for `cook moe router`).
struct TrainMoeArgs {
  MoeArgs moe;
  bool save_hidden = false;
  int64_t hidden_tokens = 65536;
  std::string hidden_dir;  // default <save-dir>/hidden
};
void add_train_moe_options(CLI::App& cmd, TrainMoeArgs& args);
// With --save-hidden: records the FFN inputs of the first tokens of the training split of `data`
// into the hidden folder (after training, or instead of it with --eval). With `write` false it
// runs the same forward passes and writes nothing: every rank of a ZeRO-3 run calls it, the
// writer with true.
void save_hidden_if_asked(model::GptJ& model, const TrainMoeArgs& args, const std::string& data,
                          const std::string& save_dir, int64_t batch_size, int64_t seq_len, bool progress,
                          bool write = true);

}  // namespace cook::cli

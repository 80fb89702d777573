// The config of `cook compress`: one JSON object that says what to compress, how, and what to
// measure. BMCook's V3 config sections (distillation, pruning, quantization, MoEfication) are read
// with BMCook's keys as they are; Cook adds model, data, training, export and report. Every key is
// optional; an unknown key, a wrong type or an impossible combination is a cook::Error that names
// the file and the key path ("run.json: pruning.mask_method") and says what is allowed.
//
//   {
//     "model":        {"preset": "small", "load": "dense/model.safetensors", "dense_steps": 0, "seed": 1,
//                      "device": "cpu", "dtype": "fp32"},
//     "data":         {"tokens": "runs/demo/sotu-tokens"},
//     "training":     {"steps": 200, "batch_size": 8, "seq_len": 128, "start_lr": 3e-4, ...},
//     "distillation": {"ce_scale": 1, "ce_temp": 2, "mse_last_hidden_scale": 0, ...},   (BMCook V3)
//     "pruning":      {"is_pruning": true, "mask_method": "m4n2_1d", "pruned_module": [...]}, (BMCook)
//     "quantization": {"is_quant": true, "quantized_module": [...]},                       (BMCook)
//     "MoEfication":  {"is_moefy": true, "num_expert": 16, "topk": 4, ...},               (BMCook + Cook)
//     "export":       {"checkpoint": true, "int8": true},
//     "report":       {"eval_batches": 20, "speed": true, "plots": true}
//   }
//
// The passes are applied in one order, whatever the combination (see passes.h):
//   prune → distill → quantize → MoEfy.
// Distillation is on when any of its scales is > 0 (BMCook V3's rule); its teacher is the dense
// model the student starts from.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cook/compress/distill/options.h"
#include "cook/compress/moe/options.h"
#include "cook/compress/prune/pruning_options.h"
#include "cook/compress/quant/options.h"

namespace cook::compress::plan {

struct ModelSection {
  std::string preset = "small";  // the architecture (checked against `load`)
  std::string load;              // the dense model: the teacher and the student's start
  int64_t dense_steps = 0;       // > 0 and no `load`: train the dense model first (cached in save_dir/dense)
  double dense_start_lr = 1e-3;  // its peak learning rate (the rest of its schedule is `training`'s)
  int64_t dense_warmup = 50;     // its warm-up steps
  int64_t seed = 1;
  std::string device = "cpu";    // where the dense and compressed models train: cpu, cuda or cuda:N
  std::string dtype = "fp32";    // fp32, or bf16 (computes in bf16, fp32 master weights)
  bool relu = false;             // the student's FFNs become ReLU without fc_in bias (BMCook's relu recipe)
};

struct DataSection {
  std::string tokens;  // a folder written by `cook data prepare` (train and validation splits)
};

struct TrainingSection {
  int64_t steps = 200;
  int64_t batch_size = 8;
  int64_t seq_len = 128;
  double start_lr = 3e-4;
  std::string schedule = "cosine";  // noam | cosine | constant
  int64_t warmup = 20;
  double min_lr = 0.0;
  double weight_decay = 0.01;
  double clip_grad = 1.0;
  int64_t grad_accum = 1;
  int64_t log_interval = 10;
  int64_t eval_interval = 0;
  int64_t eval_batches = 20;
  int64_t save_interval = 100;
  bool activation_checkpointing = false;
  double time_limit_min = 0;
};

// MoEfication inside `cook compress`: the student's FFNs must be ReLU (model.relu converts a GeLU
// model, learnt during the compression training, by distillation when it is on); after training
// the FFN inputs are recorded, the neurons clustered into experts and the routers trained; the report evaluates the
// model with its top-k experts. BMCook's keys, plus Cook's.
struct MoeSection {
  moe::MoeOptions options;      // is_moefy, first_FFN_module, num_expert, topk, router (moe_path is written)
  int64_t split_restarts = 3;   // balanced k-means
  int64_t split_iterations = 15;
  int64_t hidden_tokens = 16384;  // FFN inputs recorded for the routers
  int64_t router_epochs = 30;  // MoEfication's MLPCenter trains 30 epochs (as RouterTrainingOptions)
  double router_lr = 1e-2;
};

struct ExportSection {
  bool checkpoint = true;  // the compressed model as a Cook checkpoint (masks applied)
  bool int8 = true;        // with quantization on: the int8 artefact (`cook export --int8`)
};

struct ReportSection {
  int64_t eval_batches = 20;    // validation batches for loss, KL and agreement (0: all)
  bool speed = true;            // measure decode and prefill tokens/s
  int64_t prompt_tokens = 64;   // decode: tokens of the prompt before the timed steps
  int64_t decode_tokens = 32;   // decode: timed new tokens per sequence
  int64_t prefill_tokens = 128; // prefill: tokens per sequence of the timed forward
  bool plots = true;            // PNGs (needs /usr/bin/python3 with matplotlib; said when missing)
};

struct CompressConfig {
  std::string source = "defaults";  // the file it was read from, for messages
  ModelSection model;
  DataSection data;
  TrainingSection training;
  distill::DistillOptions distillation;
  prune::PruningOptions pruning;
  quant::QuantOptions quantization;
  MoeSection moefication;
  ExportSection export_;
  ReportSection report;

  bool distills() const { return distillation.any_term(); }
  bool prunes() const { return pruning.is_pruning; }
  bool quantizes() const { return quantization.is_quant; }
  bool moefies() const { return moefication.options.is_moefy; }
  // "P+D+Q+M"-style tag of the passes that are on, in BMCook's order; "dense" when none.
  std::string passes_tag() const;
  // The folder names of this combination under the save dir: "compressed-pdq", "report-pdq".
  std::string compressed_folder() const;
  std::string report_folder() const;
};

// Reads `path` strictly (see above) and checks it (validate()).
CompressConfig read_compress_config(const std::string& path);
CompressConfig compress_config_from_json(const nlohmann::json& j, const std::string& where);
// Every key with its effective value: what `cook compress --print-config` prints, and readable back.
nlohmann::json to_json(const CompressConfig& c);
// Impossible or useless combinations; errors name `c.source` and the key path.
void validate(const CompressConfig& c);

}  // namespace cook::compress::plan

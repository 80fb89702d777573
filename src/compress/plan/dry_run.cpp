#include "cook/compress/plan/dry_run.h"

#include <filesystem>

#include "cook/compress/plan/passes.h"
#include "cook/core/error.h"
#include "cook/model/placement.h"
#include "cook/text/token_dataset.h"
#include "cook/train/memory_estimate.h"
#include "cook/weights/checkpoint.h"

namespace cook::compress::plan {

namespace fs = std::filesystem;

namespace {

train::TrainingShape shape_of(const CompressConfig& c, const model::ModelConfig& model, torch::Dtype dtype) {
  train::TrainingShape s;
  s.model = model;
  s.dtype = dtype;
  s.batch_size = c.training.batch_size;
  s.seq_len = c.training.seq_len;
  s.activation_checkpointing = c.training.activation_checkpointing;
  s.fused_attention = train::fused_attention_in_training();
  return s;
}

void print_phase(std::ostream& out, const std::string& what, const train::TrainingShape& s, int64_t steps) {
  out << what << ": " << steps << " steps of " << s.batch_size << " x " << s.seq_len << " tokens, a model of "
      << s.model.parameter_count() << " parameters (d_model " << s.model.d_model << ", " << s.model.n_layer
      << " blocks, d_ff " << s.model.d_ff << ")\n"
      << "  memory at the peak of a step (estimate):\n"
      << train::estimate_training_memory(s).table("    ");
}

}  // namespace

void dry_run(const CompressConfig& c, std::ostream& out) {
  const std::string& w = c.source;
  const torch::Device device = model::parse_device(c.model.device, w + ": model.device", /*require_available=*/false);
  const torch::Dtype dtype = model::parse_dtype(c.model.dtype, w + ": model.dtype");
  model::ModelConfig dense;
  if (!c.model.load.empty()) {
    if (!fs::exists(c.model.load)) throw Error(w + ": model.load", "no such file: " + c.model.load);
    dense = weights::read_checkpoint(c.model.load, c.model.preset).config;
  } else {
    dense = model::preset(c.model.preset);
  }
  const model::ModelConfig student = student_config(c, dense);
  if (c.moefies() && student.d_ff % c.moefication.options.num_expert != 0)
    throw Error(w + ": MoEfication.num_expert", std::to_string(c.moefication.options.num_expert) +
                                                   " experts do not divide d_ff " + std::to_string(student.d_ff) +
                                                   " into equal parts");
  if (c.data.tokens.empty()) throw Error(w + ": data.tokens", "is required: a folder written by 'cook data prepare' (or --data)");
  text::TokenDataset train_split = [&] {
    try {
      (void)text::TokenDataset::open(c.data.tokens, text::kValidationSplit);
      return text::TokenDataset::open(c.data.tokens, text::kTrainSplit);
    } catch (const std::exception& e) {
      rethrow_with_context(w + ": data.tokens", e);
    }
  }();
  if (train_split.manifest().tokenizer.vocab_size > student.vocab_size)
    throw Error(w + ": data.tokens", "its vocabulary of " + std::to_string(train_split.manifest().tokenizer.vocab_size) +
                                         " ids does not fit the model's " + std::to_string(student.vocab_size));
  if (c.training.seq_len > student.n_positions)
    throw Error(w + ": training.seq_len", std::to_string(c.training.seq_len) + " is longer than the model's context of " +
                                              std::to_string(student.n_positions));

  out << "dry run of " << w << " (" << c.passes_tag() << ") on " << device.str() << " in " << c.model.dtype << "\n"
      << "token data: " << c.data.tokens << " (" << train_split.num_tokens() << " training tokens)\n";
  int64_t peak = 0;
  if (c.model.load.empty() && c.model.dense_steps > 0) {
    const train::TrainingShape s = shape_of(c, dense, dtype);
    print_phase(out, "dense phase (" + c.model.preset + ")", s, c.model.dense_steps);
    peak = std::max(peak, train::estimate_training_memory(s).total());
  } else if (c.model.load.empty() && c.distills()) {
    throw Error(w + ": distillation", "needs a dense teacher: give model.load or model.dense_steps > 0");
  }
  train::TrainingShape s = shape_of(c, student, dtype);
  if (c.distills()) s.teacher = dense;
  s.quantization_aware = c.quantizes();
  s.pruning_masks = c.prunes();
  print_phase(out, "compression (" + c.passes_tag() + ")", s, c.training.steps);
  peak = std::max(peak, train::estimate_training_memory(s).total());
  if (c.moefies())
    out << "MoEfication after training (on the CPU): " << c.moefication.options.num_expert << " experts per FFN, top "
        << c.moefication.options.topk << "\n";
  train::check_fits_in_memory(peak, device, w);
}

}  // namespace cook::compress::plan

#include "cook/train/memory_estimate.h"

#include <unistd.h>

#include <cstdio>

#include "cook/core/error.h"

namespace cook::train {

namespace {

int64_t element_bytes(torch::Dtype t) { return t == torch::kFloat32 ? 4 : 2; }

// Weights of the block linears (what quantization copies and pruning masks).
int64_t block_linear_weights(const model::ModelConfig& c) {
  return c.n_layer * (4 * c.d_model * c.d_model + 2 * c.d_model * c.d_ff);
}

// Bytes backward keeps for one block: its input and LayerNorm output, q, k, v before and after the
// rotary embedding, the attention context and output, the residual sums; fc_in's output and the
// activation's intermediates; the B·H·T·T scores and probabilities unless attention is fused; under
// QAT the quantized inputs of each linear.
int64_t block_activations(const TrainingShape& s, int64_t bytes) {
  const model::ModelConfig& c = s.model;
  const int64_t tokens = s.batch_size * s.seq_len;
  int64_t per_token = 12 * c.d_model + 4 * c.d_ff;
  if (s.quantization_aware) per_token += 3 * c.d_model + c.d_ff;
  int64_t total = tokens * per_token * bytes;
  if (!s.fused_attention) total += 2 * s.batch_size * c.n_head * s.seq_len * s.seq_len * bytes;
  return total;
}

}  // namespace

bool fused_attention_in_training() {
#if defined(COOK_TORCH_MAJOR) && COOK_TORCH_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

std::string format_bytes(int64_t bytes) {
  char text[32];
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024.0) std::snprintf(text, sizeof text, "%.2f GiB", mib / 1024.0);
  else std::snprintf(text, sizeof text, "%.1f MiB", mib);
  return text;
}

void check_fits_in_memory(int64_t bytes, torch::Device device, const std::string& where) {
  if (!device.is_cpu()) return;
  const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  if (physical > 0 && bytes > physical)
    throw Error(where, "the run needs about " + format_bytes(bytes) + " at its peak, more than this machine's " +
                           format_bytes(physical) + " of memory (a smaller batch, --activation-checkpointing or "
                           "more ranks with ZeRO lower it)");
}

MemoryEstimate estimate_training_memory(const TrainingShape& s) {
  const model::ModelConfig& c = s.model;
  const int64_t params = c.parameter_count();
  const int64_t w = element_bytes(s.dtype);
  const int64_t world = std::max<int64_t>(1, s.world_size);
  MemoryEstimate e;
  e.weights = params * w / (s.zero_stage >= 3 ? world : 1);
  e.gradients = params * w / (s.zero_stage >= 2 ? world : 1);
  e.optimizer = params * (8 + (s.dtype == torch::kFloat32 ? 0 : 4)) / (s.zero_stage >= 1 ? world : 1);
  if (s.teacher) e.teacher = s.teacher->parameter_count() * w;
  if (s.pruning_masks) e.masks = block_linear_weights(c);
  if (s.quantization_aware) e.weights += block_linear_weights(c) * w;  // the fake-quantized copies

  // The head: logits, log-probabilities and their gradients (fp32 for the loss), and under
  // distillation the teacher's logits and probabilities and the student's soft log-probabilities.
  const int64_t head = s.batch_size * s.seq_len * c.vocab_size * 4;
  e.activations = 4 * head + (s.teacher ? 3 * head : 0);
  const int64_t block = block_activations(s, w);
  const bool recompute = s.activation_checkpointing || s.zero_stage >= 3;
  e.activations += recompute ? c.n_layer * s.batch_size * s.seq_len * c.d_model * w + block : c.n_layer * block;
  return e;
}

std::string MemoryEstimate::table(const std::string& indent) const {
  std::string out;
  auto line = [&](const char* name, int64_t bytes) {
    if (bytes == 0 && std::string(name) != "total") return;
    char text[96];
    std::snprintf(text, sizeof text, "%s%-12s %12s\n", indent.c_str(), name, format_bytes(bytes).c_str());
    out += text;
  };
  line("weights", weights);
  line("gradients", gradients);
  line("optimizer", optimizer);
  line("teacher", teacher);
  line("masks", masks);
  line("activations", activations);
  line("total", total());
  return out;
}

}  // namespace cook::train

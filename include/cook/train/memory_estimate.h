// What one training process holds at its peak, estimated from the shapes alone (no model is built),
// for `cook train --dry-run` and `cook compress --dry-run`:
//   weights      P · bytes(dtype), over the world at ZeRO-3;
//   gradients    the same, over the world from ZeRO-2;
//   optimizer    AdamW's two fp32 moments, plus fp32 master weights when training in bf16, over
//                the world from ZeRO-1;
//   teacher      the distillation teacher's weights (no gradients);
//   masks        one byte per pruned weight (the fixed 2:4 or unstructured masks);
//   activations  what backward keeps: per block its inputs, projections, attention probabilities
//                (not with fused attention), FFN intermediates and, under quantization-aware
//                training, the quantized copies; with activation checkpointing only each block's
//                input plus one block recomputed. The LM head's B·T·V logits dominate small models:
//                logits, log-probabilities and their two gradients are alive at once at the peak of
//                backward (and the teacher's logits and probabilities under distillation).
// Tensors of the process itself (libraries, the mapped token data, the allocator's slack) are not
// counted. On `tiny` and `small` the estimate is within 15 % of the measured peak above that
// baseline (tests/train/test_memory_estimate.cpp).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "cook/model/config.h"

namespace cook::train {

struct TrainingShape {
  model::ModelConfig model;
  std::optional<model::ModelConfig> teacher;  // knowledge distillation
  int64_t batch_size = 8;                     // per micro-batch and rank
  int64_t seq_len = 128;
  torch::Dtype dtype = torch::kFloat32;
  int zero_stage = 0;
  int64_t world_size = 1;
  bool activation_checkpointing = false;
  bool quantization_aware = false;
  bool pruning_masks = false;
  bool fused_attention = false;  // scaled_dot_product_attention: no T×T probabilities are kept
};

struct MemoryEstimate {
  int64_t weights = 0, gradients = 0, optimizer = 0, teacher = 0, masks = 0, activations = 0;  // bytes
  int64_t total() const { return weights + gradients + optimizer + teacher + masks + activations; }
  // One line per part and the total, in MiB or GiB, indented by `indent`.
  std::string table(const std::string& indent = "  ") const;
};

MemoryEstimate estimate_training_memory(const TrainingShape& shape);

// Whether attention on `device` runs fused in training with this LibTorch (≥ 2: SDPA).
bool fused_attention_in_training();

// On the CPU: throws an Error naming `where` with both figures when `bytes` exceed this machine's
// physical memory. On a GPU the estimate is only printed (this LibTorch has no portable query of a
// device's memory).
void check_fits_in_memory(int64_t bytes, torch::Device device, const std::string& where);

// "1.23 GiB", "456.7 MiB".
std::string format_bytes(int64_t bytes);

}  // namespace cook::train

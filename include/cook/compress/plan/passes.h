// The compression passes of a `cook compress` config, applied to a student in one order whatever
// the combination:
//   1. prune     the pruning pass (masks from the starting weights or the mask file, held through
//                every optimizer step);
//   2. distill   the distillation extension, with the dense model as teacher;
//   3. quantize  fake quantization of the selected linears (QAT: the forward sees int8 weights
//                and activations, the gradients go straight through);
//   4. MoEfy     after training (moefy_trained.h), on ReLU FFNs (model.relu converts GeLU ones
//                when the student is built, see student_config).
// Pruning comes before quantization so that the quantization scales are computed from the weights
// that survive; distillation is independent of both (it adds a loss).
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cook/compress/distill/teacher.h"
#include "cook/compress/plan/config.h"
#include "cook/model/config.h"
#include "cook/train/trainer.h"

namespace cook::compress::plan {

// The student's architecture: the dense model's, with ReLU FFNs without fc_in bias when model.relu
// asks (BMCook's ReLU FFN, relu(W_in·x); the dense model's fc_in bias is dropped). Throws when
// MoEfication is on and the FFNs would not be ReLU.
model::ModelConfig student_config(const CompressConfig& c, const model::ModelConfig& dense);

// BMCook's module names (pruned_module, quantized_module, e.g. "self_attention" or
// "ff.fc_in_weight") as Cook module names: a pattern that selects a Cook linear stays as it is; one
// that only matches BMCook's weight names becomes the Cook modules of those weights. A pattern that
// matches neither stays, for the pass to report.
std::vector<std::string> cook_module_patterns(const model::ModelConfig& config, const std::vector<std::string>& patterns);

// Attaches passes 1–3 to the trainer's model and the trainer, and says what was done on `log`.
// `teacher` is required when c.distills(). Call before Trainer::resume and run.
void attach_passes(train::Trainer& trainer, const CompressConfig& c, std::optional<distill::Teacher> teacher,
                   std::ostream& log);

}  // namespace cook::compress::plan

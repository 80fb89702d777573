#include "cook/compress/plan/passes.h"

#include "cook/compress/distill/extension.h"
#include "cook/compress/prune/layer_selection.h"
#include "cook/compress/prune/pruning_pass.h"
#include "cook/compress/quant/qat.h"
#include "cook/core/error.h"
#include "cook/weights/name_map.h"

namespace cook::compress::plan {

namespace {

std::string module_of(const std::string& weight_name) {
  const auto dot = weight_name.rfind('.');
  return dot == std::string::npos ? weight_name : weight_name.substr(0, dot);
}

bool selects_a_cook_linear(const weights::NameMap& names, const std::string& pattern) {
  for (const auto& w : names.entries())
    if (w.cook.find(pattern) != std::string::npos && w.cook.rfind("blocks.", 0) == 0 && w.shape.size() == 2) return true;
  return false;
}

}  // namespace

model::ModelConfig student_config(const CompressConfig& c, const model::ModelConfig& dense) {
  model::ModelConfig s = dense;
  if (c.model.relu) {  // BMCook's ReLU FFN computes relu(W_in·x): the GeLU model's fc_in bias is dropped
    s.activation = model::Activation::Relu;
    s.fc_in_bias = false;
  }
  if (c.moefies() && s.activation != model::Activation::Relu)
    throw Error(c.source + ": MoEfication.is_moefy",
                "needs ReLU FFNs and the dense model's are " + std::string(model::activation_name(s.activation)) +
                    ": set model.relu to true (GeLU→ReLU during the compression training)");
  return s;
}

std::vector<std::string> cook_module_patterns(const model::ModelConfig& config, const std::vector<std::string>& patterns) {
  const weights::NameMap names(config);
  std::vector<std::string> out;
  for (const std::string& p : patterns) {
    if (p.empty() || selects_a_cook_linear(names, p)) {
      out.push_back(p);
      continue;
    }
    std::vector<std::string> translated;
    for (const auto& w : names.entries()) {
      if (w.bmcook.find(p) == std::string::npos || w.shape.size() != 2 || w.cook.rfind("blocks.", 0) != 0) continue;
      const std::string module = module_of(w.cook);
      if (translated.empty() || translated.back() != module) translated.push_back(module);
    }
    if (translated.empty()) out.push_back(p);
    out.insert(out.end(), translated.begin(), translated.end());  // "blocks.1.ffn.fc_in" never selects blocks.11
  }
  return out;
}

void attach_passes(train::Trainer& trainer, const CompressConfig& c, std::optional<distill::Teacher> teacher,
                   std::ostream& log) {
  model::GptJ& student = trainer.model();
  const model::ModelConfig& config = student->config();
  if (c.prunes()) {
    prune::PruningOptions o = c.pruning;
    o.pruned_module = cook_module_patterns(config, o.pruned_module);
    trainer.add_extension(prune::make_pruning_pass(student, o, c.source + ": pruning", &log));
  }
  if (c.distills()) {
    if (!teacher) throw Error(c.source + ": distillation", "needs the dense teacher");
    log << "distillation: teacher of " << teacher->config().n_layer << " layers, d_model " << teacher->config().d_model
        << "\n";
    trainer.add_extension(std::make_shared<distill::DistillExtension>(std::move(*teacher), student, c.distillation,
                                                                      c.source + ": distillation"));
  }
  if (c.quantizes()) {
    quant::QuantOptions o = c.quantization;
    o.quantized_module = cook_module_patterns(config, o.quantized_module);
    const auto names = quant::apply_quantization(*student, o, c.source + ": quantization");
    log << "quantization-aware training: " << quant::scheme_name(o.scheme) << " on " << names.size() << " linears, "
        << quant::backward_name(o.backward) << " gradients\n";
  }
  if (c.model.relu) log << "the student's FFNs are ReLU (model.relu)\n";
  if (c.moefies()) log << "MoEfication: experts are made after training\n";
}

}  // namespace cook::compress::plan

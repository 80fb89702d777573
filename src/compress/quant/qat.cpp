#include "cook/compress/quant/qat.h"

#include <algorithm>

#include "cook/compress/quant/fake_quant.h"
#include "cook/core/error.h"

namespace cook::quant {

namespace {

bool is_block_module(const std::string& name) { return name.rfind("blocks.", 0) == 0; }

std::string some_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 6; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 6) out += ", ...";
  return out;
}

}  // namespace

std::vector<std::string> select_linears(const model::GptJImpl& model, const std::vector<std::string>& patterns,
                                        const std::string& where) {
  std::vector<std::string> linears, all_modules;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    all_modules.push_back(item.key());
    if (is_block_module(item.key()) && std::dynamic_pointer_cast<nn::LinearImpl>(item.value()))
      linears.push_back(item.key());
  }
  if (patterns.empty()) return linears;
  std::vector<std::string> selected;
  for (size_t i = 0; i < patterns.size(); ++i) {
    const std::string& p = patterns[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    bool hit = false;
    for (const auto& name : linears)
      if (name.find(p) != std::string::npos) {
        hit = true;
        if (std::find(selected.begin(), selected.end(), name) == selected.end()) selected.push_back(name);
      }
    if (hit) continue;
    std::vector<std::string> others;
    for (const auto& name : all_modules)
      if (name.find(p) != std::string::npos) others.push_back(name);
    if (others.empty())
      throw Error(at, "'" + p + "' names no module of the model (block linears are named like " +
                          (linears.empty() ? std::string("blocks.0.attn.q_proj") : linears.front()) + ")");
    throw Error(at, "'" + p + "' names no quantizable linear: " + some_names(others) +
                        " (only the linears inside the blocks are quantized; never embed or lm_head)");
  }
  // Model order, whatever the pattern order.
  std::vector<std::string> ordered;
  for (const auto& name : linears)
    if (std::find(selected.begin(), selected.end(), name) != selected.end()) ordered.push_back(name);
  return ordered;
}

std::vector<std::string> apply_quantization(model::GptJImpl& model, const QuantOptions& options,
                                            const std::string& where) {
  if (!options.is_quant) throw Error(where + ".is_quant", "is false: nothing to quantize");
  options.validate(where);
  const std::vector<std::string> names = select_linears(model, options.quantized_module, where + ".quantized_module");
  auto modules = model.named_modules("", false);
  std::shared_ptr<const nn::WeightTransform> transform;
  std::shared_ptr<const nn::LinearKernel> kernel;
  if (options.backward == Backward::Bmcook) kernel = std::make_shared<BmcookInt8Kernel>();
  else transform = std::make_shared<FakeQuantTransform>(options.scheme, options.group_size);
  for (const auto& name : names) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(modules[name]);
    if (linear->weight_transform() || linear->kernel())
      throw Error(where, "linear '" + name + "' already carries a " +
                             (linear->kernel() ? "kernel (" + linear->kernel()->name() + ")"
                                               : "transform (" + linear->weight_transform()->name() + ")"));
    if (options.scheme == Scheme::W4 && linear->in_features() % options.group_size != 0)
      throw Error(where + ".group_size", std::to_string(options.group_size) + " does not divide the " +
                                             std::to_string(linear->in_features()) + " input features of '" + name + "'");
  }
  for (const auto& name : names) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(modules[name]);
    if (kernel) linear->set_kernel(kernel);
    else linear->set_weight_transform(transform);
  }
  return names;
}

void remove_quantization(model::GptJImpl& model) {
  for (const auto& item : model.named_modules("", false)) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value());
    if (!linear) continue;
    if (std::dynamic_pointer_cast<const FakeQuantTransform>(linear->weight_transform()))
      linear->set_weight_transform(nullptr);
    if (linear->kernel() && linear->kernel()->name().rfind("int8", 0) == 0) linear->set_kernel(nullptr);
  }
}

}  // namespace cook::quant

#include "cook/cli/train_quant.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cook/compress/quant/qat.h"
#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::cli {

namespace {

constexpr const char* kInt8Suffix = "-int8";

}  // namespace

void add_quant_options(CLI::App& cmd, QuantArgs& a) {
  cmd.add_option("--quant-config", a.config,
                 "BMCook config JSON; its 'quantization' section ({is_quant, quantized_module, ...}) is used");
  cmd.add_option("--quant-scheme", a.scheme, "Quantization: w8a8 (BMCook's, default), w8 or w4 (weight-only)");
  cmd.add_option("--quant-backward", a.backward, "Gradients: ste (straight-through, default) or bmcook (int8)");
  cmd.add_option("--quant-module", a.modules, "Quantize only block linears whose name contains this (repeatable)");
  cmd.add_option("--quant-group-size", a.group_size, "Input channels per int4 scale (default 128)");
}

quant::QuantOptions read_bmcook_quant_config(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "the config file");
  if (!j.is_object()) throw Error(path, "must be a JSON object (BMCook's config)");
  for (const auto& [key, value] : j.items())
    if (key != "quantization" && key != "distillation" && key != "pruning" && key != "MoEfication")
      throw Error(path + ": " + key, "unknown section (BMCook's are distillation, pruning, quantization, MoEfication)");
  if (!j.contains("quantization")) throw Error(path + ": quantization", "is missing");
  return quant::quant_options_from_json(j.at("quantization"), path + ": quantization");
}

std::optional<quant::QuantOptions> resolve_quant(const QuantArgs& a, ModelArgs& model, bool force_on) {
  quant::QuantOptions o;
  if (!a.config.empty()) o = read_bmcook_quant_config(a.config);
  const std::string& name = model.model;
  const size_t n = std::char_traits<char>::length(kInt8Suffix);
  if (name.size() > n && name.compare(name.size() - n, n, kInt8Suffix) == 0) {
    model.model = name.substr(0, name.size() - n);
    o.is_quant = true;
  }
  if (force_on) o.is_quant = true;
  const bool refined = !a.scheme.empty() || !a.backward.empty() || !a.modules.empty() || a.group_size != 0;
  if (!o.is_quant) {
    if (refined)
      throw Error("--quant-scheme", "quantization is off: give --model <preset>-int8 or a --quant-config whose "
                                    "quantization.is_quant is true");
    return std::nullopt;
  }
  if (!a.scheme.empty()) o.scheme = quant::parse_scheme(a.scheme, "--quant-scheme");
  if (!a.backward.empty()) o.backward = quant::parse_backward(a.backward, "--quant-backward");
  if (!a.modules.empty()) o.quantized_module = a.modules;
  if (a.group_size != 0) o.group_size = a.group_size;
  o.validate("quantization");
  return o;
}

void attach_quant(model::GptJImpl& model, const quant::QuantOptions& o) {
  const auto names = quant::apply_quantization(model, o);
  std::cout << "quantization-aware training: " << quant::scheme_name(o.scheme) << " on " << names.size()
            << " linears, " << quant::backward_name(o.backward) << " gradients\n";
}

}  // namespace cook::cli

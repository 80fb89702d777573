#include "cook/compress/quant/artefact.h"

#include <filesystem>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cook/compress/quant/fake_quant.h"
#include "cook/compress/quant/numerics.h"
#include "cook/compress/quant/qat.h"
#include "cook/core/error.h"
#include "cook/infer/int8_linear.h"
#include "cook/io/safetensors.h"
#include "cook/weights/checkpoint.h"

namespace cook::quant {

namespace {

constexpr const char* kInt8Suffix = ".weight_int8";
constexpr const char* kInt4Suffix = ".weight_int4";
constexpr const char* kScaleSuffix = ".weight_scale";

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// (out, in) int8 in [-7, 7] → (out, in / 2) uint8, even column in the low nibble.
torch::Tensor pack_int4(const torch::Tensor& q) {
  const torch::Tensor v = q.to(torch::kInt32).bitwise_and(0xF);
  const torch::Tensor lo = v.slice(1, 0, c10::nullopt, 2), hi = v.slice(1, 1, c10::nullopt, 2);
  return lo.bitwise_or(hi.__lshift__(4)).to(torch::kUInt8).contiguous();
}

torch::Tensor unpack_int4(const torch::Tensor& packed) {
  const torch::Tensor p = packed.to(torch::kInt32);
  auto sign = [](const torch::Tensor& n) { return torch::where(n >= 8, n - 16, n); };
  const torch::Tensor lo = sign(p.bitwise_and(0xF)), hi = sign(p.__rshift__(4).bitwise_and(0xF));
  return torch::stack({lo, hi}, -1).reshape({packed.size(0), packed.size(1) * 2}).to(torch::kInt8);
}

struct Scheme_ {
  Scheme scheme;
  int64_t group;
};

Scheme_ read_scheme(const nlohmann::json& q, const std::string& where, std::vector<std::string>& modules) {
  if (!q.is_object()) throw Error(where, "must be a JSON object");
  for (const auto& [key, value] : q.items())
    if (key != "version" && key != "scheme" && key != "bits" && key != "group_size" && key != "activations" &&
        key != "modules")
      throw Error(where + "." + key, "unknown key");
  for (const char* key : {"version", "scheme", "bits", "group_size", "modules"})
    if (!q.contains(key)) throw Error(where + "." + key, "is missing");
  if (!q["version"].is_number_integer() || q["version"].get<int64_t>() != 1)
    throw Error(where + ".version", "must be 1 (the version this build reads)");
  if (!q["scheme"].is_string()) throw Error(where + ".scheme", "must be a string");
  const Scheme scheme = parse_scheme(q["scheme"].get<std::string>(), where + ".scheme");
  if (!q["group_size"].is_number_integer()) throw Error(where + ".group_size", "must be an integer");
  const int64_t group = q["group_size"].get<int64_t>();
  if (scheme == Scheme::W4 && group <= 0) throw Error(where + ".group_size", "must be positive for w4");
  if (!q["bits"].is_number_integer() || q["bits"].get<int64_t>() != (scheme == Scheme::W4 ? 4 : 8))
    throw Error(where + ".bits", "does not match the scheme " + std::string(scheme_name(scheme)));
  if (!q["modules"].is_array()) throw Error(where + ".modules", "must be a list of module names");
  for (const auto& m : q["modules"]) {
    if (!m.is_string()) throw Error(where + ".modules", "must hold strings only");
    modules.push_back(m.get<std::string>());
  }
  return {scheme, group};
}

}  // namespace

std::vector<std::string> export_quantized(const std::string& path, const model::GptJImpl& model,
                                          const QuantOptions& options) {
  options.validate("quantization");
  const std::vector<std::string> names = select_linears(model, options.quantized_module);
  auto modules = model.named_modules("", false);
  weights::TensorMap tensors;
  for (const auto& item : model.named_parameters(true)) tensors[item.key()] = item.value().detach().to(torch::kCPU);
  torch::NoGradGuard no_grad;
  for (const auto& name : names) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(modules[name]);
    torch::Tensor w = linear->weight.detach();
    if (linear->has_mask()) w = w * linear->mask();
    w = w.to(torch::kCPU, torch::kFloat32);
    tensors.erase(name + ".weight");
    if (options.scheme == Scheme::W4) {
      if (w.size(1) % options.group_size != 0 || w.size(1) % 2 != 0)
        throw Error("quantization.group_size", std::to_string(options.group_size) + " does not divide the " +
                                                   std::to_string(w.size(1)) + " input features of '" + name + "'");
      Quantized q = quantize_groups(w, options.group_size, 4);
      tensors[name + kInt4Suffix] = pack_int4(q.values);
      tensors[name + kScaleSuffix] = q.scales.contiguous();
    } else {
      Quantized q = quantize_rows(w, 8);
      tensors[name + kInt8Suffix] = q.values.contiguous();
      tensors[name + kScaleSuffix] = q.scales.contiguous();
    }
  }
  const nlohmann::json meta = {
      {"version", 1},
      {"scheme", scheme_name(options.scheme)},
      {"bits", options.weight_bits()},
      {"group_size", options.scheme == Scheme::W4 ? options.group_size : 0},
      {"activations", options.quantizes_activations() ? "int8-per-token-dynamic" : "float"},
      {"modules", names}};
  weights::save_checkpoint(path, tensors, model.config(), {{kQuantMetadataKey, meta.dump()}});
  return names;
}

bool is_quantized_artefact(const weights::Metadata& metadata) { return metadata.count(kQuantMetadataKey) > 0; }

bool is_quantized_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || !ends_with(path, ".safetensors")) return false;
  try {
    return is_quantized_artefact(io::SafetensorsReader::open(path).metadata());
  } catch (const std::exception&) {
    return false;  // not readable as safetensors: the checkpoint reader reports what is wrong
  }
}

model::GptJ load_quantized(const std::string& path, const LoadOptions& load_options) {
  weights::LoadedTensors file = weights::load_safetensors(path);
  const auto& md = file.metadata;
  for (const char* key : {weights::kFormatVersionKey, weights::kModelConfigKey, kQuantMetadataKey})
    if (!md.count(key)) throw Error(path, std::string("metadata '") + key + "' is missing: not a quantized Cook artefact");
  auto parse = [&](const char* key) {
    try {
      return nlohmann::json::parse(md.at(key));
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": metadata '" + key + "'", std::string("not valid JSON: ") + e.what());
    }
  };
  const model::ModelConfig config = model::config_from_json(parse(weights::kModelConfigKey), path + ": cook.model_config");
  std::vector<std::string> listed;
  const Scheme_ s = read_scheme(parse(kQuantMetadataKey), path + ": cook.quant", listed);

  weights::check_config_fits(config, file.tensors, path);  // before a model of its shape is allocated
  model::GptJ m(config);
  auto modules = m->named_modules("", false);
  weights::TensorMap tensors = file.tensors;
  struct Attached {
    std::shared_ptr<nn::LinearImpl> linear;
    torch::Tensor q, scales;
  };
  std::vector<Attached> attached;
  for (const auto& name : listed) {
    const std::string where = path + ": cook.quant.modules: '" + name + "'";
    if (!modules.contains(name)) throw Error(where, "names no module of the model");
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(modules[name]);
    if (!linear) throw Error(where, "is not a linear layer; only linears hold int8 weights");
    const int64_t out = linear->out_features(), in = linear->in_features();
    const std::string int_name = name + (s.scheme == Scheme::W4 ? kInt4Suffix : kInt8Suffix);
    const std::string scale_name = name + kScaleSuffix;
    auto take = [&](const std::string& t) {
      auto it = tensors.find(t);
      if (it == tensors.end()) throw Error(path + ": tensor '" + t + "'", "is missing (module '" + name + "' is listed as quantized)");
      torch::Tensor v = it->second;
      tensors.erase(it);
      return v;
    };
    torch::Tensor q = take(int_name), scales = take(scale_name);
    if (s.scheme == Scheme::W4) {
      if (q.scalar_type() != torch::kUInt8 || q.dim() != 2 || q.size(0) != out || q.size(1) * 2 != in)
        throw Error(path + ": tensor '" + int_name + "'", "must be U8 [" + std::to_string(out) + ", " +
                                                             std::to_string(in / 2) + "], got " + c10::toString(q.scalar_type()) +
                                                             " " + shape_of(q));
      if (in % s.group != 0 || scales.scalar_type() != torch::kFloat32 || scales.dim() != 2 || scales.size(0) != out ||
          scales.size(1) != in / s.group)
        throw Error(path + ": tensor '" + scale_name + "'", "must be F32 [" + std::to_string(out) + ", " +
                                                               std::to_string(in / s.group) + "] (one scale per group of " +
                                                               std::to_string(s.group) + "), got " + shape_of(scales));
      q = unpack_int4(q);
    } else {
      if (q.scalar_type() != torch::kInt8 || q.dim() != 2 || q.size(0) != out || q.size(1) != in)
        throw Error(path + ": tensor '" + int_name + "'", "must be I8 [" + std::to_string(out) + ", " + std::to_string(in) +
                                                             "], got " + c10::toString(q.scalar_type()) + " " + shape_of(q));
      if (scales.scalar_type() != torch::kFloat32 || scales.dim() != 2 || scales.size(0) != out || scales.size(1) != 1)
        throw Error(path + ": tensor '" + scale_name + "'", "must be F32 [" + std::to_string(out) +
                                                               ", 1] (one scale per output channel), got " + shape_of(scales));
    }
    if (!torch::isfinite(scales).all().item<bool>() || (scales < 0).any().item<bool>())
      throw Error(path + ": tensor '" + scale_name + "'", "holds a negative or non-finite scale");
    const Quantized qz{q, scales};
    tensors[name + ".weight"] = s.scheme == Scheme::W4 ? dequantize_groups(qz, s.group) : dequantize_rows(qz);
    attached.push_back({linear, q, scales});
  }
  for (const auto& [t, v] : tensors)
    if (ends_with(t, kInt8Suffix) || ends_with(t, kInt4Suffix) || ends_with(t, kScaleSuffix))
      throw Error(path + ": tensor '" + t + "'", "belongs to a module that cook.quant.modules does not list");

  weights::Checkpoint ck;
  ck.kind = weights::CheckpointKind::Cook;
  ck.config = config;
  ck.tensors = std::move(tensors);
  ck.metadata = md;
  ck.source = path;
  ck.mappings = {file.mapping};
  weights::load_into(*m, std::move(ck));
  m->eval();
  if (s.scheme == Scheme::W8A8) {
    const bool kernels = load_options.int8_kernels;
    auto transform = std::make_shared<FakeQuantTransform>(Scheme::W8A8, 0);
    for (const auto& a : attached) {
      if (kernels) a.linear->set_kernel(std::make_shared<infer::Int8LinearKernel>(a.q, a.scales, path));
      else a.linear->set_weight_transform(transform);
    }
  }
  return m;
}

}  // namespace cook::quant

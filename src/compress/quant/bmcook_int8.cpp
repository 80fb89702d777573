#include "cook/compress/quant/bmcook_int8.h"

#include <map>

#include "cook/compress/quant/fake_quant.h"
#include "cook/core/error.h"
#include "cook/infer/int8_linear.h"
#include "cook/io/torch_object.h"
#include "cook/weights/bmcook_bin.h"
#include "cook/weights/checkpoint.h"
#include "cook/weights/name_map.h"

namespace cook::quant {

namespace {

constexpr const char* kQuantSuffix = "_quant";
constexpr const char* kBmScaleSuffix = "_scale";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

bool is_bmcook_int8_file(const std::string& path) {
  if (!io::looks_like_torch_save(path)) return false;
  try {
    const io::TorchSaveReader reader = io::TorchSaveReader::open(path);  // outlives the loop over its tensors
    for (const auto& t : reader.tensors())
      if (ends_with(t.name, kQuantSuffix)) return true;
  } catch (const std::exception&) {
    // not readable: the checkpoint reader reports what is wrong
  }
  return false;
}

model::GptJ load_bmcook_int8(const std::string& path, const model::ModelConfig& config, const LoadOptions& options) {
  weights::LoadedTensors file = weights::load_torch_bin(path);
  weights::TensorMap bm;
  struct Quantized {
    torch::Tensor q, scales;  // int8 (out, in); F32 (out, 1)
  };
  std::map<std::string, Quantized> quantized;  // by BMCook weight name
  for (const auto& [name, t] : file.tensors) {
    if (ends_with(name, kQuantSuffix)) {
      const std::string base = name.substr(0, name.size() - std::string(kQuantSuffix).size());
      const std::string where = path + ": tensor '" + name + "'";
      auto s = file.tensors.find(base + kBmScaleSuffix);
      if (s == file.tensors.end()) throw Error(where, "has no '" + base + kBmScaleSuffix + "' beside it");
      if (t.scalar_type() != torch::kInt8 || t.dim() != 2)
        throw Error(where, "must be int8 (out, in), got " + std::string(c10::toString(t.scalar_type())) + " " + shape_of(t));
      const int64_t out = t.size(0);
      torch::Tensor scales = s->second;
      if (!scales.is_floating_point() || scales.numel() != out || scales.dim() > 2)
        throw Error(path + ": tensor '" + s->first + "'",
                    "must be one float scale per row of '" + name + "' (" + std::to_string(out) + "), got " + shape_of(scales));
      scales = scales.to(torch::kFloat32).reshape({out, 1}).contiguous();
      if (!torch::isfinite(scales).all().item<bool>() || (scales < 0).any().item<bool>())
        throw Error(path + ": tensor '" + s->first + "'", "holds a negative or non-finite scale");
      torch::Tensor q = t.contiguous().clone();
      bm[base] = q.to(torch::kFloat32) * scales;
      quantized[base] = {q, scales};
    } else if (ends_with(name, kBmScaleSuffix) && file.tensors.count(name.substr(0, name.size() - 6) + kQuantSuffix)) {
      continue;  // taken with its _quant
    } else {
      bm[name] = t;
    }
  }
  if (quantized.empty()) throw Error(path, "holds no '<weight>_quant' tensor: not BMCook's int8 export");

  const weights::NameMap names(config);
  model::GptJ m(config);
  auto modules = m->named_modules("", false);
  struct Attached {
    std::shared_ptr<nn::LinearImpl> linear;
    Quantized qz;
  };
  std::vector<Attached> attached;
  for (const auto& [base, qz] : quantized) {
    const std::string cook_name = names.convert_name(weights::Layout::BMCook, weights::Layout::Cook, base, path);
    const std::string module = ends_with(cook_name, ".weight") ? cook_name.substr(0, cook_name.size() - 7) : cook_name;
    auto linear = modules.contains(module) ? std::dynamic_pointer_cast<nn::LinearImpl>(modules[module]) : nullptr;
    if (!linear)
      throw Error(path + ": tensor '" + base + kQuantSuffix + "'", "quantizes '" + cook_name + "', which is not a linear's weight");
    attached.push_back({linear, qz});
  }

  weights::Checkpoint ck;
  ck.kind = weights::CheckpointKind::BMCook;
  ck.config = config;
  ck.tensors = names.convert(weights::Layout::BMCook, weights::Layout::Cook, bm, path);
  ck.source = path;
  weights::load_into(*m, std::move(ck));
  m->eval();
  auto transform = std::make_shared<FakeQuantTransform>(Scheme::W8A8, 0);
  for (const auto& a : attached) {
    if (options.int8_kernels) a.linear->set_kernel(std::make_shared<infer::Int8LinearKernel>(a.qz.q, a.qz.scales, path));
    else a.linear->set_weight_transform(transform);
  }
  return m;
}

}  // namespace cook::quant

#include "cook/compress/moe/moe_file.h"

#include <filesystem>
#include <regex>

#include "cook/compress/moe/experts.h"
#include "cook/core/error.h"
#include "cook/weights/tensor_io.h"

namespace cook::compress::moe {

namespace {

const char* kVersionKey = "cook.moe.format_version";
const char* kNumExpertKey = "cook.moe.num_expert";
const char* kDModelKey = "cook.moe.d_model";
const char* kDffKey = "cook.moe.d_ff";
const char* kReportKey = "cook.moe.report";

void check_layer(const MoeFile& f, int64_t i, const MoeLayer& l, const std::string& where) {
  const std::string name = "layers." + std::to_string(i);
  check_experts(l.experts, f.d_ff, where + ": tensor '" + name + ".experts'");
  if (l.experts.size(0) != f.num_expert)
    throw Error(where, "tensor '" + name + ".experts' has " + std::to_string(l.experts.size(0)) +
                           " experts, the file says " + std::to_string(f.num_expert));
  if (!l.centroids.defined() || l.centroids.dim() != 2 || l.centroids.size(0) != f.num_expert ||
      l.centroids.size(1) != f.d_model || !l.centroids.is_floating_point())
    throw Error(where, "tensor '" + name + ".centroids' must be floating (" + std::to_string(f.num_expert) + ", " +
                           std::to_string(f.d_model) + ")");
  if (l.mlp_router.empty()) return;
  const int64_t e = f.num_expert, d = f.d_model;
  const std::map<std::string, std::vector<int64_t>> shapes = {{"w1", {e, d}}, {"b1", {e}}, {"w2", {e, e}}, {"b2", {e}}};
  for (const auto& [key, shape] : shapes) {
    auto it = l.mlp_router.find(key);
    if (it == l.mlp_router.end()) throw Error(where, "tensor '" + name + ".router." + key + "' is missing");
    if (it->second.sizes() != c10::IntArrayRef(shape) || !it->second.is_floating_point())
      throw Error(where, "tensor '" + name + ".router." + key + "' has the wrong shape or dtype");
  }
  if (l.mlp_router.size() != shapes.size()) throw Error(where, "layer " + std::to_string(i) + ": unknown router tensors");
}

int64_t meta_int(const weights::Metadata& m, const char* key, const std::string& where) {
  auto it = m.find(key);
  if (it == m.end()) throw Error(where, std::string("metadata '") + key + "' is missing (not a Cook MoE file?)");
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v <= 0) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw Error(where, std::string("metadata '") + key + "': expected a positive integer, got '" + it->second + "'");
  }
}

}  // namespace

void save_moe_file(const std::string& path, const MoeFile& f) {
  if (f.num_expert <= 0 || f.d_model <= 0 || f.d_ff <= 0) throw Error(path, "MoE file header is incomplete");
  if (f.layers.empty()) throw Error(path, "no layers to save");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [i, l] : f.layers) {
    check_layer(f, i, l, path);
    const std::string name = "layers." + std::to_string(i);
    tensors.emplace_back(name + ".experts", l.experts.to(torch::kCPU).contiguous());
    tensors.emplace_back(name + ".centroids", l.centroids.to(torch::kCPU, torch::kFloat32).contiguous());
    for (const auto& [key, t] : l.mlp_router)
      tensors.emplace_back(name + ".router." + key, t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  }
  weights::Metadata meta{{kVersionKey, kMoeFormatVersion},
                         {kNumExpertKey, std::to_string(f.num_expert)},
                         {kDModelKey, std::to_string(f.d_model)},
                         {kDffKey, std::to_string(f.d_ff)},
                         {kReportKey, f.report.dump()}};
  weights::save_safetensors(path, tensors, meta);
}

MoeFile load_moe_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw Error(path, "no such MoE file (write one with 'cook moe split')");
  weights::LoadedTensors loaded = weights::load_safetensors(path);
  const weights::Metadata& meta = loaded.metadata;
  auto v = meta.find(kVersionKey);
  if (v == meta.end()) throw Error(path, std::string("metadata '") + kVersionKey + "' is missing (not a Cook MoE file?)");
  if (v->second != kMoeFormatVersion)
    throw Error(path, "MoE format version '" + v->second + "' is not the one this build reads (" + kMoeFormatVersion + ")");
  MoeFile f;
  f.num_expert = meta_int(meta, kNumExpertKey, path);
  f.d_model = meta_int(meta, kDModelKey, path);
  f.d_ff = meta_int(meta, kDffKey, path);
  if (auto r = meta.find(kReportKey); r != meta.end()) {
    try {
      f.report = nlohmann::json::parse(r->second);
    } catch (const std::exception&) {
      throw Error(path, std::string("metadata '") + kReportKey + "' is not JSON");
    }
  }
  static const std::regex name_re(R"(layers\.(\d+)\.(experts|centroids|router\.(w1|b1|w2|b2)))");
  for (const auto& [name, t] : loaded.tensors) {
    std::smatch m;
    if (!std::regex_match(name, m, name_re))
      throw Error(path, "tensor '" + name + "' is not a MoE tensor (layers.N.experts|centroids|router.w1|b1|w2|b2)");
    int64_t layer = 0;
    try {
      layer = std::stoll(m[1].str());
    } catch (const std::out_of_range&) {
      throw Error(path, "tensor '" + name + "': layer number out of range");
    }
    MoeLayer& l = f.layers[layer];
    const std::string what = m[2].str();
    if (what == "experts") {
      if (t.scalar_type() != torch::kInt64) throw Error(path, "tensor '" + name + "' must be int64");
      l.experts = t.clone();
    } else if (what == "centroids") {
      l.centroids = t.to(torch::kFloat32).clone();
    } else {
      l.mlp_router[m[3].str()] = t.to(torch::kFloat32).clone();
    }
  }
  if (f.layers.empty()) throw Error(path, "the MoE file holds no layers");
  for (const auto& [i, l] : f.layers) {
    if (!l.experts.defined()) throw Error(path, "tensor 'layers." + std::to_string(i) + ".experts' is missing");
    if (!l.centroids.defined()) throw Error(path, "tensor 'layers." + std::to_string(i) + ".centroids' is missing");
    check_layer(f, i, l, path);
  }
  return f;
}

}  // namespace cook::compress::moe

#include "cook/compress/prune/mask_file.h"

#include <set>
#include <sstream>

#include "cook/core/error.h"
#include "cook/weights/tensor_io.h"

namespace cook::prune {

namespace {

constexpr const char* kFormatKey = "cook.masks.format";
constexpr const char* kFormatVersion = "1";

std::string shape_of(c10::IntArrayRef s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

std::string metadata_field(const weights::Metadata& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  if (it == meta.end()) throw Error(path, "metadata field '" + key + "' is missing (not a Cook mask file?)");
  return it->second;
}

}  // namespace

double overall_sparsity(const std::map<std::string, torch::Tensor>& masks) {
  double kept = 0.0, total = 0.0;
  for (const auto& [name, m] : masks) {
    kept += m.to(torch::kFloat64).sum().item<double>();
    total += static_cast<double>(m.numel());
  }
  return total > 0 ? 1.0 - kept / total : 0.0;
}

void save_masks(const std::string& path, const MaskSet& set) {
  if (set.masks.empty()) throw Error(path, "no masks to save");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, m] : set.masks) tensors.emplace_back(name, m.to(torch::kCPU, torch::kBool).contiguous());
  std::ostringstream sparsity;
  sparsity.precision(6);
  sparsity << set.sparsity;
  weights::save_safetensors(path, tensors,
                            {{kFormatKey, kFormatVersion},
                             {"method", set.method},
                             {"pattern", set.pattern},
                             {"sparsity", sparsity.str()}});
}

MaskSet load_masks(const std::string& path) {
  weights::LoadedTensors loaded = weights::load_safetensors(path);
  const std::string version = metadata_field(loaded.metadata, kFormatKey, path);
  if (version != kFormatVersion)
    throw Error(path, "metadata field '" + std::string(kFormatKey) + "' is '" + version + "', this build reads '" +
                          kFormatVersion + "'");
  MaskSet set;
  set.method = metadata_field(loaded.metadata, "method", path);
  set.pattern = metadata_field(loaded.metadata, "pattern", path);
  const std::string sparsity = metadata_field(loaded.metadata, "sparsity", path);
  try {
    size_t used = 0;
    set.sparsity = std::stod(sparsity, &used);
    if (used != sparsity.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw Error(path, "metadata field 'sparsity' is not a number: '" + sparsity + "'");
  }
  if (loaded.tensors.empty()) throw Error(path, "holds no masks");
  for (auto& [name, t] : loaded.tensors) {
    if (t.scalar_type() != torch::kBool || t.dim() != 2)
      throw Error(path, "tensor '" + name + "' must be a 2-D BOOL mask, it is " + shape_of(t.sizes()) + " " +
                            std::string(c10::toString(t.scalar_type())));
    set.masks[name] = t.clone();  // own the bytes: the file may be replaced later
  }
  return set;
}

void check_masks_fit(const MaskSet& set, const std::vector<PrunedLayer>& layers, const std::string& path) {
  std::set<std::string> selected;
  for (const auto& l : layers) {
    selected.insert(l.name);
    auto it = set.masks.find(l.name);
    if (it == set.masks.end())
      throw Error(path, "has no mask for the selected weight '" + l.name + "' (made for another model or other modules?)");
    // The layer's own shape, not its weight tensor's: a sharded run may hold an empty one.
    const std::vector<int64_t> shape{l.layer->out_features(), l.layer->in_features()};
    if (it->second.sizes() != c10::IntArrayRef(shape))
      throw Error(path, "tensor '" + l.name + "' has shape " + shape_of(it->second.sizes()) + ", the weight is " +
                            shape_of(shape));
  }
  for (const auto& [name, m] : set.masks)
    if (!selected.count(name)) throw Error(path, "tensor '" + name + "' is not a selected weight of this model");
}

}  // namespace cook::prune

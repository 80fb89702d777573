#include "cook/compress/prune/bmcook_mask_file.h"

#include <map>
#include <set>

#include "cook/compress/prune/nm_masks.h"
#include "cook/core/error.h"
#include "cook/io/torch_object.h"
#include "cook/weights/bmcook_bin.h"
#include "cook/weights/name_map.h"

namespace cook::prune {

namespace {

// "0" / 0 / "dec_layers.0" → "dec_layers.0."; anything else is an error.
std::string block_prefix(const io::PyValue& key, const std::string& path) {
  if (key.kind == io::PyKind::Int) return "dec_layers." + std::to_string(key.i) + ".";
  if (key.kind != io::PyKind::Str)
    throw Error(path, std::string("a layer key is a ") + io::kind_name(key.kind) + ", not a layer index or module path");
  const std::string& k = key.s;
  const bool index = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos;
  return index ? "dec_layers." + k + "." : k + ".";
}

torch::Tensor checked_mask(const io::PyValue& v, const std::string& where) {
  if (v.kind != io::PyKind::Tensor) throw Error(where, std::string("is a ") + io::kind_name(v.kind) + ", not a tensor");
  torch::Tensor m = weights::copy_torch_tensor(v.tensor);
  if (m.numel() > 0 && !((m == 0) | (m == 1)).all().item<bool>())
    throw Error(where, "holds values other than 0 and 1");
  return m.to(torch::kBool);
}

}  // namespace

MaskSet read_bmcook_masks(const std::string& path, const model::ModelConfig& config,
                          const std::vector<PrunedLayer>& layers) {
  const io::TorchObjectFile file = io::TorchObjectFile::open(path);
  const io::PyValue& root = file.root();
  if (root.kind != io::PyKind::Dict)
    throw Error(path, std::string("holds a ") + io::kind_name(root.kind) +
                          ", not BMCook's masks {layer: [(name, mask), ...]}");
  const weights::NameMap names(config);
  std::map<std::string, torch::Tensor> by_cook_name;
  std::map<std::string, std::string> origin;  // Cook name → where it came from, for messages

  auto take = [&](const std::string& bmcook_name, const io::PyValue& mask, const std::string& where) {
    const weights::WeightName* w = names.find(weights::Layout::BMCook, bmcook_name);
    if (w == nullptr) {
      if (names.ignored(weights::Layout::BMCook, bmcook_name)) return;
      throw Error(where, "names '" + bmcook_name + "', which the model has not");
    }
    torch::Tensor m = checked_mask(mask, where);
    if (m.sizes().vec() != w->bmcook_shape)
      throw Error(where, "has shape " + c10::str(m.sizes()) + "; the weight '" + bmcook_name + "' has " +
                             c10::str(c10::IntArrayRef(w->bmcook_shape)));
    if (!by_cook_name.emplace(w->cook, m.reshape(w->shape)).second) throw Error(where, "appears twice");
    origin[w->cook] = where;
  };

  for (const auto& [key, value] : root.entries) {
    const std::string prefix = block_prefix(*key, path);
    // Named as the file names it: its key ("0", or a module path).
    const std::string layer = path + ": layer '" + (key->kind == io::PyKind::Int ? std::to_string(key->i) : key->s) + "'";
    if (value->kind == io::PyKind::Tensor) {  // V3: a module outside the blocks, {module path: mask}
      take(prefix + "weight", *value, layer);
      continue;
    }
    if (!value->is_sequence())
      throw Error(layer, std::string("is a ") + io::kind_name(value->kind) + ", not a list of (name, mask)");
    for (size_t k = 0; k < value->items.size(); ++k) {
      const io::PyValue& pair = *value->items[k];
      if (!pair.is_sequence() || pair.items.size() != 2 || pair.items[0]->kind != io::PyKind::Str)
        throw Error(layer, "entry " + std::to_string(k) + " is not a (name, mask) pair");
      const std::string& name = pair.items[0]->s;
      take(prefix + name, *pair.items[1], layer + ": mask '" + name + "'");
    }
  }

  MaskSet set;
  set.method = "bmcook";
  std::set<std::string> selected;
  bool two_of_four = true;
  for (const auto& l : layers) {
    selected.insert(l.name);
    auto it = by_cook_name.find(l.name);
    if (it == by_cook_name.end())
      throw Error(path, "has no mask for '" +
                            names.convert_name(weights::Layout::Cook, weights::Layout::BMCook, l.name, path) +
                            "' (Cook '" + l.name + "'), which pruned_module selects");
    two_of_four = two_of_four && is_2to4_along_inputs(it->second);
    set.masks[l.name] = it->second;
  }
  for (const auto& [name, m] : by_cook_name)
    if (!selected.count(name) && !m.all().item<bool>())
      throw Error(origin[name], "prunes '" + name + "', which pruned_module does not select");
  set.pattern = two_of_four ? "2:4" : "unstructured";
  set.sparsity = overall_sparsity(set.masks);
  return set;
}

MaskSet load_masks_for(const std::string& path, const model::ModelConfig& config,
                       const std::vector<PrunedLayer>& layers) {
  if (io::looks_like_torch_save(path)) return read_bmcook_masks(path, config, layers);
  MaskSet set = load_masks(path);
  check_masks_fit(set, layers, path);
  return set;
}

}  // namespace cook::prune

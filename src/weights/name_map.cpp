#include "cook/core/problems.h"
#include "cook/weights/name_map.h"

#include <torch/torch.h>

#include <regex>

#include "cook/core/error.h"

namespace cook::weights {

namespace {

size_t slot(Layout l) { return static_cast<size_t>(l); }

std::string shape_str(c10::IntArrayRef s) { return io::shape_string(s.vec()); }


}  // namespace

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Cook: return "Cook";
    case Layout::HuggingFace: return "Hugging Face";
    case Layout::BMCook: return "BMCook";
  }
  return "?";
}

const std::string& WeightName::name(Layout l) const {
  return l == Layout::Cook ? cook : l == Layout::HuggingFace ? hf : bmcook;
}

const std::vector<int64_t>& WeightName::shape_in(Layout l) const { return l == Layout::BMCook ? bmcook_shape : shape; }

NameMap::NameMap(const model::ModelConfig& config) : config_(config) {
  const int64_t d = config.d_model, f = config.d_ff, v = config.vocab_size;
  auto add = [&](std::string cook, std::string hf, std::string bm, std::vector<int64_t> shape,
                 std::vector<int64_t> bm_shape = {}) {
    if (bm_shape.empty()) bm_shape = shape;
    entries_.push_back({std::move(cook), std::move(hf), std::move(bm), std::move(shape), std::move(bm_shape)});
  };
  add("embed.weight", "transformer.wte.weight", "input_embedding.weight", {v, d});
  for (int64_t i = 0; i < config.n_layer; ++i) {
    const std::string c = "blocks." + std::to_string(i) + ".";
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    const std::string b = "dec_layers." + std::to_string(i) + ".";
    add(c + "ln.weight", h + "ln_1.weight", b + "ln_1.weight", {d});
    add(c + "ln.bias", h + "ln_1.bias", b + "ln_1.bias", {d});
    for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"})
      add(c + "attn." + p + ".weight", h + "attn." + p + ".weight", b + "self_attention." + p, {d, d});
    add(c + "ffn.fc_in.weight", h + "mlp.fc_in.weight", b + "ff.fc_in_weight", {f, d});
    if (config.fc_in_bias) add(c + "ffn.fc_in.bias", h + "mlp.fc_in.bias", b + "ff.fc_in_bias", {f}, {1, f, 1});
    add(c + "ffn.fc_out.weight", h + "mlp.fc_out.weight", b + "ff.fc_out_weight", {d, f});
    add(c + "ffn.fc_out.bias", h + "mlp.fc_out.bias", b + "ff.fc_out_bias", {d}, {1, d, 1});
  }
  add("ln_f.weight", "transformer.ln_f.weight", "layernorm_after_dec.weight", {d});
  add("ln_f.bias", "transformer.ln_f.bias", "layernorm_after_dec.bias", {d});
  add("lm_head.weight", "lm_head.weight", "lm_head.weight", {v, d});
  add("lm_head.bias", "lm_head.bias", "lm_head.bias", {v}, {1, v, 1});
  for (size_t k = 0; k < entries_.size(); ++k)
    for (Layout l : {Layout::Cook, Layout::HuggingFace, Layout::BMCook}) index_[slot(l)].emplace(entries_[k].name(l), k);
}

const WeightName* NameMap::find(Layout layout, const std::string& name) const {
  const auto& idx = index_[slot(layout)];
  auto it = idx.find(name);
  return it == idx.end() ? nullptr : &entries_[it->second];
}

bool NameMap::ignored(Layout layout, const std::string& name) const {
  if (layout == Layout::HuggingFace) {
    static const std::regex buffers(R"(transformer\.h\.(\d+)\.attn\.(bias|masked_bias))");
    std::smatch m;
    return std::regex_match(name, m, buffers) && std::stoll(m[1].str()) < config_.n_layer;
  }
  if (layout == Layout::BMCook && !config_.fc_in_bias) {
    static const std::regex unused(R"(dec_layers\.(\d+)\.ff\.fc_in_bias)");
    std::smatch m;
    return std::regex_match(name, m, unused) && std::stoll(m[1].str()) < config_.n_layer;
  }
  return false;
}

const WeightName& NameMap::at(Layout layout, const std::string& name, const std::string& where) const {
  if (const WeightName* w = find(layout, name)) return *w;
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& e : entries_) names.push_back(e.name(layout));
  std::string msg = "tensor '" + io::printable(name) + "' is not a weight name of this GPT-J (n_layer " +
                    std::to_string(config_.n_layer) + (config_.fc_in_bias ? "" : ", no fc_in bias") + ") in the " +
                    layout_name(layout) + " layout; nearest:";
  auto near = io::nearest_names(name, names, 3);
  for (size_t i = 0; i < near.size(); ++i) msg += (i ? ", '" : " '") + near[i] + "'";
  throw Error(where, msg);
}

std::string NameMap::convert_name(Layout from, Layout to, const std::string& name, const std::string& where) const {
  return at(from, name, where).name(to);
}

TensorMap NameMap::convert(Layout from, Layout to, const TensorMap& tensors, const std::string& where) const {
  return convert(from, to, tensors, where, {});
}

TensorMap NameMap::convert(Layout from, Layout to, const TensorMap& tensors, const std::string& where,
                           const std::map<std::string, std::string>& file_of) const {
  auto file = [&](const std::string& name) {
    auto it = file_of.find(name);
    return it == file_of.end() ? where : it->second;
  };
  Problems problems;
  TensorMap out;
  std::vector<bool> seen(entries_.size(), false);
  for (const auto& [name, tensor] : tensors) {
    const WeightName* w = find(from, name);
    if (w == nullptr) {
      if (ignored(from, name)) continue;
      try {
        at(from, name, file(name));
      } catch (const Error& e) {
        problems.add(e.what());
      }
      continue;
    }
    seen[static_cast<size_t>(w - entries_.data())] = true;
    const auto& expected = w->shape_in(from);
    if (tensor.sizes().vec() != expected) {
      problems.add(file(name) + ": tensor '" + name + "': shape " + shape_str(tensor.sizes()) + " does not match " +
                   io::shape_string(expected) + " that the config gives (d_model " + std::to_string(config_.d_model) +
                   ", d_ff " + std::to_string(config_.d_ff) + ", vocab_size " + std::to_string(config_.vocab_size) + ")");
      continue;
    }
    const auto& target = w->shape_in(to);
    out.emplace(w->name(to), target == expected ? tensor : tensor.reshape(target));
  }
  for (size_t k = 0; k < entries_.size(); ++k)
    if (!seen[k])
      problems.add(where + ": tensor '" + entries_[k].name(from) + "' is missing (shape " +
                   io::shape_string(entries_[k].shape_in(from)) + ")");
  problems.throw_if_any(where, std::string("cannot read the weights as ") + layout_name(from) + " GPT-J");
  return out;
}

}  // namespace cook::weights

#include "cook/compress/distill/layer_map.h"

#include <optional>

#include "cook/core/error.h"

namespace cook::compress::distill {

namespace {

// "blocks.<n><suffix>" → n, if the whole name has that form.
std::optional<int64_t> block_index(const std::string& name, const std::string& suffix) {
  const std::string prefix = "blocks.";
  if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  return std::stoll(digits);
}

std::string strip_post(const std::string& name) {
  const std::string post = "[post]";
  return name.rfind(post, 0) == 0 ? name.substr(post.size()) : name;
}

std::pair<std::string, std::string> split_pair(const std::string& entry, const std::string& where) {
  const size_t colon = entry.find(':');
  if (colon == std::string::npos) return {strip_post(entry), strip_post(entry)};
  if (entry.find(':', colon + 1) != std::string::npos)
    throw Error(where, "'" + entry + "': expected 'student_module:teacher_module' or one module name");
  return {strip_post(entry.substr(0, colon)), strip_post(entry.substr(colon + 1))};
}

std::string block_names(int64_t layers, const std::string& suffix) {
  if (layers == 1) return "blocks.0" + suffix;
  return "blocks.0" + suffix + " … blocks." + std::to_string(layers - 1) + suffix;
}

std::string hidden_names(int64_t layers) { return "embed, " + block_names(layers, "") + ", ln_f"; }

HiddenSite parse_site(const std::string& name, int64_t layers, const char* side, const std::string& where,
                      const std::string& entry) {
  if (name == "embed") return {HiddenSite::Kind::Embedding, 0};
  if (name == "ln_f") return {HiddenSite::Kind::Final, 0};
  auto i = block_index(name, "");
  if (i && *i < layers) return {HiddenSite::Kind::Block, *i};
  throw Error(where, "'" + entry + "': '" + name + "' is not a " + side + " module (the " + side +
                         "'s hidden-state modules: " + hidden_names(layers) + ")");
}

int64_t parse_attention(const std::string& name, int64_t layers, const char* side, const std::string& where,
                        const std::string& entry) {
  auto i = block_index(name, ".attn");
  if (i && *i < layers) return *i;
  throw Error(where, "'" + entry + "': '" + name + "' is not a " + side + " attention module (the " + side +
                         "'s: " + block_names(layers, ".attn") + ")");
}

}  // namespace

std::vector<LayerPair> uniform_layer_map(int64_t student_layers, int64_t teacher_layers) {
  if (student_layers <= 0 || teacher_layers <= 0) throw Error("layer map", "both models need at least one layer");
  std::vector<LayerPair> pairs;
  if (student_layers <= teacher_layers) {
    const int64_t ratio = teacher_layers / student_layers;
    for (int64_t j = 0; j < student_layers; ++j) pairs.push_back({j, (j + 1) * ratio - 1});
  } else {
    const int64_t ratio = student_layers / teacher_layers;
    for (int64_t i = 0; i < teacher_layers; ++i) pairs.push_back({(i + 1) * ratio - 1, i});
  }
  return pairs;
}

InitBlock parse_init_block(const std::string& name, const std::string& where) {
  if (name == "first") return InitBlock::FirstOfGroup;
  if (name == "last") return InitBlock::LastOfGroup;
  throw Error(where, "'" + name + "' is not a teacher block choice (first, last)");
}

const char* init_block_name(InitBlock pick) { return pick == InitBlock::FirstOfGroup ? "first" : "last"; }

int64_t teacher_block_for(int64_t student_block, int64_t student_layers, int64_t teacher_layers, InitBlock pick) {
  const bool first = pick == InitBlock::FirstOfGroup;
  if (student_layers <= teacher_layers) {
    const int64_t ratio = teacher_layers / student_layers;
    return first ? student_block * ratio : (student_block + 1) * ratio - 1;
  }
  if (first) return student_block * teacher_layers / student_layers;
  return ((student_block + 1) * teacher_layers + student_layers - 1) / student_layers - 1;
}

std::string HiddenSite::name() const {
  switch (kind) {
    case Kind::Embedding: return "embed";
    case Kind::Final: return "ln_f";
    case Kind::Block: break;
  }
  return "blocks." + std::to_string(layer);
}

std::vector<HiddenPair> resolve_hidden_modules(const std::vector<std::string>& entries, int64_t student_layers,
                                               int64_t teacher_layers, const std::string& where) {
  std::vector<HiddenPair> pairs;
  if (entries.empty()) {
    for (const LayerPair& p : uniform_layer_map(student_layers, teacher_layers))
      pairs.push_back({{HiddenSite::Kind::Block, p.student}, {HiddenSite::Kind::Block, p.teacher}});
    return pairs;
  }
  for (const std::string& entry : entries) {
    auto [s, t] = split_pair(entry, where);
    pairs.push_back({parse_site(s, student_layers, "student", where, entry),
                     parse_site(t, teacher_layers, "teacher", where, entry)});
  }
  return pairs;
}

std::vector<LayerPair> resolve_attention_modules(const std::vector<std::string>& entries, int64_t student_layers,
                                                 int64_t teacher_layers, const std::string& where) {
  if (entries.empty()) return uniform_layer_map(student_layers, teacher_layers);
  std::vector<LayerPair> pairs;
  for (const std::string& entry : entries) {
    auto [s, t] = split_pair(entry, where);
    pairs.push_back({parse_attention(s, student_layers, "student", where, entry),
                     parse_attention(t, teacher_layers, "teacher", where, entry)});
  }
  return pairs;
}

}  // namespace cook::compress::distill

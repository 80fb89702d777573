// ModelConfig: presets, parameter count, validation, and the two JSON forms.
#include "cook/model/config.h"

#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::model {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& what) {
  throw Error(where, field + ": " + what);
}

void require_positive(const std::string& where, const char* field, int64_t v) {
  if (v <= 0) fail(where, field, "must be positive, got " + std::to_string(v));
}

void require_positive_finite(const std::string& where, const char* field, double v) {
  if (!std::isfinite(v) || v <= 0) {
    std::ostringstream s;
    s << "must be a positive finite number, got " << v;
    fail(where, field, s.str());
  }
}

std::string type_name(const json& v) { return v.type_name(); }

int64_t get_int(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_number_integer()) fail(where, key, std::string("expected an integer, got ") + type_name(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    fail(where, key, "integer out of range");
  }
  return v.get<int64_t>();
}

double get_number(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_number()) fail(where, key, std::string("expected a number, got ") + type_name(v));
  return v.get<double>();
}

bool get_bool(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_boolean()) fail(where, key, std::string("expected true or false, got ") + type_name(v));
  return v.get<bool>();
}

std::string get_string(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_string()) fail(where, key, std::string("expected a string, got ") + type_name(v));
  return v.get<std::string>();
}

Activation parse_activation(const std::string& name, const std::string& where, const std::string& key) {
  if (name == "gelu_new") return Activation::GeluNew;
  if (name == "relu") return Activation::Relu;
  fail(where, key, "unknown activation '" + name + "' (known: gelu_new, relu)");
}

ModelConfig make_tiny() {
  ModelConfig c;
  c.vocab_size = 50400;  // covers the GPT-2 tokenizer's 50257, as GPT-J does
  c.n_positions = 256;
  c.d_model = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.rotary_dim = 8;
  c.d_ff = 256;
  return c;
}

ModelConfig make_small() {
  ModelConfig c;  // ≈30.6 M parameters, 25.8 M of them in the embedding and the LM head
  c.vocab_size = 50400;
  c.n_positions = 512;
  c.d_model = 256;
  c.n_layer = 6;
  c.n_head = 8;
  c.rotary_dim = 16;
  c.d_ff = 1024;
  return c;
}

ModelConfig make_gptj_6b() { return ModelConfig{}; }  // the defaults are GPT-J-6B

ModelConfig make_gptj_half() {
  ModelConfig c;  // BMCook's GPT-J: the 6B shape with half the layers
  c.n_layer = 14;
  return c;
}

ModelConfig make_gptj_1_3b() {
  ModelConfig c;  // ≈1.42 B parameters, 1.21 B of them in the blocks: the speed and GPU-training shape
  c.d_model = 2048;
  c.n_layer = 24;
  c.n_head = 16;
  c.rotary_dim = 64;
  c.d_ff = 8192;
  return c;
}

const std::vector<std::pair<std::string, std::function<ModelConfig()>>>& base_presets() {
  static const std::vector<std::pair<std::string, std::function<ModelConfig()>>> presets = {
      {"tiny", make_tiny}, {"small", make_small}, {"gpt-j-1.3b", make_gptj_1_3b}, {"gpt-j", make_gptj_half},
      {"gpt-j-6b", make_gptj_6b}};
  return presets;
}

}  // namespace

namespace {
// In T = long double for validate(), which must not overflow on the sizes of a corrupt file.
template <class T>
T count_parameters(const ModelConfig& c) {
  const T d = T(c.d_model), f = T(c.d_ff), v = T(c.vocab_size);
  const T per_block = 2 * d                            // ln
                      + 4 * d * d                      // q, k, v, out
                      + f * d + (c.fc_in_bias ? f : 0)  // fc_in
                      + d * f + d;                     // fc_out
  return v * d                 // embed
         + T(c.n_layer) * per_block
         + 2 * d               // ln_f
         + v * d + v;          // lm_head
}
// No model comes near this; a config beyond it is corrupt, and the arithmetic stays in int64.
constexpr long double kMaxParameters = 1e15L;
}  // namespace

int64_t ModelConfig::parameter_count() const { return count_parameters<int64_t>(*this); }

void ModelConfig::validate(const std::string& where) const {
  require_positive(where, "vocab_size", vocab_size);
  require_positive(where, "n_positions", n_positions);
  require_positive(where, "d_model", d_model);
  require_positive(where, "n_layer", n_layer);
  require_positive(where, "n_head", n_head);
  require_positive(where, "d_ff", d_ff);
  require_positive(where, "rotary_dim", rotary_dim);
  if (d_model % n_head != 0) {
    fail(where, "n_head",
         "d_model " + std::to_string(d_model) + " is not divisible by n_head " + std::to_string(n_head));
  }
  if (rotary_dim % 2 != 0) fail(where, "rotary_dim", "must be even, got " + std::to_string(rotary_dim));
  if (rotary_dim > head_dim()) {
    fail(where, "rotary_dim",
         std::to_string(rotary_dim) + " exceeds the head dimension d_model/n_head = " + std::to_string(head_dim()));
  }
  require_positive_finite(where, "layer_norm_eps", layer_norm_eps);
  require_positive_finite(where, "init_std", init_std);
  const long double parameters = count_parameters<long double>(*this);
  if (parameters > kMaxParameters) {
    std::ostringstream s;
    s << "the shape (n_layer " << n_layer << ", d_model " << d_model << ", d_ff " << d_ff << ", vocab_size "
      << vocab_size << ") means " << static_cast<double>(parameters) << " parameters, more than any model has";
    fail(where, "n_layer", s.str());
  }
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, make] : base_presets()) {
    names.push_back(name);
    names.push_back(name + "-relu");
  }
  return names;
}

ModelConfig preset(const std::string& name) {
  static const std::string relu_suffix = "-relu";
  std::string base = name;
  bool relu = false;
  if (base.size() > relu_suffix.size() &&
      base.compare(base.size() - relu_suffix.size(), relu_suffix.size(), relu_suffix) == 0) {
    base.resize(base.size() - relu_suffix.size());
    relu = true;
  }
  for (const auto& [preset_name, make] : base_presets()) {
    if (preset_name != base) continue;
    ModelConfig c = make();
    if (relu) {
      c.activation = Activation::Relu;
      c.fc_in_bias = false;
    }
    return c;
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("model preset", "unknown preset '" + name + "' (known: " + known + ")");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::GeluNew: return "gelu_new";
    case Activation::Relu: return "relu";
  }
  return "unknown";
}

json to_json(const ModelConfig& c) {
  return json{{"vocab_size", c.vocab_size},   {"n_positions", c.n_positions},
              {"d_model", c.d_model},         {"n_layer", c.n_layer},
              {"n_head", c.n_head},           {"rotary_dim", c.rotary_dim},
              {"d_ff", c.d_ff},               {"activation", activation_name(c.activation)},
              {"fc_in_bias", c.fc_in_bias},   {"layer_norm_eps", c.layer_norm_eps},
              {"init_std", c.init_std}};
}

ModelConfig config_from_json(const json& j, const std::string& where) {
  ModelConfig c;
  JsonFields f(j, where);
  f.integer("vocab_size", c.vocab_size);
  f.integer("n_positions", c.n_positions);
  f.integer("d_model", c.d_model);
  f.integer("n_layer", c.n_layer);
  f.integer("n_head", c.n_head);
  f.integer("rotary_dim", c.rotary_dim);
  f.integer("d_ff", c.d_ff);
  std::string activation;
  if (f.string("activation", activation)) c.activation = parse_activation(activation, where, "activation");
  f.boolean("fc_in_bias", c.fc_in_bias);
  f.number("layer_norm_eps", c.layer_norm_eps);
  f.number("init_std", c.init_std);
  f.finish();
  c.validate(where);
  return c;
}

ModelConfig config_from_hf_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where, std::string("config.json must be a JSON object, got ") + j.type_name());
  // Absent keys take GPTJConfig's defaults, which are GPT-J-6B's (ModelConfig's defaults).
  ModelConfig c;
  auto has = [&](const char* key) { return j.contains(key); };
  if (has("model_type")) {
    const std::string type = get_string(j.at("model_type"), where, "model_type");
    if (type != "gptj") fail(where, "model_type", "'" + type + "' is not a GPT-J model (expected 'gptj')");
  }
  if (has("vocab_size")) c.vocab_size = get_int(j.at("vocab_size"), where, "vocab_size");
  if (has("n_positions")) c.n_positions = get_int(j.at("n_positions"), where, "n_positions");
  if (has("n_embd")) c.d_model = get_int(j.at("n_embd"), where, "n_embd");
  if (has("n_layer")) c.n_layer = get_int(j.at("n_layer"), where, "n_layer");
  if (has("n_head")) c.n_head = get_int(j.at("n_head"), where, "n_head");
  // n_inner: null (GPTJConfig's default) means 4·n_embd.
  c.d_ff = 4 * c.d_model;
  if (has("n_inner") && !j.at("n_inner").is_null()) c.d_ff = get_int(j.at("n_inner"), where, "n_inner");
  // rotary_dim: absent means GPTJConfig's default 64; null means the whole head.
  if (has("rotary_dim")) {
    const json& r = j.at("rotary_dim");
    if (r.is_null()) {
      if (c.n_head <= 0) fail(where, "n_head", "must be positive, got " + std::to_string(c.n_head));
      c.rotary_dim = c.d_model / c.n_head;
    } else {
      c.rotary_dim = get_int(r, where, "rotary_dim");
    }
  }
  if (has("activation_function")) {
    const std::string act = get_string(j.at("activation_function"), where, "activation_function");
    if (act == "gelu_new") {
      c.activation = Activation::GeluNew;
    } else if (act == "relu") {
      c.activation = Activation::Relu;
    } else {
      fail(where, "activation_function", "'" + act + "' is not supported (Cook's GPT-J has gelu_new or relu)");
    }
  }
  if (has("layer_norm_epsilon")) c.layer_norm_eps = get_number(j.at("layer_norm_epsilon"), where, "layer_norm_epsilon");
  if (has("initializer_range")) c.init_std = get_number(j.at("initializer_range"), where, "initializer_range");
  if (has("tie_word_embeddings") && get_bool(j.at("tie_word_embeddings"), where, "tie_word_embeddings")) {
    fail(where, "tie_word_embeddings", "true is not supported: GPT-J's LM head is untied");
  }
  // Cook's own addition: HF's GPT-J always has an fc_in bias; Cook's ReLU variants drop it.
  if (has("cook_fc_in_bias")) c.fc_in_bias = get_bool(j.at("cook_fc_in_bias"), where, "cook_fc_in_bias");
  c.validate(where);
  return c;
}

json to_hf_json(const ModelConfig& c) {
  json j{{"architectures", json::array({"GPTJForCausalLM"})},
         {"model_type", "gptj"},
         {"vocab_size", c.vocab_size},
         {"n_positions", c.n_positions},
         {"n_embd", c.d_model},
         {"n_layer", c.n_layer},
         {"n_head", c.n_head},
         {"rotary_dim", c.rotary_dim},
         {"n_inner", c.d_ff},
         {"activation_function", activation_name(c.activation)},
         {"layer_norm_epsilon", c.layer_norm_eps},
         {"initializer_range", c.init_std},
         {"resid_pdrop", 0.0},
         {"embd_pdrop", 0.0},
         {"attn_pdrop", 0.0},
         {"tie_word_embeddings", false},
         {"bos_token_id", 50256},
         {"eos_token_id", 50256},
         {"use_cache", true}};
  if (!c.fc_in_bias) j["cook_fc_in_bias"] = false;
  return j;
}

}  // namespace cook::model

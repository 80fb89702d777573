// The shape of a GPT-J-family model, its named presets, and its JSON forms (Cook's own and
// Hugging Face's config.json).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cook::model {

enum class Activation { GeluNew, Relu };

struct ModelConfig {
  int64_t vocab_size = 50400;
  int64_t n_positions = 2048;
  int64_t d_model = 4096;
  int64_t n_layer = 28;
  int64_t n_head = 16;
  int64_t rotary_dim = 64;   // channels of each head that get rotary position embedding
  int64_t d_ff = 16384;
  Activation activation = Activation::GeluNew;
  bool fc_in_bias = true;    // the ReLU variant that MoEfication needs drops it
  double layer_norm_eps = 1e-5;
  double init_std = 0.02;

  int64_t head_dim() const { return d_model / n_head; }
  int64_t parameter_count() const;
  // Throws cook::Error naming `where` and the field when a value is impossible.
  void validate(const std::string& where) const;
};

// Presets: "tiny", "small", "gpt-j" (14 layers, BMCook's half model), "gpt-j-6b", and the
// "-relu" twin of each (ReLU, no fc_in bias). Throws, listing the known names, on an unknown one.
ModelConfig preset(const std::string& name);
std::vector<std::string> preset_names();

const char* activation_name(Activation a);

nlohmann::json to_json(const ModelConfig& c);
// Cook's own JSON form; unknown keys and wrong types are errors naming `where` and the key.
ModelConfig config_from_json(const nlohmann::json& j, const std::string& where);
// Hugging Face GPTJConfig (config.json): n_embd, n_inner (null = 4·n_embd), activation_function...
ModelConfig config_from_hf_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_hf_json(const ModelConfig& c);

}  // namespace cook::model

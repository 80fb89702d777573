// MoEfication's options, as BMCook's JSON config spells them (its "MoEfication" section) and as
// `cook train/eval/generate --moe --moe-ckpt F --num-expert E --topk K` give them.
//
//   "MoEfication": {"is_moefy": true, "first_FFN_module": ["ffn.layernorm_before_ffn"],
//                   "num_expert": 512, "topk": 102, "moe_path": "moe.safetensors"}
//
// first_FFN_module names where each FFN's input is taken: BMCook's "ffn.layernorm_before_ffn"
// and Cook's "ln" (GPT-J's attention and FFN share one layer norm) both mean the block's ln
// output, the only place it can be in Cook. Cook adds "router" (mlp | centroid | oracle | auto).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cook {
class JsonFields;
}

namespace cook::compress::moe {

enum class RouterKind { Auto, Mlp, Centroid, Oracle };  // Auto: the MLP router when the file has one
RouterKind parse_router_kind(const std::string& name, const std::string& where);
const char* router_kind_name(RouterKind k);

struct MoeOptions {
  bool is_moefy = false;
  std::vector<std::string> first_ffn_module{"ffn.layernorm_before_ffn"};
  int64_t num_expert = 0;  // 0: the MoE file's
  int64_t topk = 0;        // experts per token; required when is_moefy
  std::string moe_path;    // the MoE file
  RouterKind router = RouterKind::Auto;

  // Strict: an unknown key, a wrong type or a bad value is a cook::Error naming `where`.key.
  static MoeOptions from_json(const nlohmann::json& section, const std::string& where);
  // Throws when is_moefy is set and moe_path (unless !need_file: a pipeline writes it) or topk is
  // missing, or a value is out of range.
  void validate(const std::string& where, bool need_file = true) const;
};

// Reads the keys above from `fields` into `options`, for readers of a section with more keys
// (cook compress's); from_json is this plus finish() and validate().
void read_moe_fields(JsonFields& fields, MoeOptions& options);
nlohmann::json to_json(const MoeOptions& options);

}  // namespace cook::compress::moe

// Weight names of GPT-J in the three layouts Cook reads and writes, in both directions.
//
//   Cook (the model's own)            Hugging Face GPT-J                  BMCook GPT-J (examples/)
//   embed.weight                      transformer.wte.weight              input_embedding.weight
//   blocks.{i}.ln.weight|bias         transformer.h.{i}.ln_1.weight|bias  dec_layers.{i}.ln_1.weight|bias
//   blocks.{i}.attn.q_proj.weight     transformer.h.{i}.attn.q_proj.weight dec_layers.{i}.self_attention.q_proj
//     (k_proj, v_proj, out_proj the same way)
//   blocks.{i}.ffn.fc_in.weight (F,d) transformer.h.{i}.mlp.fc_in.weight  dec_layers.{i}.ff.fc_in_weight (F,d)
//   blocks.{i}.ffn.fc_in.bias (F)     transformer.h.{i}.mlp.fc_in.bias    dec_layers.{i}.ff.fc_in_bias (1,F,1)
//   blocks.{i}.ffn.fc_out.weight (d,F) transformer.h.{i}.mlp.fc_out.weight dec_layers.{i}.ff.fc_out_weight (d,F)
//   blocks.{i}.ffn.fc_out.bias (d)    transformer.h.{i}.mlp.fc_out.bias   dec_layers.{i}.ff.fc_out_bias (1,d,1)
//   ln_f.weight|bias                  transformer.ln_f.weight|bias        layernorm_after_dec.weight|bias
//   lm_head.weight (V,d)              lm_head.weight                      lm_head.weight
//   lm_head.bias (V)                  lm_head.bias                        lm_head.bias (1,V,1)
//
// BMCook's names come from its GPT-J model (example/models.py GPTJ, layers/transformer_block.py
// GPTJDecoder, layers/attention.py GPTJAtt, layers/feedforward.py GPTJFF, layers/lm_head.py) and
// its converter example/gpt-j-transform.py; its biases are (1, n, 1) because it computes in
// (batch, hidden, seq) order. Only the shapes differ, never the element order, so the map reshapes
// (views, no copies) and never transposes.
//
// Names that are known but carry no weight are ignored on reading: Hugging Face's attention
// buffers transformer.h.{i}.attn.bias / attn.masked_bias, and BMCook's ff.fc_in_bias when the
// config has no fc_in bias (BMCook's ReLU FFN keeps the parameter but never adds it).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "cook/model/config.h"
#include "cook/weights/tensor_io.h"

namespace cook::weights {

enum class Layout { Cook, HuggingFace, BMCook };
const char* layout_name(Layout l);

struct WeightName {
  std::string cook, hf, bmcook;
  std::vector<int64_t> shape;         // in Cook and Hugging Face
  std::vector<int64_t> bmcook_shape;  // in BMCook

  const std::string& name(Layout l) const;
  const std::vector<int64_t>& shape_in(Layout l) const;
};

class NameMap {
 public:
  // Every weight of a model of this config, in model order.
  explicit NameMap(const model::ModelConfig& config);

  const std::vector<WeightName>& entries() const { return entries_; }
  const WeightName* find(Layout layout, const std::string& name) const;
  // Throws cook::Error naming `where` and the tensor, with the nearest names of that layout.
  const WeightName& at(Layout layout, const std::string& name, const std::string& where) const;
  // A name that is known in `layout` but holds no weight (see the note at the top).
  bool ignored(Layout layout, const std::string& name) const;

  std::string convert_name(Layout from, Layout to, const std::string& name, const std::string& where) const;

  // Renames and reshapes a whole set of weights from one layout to another. Checks, and reports
  // together in one cook::Error naming `where`, every tensor that is unknown, has the wrong shape
  // for the config, or is missing. The results are views of the inputs (no copy).
  TensorMap convert(Layout from, Layout to, const TensorMap& tensors, const std::string& where) const;
  // The same, with `file_of(name)` naming the file each input tensor came from in messages.
  TensorMap convert(Layout from, Layout to, const TensorMap& tensors, const std::string& where,
                    const std::map<std::string, std::string>& file_of) const;

 private:
  model::ModelConfig config_;
  std::vector<WeightName> entries_;
  std::unordered_map<std::string, size_t> index_[3];
};

}  // namespace cook::weights

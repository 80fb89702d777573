// The small files in BMCook's and MoEfication's formats under tests/data/bmcook (made by
// make_bmcook_files.py with torch), and the tiny GPT-J they belong to.
#pragma once
#include <string>

#include "cook/model/config.h"

namespace cook::test {

inline std::string bmcook_file(const std::string& name) { return std::string(COOK_TEST_DATA_DIR) + "/bmcook/" + name; }

// d_model 8, d_ff 16, 2 layers, vocabulary 32: the shape of gptj-tiny-{gelu,relu}.bin.
inline model::ModelConfig bmcook_tiny_config(bool relu) {
  model::ModelConfig c;
  c.vocab_size = 32;
  c.n_positions = 16;
  c.d_model = 8;
  c.n_layer = 2;
  c.n_head = 2;
  c.rotary_dim = 2;
  c.d_ff = 16;
  c.activation = relu ? model::Activation::Relu : model::Activation::GeluNew;
  c.fc_in_bias = !relu;
  return c;
}

}  // namespace cook::test

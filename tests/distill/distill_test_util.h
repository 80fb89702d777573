// Small student and teacher models of chosen depth and width for the distillation tests.
#pragma once
#include <torch/torch.h>

#include "cook/model/gptj.h"

namespace cook::test {

inline model::ModelConfig distill_config(int64_t layers, int64_t width, int64_t heads = 4) {
  model::ModelConfig c;
  c.vocab_size = 97;
  c.n_positions = 32;
  c.d_model = width;
  c.n_layer = layers;
  c.n_head = heads;
  c.rotary_dim = 4;
  c.d_ff = 2 * width;
  return c;
}

inline model::GptJ distill_model(int64_t layers, int64_t width, uint64_t seed, int64_t heads = 4) {
  model::GptJ m(distill_config(layers, width, heads));
  m->init_weights(0.05, seed);
  return m;
}

}  // namespace cook::test

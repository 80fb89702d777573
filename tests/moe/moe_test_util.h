// Helpers shared by the MoEfication tests: a tiny ReLU model and its FFNs.
#pragma once
#include <torch/torch.h>

#include <string>

#include "cook/model/gptj.h"

namespace cook::compress::moe::test {

// The tiny-relu preset (d 64, F 256, 2 layers), initialized with a std large enough that many
// neurons fire, on the CPU.
inline model::GptJ tiny_relu_model(uint64_t seed = 7) {
  model::GptJ m(model::preset("tiny-relu"));
  m->init_weights(0.1, seed);
  m->eval();
  return m;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// The message of the cook::Error `f` throws, or "" when it throws nothing.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace cook::compress::moe::test

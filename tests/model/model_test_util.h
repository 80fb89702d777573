// Helpers shared by the model tests: the HF GPT-J fixtures (tests/data/hf-gptj) and comparisons.
#pragma once
#include <torch/torch.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"
#include "cook/weights/tensor_io.h"

namespace cook::model::test {

inline std::string fixture_dir(const std::string& name) { return std::string(COOK_TEST_DATA_DIR) + "/hf-gptj/" + name; }

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// The reference tensors HF computed (read-only views of the mapped file).
inline weights::TensorMap read_reference(const std::string& name) {
  return weights::load_safetensors(fixture_dir(name) + "/reference.safetensors").tensors;
}

// The fixture's model, read as any Hugging Face folder is, in eval mode.
inline GptJ load_fixture_model(const std::string& name) {
  weights::Checkpoint ckpt = weights::read_checkpoint(fixture_dir(name));
  GptJ model(ckpt.config);
  weights::load_into(*model, std::move(ckpt));
  model->eval();
  return model;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace cook::model::test

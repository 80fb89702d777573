// Helpers for the weights tests: temporary folders, a module built from a list of parameter names
// (nested the way Cook names are), error matchers.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "cook/core/error.h"
#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "../common/temp_dir.h"
#include "cook/model/config.h"
#include "cook/weights/name_map.h"

namespace cook::weights::testing {

// A fresh folder per test, removed at its end.
class TempDir : public cook::test::TempDir {
 public:
  TempDir() : cook::test::TempDir("cook-weights-test") {}
};

inline std::string data_dir() { return COOK_TEST_DATA_DIR; }
inline std::string hf_fixture(const std::string& name) { return data_dir() + "/hf-gptj/" + name; }

// The config of tests/data/bmcook/*.bin (see make_bmcook_fixture.py).
inline model::ModelConfig bmcook_fixture_config(bool relu) { return cook::test::bmcook_tiny_config(relu); }

// A module holding one parameter per (name, shape), nested by the dots in the names, so that
// named_parameters() gives exactly those names: the stand-in for the model in load_into tests.
class Holder : public torch::nn::Module {
 public:
  using torch::nn::Module::register_module;
  using torch::nn::Module::register_parameter;
};

inline std::shared_ptr<Holder> module_with(const std::vector<std::pair<std::string, std::vector<int64_t>>>& params,
                                           torch::Dtype dtype = torch::kFloat32) {
  auto root = std::make_shared<Holder>();
  for (const auto& [name, shape] : params) {
    std::shared_ptr<torch::nn::Module> node = root;
    size_t start = 0;
    for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
      std::string part = name.substr(start, dot - start);
      start = dot + 1;
      auto children = node->named_children();
      if (children.contains(part)) {
        node = children[part];
      } else {
        auto child = std::make_shared<Holder>();
        static_cast<Holder&>(*node).register_module(part, child);
        node = child;
      }
    }
    static_cast<Holder&>(*node).register_parameter(name.substr(start), torch::full(shape, -7.0, dtype));
  }
  return root;
}

// A module with every weight of `config` under Cook's names.
inline std::shared_ptr<Holder> module_for(const model::ModelConfig& config, torch::Dtype dtype = torch::kFloat32) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> params;
  NameMap map(config);
  for (const auto& e : map.entries()) params.emplace_back(e.cook, e.shape);
  return module_with(params, dtype);
}

using cook::test::expect_error;

}  // namespace cook::weights::testing

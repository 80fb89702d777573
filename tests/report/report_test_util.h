// Helpers shared by the report tests: a micro model and a fixed evaluation source.
#pragma once
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::compress::report::test {

inline model::ModelConfig micro_config() {
  model::ModelConfig c;
  c.vocab_size = 96;
  c.n_positions = 64;
  c.d_model = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.rotary_dim = 4;
  c.d_ff = 128;
  return c;
}

// Weights large enough that attention is not uniform and the logits differ across positions.
inline model::GptJ micro_model(uint64_t seed = 7) {
  model::GptJ m(micro_config());
  m->init_weights(0.2, seed);
  m->eval();
  return m;
}

// `batches` batches of (4, 16) random ids, the same on every pass.
class RandomEval : public train::EvalSource {
 public:
  explicit RandomEval(int64_t batches = 3, int64_t vocab = 96) : batches_(batches), vocab_(vocab) {}
  void for_each(int64_t max_batches, const std::function<void(const train::Batch&)>& visit) const override {
    const int64_t n = max_batches > 0 ? std::min(max_batches, batches_) : batches_;
    for (int64_t i = 0; i < n; ++i) {
      at::Generator gen = at::detail::createCPUGenerator(100 + i);
      const torch::Tensor window = torch::randint(0, vocab_, {4, 17}, gen, torch::kInt64);
      train::Batch b;
      b.input_ids = window.narrow(1, 0, 16).contiguous();
      b.labels = window.narrow(1, 1, 16).contiguous();
      visit(b);
    }
  }

 private:
  int64_t batches_, vocab_;
};

inline std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("cook-report-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace cook::compress::report::test

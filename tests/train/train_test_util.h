// Small models and deterministic in-memory data for the trainer tests.
#pragma once
#include <filesystem>
#include <string>

#include <torch/torch.h>

#include "cook/model/gptj.h"
#include "cook/train/batch.h"

namespace cook::test {

inline model::ModelConfig micro_config() {
  model::ModelConfig c;
  c.vocab_size = 97;
  c.n_positions = 32;
  c.d_model = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.rotary_dim = 4;
  c.d_ff = 64;
  return c;
}

inline model::GptJ micro_model(uint64_t seed = 7) {
  model::GptJ m(micro_config());
  m->init_weights(0.05, seed);
  return m;
}

// Batch k is drawn from (seed, k) alone, so the position is just k. Sequences follow a simple
// pattern (token t+1 = t + stride mod V) with noise, so a model can learn them.
class PatternBatches : public train::BatchSource {
 public:
  PatternBatches(int64_t batch, int64_t seq, uint64_t seed) : batch_(batch), seq_(seq), seed_(seed) {}
  train::Batch next() override { return make(next_++); }
  nlohmann::json position() const override { return {{"next", next_}}; }
  void restore(const nlohmann::json& p) override { next_ = p.at("next").get<int64_t>(); }
  train::Batch make(int64_t k) const {
    auto gen = at::detail::createCPUGenerator(seed_ * 1000003 + static_cast<uint64_t>(k));
    auto start = torch::randint(0, 97, {batch_, 1}, gen, torch::kInt64);
    auto stride = torch::randint(1, 4, {batch_, 1}, gen, torch::kInt64);
    auto steps = torch::arange(seq_ + 1, torch::kInt64).unsqueeze(0);
    auto window = (start + stride * steps).remainder(97);
    train::Batch b;
    b.input_ids = window.narrow(1, 0, seq_).contiguous();
    b.labels = window.narrow(1, 1, seq_).contiguous();
    return b;
  }
  int64_t next_ = 0;

 private:
  int64_t batch_, seq_;
  uint64_t seed_;
};

class PatternEval : public train::EvalSource {
 public:
  void for_each(int64_t max_batches, const std::function<void(const train::Batch&)>& visit) const override {
    PatternBatches source(4, 16, 999);
    const int64_t n = max_batches > 0 ? std::min<int64_t>(max_batches, 3) : 3;
    for (int64_t i = 0; i < n; ++i) visit(source.make(i));
  }
};

inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("cook-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline bool same_parameters(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  return true;
}

}  // namespace cook::test

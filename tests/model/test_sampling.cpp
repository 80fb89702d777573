// Sampling (greedy, temperature, top-k, top-p, seeds) and generation with and without the KV cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "cook/core/error.h"
#include "cook/infer/generate.h"
#include "cook/infer/sampling.h"
#include "cook/model/gptj.h"

namespace cook::infer {
namespace {

int64_t kept(const torch::Tensor& filtered_row) { return torch::isfinite(filtered_row).sum().item<int64_t>(); }

std::string error_of(const SamplingOptions& o) {
  try {
    o.validate();
  } catch (const cook::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sampling, GreedyIsArgmax) {
  torch::manual_seed(1);
  const torch::Tensor logits = torch::randn({3, 50});
  at::Generator gen = at::detail::createCPUGenerator(0);
  SamplingOptions greedy;
  greedy.greedy = true;
  EXPECT_TRUE(torch::equal(choose_next(logits, greedy, gen), logits.argmax(-1)));
  SamplingOptions zero_temperature;
  zero_temperature.temperature = 0.0;
  EXPECT_TRUE(torch::equal(choose_next(logits, zero_temperature, gen), logits.argmax(-1)));
}

TEST(Sampling, TopKKeepsExactlyKCandidates) {
  const torch::Tensor logits = torch::tensor({{0.5f, 3.0f, -1.0f, 2.0f, 2.5f, 0.0f}});
  SamplingOptions o;
  o.top_k = 3;
  const torch::Tensor f = filter_logits(logits, o);
  EXPECT_EQ(kept(f[0]), 3);
  for (int64_t i : {1, 3, 4}) EXPECT_TRUE(std::isfinite(f[0][i].item<float>())) << i;
  // Ties: still exactly k.
  o.top_k = 2;
  EXPECT_EQ(kept(filter_logits(torch::ones({2, 8}), o)[1]), 2);
  // Sampling draws only from the k kept ones.
  at::Generator gen = at::detail::createCPUGenerator(5);
  o.top_k = 3;
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(choose_next(logits, o, gen)[0].item<int64_t>());
  EXPECT_EQ(seen, (std::set<int64_t>{1, 3, 4}));
}

TEST(Sampling, TopPKeepsTheSmallestSetWithMassAtLeastP) {
  // Probabilities 0.5, 0.25, 0.15, 0.1 (shuffled across the vocabulary).
  const torch::Tensor logits = torch::log(torch::tensor({{0.15f, 0.5f, 0.1f, 0.25f}}));
  SamplingOptions o;
  auto kept_set = [&](double p) {
    o.top_p = p;
    const torch::Tensor f = filter_logits(logits, o)[0];
    std::set<int64_t> s;
    for (int64_t i = 0; i < 4; ++i)
      if (std::isfinite(f[i].item<float>())) s.insert(i);
    return s;
  };
  EXPECT_EQ(kept_set(0.3), (std::set<int64_t>{1}));           // 0.5 ≥ 0.3
  EXPECT_EQ(kept_set(0.6), (std::set<int64_t>{1, 3}));        // 0.75
  EXPECT_EQ(kept_set(0.8), (std::set<int64_t>{0, 1, 3}));     // 0.9
  EXPECT_EQ(kept_set(0.95), (std::set<int64_t>{0, 1, 2, 3})); // 1.0
  EXPECT_EQ(kept_set(1.0), (std::set<int64_t>{0, 1, 2, 3}));
  // Top-k applies first: of the 2 kept (0.5, 0.25 → renormalized 2/3, 1/3), p = 0.6 keeps one.
  o.top_k = 2;
  EXPECT_EQ(kept_set(0.6), (std::set<int64_t>{1}));
}

TEST(Sampling, TemperatureScalesTheLogits) {
  const torch::Tensor logits = torch::tensor({{1.0f, 2.0f, 4.0f}});
  SamplingOptions o;
  o.temperature = 2.0;
  EXPECT_TRUE(torch::allclose(filter_logits(logits, o), logits / 2.0));
}

TEST(Sampling, TheSameSeedGivesTheSameTokens) {
  torch::manual_seed(2);
  const torch::Tensor logits = torch::randn({4, 1000});
  SamplingOptions o;
  o.temperature = 1.5;
  o.top_p = 0.95;
  auto draw = [&](uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    std::vector<torch::Tensor> draws;
    for (int i = 0; i < 10; ++i) draws.push_back(choose_next(logits, o, gen));
    return torch::stack(draws);
  };
  const torch::Tensor a = draw(42), b = draw(42), c = draw(43);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  std::set<int64_t> distinct;
  for (int64_t i = 0; i < a.size(0); ++i) distinct.insert(a[i][0].item<int64_t>());
  EXPECT_GT(distinct.size(), 4u);  // it really samples (row 0 over 10 draws), not argmax
}

TEST(Sampling, BadOptionsAreErrorsNamingTheOption) {
  SamplingOptions o;
  o.top_p = 0.0;
  EXPECT_NE(error_of(o).find("--top-p"), std::string::npos);
  o.top_p = 1.5;
  EXPECT_NE(error_of(o).find("--top-p"), std::string::npos);
  o = {};
  o.top_k = -1;
  EXPECT_NE(error_of(o).find("--top-k"), std::string::npos);
  o = {};
  o.temperature = -0.5;
  EXPECT_NE(error_of(o).find("--temperature"), std::string::npos);
  EXPECT_EQ(error_of(SamplingOptions{}), "");
}

model::GptJ small_model() {
  model::ModelConfig c = model::preset("tiny");
  c.vocab_size = 61;
  c.n_positions = 32;
  model::GptJ m(c);
  m->init_weights(0.3, 9);
  m->eval();
  return m;
}

TEST(Generate, GreedyWithTheCacheEqualsGreedyRecomputingTheFullForward) {
  model::GptJ m = small_model();
  const std::vector<int64_t> prompt{3, 14, 15, 9, 26};
  GenerateOptions o;
  o.max_new_tokens = 20;
  o.sampling.greedy = true;
  at::Generator gen = at::detail::createCPUGenerator(0);
  const std::vector<int64_t> cached = generate(*m, prompt, o, gen);
  o.use_cache = false;
  const std::vector<int64_t> full = generate(*m, prompt, o, gen);
  EXPECT_EQ(cached.size(), 20u);
  EXPECT_EQ(cached, full);
  EXPECT_GT(std::set<int64_t>(cached.begin(), cached.end()).size(), 1u);
}

TEST(Generate, SampledWithTheCacheEqualsRecomputingUnderTheSameSeed) {
  model::GptJ m = small_model();
  GenerateOptions o;
  o.max_new_tokens = 15;
  o.sampling.top_k = 10;
  o.sampling.top_p = 0.9;
  at::Generator g1 = at::detail::createCPUGenerator(7), g2 = at::detail::createCPUGenerator(7);
  const std::vector<int64_t> a = generate(*m, {1, 2, 3}, o, g1);
  o.use_cache = false;
  EXPECT_EQ(a, generate(*m, {1, 2, 3}, o, g2));
}

TEST(Generate, StopsAtTheStopTokenAndAtTheContext) {
  model::GptJ m = small_model();
  GenerateOptions o;
  o.sampling.greedy = true;
  o.max_new_tokens = 10;
  at::Generator gen = at::detail::createCPUGenerator(0);
  const std::vector<int64_t> free_run = generate(*m, {4, 5}, o, gen);
  ASSERT_EQ(free_run.size(), 10u);
  o.stop_id = free_run[3];
  const std::vector<int64_t> stopped = generate(*m, {4, 5}, o, gen);
  const auto first = std::find(free_run.begin(), free_run.end(), free_run[3]) - free_run.begin();
  EXPECT_EQ(stopped, std::vector<int64_t>(free_run.begin(), free_run.begin() + first));
  o.stop_id = -1;
  o.max_new_tokens = 100;
  EXPECT_EQ(generate(*m, std::vector<int64_t>(30, 1), o, gen).size(), 2u);  // context 32
}

TEST(Generate, BadPromptsAreErrorsNamingThePrompt) {
  model::GptJ m = small_model();
  GenerateOptions o;
  at::Generator gen = at::detail::createCPUGenerator(0);
  for (const auto& prompt : {std::vector<int64_t>{}, std::vector<int64_t>(32, 1)}) {
    try {
      generate(*m, prompt, o, gen);
      ADD_FAILURE() << "expected cook::Error for a prompt of " << prompt.size();
    } catch (const cook::Error& e) {
      EXPECT_NE(std::string(e.what()).find("--prompt"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace cook::infer

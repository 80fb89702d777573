// GptJ::forward_cached: prefill plus token-by-token decoding with a KV cache computes the logits
// of the full forward pass; the cache grows by the tokens run; the context limit is an error.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "cook/core/error.h"
#include "cook/model/gptj.h"
#include "model_test_util.h"

namespace cook::model {
namespace {

using test::max_abs_diff;

ModelConfig small_random_config() {
  ModelConfig c = preset("tiny");
  c.vocab_size = 97;
  c.n_positions = 24;
  c.rotary_dim = 8;  // of head_dim 16: part rotary, part pass-through
  return c;
}

GptJ random_model(const ModelConfig& c) {
  GptJ model(c);
  model->init_weights(0.2, 11);  // larger than the default std, so that attention is not uniform
  model->eval();
  return model;
}

torch::Tensor full_logits(GptJ& model, const torch::Tensor& ids) {
  ForwardInput in;
  in.input_ids = ids;
  return model->forward(in).logits;
}

// Logits of prefill(ids[:, :prompt_len]) then one token at a time, concatenated along T.
torch::Tensor cached_logits(GptJ& model, const torch::Tensor& ids, int64_t prompt_len, KvCache& cache) {
  std::vector<torch::Tensor> parts;
  parts.push_back(model->forward_cached(ids.narrow(1, 0, prompt_len), cache).logits);
  EXPECT_EQ(cache.length(), prompt_len);
  for (int64_t t = prompt_len; t < ids.size(1); ++t) {
    parts.push_back(model->forward_cached(ids.narrow(1, t, 1), cache).logits);
    EXPECT_EQ(cache.length(), t + 1);
  }
  return torch::cat(parts, 1);
}

TEST(KvCache, PrefillThenDecodeEqualsTheFullForward) {
  torch::NoGradGuard no_grad;
  const ModelConfig c = small_random_config();
  GptJ model = random_model(c);
  for (const int64_t batch : {1, 2}) {
    torch::manual_seed(3 + batch);
    const torch::Tensor ids = torch::randint(0, c.vocab_size, {batch, 20});
    const torch::Tensor expected = full_logits(model, ids);
    for (const int64_t prompt_len : {1, 7}) {
      KvCache cache;
      const torch::Tensor got = cached_logits(model, ids, prompt_len, cache);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_LE(max_abs_diff(got, expected), 1e-4) << "batch " << batch << ", prompt " << prompt_len;
      // The logits must not be trivially alike across positions (the test would then prove little).
      EXPECT_GT(max_abs_diff(expected.select(1, 5), expected.select(1, 6)), 1e-2);
      ASSERT_EQ(cache.layers.size(), static_cast<size_t>(c.n_layer));
      for (const auto& layer : cache.layers) {
        EXPECT_EQ(layer.k.sizes(), (std::vector<int64_t>{batch, c.n_head, 20, c.head_dim()}));
        EXPECT_EQ(layer.v.sizes(), (std::vector<int64_t>{batch, c.n_head, 20, c.head_dim()}));
      }
    }
  }
}

TEST(KvCache, ChunksOfSeveralTokensAlsoMatch) {
  torch::NoGradGuard no_grad;
  const ModelConfig c = small_random_config();
  GptJ model = random_model(c);
  torch::manual_seed(5);
  const torch::Tensor ids = torch::randint(0, c.vocab_size, {2, 18});
  const torch::Tensor expected = full_logits(model, ids);
  KvCache cache;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < 18; start += 6) {
    parts.push_back(model->forward_cached(ids.narrow(1, start, 6), cache).logits);
    EXPECT_EQ(cache.length(), start + 6);
  }
  EXPECT_LE(max_abs_diff(torch::cat(parts, 1), expected), 1e-4);
  cache.clear();
  EXPECT_EQ(cache.length(), 0);
}

TEST(KvCache, ExceedingTheContextIsAnErrorNamingThePosition) {
  torch::NoGradGuard no_grad;
  const ModelConfig c = small_random_config();
  GptJ model = random_model(c);
  const torch::Tensor ids = torch::randint(0, c.vocab_size, {1, c.n_positions});
  KvCache cache;
  model->forward_cached(ids, cache);  // exactly fills the context
  EXPECT_EQ(cache.length(), c.n_positions);
  try {
    model->forward_cached(torch::zeros({1, 1}, torch::kInt64), cache);
    FAIL() << "expected cook::Error";
  } catch (const cook::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("position " + std::to_string(c.n_positions)), std::string::npos) << what;
    EXPECT_NE(what.find("input_ids"), std::string::npos) << what;
  }
  EXPECT_EQ(cache.length(), c.n_positions);  // a refused call leaves the cache as it was

  KvCache fresh;
  EXPECT_THROW(model->forward_cached(torch::zeros({1, c.n_positions + 1}, torch::kInt64), fresh), cook::Error);
  EXPECT_EQ(fresh.length(), 0);
}

TEST(KvCache, RejectsABatchThatDiffersFromTheCachesAndBadIds) {
  torch::NoGradGuard no_grad;
  const ModelConfig c = small_random_config();
  GptJ model = random_model(c);
  KvCache cache;
  model->forward_cached(torch::zeros({2, 3}, torch::kInt64), cache);
  EXPECT_THROW(model->forward_cached(torch::zeros({1, 1}, torch::kInt64), cache), cook::Error);
  EXPECT_THROW(model->forward_cached(torch::full({2, 1}, c.vocab_size, torch::kInt64), cache), cook::Error);
  EXPECT_EQ(cache.length(), 3);
}

}  // namespace
}  // namespace cook::model

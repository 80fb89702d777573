// infer::measure_speed and the batched KV-cached decoding it times: 16 sequences decoded together
// give the logits of the uncached forward; the measurements count what they say; bad sizes are
// errors naming the flag.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include "cook/core/error.h"
#include "cook/infer/speed.h"
#include "report_test_util.h"

namespace cook::infer {
namespace {

using compress::report::test::micro_config;
using compress::report::test::micro_model;

TEST(BatchedDecode, SixteenSequencesStepByStepEqualTheUncachedForward) {
  torch::NoGradGuard no_grad;
  model::GptJ model = micro_model();
  const int64_t batch = 16, prompt = 9, steps = 12;
  torch::manual_seed(21);
  const torch::Tensor ids = torch::randint(0, micro_config().vocab_size, {batch, prompt + steps});
  model::ForwardInput in;
  in.input_ids = ids;
  const torch::Tensor expected = model->forward(in).logits;

  model::KvCache cache;
  std::vector<torch::Tensor> parts{model->forward_cached(ids.narrow(1, 0, prompt), cache).logits};
  for (int64_t t = prompt; t < prompt + steps; ++t) parts.push_back(model->forward_cached(ids.narrow(1, t, 1), cache).logits);
  const torch::Tensor got = torch::cat(parts, 1);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(cache.length(), prompt + steps);
  // Each sequence is its own: row 0 and row 1 differ, so a mixed-up batch would be seen.
  EXPECT_GT((expected[0] - expected[1]).abs().max().item<double>(), 1e-2);
}

TEST(BatchedDecode, GreedyDecodingInABatchEqualsEachSequenceAlone) {
  torch::NoGradGuard no_grad;
  model::GptJ model = micro_model();
  torch::manual_seed(5);
  const torch::Tensor prompt = torch::randint(0, micro_config().vocab_size, {4, 6});
  auto greedy = [&](const torch::Tensor& p) {
    model::KvCache cache;
    torch::Tensor logits = model->forward_cached(p, cache).logits;
    std::vector<torch::Tensor> chosen;
    for (int step = 0; step < 8; ++step) {
      chosen.push_back(logits.select(1, logits.size(1) - 1).argmax(-1, true));
      logits = model->forward_cached(chosen.back(), cache).logits;
    }
    return torch::cat(chosen, 1);
  };
  const torch::Tensor together = greedy(prompt);
  for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(together[i], greedy(prompt.narrow(0, i, 1))[0])) << i;
}

TEST(Speed, MeasuresWhatItSays) {
  model::GptJ model = micro_model();
  SpeedOptions o;
  o.prompt_len = 8;
  o.decode_tokens = 5;
  o.decode_batches = {1, 3};
  o.prefill_batch = 2;
  o.prefill_len = 20;
  o.warmup = 1;
  o.repeats = 3;
  model->train();
  const SpeedResult r = measure_speed(*model, o);
  EXPECT_TRUE(model->is_training());  // restored
  ASSERT_EQ(r.decode.size(), 2u);
  EXPECT_EQ(r.decode[0].batch, 1);
  EXPECT_EQ(r.decode[0].tokens, 5);
  EXPECT_EQ(r.decode[1].batch, 3);
  EXPECT_EQ(r.decode[1].tokens, 15);
  EXPECT_EQ(r.prefill.batch, 2);
  EXPECT_EQ(r.prefill.tokens, 40);
  EXPECT_EQ(r.prefill_len, 20);
  EXPECT_EQ(r.threads, at::get_num_threads());
  EXPECT_EQ(r.device, "cpu");
  for (const Throughput& t : {r.decode[0], r.decode[1], r.prefill}) {
    ASSERT_EQ(t.seconds.size(), 3u);
    EXPECT_GT(t.median_seconds, 0);
    EXPECT_DOUBLE_EQ(t.median_seconds, median(t.seconds));
    EXPECT_NEAR(t.tokens_per_second, t.tokens / t.median_seconds, 1e-9 * t.tokens_per_second);
  }
}

TEST(Speed, MedianOfOddAndEvenCounts) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({}), 0);
}

TEST(Speed, BadSizesNameTheFlag) {
  const model::ModelConfig c = micro_config();  // n_positions 64
  auto error_of = [&](const SpeedOptions& o) -> std::string {
    try {
      o.validate(c);
    } catch (const cook::Error& e) {
      return e.what();
    }
    return "";
  };
  SpeedOptions o;
  o.prefill_len = 32;
  EXPECT_EQ(error_of(o), "--speed-decode-tokens: 64 prompt + 32 decoded tokens exceed the model's context of 64 (--speed-prompt-len)");
  o.prompt_len = 16;
  EXPECT_EQ(error_of(o), "");
  o.prefill_len = 65;
  EXPECT_NE(error_of(o).find("--speed-prefill-len: 65 is longer"), std::string::npos);
  o.prefill_len = 32;
  o.decode_batches = {1, 0};
  EXPECT_NE(error_of(o).find("--speed-decode-batches: must be positive"), std::string::npos);
  o.decode_batches = {};
  EXPECT_NE(error_of(o).find("--speed-decode-batches"), std::string::npos);
  o.decode_batches = {1};
  o.repeats = 0;
  EXPECT_NE(error_of(o).find("--speed-repeats"), std::string::npos);
  o.repeats = 1;
  o.warmup = -1;
  EXPECT_NE(error_of(o).find("--speed-warmup"), std::string::npos);
}

}  // namespace
}  // namespace cook::infer

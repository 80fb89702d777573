// The window sampler and the evaluation windows: determinism, epochs as permutations, rank
// slices, exact resume, and the windows' contents.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "cook/text/token_dataset.h"
#include "cook/text/window_sampler.h"
#include "test_token_data_util.h"

namespace cook::text {
namespace {

using namespace test_util;

WindowSamplerOptions opts(int64_t seq_len, uint64_t seed, int64_t rank = 0, int64_t world = 1, bool offset = false) {
  WindowSamplerOptions o;
  o.seq_len = seq_len;
  o.seed = seed;
  o.rank = rank;
  o.world_size = world;
  o.random_offset = offset;
  return o;
}

std::vector<int64_t> take(WindowSampler& s, int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(s.next());
  return v;
}

TEST(WindowSampler, WindowCountsOnTheGrid) {
  // 101 tokens, seq_len 10: windows [0,11), [10,21), ..., [90,101): 10 of them.
  EXPECT_EQ(WindowSampler(101, opts(10, 1)).windows_per_epoch(), 10);
  EXPECT_EQ(WindowSampler(100, opts(10, 1)).windows_per_epoch(), 9);
  EXPECT_EQ(WindowSampler(11, opts(10, 1)).windows_per_epoch(), 1);
  // With random offsets every offset in [0, 10) must fit: 100 tokens give 9, 109 give 9, 110 give 10.
  EXPECT_EQ(WindowSampler(100, opts(10, 1, 0, 1, true)).windows_per_epoch(), 9);
  EXPECT_EQ(WindowSampler(109, opts(10, 1, 0, 1, true)).windows_per_epoch(), 9);
  EXPECT_EQ(WindowSampler(110, opts(10, 1, 0, 1, true)).windows_per_epoch(), 10);
  EXPECT_EQ(WindowSampler(11, opts(10, 1)).window_length(), 11);
}

TEST(WindowSampler, EachEpochIsAPermutationOfTheGrid) {
  WindowSampler s(1001, opts(10, 7));
  ASSERT_EQ(s.windows_per_epoch(), 100);
  std::vector<int64_t> prev;
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> starts = take(s, 100);
    std::vector<int64_t> sorted = starts;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t k = 0; k < 100; ++k) ASSERT_EQ(sorted[k], k * 10) << "epoch " << epoch;
    EXPECT_NE(starts, sorted) << "epoch " << epoch << " is not shuffled";
    EXPECT_NE(starts, prev) << "epoch " << epoch << " repeats the order of the one before";
    prev = starts;
    EXPECT_EQ(s.position(), (SamplerPosition{epoch + 1, 0}));
  }
}

TEST(WindowSampler, DeterministicFromTheSeed) {
  WindowSampler a(5000, opts(16, 42)), b(5000, opts(16, 42)), c(5000, opts(16, 43));
  const auto sa = take(a, 700), sb = take(b, 700), sc = take(c, 700);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
  // window_start is a pure function of (epoch, index): a fresh sampler agrees.
  WindowSampler d(5000, opts(16, 42));
  EXPECT_EQ(d.window_start(2, 5), sa[2 * a.windows_per_rank() + 5]);
  // Pinned values guard against an accidental change of the generator (it would silently
  // change the data order of every resumed run).
  WindowSampler e(1001, opts(10, 1234));
  EXPECT_EQ(take(e, 5), (std::vector<int64_t>{990, 660, 410, 560, 720}));
  WindowSampler f(1001, opts(10, 1234, 0, 1, true));
  EXPECT_EQ((std::vector<int64_t>{f.epoch_offset(0), f.epoch_offset(1), f.epoch_offset(2), f.epoch_offset(3)}),
            (std::vector<int64_t>{3, 0, 0, 1}));
  EXPECT_EQ(f.window_start(1, 0), 120);
}

TEST(WindowSampler, NoShuffleWalksTheGridInOrder) {
  WindowSamplerOptions o = opts(10, 5);
  o.shuffle = false;
  WindowSampler s(51, o);
  EXPECT_EQ(take(s, 7), (std::vector<int64_t>{0, 10, 20, 30, 40, 0, 10}));
}

TEST(WindowSampler, RankSlicesAreDisjointEqualAndFollowTheSingleProcessOrder) {
  const int64_t tokens = 10 * 103 + 1;  // 103 windows: 4 ranks take 25 each, 3 are skipped per epoch
  WindowSampler single(tokens, opts(10, 99));
  const int64_t world = 4;
  std::vector<WindowSampler> ranks;
  for (int64_t r = 0; r < world; ++r) ranks.emplace_back(tokens, opts(10, 99, r, world));
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<int64_t> order = take(single, single.windows_per_rank());
    std::set<int64_t> seen;
    for (int64_t r = 0; r < world; ++r) {
      ASSERT_EQ(ranks[r].windows_per_rank(), 25);
      const std::vector<int64_t> mine = take(ranks[r], 25);
      for (int64_t i = 0; i < 25; ++i) {
        EXPECT_EQ(mine[i], order[i * world + r]) << "rank " << r << " index " << i;
        EXPECT_TRUE(seen.insert(mine[i]).second) << "window " << mine[i] << " on two ranks";
      }
      EXPECT_EQ(ranks[r].position(), (SamplerPosition{epoch + 1, 0}));
    }
    // Together the ranks cover the epoch's order but its last 103 % 4 = 3 windows.
    EXPECT_EQ(seen.size(), 100u);
    EXPECT_EQ(seen, std::set<int64_t>(order.begin(), order.begin() + 100));
  }
}

TEST(WindowSampler, ResumeFromASavedStateContinuesExactly) {
  for (bool offset : {false, true}) {
    WindowSampler a(3000, opts(12, 2024, 1, 3, offset));
    take(a, 100);  // crosses into epoch 1: 249 windows, 83 per rank
    const std::string saved = a.state().dump();
    const std::vector<int64_t> expected = take(a, 300);

    WindowSampler b(3000, opts(12, 2024, 1, 3, offset));
    b.restore(nlohmann::json::parse(saved));
    EXPECT_EQ(b.position().epoch, 1);
    EXPECT_EQ(take(b, 300), expected) << "random_offset " << offset;

    // One rank's saved state restores any rank: the position is shared.
    WindowSampler c(3000, opts(12, 2024, 2, 3, offset));
    c.restore(nlohmann::json::parse(saved));
    EXPECT_EQ(c.position(), (SamplerPosition{1, 100 - 83}));
  }
}

TEST(WindowSampler, RestoreRejectsAnotherConfiguration) {
  WindowSampler a(3000, opts(12, 1));
  take(a, 10);
  const nlohmann::json saved = a.state();
  WindowSampler other_seed(3000, opts(12, 2));
  EXPECT_HAS(error_of([&] { other_seed.restore(saved); }), "sampler state: field 'seed': saved 1, this sampler has 2");
  WindowSampler other_data(2999, opts(12, 1));
  EXPECT_HAS(error_of([&] { other_data.restore(saved); }), "field 'num_tokens'");
  WindowSampler other_world(3000, opts(12, 1, 0, 2));
  EXPECT_HAS(error_of([&] { other_world.restore(saved); }), "field 'world_size'");
  nlohmann::json bad = saved;
  bad["index"] = 100000;
  WindowSampler same(3000, opts(12, 1));
  EXPECT_HAS(error_of([&] { same.restore(bad); }), "field 'index': 100000 is outside [0, windows_per_rank = 249)");
  bad.erase("epoch");
  EXPECT_HAS(error_of([&] { same.restore(bad); }), "field 'epoch': missing");
}

TEST(WindowSampler, RandomOffsetShiftsTheGridAndStaysInBounds) {
  const int64_t tokens = 1000, L = 32;
  WindowSampler s(tokens, opts(L, 77, 0, 1, true));
  std::set<int64_t> offsets;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    const int64_t o = s.epoch_offset(epoch);
    ASSERT_GE(o, 0);
    ASSERT_LT(o, L);
    offsets.insert(o);
    std::set<int64_t> starts;
    for (int64_t i = 0; i < s.windows_per_rank(); ++i) {
      const int64_t start = s.window_start(epoch, i);
      ASSERT_EQ((start - o) % L, 0);
      ASSERT_LE(start + L + 1, tokens);
      starts.insert(start);
    }
    EXPECT_EQ(static_cast<int64_t>(starts.size()), s.windows_per_epoch());
  }
  EXPECT_GT(offsets.size(), 5u) << "the offset should vary between epochs";
  EXPECT_EQ(WindowSampler(tokens, opts(L, 77)).epoch_offset(3), 0);
}

TEST(WindowSampler, BadOptionsNameTheOption) {
  EXPECT_HAS(error_of([] { WindowSampler(100, opts(0, 1)); }), "seq_len: must be at least 1");
  EXPECT_HAS(error_of([] { WindowSampler(100, opts(10, 1, 0, 0)); }), "world_size: must be at least 1");
  EXPECT_HAS(error_of([] { WindowSampler(100, opts(10, 1, 2, 2)); }), "rank: 2 is outside [0, world_size = 2)");
  EXPECT_HAS(error_of([] { WindowSampler(10, opts(10, 1)); }), "seq_len: 10 tokens make 0 windows of 11 tokens");
  EXPECT_HAS(error_of([] { WindowSampler(31, opts(10, 1, 0, 4)); }), "fewer than world_size = 4");
  WindowSampler s(100, opts(10, 1));
  EXPECT_HAS(error_of([&] { s.set_position({0, 9}); }), "index: 9 is outside");
}

TEST(WindowSampler, BatchesHoldTheWindowsTokens) {
  TempDir dir;
  write_splits(dir.path(), counting_docs({300, 200, 500}), counting_docs({257}), /*shard_tokens=*/128);
  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  WindowSampler s(ds.num_tokens(), opts(16, 3));
  WindowSampler twin(ds.num_tokens(), opts(16, 3));
  std::vector<int64_t> batch(4 * 17);
  for (int step = 0; step < 20; ++step) {
    s.next_batch(ds, 4, batch.data());
    for (int b = 0; b < 4; ++b) {
      const int64_t start = twin.next();
      for (int t = 0; t < 17; ++t) ASSERT_EQ(batch[b * 17 + t], (start + t) % 1000);  // ids count up
    }
  }
  WindowSampler wrong(ds.num_tokens() - 1, opts(16, 3));
  EXPECT_HAS(error_of([&] { wrong.next_batch(ds, 1, batch.data()); }), "the sampler was made for 999 tokens");
}

TEST(EvalWindows, EveryWindowInOrder) {
  TempDir dir;
  write_splits(dir.path(), counting_docs({10}), counting_docs({40, 13}), 16);  // 53 validation tokens
  const TokenDataset ds = TokenDataset::open(dir.path(), kValidationSplit);
  EvalWindows ev(ds.num_tokens(), 8);
  EXPECT_EQ(ev.size(), 6);  // (53 - 1) / 8; the last 52 % 8 = 4 tokens are left out
  EXPECT_EQ(ev.tokens_predicted(), 48);
  std::vector<int64_t> buf(4 * 9);
  std::vector<int64_t> starts;
  int64_t n;
  while ((n = ev.next_batch(ds, 4, buf.data())) > 0) {
    for (int64_t b = 0; b < n; ++b) starts.push_back(buf[b * 9]);
    EXPECT_EQ(buf[(n - 1) * 9 + 8], buf[(n - 1) * 9] + 8);
  }
  EXPECT_EQ(starts, (std::vector<int64_t>{0, 8, 16, 24, 32, 40}));
  EXPECT_EQ(ev.position(), 6);
  EXPECT_EQ(ev.next_batch(ds, 4, buf.data()), 0);
  ev.reset();
  EXPECT_EQ(ev.next_batch(ds, 2, buf.data()), 2);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[9], 8);
  EXPECT_HAS(error_of([] { EvalWindows(8, 8); }), "seq_len: the split's 8 tokens hold no window of seq_len + 1 = 9");
}

}  // namespace
}  // namespace cook::text

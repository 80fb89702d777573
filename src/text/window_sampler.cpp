#include "cook/text/window_sampler.h"

#include <numeric>

#include "cook/core/error.h"
#include "cook/text/token_dataset.h"

using nlohmann::json;

namespace cook::text {

namespace {

// SplitMix64: a small, fully specified generator, so the order is the same with every compiler
// and standard library (std::uniform_int_distribution is not).
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n), without modulo bias.
uint64_t bounded(uint64_t& state, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  while (true) {
    const uint64_t r = splitmix64(state);
    if (r >= threshold) return r % n;
  }
}

// Independent streams per (seed, epoch, purpose).
uint64_t stream_state(uint64_t seed, int64_t epoch, uint64_t purpose) {
  uint64_t s = seed;
  uint64_t a = splitmix64(s) ^ static_cast<uint64_t>(epoch);
  uint64_t b = splitmix64(a) ^ purpose;
  return splitmix64(b);
}

constexpr uint64_t kOrderStream = 1;
constexpr uint64_t kOffsetStream = 2;

}  // namespace

WindowSampler::WindowSampler(int64_t num_tokens, WindowSamplerOptions options)
    : num_tokens_(num_tokens), options_(options) {
  const int64_t L = options_.seq_len;
  if (L < 1) throw Error("seq_len", "must be at least 1, got " + std::to_string(L));
  if (options_.world_size < 1) throw Error("world_size", "must be at least 1, got " + std::to_string(options_.world_size));
  if (options_.rank < 0 || options_.rank >= options_.world_size) {
    throw Error("rank", std::to_string(options_.rank) + " is outside [0, world_size = " +
                            std::to_string(options_.world_size) + ")");
  }
  if (num_tokens_ < 0) throw Error("num_tokens", "negative: " + std::to_string(num_tokens_));
  // Without an offset, window k = [k·L, k·L + L + 1) fits when k·L + L + 1 ≤ N. With an offset o < L
  // every offset must fit: o + k·L + L + 1 ≤ N for o = L - 1.
  windows_ = options_.random_offset ? num_tokens_ / L - 1 : (num_tokens_ - 1) / L;
  if (windows_ < 0) windows_ = 0;
  per_rank_ = windows_ / options_.world_size;
  if (per_rank_ < 1) {
    throw Error("seq_len", std::to_string(num_tokens_) + " tokens make " + std::to_string(windows_) +
                               " windows of " + std::to_string(L + 1) + " tokens" +
                               (options_.random_offset ? " (with random_offset)" : "") + ", fewer than world_size = " +
                               std::to_string(options_.world_size) + " ranks need (one each)");
  }
}

int64_t WindowSampler::epoch_offset(int64_t epoch) const {
  if (!options_.random_offset) return 0;
  uint64_t s = stream_state(options_.seed, epoch, kOffsetStream);
  return static_cast<int64_t>(bounded(s, static_cast<uint64_t>(options_.seq_len)));
}

const std::vector<int64_t>& WindowSampler::order(int64_t epoch) const {
  if (cached_epoch_ == epoch) return cached_order_;
  cached_order_.resize(static_cast<size_t>(windows_));
  std::iota(cached_order_.begin(), cached_order_.end(), int64_t{0});
  if (options_.shuffle) {
    uint64_t s = stream_state(options_.seed, epoch, kOrderStream);
    for (size_t i = cached_order_.size() - 1; i > 0; --i) {  // Fisher–Yates
      const size_t j = static_cast<size_t>(bounded(s, i + 1));
      std::swap(cached_order_[i], cached_order_[j]);
    }
  }
  cached_epoch_ = epoch;
  return cached_order_;
}

int64_t WindowSampler::window_start(int64_t epoch, int64_t index) const {
  if (epoch < 0) throw Error("epoch", "negative: " + std::to_string(epoch));
  if (index < 0 || index >= per_rank_) {
    throw Error("index", std::to_string(index) + " is outside [0, windows_per_rank = " + std::to_string(per_rank_) + ")");
  }
  const int64_t k = order(epoch)[static_cast<size_t>(index * options_.world_size + options_.rank)];
  return epoch_offset(epoch) + k * options_.seq_len;
}

int64_t WindowSampler::next() {
  const int64_t start = window_start(position_.epoch, position_.index);
  if (++position_.index == per_rank_) {
    position_.index = 0;
    ++position_.epoch;
  }
  return start;
}

void WindowSampler::next_batch(const TokenDataset& data, int64_t batch, int64_t* out) {
  if (data.num_tokens() != num_tokens_) {
    throw Error(data.dir(), "the sampler was made for " + std::to_string(num_tokens_) + " tokens, the " + data.split() +
                                " split holds " + std::to_string(data.num_tokens()));
  }
  const int64_t len = window_length();
  for (int64_t b = 0; b < batch; ++b) data.read(next(), len, out + b * len);
}

void WindowSampler::set_position(SamplerPosition position) {
  if (position.epoch < 0) throw Error("epoch", "negative: " + std::to_string(position.epoch));
  if (position.index < 0 || position.index >= per_rank_) {
    throw Error("index", std::to_string(position.index) + " is outside [0, windows_per_rank = " +
                             std::to_string(per_rank_) + ")");
  }
  position_ = position;
}

json WindowSampler::state() const {
  return {{"epoch", position_.epoch},
          {"index", position_.index},
          {"seed", options_.seed},
          {"seq_len", options_.seq_len},
          {"num_tokens", num_tokens_},
          {"world_size", options_.world_size},
          {"shuffle", options_.shuffle},
          {"random_offset", options_.random_offset}};
}

void WindowSampler::restore(const json& state) {
  const std::string where = "sampler state";
  if (!state.is_object()) throw Error(where, "expected a JSON object");
  auto field = [&](const char* key) -> const json& {
    auto it = state.find(key);
    if (it == state.end()) throw Error(where, std::string("field '") + key + "': missing");
    return *it;
  };
  auto integer = [&](const char* key) {
    const json& v = field(key);
    if (!v.is_number_integer()) throw Error(where, std::string("field '") + key + "': expected an integer, found " + v.dump());
    return v;
  };
  auto same = [&](const char* key, const json& mine) {
    const json& v = field(key);
    if (v != mine) {
      throw Error(where, std::string("field '") + key + "': saved " + v.dump() + ", this sampler has " + mine.dump() +
                             "; the saved position would not continue the same sequence");
    }
  };
  same("seed", options_.seed);
  same("seq_len", options_.seq_len);
  same("num_tokens", num_tokens_);
  same("world_size", options_.world_size);
  same("shuffle", options_.shuffle);
  same("random_offset", options_.random_offset);
  SamplerPosition p;
  p.epoch = integer("epoch").get<int64_t>();
  p.index = integer("index").get<int64_t>();
  try {
    set_position(p);
  } catch (const Error& e) {
    throw Error(where, std::string("field '") + e.where() + "': " + std::string(e.what()).substr(e.where().size() + 2));
  }
}

// ---------------------------------------------------------------------------------------------

EvalWindows::EvalWindows(int64_t num_tokens, int64_t seq_len) : seq_len_(seq_len) {
  if (seq_len < 1) throw Error("seq_len", "must be at least 1, got " + std::to_string(seq_len));
  count_ = num_tokens > 0 ? (num_tokens - 1) / seq_len : 0;
  if (count_ < 1) {
    throw Error("seq_len", "the split's " + std::to_string(num_tokens) + " tokens hold no window of seq_len + 1 = " +
                               std::to_string(seq_len + 1) + " tokens");
  }
}

int64_t EvalWindows::next_batch(const TokenDataset& data, int64_t max_windows, int64_t* out) {
  const int64_t n = std::min(max_windows, count_ - next_);
  if (n <= 0) return 0;
  if ((count_ - 1) * seq_len_ + seq_len_ + 1 > data.num_tokens()) {
    throw Error(data.dir(), "the " + data.split() + " split holds " + std::to_string(data.num_tokens()) +
                                " tokens, fewer than these windows need");
  }
  // The windows of a batch are consecutive and overlap by one token: read each on its own.
  const int64_t len = window_length();
  for (int64_t b = 0; b < n; ++b) data.read(window_start(next_ + b), len, out + b * len);
  next_ += n;
  return n;
}

}  // namespace cook::text

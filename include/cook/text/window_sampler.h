// Fixed-length training windows over a token split, and the in-order windows of an evaluation.
//
// A window is seq_len + 1 consecutive tokens: inputs are its first seq_len, next-token targets its
// last seq_len. Window starts lie on a grid of stride seq_len, so the inputs of two windows never
// overlap (window k's last token is window k+1's first) and an epoch predicts every token after
// the first exactly once.
//
// WindowSampler: each epoch shuffles the grid's windows with a permutation drawn from
// (seed, epoch) alone, so any epoch is reproducible without replaying the ones before it. With
// `random_offset` the whole grid shifts by a per-epoch offset in [0, seq_len), also drawn from
// (seed, epoch), so that token pairs split at a window edge in one epoch meet in another.
// Distributed training: rank r of world_size takes entries r, r + world_size, r + 2·world_size, ...
// of each epoch's order, windows_per_epoch / world_size of them, so the ranks' slices are
// disjoint, equal-sized, and together walk the same order a single process would (the last
// windows_per_epoch % world_size windows of each epoch's order are skipped).
// The position (epoch, index) — index counts this rank's windows already taken in the epoch —
// is all the state there is: save state(), restore() it, and next() continues exactly. Every rank
// holds the same position, so rank 0's saved state restores every rank.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cook::text {

class TokenDataset;

struct WindowSamplerOptions {
  int64_t seq_len = 0;         // tokens of input per window (the window holds seq_len + 1)
  uint64_t seed = 0;
  bool shuffle = true;         // false: each epoch walks the grid in order
  bool random_offset = false;  // shift the grid by a per-epoch offset in [0, seq_len)
  int64_t rank = 0;
  int64_t world_size = 1;
};

struct SamplerPosition {
  int64_t epoch = 0;
  int64_t index = 0;  // windows of this rank already taken in `epoch`
  bool operator==(const SamplerPosition& o) const { return epoch == o.epoch && index == o.index; }
};

class WindowSampler {
 public:
  // Errors name the option ("seq_len", "world_size", "rank") and say what is needed.
  WindowSampler(int64_t num_tokens, WindowSamplerOptions options);

  int64_t window_length() const { return options_.seq_len + 1; }
  // Windows of the grid in an epoch (all ranks); the same in every epoch, with or without
  // random_offset (it then counts the windows that fit every offset).
  int64_t windows_per_epoch() const { return windows_; }
  // Windows this rank takes per epoch: windows_per_epoch() / world_size, equal on every rank.
  int64_t windows_per_rank() const { return per_rank_; }
  const WindowSamplerOptions& options() const { return options_; }

  // The grid offset of an epoch (0 without random_offset).
  int64_t epoch_offset(int64_t epoch) const;
  // The first token of this rank's index-th window in epoch (0 ≤ index < windows_per_rank()).
  // Depends only on the options and the arguments.
  int64_t window_start(int64_t epoch, int64_t index) const;

  // The start of the window at the current position; then advances (into the next epoch after
  // the last window of this one).
  int64_t next();
  // Reads the next `batch` windows from `data` into out[batch][seq_len + 1] and advances.
  void next_batch(const TokenDataset& data, int64_t batch, int64_t* out);

  SamplerPosition position() const { return position_; }
  void set_position(SamplerPosition position);  // Error when index is not below windows_per_rank()

  // {"epoch", "index"} plus the configuration the position is valid for (seed, seq_len,
  // num_tokens, world_size, shuffle, random_offset).
  nlohmann::json state() const;
  // Restores a state(); a configuration that differs from this sampler's is an Error naming the
  // field (resuming on other data or another world size would not continue the same sequence).
  void restore(const nlohmann::json& state);

 private:
  const std::vector<int64_t>& order(int64_t epoch) const;

  int64_t num_tokens_;
  WindowSamplerOptions options_;
  int64_t windows_ = 0;
  int64_t per_rank_ = 0;
  SamplerPosition position_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

// Every window of the grid with offset 0, in order: the evaluation of a validation split. Each
// token after the first is predicted once; the last (num_tokens - 1) % seq_len tokens are left out.
class EvalWindows {
 public:
  EvalWindows(int64_t num_tokens, int64_t seq_len);  // Error when not even one window fits

  int64_t size() const { return count_; }
  int64_t window_length() const { return seq_len_ + 1; }
  int64_t window_start(int64_t i) const { return i * seq_len_; }
  int64_t tokens_predicted() const { return count_ * seq_len_; }

  // Reads up to `max_windows` next windows into out[n][seq_len + 1]; returns n (0 at the end).
  int64_t next_batch(const TokenDataset& data, int64_t max_windows, int64_t* out);
  void reset() { next_ = 0; }
  int64_t position() const { return next_; }

 private:
  int64_t seq_len_;
  int64_t count_;
  int64_t next_ = 0;
};

}  // namespace cook::text

// Batches for the trainer from a prepared token-data folder (cook data prepare): training windows
// from the seeded, rank-aware window sampler, and every validation window in order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "cook/text/token_dataset.h"
#include "cook/text/window_sampler.h"
#include "cook/train/batch.h"

namespace cook::train {

struct TokenBatchOptions {
  int64_t batch_size = 8;   // windows per micro-batch (per rank)
  int64_t seq_len = 256;    // tokens per window; each window reads seq_len + 1 for the targets
  uint64_t seed = 1;
  int64_t rank = 0;
  int64_t world_size = 1;
};

class TokenBatchSource : public BatchSource {
 public:
  TokenBatchSource(std::shared_ptr<const text::TokenDataset> data, TokenBatchOptions options);
  Batch next() override;
  nlohmann::json position() const override;
  // Also restores a position saved with another world size: the new ranks continue the same
  // epoch order from the same window (an Error when the windows taken do not split evenly).
  void restore(const nlohmann::json& position) override;
  // Optimizer-free arithmetic for --epochs: micro-batches in one epoch of this rank.
  int64_t batches_per_epoch() const;

 private:
  std::shared_ptr<const text::TokenDataset> data_;
  TokenBatchOptions options_;
  text::WindowSampler sampler_;
};

class TokenEvalSource : public EvalSource {
 public:
  TokenEvalSource(std::shared_ptr<const text::TokenDataset> data, int64_t batch_size, int64_t seq_len);
  void for_each(int64_t max_batches, const std::function<void(const Batch&)>& visit) const override;
  int64_t window_count() const;

 private:
  std::shared_ptr<const text::TokenDataset> data_;
  int64_t batch_size_, seq_len_;
};

}  // namespace cook::train

// What the trainer consumes: batches of token windows, from a source whose position can be saved
// and restored exactly (resume continues with the very next batch).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace cook::train {

constexpr int64_t kIgnoreLabel = -100;  // labels that take no part in the loss (padding)

struct Batch {
  torch::Tensor input_ids;       // (B, T) int64
  torch::Tensor labels;          // (B, T) int64, kIgnoreLabel where no target
  torch::Tensor attention_mask;  // (B, T) or undefined when there is no padding

  int64_t target_count() const;  // labels that are not kIgnoreLabel
  Batch to(torch::Device device) const;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Batch next() = 0;
  virtual nlohmann::json position() const = 0;
  virtual void restore(const nlohmann::json& position) = 0;
};

// A finite, ordered list of evaluation batches (e.g. every window of a validation split).
class EvalSource {
 public:
  virtual ~EvalSource() = default;
  // Calls `visit` on each batch in order, at most `max_batches` of them (0 = all).
  virtual void for_each(int64_t max_batches, const std::function<void(const Batch&)>& visit) const = 0;
};

}  // namespace cook::train

#include "cook/train/batch.h"

namespace cook::train {

int64_t Batch::target_count() const { return labels.ne(kIgnoreLabel).sum().item<int64_t>(); }

Batch Batch::to(torch::Device device) const {
  Batch out;
  out.input_ids = input_ids.to(device);
  out.labels = labels.to(device);
  if (attention_mask.defined()) out.attention_mask = attention_mask.to(device);
  return out;
}

}  // namespace cook::train

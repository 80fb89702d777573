#include "cook/train/token_batches.h"

#include "cook/core/error.h"

namespace cook::train {

namespace {

// (n, seq_len + 1) windows → inputs are the first seq_len tokens, labels the last seq_len.
Batch batch_from_windows(torch::Tensor windows) {
  Batch batch;
  const int64_t len = windows.size(1) - 1;
  batch.input_ids = windows.narrow(1, 0, len).contiguous();
  batch.labels = windows.narrow(1, 1, len).contiguous();
  return batch;
}

text::WindowSamplerOptions sampler_options(const TokenBatchOptions& o) {
  text::WindowSamplerOptions s;
  s.seq_len = o.seq_len;
  s.seed = o.seed;
  s.rank = o.rank;
  s.world_size = o.world_size;
  return s;
}

}  // namespace

TokenBatchSource::TokenBatchSource(std::shared_ptr<const text::TokenDataset> data, TokenBatchOptions options)
    : data_(std::move(data)), options_(options), sampler_(data_->num_tokens(), sampler_options(options)) {
  if (options_.batch_size < 1) throw Error("--batch-size", "must be at least 1");
  if (sampler_.windows_per_rank() < options_.batch_size)
    throw Error(data_->dir(), "split '" + data_->split() + "' holds " + std::to_string(sampler_.windows_per_rank()) +
                                  " windows of " + std::to_string(options_.seq_len) +
                                  " tokens per rank, fewer than one batch of " + std::to_string(options_.batch_size));
}

Batch TokenBatchSource::next() {
  auto windows = torch::empty({options_.batch_size, options_.seq_len + 1}, torch::kInt64);
  sampler_.next_batch(*data_, options_.batch_size, windows.data_ptr<int64_t>());
  return batch_from_windows(windows);
}

nlohmann::json TokenBatchSource::position() const { return sampler_.state(); }
void TokenBatchSource::restore(const nlohmann::json& position) {
  // A position saved by another world size: the ranks had taken index·world_size entries of the
  // epoch's order together; this world continues from the same entry (when it divides evenly).
  auto saved_world = position.is_object() ? position.find("world_size") : position.end();
  if (saved_world != position.end() && saved_world->is_number_integer() &&
      saved_world->get<int64_t>() != options_.world_size && position.contains("index") &&
      position.at("index").is_number_integer()) {
    const int64_t taken = position.at("index").get<int64_t>() * saved_world->get<int64_t>();
    if (taken % options_.world_size != 0)
      throw Error("sampler state", "the run had taken " + std::to_string(taken) + " windows of epoch " +
                                       position.value("epoch", nlohmann::json()).dump() + " over " +
                                       std::to_string(saved_world->get<int64_t>()) + " ranks, which " +
                                       std::to_string(options_.world_size) + " ranks cannot split evenly");
    nlohmann::json rescaled = position;
    rescaled["index"] = taken / options_.world_size;
    rescaled["world_size"] = options_.world_size;
    sampler_.restore(rescaled);
    return;
  }
  sampler_.restore(position);
}

int64_t TokenBatchSource::batches_per_epoch() const { return sampler_.windows_per_rank() / options_.batch_size; }

TokenEvalSource::TokenEvalSource(std::shared_ptr<const text::TokenDataset> data, int64_t batch_size, int64_t seq_len)
    : data_(std::move(data)), batch_size_(batch_size), seq_len_(seq_len) {
  if (batch_size_ < 1) throw Error("--batch-size", "must be at least 1");
  text::EvalWindows probe(data_->num_tokens(), seq_len_);  // throws when not one window fits
}

int64_t TokenEvalSource::window_count() const { return text::EvalWindows(data_->num_tokens(), seq_len_).size(); }

void TokenEvalSource::for_each(int64_t max_batches, const std::function<void(const Batch&)>& visit) const {
  text::EvalWindows windows(data_->num_tokens(), seq_len_);
  auto buffer = torch::empty({batch_size_, seq_len_ + 1}, torch::kInt64);
  for (int64_t b = 0; max_batches <= 0 || b < max_batches; ++b) {
    const int64_t n = windows.next_batch(*data_, batch_size_, buffer.data_ptr<int64_t>());
    if (n == 0) break;
    visit(batch_from_windows(buffer.narrow(0, 0, n)));
  }
}

}  // namespace cook::train

// Data parallel training and ZeRO sharding (Rajbhandari et al., 2020) over a Communicator.
//
// Every trainable parameter has one owner rank: the parameter list, in model order, is cut into
// world_size contiguous ranges of about equal size (whole tensors, so a block's parameters
// usually share an owner). Gradients travel in buckets of consecutive parameters of one owner,
// filled in backward order; a bucket is reduced as soon as the last backward has produced all of
// its gradients (hooks on the gradient accumulators), buckets in the same order on every rank.
//
//   stage 0  data parallel: buckets all-reduced and averaged; every rank keeps every gradient and
//            the whole AdamW state.
//   stage 1  + optimizer state sharded: each rank's AdamW holds only the parameters it owns;
//            after its step the owner broadcasts them.
//   stage 2  + gradients sharded: a bucket is reduced onto its owner only, and every other rank
//            frees those gradients right away, during backward.
//   stage 3  + parameters sharded per block: each block's parameters, and the pruning masks its
//            linears carry, live on its owner only; the others hold empty tensors, receive the
//            block (broadcast) just before its forward, and release it after (without
//            gradients: evaluation, or the first pass of activation checkpointing) or once its
//            gradients are reduced (training). With activation checkpointing one block is whole
//            at a time; without it every block stays whole from its forward until its backward.
//            The embedding, ln_f and lm_head are kept whole on every rank and treated as in
//            stage 2. A frozen model run alongside (a distillation teacher) is sharded the same
//            way, its blocks released after every forward.
//
// Overlap: a bucket's collective is started as soon as the bucket is complete and backward runs
// on while it travels; at most two are in flight (each costs its flat copy and the backend's
// scratch space: with every bucket in flight a rank held ~200 MB more on an 84 M model), and
// finish_gradients() waits for the last ones. The updated parameters go back out
// (stages 1-2) two buckets at a time, also overlapped.
//
// Gradient accumulation: micro-batches before the last accumulate locally (no communication);
// the last one's backward reduces the sum. The result is the gradient of the mean loss over all
// ranks' micro-batches, as one process with world_size times the batch computes it.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cook/train/distributed/communicator.h"
#include "cook/train/parallel.h"

namespace torch::autograd {
struct Node;
}

namespace cook::train::distributed {

struct ZeroOptions {
  int stage = 0;            // 0, 1, 2 or 3
  double bucket_mb = 25.0;  // gradient bucket size
};

class ZeroTraining : public ParallelTraining {
 public:
  ZeroTraining(std::shared_ptr<Communicator> communicator, ZeroOptions options);
  ~ZeroTraining() override;

  int64_t rank() const override { return comm_->rank(); }
  int64_t world_size() const override { return comm_->world_size(); }
  int stage() const { return options_.stage; }

  void attach_model(model::GptJ& model) override;
  std::vector<ParamGroup> shard_optimizer(const std::vector<ParamGroup>& groups) override;
  std::vector<torch::Tensor> owned_parameters() const override;
  void prepare_backward(bool last_micro_batch) override;
  void finish_gradients() override;
  void after_optimizer_step() override;
  std::vector<double> sum(const std::vector<double>& values, const std::string& what) override;
  std::vector<weights::LazyTensor> checkpoint_parameters(model::GptJ& model) override;
  std::vector<weights::LazyTensor> checkpoint_optimizer_state(const AdamW& local) override;
  std::map<std::string, torch::Tensor> owned_checkpoint_parameters(model::GptJ& model) override;
  std::map<std::string, torch::Tensor> owned_optimizer_state(const AdamW& local) override;
  void barrier(const std::string& what) override { comm_->barrier(what); }
  bool shards_parameters() const override { return options_.stage == 3 && world_size() > 1; }
  bool holds(const torch::Tensor& param) const override;
  void share_from_holder(const torch::Tensor& param, torch::Tensor& value, const std::string& what) override;
  void attach_frozen_model(model::GptJ& model) override;

  // The owner of each parameter, by name (after shard_optimizer); for tests and reports.
  std::map<std::string, int64_t> owners() const;
  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

  // Called by the accumulator hooks: parameter `index`'s gradient is complete.
  void gradient_ready(size_t index);

 private:
  struct Bucket {
    int64_t owner = 0;
    std::vector<size_t> params;  // indices into params_
    int64_t numel = 0;
    int64_t pending = 0;         // gradients not yet produced in this backward
    int64_t unit = -1;           // stage 3: the block its parameters belong to, -1 for none
  };
  // A bucket's collective in flight: its flattened gradients (or, after the step, parameters).
  struct InFlight {
    size_t bucket = 0;
    torch::Tensor flat;
    PendingCollective collective;
  };
  // A tensor that stage 3 moves with its block: its handle (set_data swaps what it holds) and
  // its whole shape.
  struct Travelling {
    torch::Tensor tensor;
    std::vector<int64_t> shape;
  };
  // Stage 3: a block of the trained model (its trainable parameters are indices into params_) or
  // of a frozen one, its owner, what travels with it, and whether the other ranks hold it whole
  // now (the same on every rank).
  struct Unit {
    int64_t owner = 0;
    std::vector<size_t> params;
    std::vector<Travelling> tensors;
    bool whole = true;
    int64_t buckets_pending = 0;  // buckets of this unit not yet reduced in this backward
  };
  void start_bucket(size_t index);
  void complete(InFlight& flight);
  void gather_unit(Unit& unit);
  // The pruning masks the block's linears carry (buffers "…mask", when set) move with the block.
  static void add_pruning_masks(Unit& unit, const model::GptJBlock& block);
  void release_unit(Unit& unit);
  int64_t index_of(const torch::Tensor& param) const;  // into params_, -1 when not trained here
  // `mine` (its owner's values; undefined on the other ranks) onto rank 0: the whole tensor
  // there, undefined elsewhere. Every rank calls it.
  torch::Tensor gather_onto_writer(const torch::Tensor& mine, const std::vector<int64_t>& shape,
                                   const torch::TensorOptions& options, const std::string& what);

  std::shared_ptr<Communicator> comm_;
  ZeroOptions options_;
  std::vector<NamedParameter> params_;  // every trainable parameter, in model order
  std::map<std::string, size_t> model_order_;  // parameter name → position in the model
  std::vector<int64_t> owner_;
  std::vector<std::vector<int64_t>> shapes_;       // whole shapes (stage 3 empties some tensors)
  std::vector<int64_t> unit_of_;                   // stage 3: block of each parameter, -1 for none
  std::vector<Unit> units_;
  std::vector<std::unique_ptr<Unit>> frozen_units_;  // stable addresses: the blocks' hooks point at them
  std::vector<model::GptJBlock> blocks_;
  std::vector<model::GptJBlock> frozen_blocks_;
  std::map<const void*, size_t> index_of_impl_;  // a parameter's TensorImpl → index into params_
  std::vector<std::vector<std::string>> block_param_names_;  // per block, full parameter names
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  size_t next_bucket_ = 0;
  std::deque<InFlight> in_flight_;  // at most kMaxInFlight buckets
  bool armed_ = false;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // keep the hooked nodes alive
};

}  // namespace cook::train::distributed

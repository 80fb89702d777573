// How the Trainer takes part in a multi-process run without knowing the transport: the hooks it
// calls around backward and the optimizer step. A Trainer without one trains alone, exactly as
// before; train/distributed/zero.h implements it on c10d (data parallel and ZeRO stages).
//
// The contract, per optimizer step, on every rank in the same order:
//   prepare_backward(last)    before each micro-batch's backward; `last` on the final one, whose
//                             backward may start reducing gradients as they become ready
//   finish_gradients()        after the last backward: every parameter this rank owns holds the
//                             gradient averaged over all ranks (others may hold none)
//   sum(...)                  global sums for the loss, token count and gradient norm
//   after_optimizer_step()    after the local optimizer updated the owned parameters: every
//                             rank again holds the whole, updated model (under ZeRO stage 3:
//                             its own blocks; see holds())
//
// Compression extensions take part through TrainingExtension::join(): they fix up only the
// parameters this rank holds(), get values only one rank can compute with share_from_holder(),
// and have their frozen models (a distillation teacher) sharded like the trained one.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cook/model/gptj.h"
#include "cook/train/adamw.h"
#include "cook/weights/tensor_io.h"

namespace cook::train {

class ParallelTraining {
 public:
  virtual ~ParallelTraining() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  bool is_writer() const { return rank() == 0; }  // the one rank that writes metrics and checkpoints

  // Called once, before shard_optimizer, with the model being trained (a stage that shards
  // parameters hooks its blocks here).
  virtual void attach_model(model::GptJ& model) {}
  // Called once with every trainable parameter group; returns the groups (same names and
  // hyper-parameters) whose optimizer state this rank keeps.
  virtual std::vector<ParamGroup> shard_optimizer(const std::vector<ParamGroup>& groups) = 0;
  // The parameters whose (averaged) gradients this rank holds after finish_gradients() and whose
  // squared norms it contributes to the global gradient norm; disjoint across ranks.
  virtual std::vector<torch::Tensor> owned_parameters() const = 0;

  virtual void prepare_backward(bool last_micro_batch) = 0;
  virtual void finish_gradients() = 0;
  virtual void after_optimizer_step() = 0;

  // Element-wise sums over ranks.
  virtual std::vector<double> sum(const std::vector<double>& values, const std::string& what) = 0;
  // A consolidated checkpoint's parameters and optimizer state (the AdamW::state_tensors() keys
  // of every parameter), in name order, each brought to rank 0 only when its make() is called:
  // there it returns the whole tensor, elsewhere an undefined one after taking part in moving it.
  // Rank 0 writes them one at a time and never holds the whole of what is sharded. Every rank
  // must call both, and then every make() of the two lists, in order.
  virtual std::vector<weights::LazyTensor> checkpoint_parameters(model::GptJ& model) = 0;
  virtual std::vector<weights::LazyTensor> checkpoint_optimizer_state(const AdamW& local) = 0;
  // One shard per rank instead: the parameters and optimizer state this rank owns (rank 0 also
  // the parameters nobody trains), disjoint across ranks and together the whole. No collective.
  virtual std::map<std::string, torch::Tensor> owned_checkpoint_parameters(model::GptJ& model) = 0;
  virtual std::map<std::string, torch::Tensor> owned_optimizer_state(const AdamW& local) = 0;
  virtual void barrier(const std::string& what) = 0;

  // Whether some trained parameters live on one rank only (ZeRO stage 3 with several ranks).
  virtual bool shards_parameters() const { return false; }
  // Whether this rank holds `param`'s whole value between steps. Below ZeRO stage 3 every rank
  // does; under it only the owner of the parameter's block (others hold an empty tensor).
  virtual bool holds(const torch::Tensor& param) const { return true; }
  // Makes `value` (allocated with the same shape on every rank) equal on every rank to the value
  // computed by the rank that holds `param` (below stage 3 every rank computed it alike: nothing
  // moves). Every rank must call it, in the same order.
  virtual void share_from_holder(const torch::Tensor& param, torch::Tensor& value, const std::string& what) {}
  // A model that is run but not trained (a distillation teacher): sharded like the trained one
  // under stage 3 (block b on the rank owning the trained model's block at the same depth),
  // whole on every rank below it.
  virtual void attach_frozen_model(model::GptJ& model) {}
};

}  // namespace cook::train

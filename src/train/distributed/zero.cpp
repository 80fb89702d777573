#include "cook/train/distributed/zero.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>

#include "cook/core/error.h"

namespace cook::train::distributed {

namespace {

// Runs after a parameter's AccumulateGrad node: its .grad() then holds this backward's gradient.
class GradientReadyHook : public torch::autograd::FunctionPostHook {
 public:
  GradientReadyHook(ZeroTraining* owner, size_t index) : owner_(owner), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    owner_->gradient_ready(index_);
    return outputs;
  }

 private:
  ZeroTraining* owner_;
  size_t index_;
};

// Collectives a ZeroTraining keeps in flight at once (gradient buckets during backward, updated
// parameters after the step): each holds its flat copy and the backend's scratch space.
constexpr size_t kMaxInFlight = 2;

// The pruning mask a linear carries (cook::nn::Linear's buffer "mask"), when set: stage 3 moves
// it with its block.
bool is_pruning_mask(const std::string& name, const torch::Tensor& buffer) {
  const std::string suffix = "mask";
  return buffer.defined() && buffer.numel() > 0 && name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ZeroTraining::ZeroTraining(std::shared_ptr<Communicator> communicator, ZeroOptions options)
    : comm_(std::move(communicator)), options_(options) {
  if (options_.stage < 0 || options_.stage > 3) throw Error("--zero", "expected 0, 1, 2 or 3, got " + std::to_string(options_.stage));
  if (options_.bucket_mb <= 0) throw Error("--bucket-mb", "must be positive");
}

ZeroTraining::~ZeroTraining() {
  for (auto* blocks : {&blocks_, &frozen_blocks_})
    for (auto& block : *blocks) {
      block->on_forward_begin = nullptr;
      block->on_forward_end = nullptr;
    }
}

void ZeroTraining::attach_model(model::GptJ& model) {
  model_order_.clear();
  for (const auto& item : model->named_parameters()) model_order_.emplace(item.key(), model_order_.size());
  if (options_.stage < 3) return;
  blocks_ = model->blocks();
  block_param_names_.clear();
  for (size_t b = 0; b < blocks_.size(); ++b) {
    std::vector<std::string> names;
    for (const auto& item : blocks_[b]->named_parameters()) names.push_back("blocks." + std::to_string(b) + "." + item.key());
    block_param_names_.push_back(std::move(names));
  }
}

std::vector<ParamGroup> ZeroTraining::shard_optimizer(const std::vector<ParamGroup>& groups) {
  if (!params_.empty()) throw Error("distributed", "shard_optimizer called twice");
  for (const auto& g : groups)
    for (const auto& p : g.params) params_.push_back(p);
  // Model order (the optimizer's groups split it into decayed and not), so that the backward
  // pass, which runs in about the reverse of it, completes the buckets one after another; the
  // parameters of extensions go last.
  auto position = [&](const NamedParameter& p) {
    auto it = model_order_.find(p.name);
    return it == model_order_.end() ? model_order_.size() : it->second;
  };
  std::stable_sort(params_.begin(), params_.end(),
                   [&](const NamedParameter& a, const NamedParameter& b) { return position(a) < position(b); });
  const int64_t world = world_size();
  // Contiguous ranges of about total/world elements: a parameter goes to the range its middle
  // element falls in.
  int64_t total = 0;
  for (const auto& p : params_) total += p.tensor.numel();
  owner_.resize(params_.size());
  int64_t before = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t n = params_[i].tensor.numel();
    const int64_t middle = before + n / 2;
    owner_[i] = total > 0 ? std::min<int64_t>(world - 1, middle * world / total) : 0;
    before += n;
    shapes_.push_back(params_[i].tensor.sizes().vec());
  }
  // Stage 3: a block is one unit with one owner.
  unit_of_.assign(params_.size(), -1);
  if (options_.stage == 3) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < params_.size(); ++i) index[params_[i].name] = i;
    for (const auto& names : block_param_names_) {
      Unit unit;
      for (const auto& name : names) {
        auto it = index.find(name);
        if (it != index.end()) unit.params.push_back(it->second);  // frozen parameters stay whole
      }
      if (unit.params.empty()) continue;
      // Blocks are alike: contiguous runs of about n_layer / world_size blocks per rank.
      unit.owner = static_cast<int64_t>(units_.size()) * world / static_cast<int64_t>(block_param_names_.size());
      for (size_t k : unit.params) {
        owner_[k] = unit.owner;
        unit_of_[k] = static_cast<int64_t>(units_.size());
        unit.tensors.push_back({params_[k].tensor, shapes_[k]});
      }
      units_.push_back(std::move(unit));
    }
  }
  for (size_t i = 0; i < params_.size(); ++i) index_of_impl_[params_[i].tensor.unsafeGetTensorImpl()] = i;
  // Buckets in backward order (last parameter first), each of one owner and one dtype.
  const int64_t cap_bytes = static_cast<int64_t>(options_.bucket_mb * 1048576.0);
  bucket_of_.assign(params_.size(), 0);
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& t = params_[k].tensor;
    bool fresh = buckets_.empty();
    if (!fresh) {
      const Bucket& last = buckets_.back();
      const auto& first = params_[last.params.front()].tensor;
      fresh = last.owner != owner_[k] || last.unit != unit_of_[k] || first.scalar_type() != t.scalar_type() ||
              first.device() != t.device() ||
              (last.numel + t.numel()) * static_cast<int64_t>(t.element_size()) > cap_bytes;
    }
    if (fresh) {
      buckets_.emplace_back();
      buckets_.back().owner = owner_[k];
      buckets_.back().unit = unit_of_[k];
    }
    buckets_.back().params.push_back(k);
    buckets_.back().numel += t.numel();
    bucket_of_[k] = buckets_.size() - 1;
  }
  // Every rank starts from rank 0's parameters (they agree already when initialized from the same
  // seed or file; this makes sure of it).
  if (world > 1) {
    torch::NoGradGuard no_grad;
    for (auto& p : params_) {
      auto t = p.tensor.detach().contiguous();
      comm_->broadcast(t, 0, "initial parameters");
      if (rank() != 0) p.tensor.copy_(t);
    }
  }
  // One post-hook per parameter's gradient accumulator; the accumulators are kept alive so that
  // every later forward reuses them (and their hooks).
  for (size_t i = 0; i < params_.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params_[i].tensor);
    if (!accumulator) throw Error("distributed", "parameter '" + params_[i].name + "' has no gradient accumulator");
    accumulator->add_post_hook(std::make_unique<GradientReadyHook>(this, i));
    accumulators_.push_back(std::move(accumulator));
  }
  // Stage 3: the blocks bring their parameters in before each forward and let them go after;
  // the accumulators above already hold the whole shapes the gradients will have.
  if (options_.stage == 3) {
    std::map<const model::GptJBlockImpl*, size_t> unit_of_block;
    for (size_t b = 0; b < blocks_.size(); ++b)
      for (size_t u = 0; u < units_.size(); ++u)
        if (!block_param_names_[b].empty() && params_[units_[u].params.front()].name.rfind("blocks." + std::to_string(b) + ".", 0) == 0)
          unit_of_block[blocks_[b].get()] = u;
    for (auto& block : blocks_) {
      auto it = unit_of_block.find(block.get());
      if (it == unit_of_block.end()) continue;
      const size_t u = it->second;
      add_pruning_masks(units_[u], block);
      block->on_forward_begin = [this, u](model::GptJBlockImpl&) { gather_unit(units_[u]); };
      block->on_forward_end = [this, u](model::GptJBlockImpl&) {
        // Without gradients nothing refers to the parameters after the forward; with them the
        // backward does, and the unit goes once its gradients are reduced.
        if (!torch::GradMode::is_enabled()) release_unit(units_[u]);
      };
    }
    for (auto& unit : units_) release_unit(unit);
  }
  if (options_.stage == 0) return groups;
  const auto owner_of = owners();
  std::vector<ParamGroup> mine;
  for (const auto& g : groups) {
    ParamGroup kept = g;
    kept.params.clear();
    for (const auto& p : g.params)
      if (owner_of.at(p.name) == rank()) kept.params.push_back(p);
    mine.push_back(std::move(kept));
  }
  return mine;
}

std::vector<torch::Tensor> ZeroTraining::owned_parameters() const {
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (owner_[i] == rank()) out.push_back(params_[i].tensor);
  return out;
}

std::map<std::string, int64_t> ZeroTraining::owners() const {
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < params_.size(); ++i) out[params_[i].name] = owner_[i];
  return out;
}

void ZeroTraining::prepare_backward(bool last_micro_batch) {
  armed_ = last_micro_batch;
  next_bucket_ = 0;
  for (auto& b : buckets_) b.pending = static_cast<int64_t>(b.params.size());
  for (auto& u : units_) u.buckets_pending = 0;
  for (auto& b : buckets_)
    if (b.unit >= 0) ++units_[static_cast<size_t>(b.unit)].buckets_pending;
}

void ZeroTraining::gather_unit(Unit& unit) {
  if (unit.whole) return;
  torch::NoGradGuard no_grad;
  const bool mine = unit.owner == rank();
  std::vector<torch::Tensor> wholes;
  std::vector<PendingCollective> pending;
  for (auto& t : unit.tensors) {
    wholes.push_back(mine ? t.tensor.detach() : torch::empty(t.shape, t.tensor.options()));
    pending.push_back(comm_->start_broadcast(wholes.back(), unit.owner, "block parameters"));
  }
  for (size_t i = 0; i < unit.tensors.size(); ++i) {
    pending[i].wait();
    if (!mine) unit.tensors[i].tensor.set_data(wholes[i]);
  }
  unit.whole = true;
}

void ZeroTraining::release_unit(Unit& unit) {
  if (!unit.whole) return;
  unit.whole = false;
  if (unit.owner == rank()) return;
  torch::NoGradGuard no_grad;
  for (auto& t : unit.tensors) t.tensor.set_data(torch::empty({0}, t.tensor.options()));
}

void ZeroTraining::add_pruning_masks(Unit& unit, const model::GptJBlock& block) {
  for (const auto& buffer : block->named_buffers())
    if (is_pruning_mask(buffer.key(), buffer.value())) unit.tensors.push_back({buffer.value(), buffer.value().sizes().vec()});
}

int64_t ZeroTraining::index_of(const torch::Tensor& param) const {
  auto it = index_of_impl_.find(param.unsafeGetTensorImpl());
  return it == index_of_impl_.end() ? -1 : static_cast<int64_t>(it->second);
}

bool ZeroTraining::holds(const torch::Tensor& param) const {
  if (options_.stage < 3) return true;
  const int64_t i = index_of(param);
  return i < 0 || unit_of_[static_cast<size_t>(i)] < 0 || owner_[static_cast<size_t>(i)] == rank();
}

void ZeroTraining::share_from_holder(const torch::Tensor& param, torch::Tensor& value, const std::string& what) {
  if (options_.stage < 3) return;
  const int64_t i = index_of(param);
  if (i < 0 || unit_of_[static_cast<size_t>(i)] < 0) return;  // every rank holds it
  torch::NoGradGuard no_grad;
  comm_->broadcast(value, owner_[static_cast<size_t>(i)], what);
}

void ZeroTraining::attach_frozen_model(model::GptJ& model) {
  if (options_.stage < 3 || world_size() == 1) return;
  auto blocks = model->blocks();
  const int64_t world = world_size();
  for (size_t b = 0; b < blocks.size(); ++b) {
    auto unit = std::make_unique<Unit>();
    unit->owner = static_cast<int64_t>(b) * world / static_cast<int64_t>(blocks.size());
    for (const auto& p : blocks[b]->parameters()) unit->tensors.push_back({p, p.sizes().vec()});
    add_pruning_masks(*unit, blocks[b]);
    Unit* u = unit.get();
    // A frozen model only runs forward: its blocks come in for it and go right after.
    blocks[b]->on_forward_begin = [this, u](model::GptJBlockImpl&) { gather_unit(*u); };
    blocks[b]->on_forward_end = [this, u](model::GptJBlockImpl&) { release_unit(*u); };
    release_unit(*u);
    frozen_units_.push_back(std::move(unit));
    frozen_blocks_.push_back(blocks[b]);
  }
}

void ZeroTraining::gradient_ready(size_t index) {
  if (!armed_) return;
  Bucket& bucket = buckets_[bucket_of_[index]];
  --bucket.pending;
  // Buckets go out strictly in order, so that every rank issues the same collectives in the
  // same sequence even when their backward passes reach parameters in a different order.
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].pending == 0) start_bucket(next_bucket_++);
}

void ZeroTraining::finish_gradients() {
  if (!armed_) throw Error("distributed", "finish_gradients without prepare_backward(true)");
  // Buckets whose gradients were never produced (parameters this step did not use) go now.
  while (next_bucket_ < buckets_.size()) start_bucket(next_bucket_++);
  armed_ = false;
  for (auto& flight : in_flight_) complete(flight);
  in_flight_.clear();
}

// Flattens the bucket's gradients, frees them (the flat copy is what travels) and starts the
// collective; backward goes on meanwhile.
void ZeroTraining::start_bucket(size_t index) {
  while (in_flight_.size() >= kMaxInFlight) {
    complete(in_flight_.front());
    in_flight_.pop_front();
  }
  torch::NoGradGuard no_grad;
  Bucket& bucket = buckets_[index];
  const auto& first = params_[bucket.params.front()].tensor;
  InFlight flight;
  flight.bucket = index;
  flight.flat = torch::empty({bucket.numel}, first.options());
  int64_t offset = 0;
  for (size_t k : bucket.params) {
    auto& p = params_[k].tensor;
    auto slice = flight.flat.narrow(0, offset, p.numel());
    if (p.grad().defined()) slice.copy_(p.grad().reshape({-1}));
    else slice.zero_();
    p.mutable_grad().reset();
    offset += p.numel();
  }
  if (options_.stage < 2) flight.collective = comm_->start_all_reduce_sum(flight.flat, "gradients");
  else flight.collective = comm_->start_reduce_sum(flight.flat, bucket.owner, "gradients");
  in_flight_.push_back(std::move(flight));
  if (bucket.unit >= 0) {
    Unit& unit = units_[static_cast<size_t>(bucket.unit)];
    if (--unit.buckets_pending == 0) release_unit(unit);  // its backward is done
  }
}

// Once the bucket's collective is done: the averaged gradients become the parameters' (as views
// of the flat buffer) where this rank keeps them.
void ZeroTraining::complete(InFlight& flight) {
  flight.collective.wait();
  const Bucket& bucket = buckets_[flight.bucket];
  if (options_.stage >= 2 && bucket.owner != rank()) return;  // stage 2: the owner has it
  torch::NoGradGuard no_grad;
  flight.flat.div_(static_cast<double>(world_size()));
  int64_t offset = 0;
  for (size_t k : bucket.params) {
    auto& p = params_[k].tensor;
    p.mutable_grad() = flight.flat.narrow(0, offset, p.numel()).view(shapes_[k]);
    offset += p.numel();
  }
}

void ZeroTraining::after_optimizer_step() {
  if (options_.stage == 0 || world_size() == 1) return;
  torch::NoGradGuard no_grad;
  // A few buckets in flight at a time: overlap without a second copy of the whole model.
  std::deque<InFlight> window;
  auto land = [&](InFlight& flight) {
    flight.collective.wait();
    const Bucket& bucket = buckets_[flight.bucket];
    if (bucket.owner == rank()) return;
    int64_t offset = 0;
    for (size_t k : bucket.params) {
      auto& p = params_[k].tensor;
      p.copy_(flight.flat.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
    }
  };
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Bucket& bucket = buckets_[b];
    if (bucket.unit >= 0) continue;  // stage 3: blocks stay with their owner until needed
    InFlight flight;
    flight.bucket = b;
    flight.flat = torch::empty({bucket.numel}, params_[bucket.params.front()].tensor.options());
    if (bucket.owner == rank()) {
      int64_t offset = 0;
      for (size_t k : bucket.params) {
        const auto& p = params_[k].tensor;
        flight.flat.narrow(0, offset, p.numel()).copy_(p.reshape({-1}));
        offset += p.numel();
      }
    }
    flight.collective = comm_->start_broadcast(flight.flat, bucket.owner, "updated parameters");
    window.push_back(std::move(flight));
    if (window.size() == kMaxInFlight) {
      land(window.front());
      window.pop_front();
    }
  }
  for (auto& flight : window) land(flight);
}

std::vector<double> ZeroTraining::sum(const std::vector<double>& values, const std::string& what) {
  return comm_->sum(values, what);
}

namespace {
void sort_by_name(std::vector<weights::LazyTensor>& tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}
}  // namespace

torch::Tensor ZeroTraining::gather_onto_writer(const torch::Tensor& mine, const std::vector<int64_t>& shape,
                                               const torch::TensorOptions& options, const std::string& what) {
  // The owner contributes its values, every other rank zeros, and a sum-reduce to rank 0 delivers
  // them exactly (x + 0 = x).
  torch::NoGradGuard no_grad;
  torch::Tensor t = mine.defined() ? mine.detach().clone() : torch::zeros(shape, options);
  comm_->reduce_sum(t, 0, what);
  return rank() == 0 ? t : torch::Tensor();
}

std::vector<weights::LazyTensor> ZeroTraining::checkpoint_optimizer_state(const AdamW& local) {
  const std::map<std::string, torch::Tensor> state = local.state_tensors();
  const bool sharded = options_.stage > 0 && world_size() > 1;
  std::vector<weights::LazyTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    for (const std::string& key : AdamW::state_keys(p.name, p.tensor.scalar_type())) {
      weights::LazyTensor lazy{key, torch::kFloat32, shapes_[i], {}};
      if (!sharded || owner_[i] == 0) {  // rank 0 holds it
        const torch::Tensor held = rank() == 0 ? state.at(key) : torch::Tensor();
        lazy.make = [held] { return held; };
      } else {
        const torch::Tensor mine = owner_[i] == rank() ? state.at(key) : torch::Tensor();
        lazy.make = [this, mine, shape = shapes_[i], options = p.tensor.options().dtype(torch::kFloat32)] {
          return gather_onto_writer(mine, shape, options, "checkpoint optimizer state");
        };
      }
      out.push_back(std::move(lazy));
    }
  }
  sort_by_name(out);
  return out;
}

std::map<std::string, torch::Tensor> ZeroTraining::owned_optimizer_state(const AdamW& local) {
  const std::map<std::string, torch::Tensor> state = local.state_tensors();
  std::map<std::string, torch::Tensor> out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (owner_[i] == rank())
      for (const std::string& key : AdamW::state_keys(params_[i].name, params_[i].tensor.scalar_type()))
        out[key] = state.at(key);
  return out;
}

}  // namespace cook::train::distributed

namespace cook::train::distributed {

std::vector<weights::LazyTensor> ZeroTraining::checkpoint_parameters(model::GptJ& model) {
  std::vector<weights::LazyTensor> out;
  for (const auto& item : model->named_parameters()) {
    const int64_t i = index_of(item.value());
    const bool sharded = i >= 0 && unit_of_[i] >= 0 && !units_[unit_of_[i]].whole;
    const torch::Tensor value = item.value().detach();
    const std::vector<int64_t> shape = i >= 0 ? shapes_[i] : value.sizes().vec();
    if (!sharded || owner_[i] == 0) {  // rank 0 holds it whole
      const torch::Tensor held = rank() == 0 ? value : torch::Tensor();
      out.push_back({item.key(), value.scalar_type(), shape, [held] { return held; }});
      continue;
    }
    // A block parameter away from rank 0: only its owner holds the values (no block is gathered
    // or released while a checkpoint is written, so they stay where `value` sees them).
    const torch::Tensor mine = owner_[i] == rank() ? value : torch::Tensor();
    out.push_back({item.key(), value.scalar_type(), shapes_[i], [this, mine, shape = shapes_[i], options = value.options()] {
                     return gather_onto_writer(mine, shape, options, "checkpoint parameters");
                   }});
  }
  sort_by_name(out);
  return out;
}

std::map<std::string, torch::Tensor> ZeroTraining::owned_checkpoint_parameters(model::GptJ& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters()) {
    const int64_t i = index_of(item.value());
    if ((i >= 0 ? owner_[i] : 0) == rank()) out[item.key()] = item.value().detach();
  }
  return out;
}

}  // namespace cook::train::distributed

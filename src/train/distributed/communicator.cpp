#include "cook/train/distributed/communicator.h"

#include <chrono>
#include <cstdlib>
#include <thread>
#include <sstream>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
// Gloo and NCCL are each compiled in when this LibTorch has them (its CMake config defines
// USE_C10D_GLOO / USE_C10D_NCCL) and ships their headers.
#if defined(USE_C10D_GLOO) && __has_include(<gloo/config.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define COOK_HAVE_GLOO 1
#endif
#if defined(USE_C10D_NCCL) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define COOK_HAVE_NCCL 1
#endif

#include "cook/core/error.h"

namespace cook::train::distributed {

namespace {

// LibTorch 1.x: backends derive from c10d::ProcessGroup; 2.x: from c10d::Backend (ProcessGroup
// became a dispatcher over backends). The collective calls used here are the same on both.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr == "::1" || addr.rfind("127.", 0) == 0;
}

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

// The handle a collective returns: c10d::ProcessGroup::Work in 1.x, c10d::Work in 2.x.
using WorkHandle = decltype(std::declval<BackendBase&>().barrier());

struct PendingCollective::State {
  Communicator* communicator = nullptr;
  WorkHandle work;
  std::string what;
  int64_t sequence = 0;
  bool waited = false;
};

PendingCollective::PendingCollective() = default;
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&& other) noexcept {
  if (this != &other) {
    settle();
    state_ = std::move(other.state_);
  }
  return *this;
}

PendingCollective::~PendingCollective() { settle(); }

void PendingCollective::settle() noexcept {
  try {
    wait();
  } catch (...) {  // already unwinding from an error, or the caller dropped it: nothing to report to
  }
}

void PendingCollective::wait() {
  if (!state_ || state_->waited) return;
  state_->waited = true;
  try {
    state_->work->wait();
  } catch (const std::exception& e) {
    state_->communicator->fail(state_->what, state_->sequence, e.what());
  }
}

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::TCPStore> heartbeat_store;  // a second client, used by the heartbeat thread only
  c10::intrusive_ptr<BackendBase> group;
};

Communicator::Communicator(const WorkerEnvironment& env, CommunicatorOptions options)
    : env_(env), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  if (options_.timeout_s <= 0) throw Error("--dist-timeout", "must be positive");
  backend_ = options_.backend;
#ifdef COOK_HAVE_NCCL
  if (backend_ == "auto") backend_ = options_.device.is_cuda() ? "nccl" : "gloo";
#else
  if (backend_ == "auto") backend_ = "gloo";
#endif
  if (backend_ != "gloo" && backend_ != "nccl") throw Error("--dist-backend", "expected auto, gloo or nccl, got '" + backend_ + "'");
#ifndef COOK_HAVE_NCCL
  if (backend_ == "nccl") throw Error("--dist-backend", "nccl: this LibTorch was built without NCCL (use gloo)");
#endif
#ifndef COOK_HAVE_GLOO
  if (backend_ == "gloo") throw Error("--dist-backend", "gloo: this LibTorch was built without Gloo (or lacks its headers)");
#endif
  const auto timeout = to_ms(options_.timeout_s);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env_.master_port);
    store_options.isServer = env_.rank == 0 && !env_.agent_store;
    store_options.numWorkers = static_cast<size_t>(env_.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, store_options);
  } catch (const std::exception& e) {
    throw Error("rendezvous", "rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) +
                                  " could not join the store at " + env_.master_addr + ":" +
                                  std::to_string(env_.master_port) + " within " + std::to_string(options_.timeout_s) +
                                  " s: " + e.what());
  }
  try {
    if (backend_ == "gloo") {
#ifdef COOK_HAVE_GLOO
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env_.master_addr))
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_options->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(env_.rank),
                                                                 static_cast<int>(env_.world_size), gloo_options);
#endif
    } else {
#ifdef COOK_HAVE_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, static_cast<int>(env_.rank),
                                                                 static_cast<int>(env_.world_size), nccl_options);
#endif
    }
  } catch (const std::exception& e) {
    throw Error("rendezvous", "rank " + std::to_string(env_.rank) + ": cannot create the " + backend_ +
                                  " process group: " + e.what());
  }
  try {
    c10d::TCPStoreOptions beat_options;
    beat_options.port = static_cast<uint16_t>(env_.master_port);
    beat_options.isServer = false;
    beat_options.waitWorkers = false;
    beat_options.timeout = timeout;
    impl_->heartbeat_store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, beat_options);
  } catch (const std::exception& e) {
    throw Error("rendezvous", "rank " + std::to_string(env_.rank) + ": cannot open the heartbeat connection: " + e.what());
  }
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
  barrier("rendezvous");
}

Communicator::~Communicator() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    stopping_ = true;
  }
  heartbeat_wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Communicator::heartbeat_loop() {
  const std::string key = "cook/beat/" + std::to_string(env_.rank);
  std::unique_lock<std::mutex> lock(heartbeat_mutex_);
  while (!stopping_) {
    try {
      impl_->heartbeat_store->add(key, 1);
    } catch (const std::exception&) {
      return;  // the store is gone (rank 0 ended); the collectives will say so
    }
    heartbeat_wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
  }
}

template <class Launch>
PendingCollective Communicator::start(const std::string& what, Launch&& launch) {
  ++sequence_;
  try {
    impl_->store->set("cook/seq/" + std::to_string(env_.rank), bytes(std::to_string(sequence_)));
  } catch (const std::exception& e) {
    fail(what, sequence_, std::string("the store in rank 0 cannot be reached (rank 0 died or hangs): ") + e.what());
  }
  PendingCollective pending;
  pending.state_ = std::make_unique<PendingCollective::State>();
  pending.state_->communicator = this;
  pending.state_->what = what;
  pending.state_->sequence = sequence_;
  try {
    pending.state_->work = launch();
  } catch (const std::exception& e) {
    pending.state_->waited = true;
    fail(what, sequence_, e.what());
  }
  return pending;
}

void Communicator::fail(const std::string& what, int64_t sequence, const std::string& cause) {
  std::ostringstream msg;
  msg << "rank " << env_.rank << " of " << env_.world_size << ": collective #" << sequence << " (" << what
      << ") failed";
  std::vector<std::string> behind;
  bool store_reachable = true;
  try {
    impl_->store->setTimeout(std::chrono::milliseconds(3000));
    auto beats = [&] {
      std::vector<int64_t> b(static_cast<size_t>(env_.world_size), 0);
      for (int64_t r = 0; r < env_.world_size; ++r) b[static_cast<size_t>(r)] = impl_->store->add("cook/beat/" + std::to_string(r), 0);
      return b;
    };
    // Heartbeats come every 0.5 s; a rank whose count does not move in 1.6 s has stopped.
    const auto before = beats();
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    const auto after = beats();
    for (int64_t r = 0; r < env_.world_size; ++r) {
      if (r == env_.rank) continue;
      const std::string key = "cook/seq/" + std::to_string(r);
      int64_t seen = 0;
      if (impl_->store->check({key})) {
        auto value = impl_->store->get(key);
        seen = std::stoll(std::string(value.begin(), value.end()));
      }
      const bool silent = after[static_cast<size_t>(r)] == before[static_cast<size_t>(r)];
      if (seen < sequence || silent)
        behind.push_back("rank " + std::to_string(r) + " (" + (silent ? "no heartbeat, " : "") + "last at collective #" +
                         std::to_string(seen) + ")");
    }
  } catch (const std::exception&) {
    store_reachable = false;
  }
  if (!store_reachable) {
    msg << ": rank 0 (which hosts the store) cannot be reached: it died or hangs";
  } else if (!behind.empty()) {
    msg << ": ";
    for (size_t i = 0; i < behind.size(); ++i) msg << (i ? ", " : "") << behind[i];
    msg << (behind.size() == 1 ? ": it died or hangs" : ": they died or hang");
  } else {
    msg << ": every rank reached it; a peer died during it";
  }
  msg << " [" << backend_ << ": " << cause << "]";
  throw Error("distributed", msg.str());
}

PendingCollective Communicator::start_all_reduce_sum(torch::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> tensors{tensor};
  return start(what, [&] { return impl_->group->allreduce(tensors, c10d::AllreduceOptions()); });
}

PendingCollective Communicator::start_reduce_sum(torch::Tensor& tensor, int64_t root, const std::string& what) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::ReduceOptions opts;
  opts.rootRank = root;
  return start(what, [&] { return impl_->group->reduce(tensors, opts); });
}

PendingCollective Communicator::start_broadcast(torch::Tensor& tensor, int64_t root, const std::string& what) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  return start(what, [&] { return impl_->group->broadcast(tensors, opts); });
}

void Communicator::all_reduce_sum(torch::Tensor& tensor, const std::string& what) {
  start_all_reduce_sum(tensor, what).wait();
}

void Communicator::reduce_sum(torch::Tensor& tensor, int64_t root, const std::string& what) {
  start_reduce_sum(tensor, root, what).wait();
}

void Communicator::broadcast(torch::Tensor& tensor, int64_t root, const std::string& what) {
  start_broadcast(tensor, root, what).wait();
}

void Communicator::barrier(const std::string& what) {
  // A one-element all-reduce: Gloo's barrier would also do, but this one goes through the same
  // timeout and rank-naming path as every other collective, on every backend.
  auto t = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat32).device(options_.device));
  all_reduce_sum(t, what);
}

std::vector<double> Communicator::sum(const std::vector<double>& values, const std::string& what) {
  if (values.empty()) return {};
  auto t = torch::tensor(values, torch::kFloat64).to(options_.device);
  all_reduce_sum(t, what);
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

}  // namespace cook::train::distributed

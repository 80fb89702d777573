// The process group of a distributed run: c10d's TCPStore for the rendezvous (rank 0 hosts it at
// MASTER_ADDR:MASTER_PORT) and c10d's ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds) for
// the collectives. Every collective is bounded by the timeout: a rank that died or hangs makes the
// others throw a cook::Error that names it, never wait forever. The plain calls block; the start_
// ones return a PendingCollective at once (the backend's threads or stream carry it on) whose
// wait() blocks and fails the same way, so that gradient buckets travel while backward runs on.
//
// How a rank is named: before each collective a rank records its sequence number in the store
// ("cook/seq/<rank>"), and a background thread bumps its heartbeat ("cook/beat/<rank>") every
// second. When a collective fails, the survivor names every rank that never reached this
// collective and every rank whose heartbeat stopped (it died, or hangs as a whole process). The
// store lives in rank 0, so when it cannot be reached the error names rank 0.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cook/train/distributed/environment.h"

namespace cook::train::distributed {

class Communicator;

// A collective in flight. wait() returns when it is complete (the tensor then holds the result)
// or throws the rank-naming cook::Error; it may be called more than once. Destroying one that was
// never waited for waits for it (errors are then swallowed: the tensor must not be freed under a
// running collective).
class PendingCollective {
 public:
  PendingCollective();
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;
  ~PendingCollective();
  void wait();

 private:
  friend class Communicator;
  struct State;
  void settle() noexcept;  // wait(), its error swallowed: the tensor must outlive the collective
  std::unique_ptr<State> state_;
};

struct CommunicatorOptions {
  std::string backend = "auto";  // "gloo", "nccl", or "auto": nccl for CUDA tensors when built with it
  torch::Device device = torch::kCPU;
  double timeout_s = 300;        // bound on the rendezvous and on every collective
};

class Communicator {
 public:
  // Joins the group (blocks until all world_size ranks have joined or the timeout passes).
  Communicator(const WorkerEnvironment& env, CommunicatorOptions options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int64_t rank() const { return env_.rank; }
  int64_t world_size() const { return env_.world_size; }
  const std::string& backend() const { return backend_; }
  double timeout_s() const { return options_.timeout_s; }

  // In place; `what` names the collective in errors ("gradients", "checkpoint", ...).
  void all_reduce_sum(torch::Tensor& tensor, const std::string& what);
  void reduce_sum(torch::Tensor& tensor, int64_t root, const std::string& what);  // result on root only
  void broadcast(torch::Tensor& tensor, int64_t root, const std::string& what);
  // The same, started: `tensor` must stay alive and untouched until wait() returns. Every rank
  // must start the same collectives in the same order.
  PendingCollective start_all_reduce_sum(torch::Tensor& tensor, const std::string& what);
  PendingCollective start_reduce_sum(torch::Tensor& tensor, int64_t root, const std::string& what);
  PendingCollective start_broadcast(torch::Tensor& tensor, int64_t root, const std::string& what);
  void barrier(const std::string& what);
  // Sums of doubles across ranks (in float64), in one all-reduce.
  std::vector<double> sum(const std::vector<double>& values, const std::string& what);

 private:
  friend class PendingCollective;
  struct Impl;
  template <class Launch>
  PendingCollective start(const std::string& what, Launch&& launch);
  [[noreturn]] void fail(const std::string& what, int64_t sequence, const std::string& cause);
  void heartbeat_loop();

  WorkerEnvironment env_;
  CommunicatorOptions options_;
  std::string backend_;
  int64_t sequence_ = 0;
  std::unique_ptr<Impl> impl_;
  std::thread heartbeat_;
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_wake_;
  bool stopping_ = false;
};

}  // namespace cook::train::distributed

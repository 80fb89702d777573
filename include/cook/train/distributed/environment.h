// Where this process sits in a distributed run, read from the environment that torchrun (and
// `cook launch`) set for each worker: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace cook::train::distributed {

struct WorkerEnvironment {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  // torchrun's static rendezvous already serves a store at MASTER_ADDR:MASTER_PORT (its agent
  // sets TORCHELASTIC_USE_AGENT_STORE=True): every rank then joins it as a client.
  bool agent_store = false;
};

// The environment of a torchrun worker, or nullopt when WORLD_SIZE is not set (a plain process).
// A malformed or inconsistent variable is a cook::Error naming it.
std::optional<WorkerEnvironment> read_worker_environment();

}  // namespace cook::train::distributed

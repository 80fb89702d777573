#include "cook/train/distributed/environment.h"

#include <cstdlib>

#include "cook/core/error.h"

namespace cook::train::distributed {

namespace {

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int64_t integer(const char* name, const std::string& text, int64_t min, int64_t max) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) throw Error(name, "expected an integer, found '" + text + "'");
  if (value < min || value > max)
    throw Error(name, std::to_string(value) + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return value;
}

}  // namespace

std::optional<WorkerEnvironment> read_worker_environment() {
  auto world = variable("WORLD_SIZE");
  if (!world) return std::nullopt;
  WorkerEnvironment env;
  env.world_size = integer("WORLD_SIZE", *world, 1, 1 << 20);
  auto rank = variable("RANK");
  if (!rank) throw Error("RANK", "is not set, but WORLD_SIZE is (" + *world + ")");
  env.rank = integer("RANK", *rank, 0, env.world_size - 1);
  if (auto local = variable("LOCAL_RANK")) env.local_rank = integer("LOCAL_RANK", *local, 0, env.world_size - 1);
  if (auto addr = variable("MASTER_ADDR")) env.master_addr = *addr;
  else if (env.world_size > 1) throw Error("MASTER_ADDR", "is not set (needed with WORLD_SIZE > 1)");
  if (auto port = variable("MASTER_PORT")) env.master_port = integer("MASTER_PORT", *port, 1, 65535);
  else if (env.world_size > 1) throw Error("MASTER_PORT", "is not set (needed with WORLD_SIZE > 1)");
  if (auto agent = variable("TORCHELASTIC_USE_AGENT_STORE")) env.agent_store = *agent == "True" || *agent == "true" || *agent == "1";
  return env;
}

}  // namespace cook::train::distributed

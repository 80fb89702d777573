// Named points where a test may kill the process, to prove that work survives a crash there.
// Set COOK_FAULT_POINT=<name> and the process sends itself SIGKILL on reaching that point (no
// handler, no clean-up: exactly what a power cut or `kill -9` does). Unset, a fault point costs one
// getenv. The names in use are listed in docs/reliability.md.
#pragma once

namespace cook {

void fault_point(const char* name);

}  // namespace cook

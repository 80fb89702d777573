#include "cook/core/error.h"

namespace cook {

Error::Error(const std::string& where, const std::string& what)
    : std::runtime_error(where.empty() ? what : where + ": " + what), where_(where) {}

Error::Error(const std::string& what) : std::runtime_error(what) {}

void rethrow_with_context(const std::string& outer, const std::exception& e) {
  throw Error(outer, e.what());
}

}  // namespace cook

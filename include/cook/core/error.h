// Errors that say where: every failure Cook reports names the file (or option) and the field at
// fault, e.g. "model.safetensors: tensor 'wte.weight': shape [10, 4] does not match [1000, 64]".
#pragma once
#include <stdexcept>
#include <string>

namespace cook {

class Error : public std::runtime_error {
 public:
  // `where` is a file path, an option name or a config key path; `what` says what is wrong.
  Error(const std::string& where, const std::string& what);
  explicit Error(const std::string& what);

  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// Re-throws `e` with an outer location prepended: "outer: inner-where: inner-what".
[[noreturn]] void rethrow_with_context(const std::string& outer, const std::exception& e);

}  // namespace cook

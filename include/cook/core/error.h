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

// A run that stopped before its end on request, its work saved: by a signal (SIGINT, SIGTERM) or
// by its time limit. `cook` then exits with exit_code(), never 0, so that a script does not take
// it for a finished run: 128 + the signal's number for a signal (as a shell reports a process a
// signal ended), 75 (EX_TEMPFAIL: run again later) for a time limit.
class Stopped : public Error {
 public:
  static constexpr int kTimeLimitExitCode = 75;
  Stopped(const std::string& where, const std::string& what, int exit_code) : Error(where, what), exit_code_(exit_code) {}
  static Stopped by_signal(const std::string& where, const std::string& what, int signal_number) {
    return Stopped(where, what, 128 + signal_number);
  }
  static Stopped by_time_limit(const std::string& where, const std::string& what) {
    return Stopped(where, what, kTimeLimitExitCode);
  }
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Re-throws `e` with an outer location prepended: "outer: inner-where: inner-what".
[[noreturn]] void rethrow_with_context(const std::string& outer, const std::exception& e);

}  // namespace cook

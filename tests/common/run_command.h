// Running a shell command from a test (e.g. the built `cook` binary) and reading what it printed.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cook::test {

// What a command's result holds: both streams (the default, for checking error messages) or
// stdout alone (for parsing what a command prints, undisturbed by its diagnostics).
enum class Capture { StdoutAndStderr, StdoutOnly };

struct CommandResult {
  int status = -1;     // the exit status, -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command, Capture capture = Capture::StdoutAndStderr) {
  CommandResult r;
  FILE* pipe = popen((capture == Capture::StdoutAndStderr ? command + " 2>&1" : command).c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// Single-quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace cook::test

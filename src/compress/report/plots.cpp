#include "cook/compress/report/plots.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace cook::compress::report {

namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; returns its exit status (-1 when it did not exit) and its output.
int run(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int raw = pclose(pipe);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

PlotOutcome skipped(const std::string& why) { return {false, {}, "plots skipped: " + why}; }

}  // namespace

std::string default_plot_script() {
  if (const char* env = std::getenv("COOK_PLOT_SCRIPT"); env != nullptr && *env != '\0') return env;
  return COOK_PLOT_SCRIPT;
}

PlotOutcome make_plots(const std::string& report_json, const std::string& out_dir, const std::string& python,
                       const std::string& script) {
  if (::access(python.c_str(), X_OK) != 0) return skipped(python + " is not there (no Python to draw them)");
  if (::access(script.c_str(), R_OK) != 0) return skipped("the plot script " + script + " is not there");
  std::string output;
  if (run(shell_quote(python) + " -c 'import matplotlib'", output) != 0)
    return skipped("matplotlib is not installed for " + python + " (apt-get install python3-matplotlib)");
  const int status = run(shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(report_json) + " " +
                             shell_quote(out_dir),
                         output);
  if (status != 0) return skipped(script + " failed (exit " + std::to_string(status) + "): " + trimmed(output));
  PlotOutcome o;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty()) o.files.push_back(line);
  o.made = !o.files.empty();
  if (!o.made) return skipped(script + " wrote no plot");
  o.message = "plots:";
  for (const auto& f : o.files) o.message += " " + f;
  return o;
}

}  // namespace cook::compress::report

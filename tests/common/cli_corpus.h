// What the command-line tests share: running the built `cook` binary (ctest sets COOK_CLI to it)
// and a tiny corpus, named by the sotu split rule, tokenized by `cook data prepare`.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_command.h"

namespace cook::test {

inline std::string cook_cli() {
  const char* cli = std::getenv("COOK_CLI");
  return cli ? cli : "cook";
}

// Runs `cook ARGS` and returns its exit status and output.
inline CommandResult run_cook(const std::string& args) { return run_command(cook_cli() + " " + args); }

inline const std::vector<std::string>& sotu_train_and_validation_files() {
  // Before 1990 the sotu rule trains, from 1990 on it validates.
  static const std::vector<std::string> names = {"1900_a_x.txt", "1950_b_y.txt", "1995_c_z.txt"};
  return names;
}

// Writes each of `files` under `dir`/text as `repeats` copies of `sentence`, then tokenizes the
// folder into `tokens` with `cook data prepare --split-rule sotu`.
inline CommandResult prepare_sotu_corpus(const std::filesystem::path& dir, const std::string& tokens, int repeats,
                                         const std::vector<std::string>& files = sotu_train_and_validation_files(),
                                         const std::string& sentence =
                                             "The state of the union is strong, and the people are free. ") {
  std::filesystem::create_directories(dir / "text");
  std::string body;
  for (int i = 0; i < repeats; ++i) body += sentence;
  for (const std::string& name : files) std::ofstream(dir / "text" / name) << body;
  return run_cook("data prepare --input " + (dir / "text").string() + " --output " + tokens +
                  " --split-rule sotu --quiet");
}

}  // namespace cook::test

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cook/cli/commands.h"
#include "cook/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"cook: compress GPT-J-family language models while they train, and run them fast"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  cook::cli::add_tokenize_commands(app);
  cook::cli::add_data_command(app);
  cook::cli::add_forward_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cook: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cook/cli/commands.h"
#include "cook/cli/config_file.h"
#include "cook/core/error.h"
#include "cook/core/heap.h"

int main(int argc, char** argv) {
  cook::keep_freed_buffers_in_heap();
  CLI::App app{"cook: compress GPT-J-family language models while they train, and run them fast"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  // A value given twice (once by --config, once on the command line) takes the last one.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cook::cli::add_tokenize_commands(app);
  cook::cli::add_data_command(app);
  cook::cli::add_forward_command(app);
  cook::cli::add_train_command(app);
  cook::cli::add_eval_command(app);
  cook::cli::add_generate_command(app);
  cook::cli::add_convert_command(app);
  cook::cli::add_export_command(app);
  cook::cli::add_compare_command(app);
  cook::cli::add_moe_command(app);
  cook::cli::add_prune_command(app);
  cook::cli::add_compress_command(app);
  cook::cli::add_report_command(app);
  cook::cli::add_launch_command(app);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    // `cook compress --config` reads its own sectioned config (compress/plan/config.h), and
    // `cook launch -- cook train --config F` leaves F to the workers.
    if (argc > 1 && std::string(argv[1]) != "compress" && std::string(argv[1]) != "launch") {
      const std::string name = argv[1];
      for (CLI::App* command : app.get_subcommands([&](CLI::App* c) { return c->get_name() == name; }))
        args = cook::cli::expand_config_files(*command, args);
    }
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector of arguments last-first
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cook::Stopped& e) {
    std::fprintf(stderr, "cook: stopped: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cook: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// `--config FILE.json` for any subcommand: a JSON object whose keys are the subcommand's long
// option names without the dashes ({"model": "small", "start-lr": 0.001, "use-kd": true}).
// Values from the file come first and the command line overrides them. An unknown key or a value
// of the wrong type is an error that names the file and the key and lists what is allowed.
#pragma once
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cook::cli {

// Returns `args` (argv without the program name) with the options of every `--config FILE`
// given to subcommand `command` inserted right after the subcommand's name.
std::vector<std::string> expand_config_files(const CLI::App& command, std::vector<std::string> args);

}  // namespace cook::cli

#include "cook/cli/config_file.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::cli {

namespace {

std::string allowed_keys(const CLI::App& command) {
  std::string out;
  for (const CLI::Option* opt : command.get_options()) {
    const auto& names = opt->get_lnames();
    if (names.empty() || names.front() == "help" || names.front() == "help-all" || names.front() == "config") continue;
    out += (out.empty() ? "" : ", ") + names.front();
  }
  return out;
}

std::vector<std::string> options_from_file(const CLI::App& command, const std::string& path) {
  const nlohmann::json j = read_json_file(path, "the config file");
  if (!j.is_object()) throw Error(path, "the config must be a JSON object of option names to values");
  std::vector<std::string> out;
  for (const auto& [key, value] : j.items()) {
    const CLI::Option* opt = command.get_option_no_throw("--" + key);
    if (!opt || key == "config" || key == "help")
      throw Error(path, "unknown key '" + key + "' for 'cook " + command.get_name() + "' (allowed: " +
                            allowed_keys(command) + ")");
    const std::string where = path + ": key '" + key + "'";
    if (opt->get_expected_max() == 0) {  // a flag
      if (!value.is_boolean()) throw Error(where, "must be true or false");
      if (value.get<bool>()) out.push_back("--" + key);
      continue;
    }
    auto push_scalar = [&](const nlohmann::json& v) {
      if (v.is_string()) out.push_back(v.get<std::string>());
      else if (v.is_number() || v.is_boolean()) out.push_back(v.dump());
      else throw Error(where, "must be a string, number or boolean, not " + std::string(v.type_name()));
    };
    out.push_back("--" + key);
    if (value.is_array()) {
      if (opt->get_expected_max() <= 1) throw Error(where, "takes one value, not a list");
      for (const auto& v : value) push_scalar(v);
    } else {
      push_scalar(value);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> expand_config_files(const CLI::App& command, std::vector<std::string> args) {
  auto sub = std::find(args.begin(), args.end(), command.get_name());
  if (sub == args.end()) return args;
  std::vector<std::string> from_files;
  for (auto it = sub + 1; it != args.end(); ++it) {
    std::string path;
    if (*it == "--config" && it + 1 != args.end()) path = *(it + 1);
    else if (it->rfind("--config=", 0) == 0) path = it->substr(9);
    if (path.empty()) continue;
    auto opts = options_from_file(command, path);
    from_files.insert(from_files.end(), opts.begin(), opts.end());
  }
  args.insert(sub + 1, from_files.begin(), from_files.end());
  return args;
}

}  // namespace cook::cli

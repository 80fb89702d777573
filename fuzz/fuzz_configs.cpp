// libFuzzer target over Cook's config readers. The input is a bundle (file_bundle.h); the name of
// each file says which reader it goes to, the way Cook reads it:
//   compress.json  `cook compress --config` (compress/plan/config.h, every section and validate())
//   model.json     a Cook checkpoint's cook.model_config (model/config.h)
//   config.json    a Hugging Face GPT-J config.json (model/config.h)
//   kd.json        `cook train --kd-config`, BMCook's distillation section (compress/distill/options.h)
//   train.json     `cook <command> --config` (cli/config_file.h) over a command with flags, single
//                  and multi-valued options, then parsed as the command line would be
// Every file must either be read or fail with cook::Error (and, for train.json, CLI11's parse
// error, which `cook` reports as such); what is read must validate and survive its JSON form
// being read back.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cook/cli/config_file.h"
#include "cook/compress/distill/options.h"
#include "cook/compress/plan/config.h"
#include "cook/core/error.h"
#include "cook/core/json_fields.h"
#include "cook/model/config.h"
#include "file_bundle.h"

using nlohmann::json;

namespace {

[[noreturn]] void broken(const std::string& what) {
  fprintf(stderr, "fuzz_configs: broken promise: %s\n", what.c_str());
  abort();
}

void compress_config(const std::string& path) {
  using namespace cook::compress::plan;
  const CompressConfig c = read_compress_config(path);
  (void)c.passes_tag();
  (void)c.compressed_folder();
  const json printed = to_json(c);
  try {
    if (to_json(compress_config_from_json(printed, "printed")) != printed) broken("--print-config does not read back the same");
  } catch (const cook::Error& e) {
    broken(std::string("--print-config is not readable back: ") + e.what());
  }
}

void model_config(const std::string& path, bool hugging_face) {
  using namespace cook::model;
  const json j = cook::read_json_file(path);
  const ModelConfig c = hugging_face ? config_from_hf_json(j, path) : config_from_json(j, path);
  c.validate(path);
  if (c.parameter_count() <= 0) broken("a valid config with no parameters");
  const ModelConfig again = hugging_face ? config_from_hf_json(to_hf_json(c), "again") : config_from_json(to_json(c), "again");
  if (to_json(again) != to_json(c)) broken("the config changed in its JSON round trip");
}

void distill_config(const std::string& path) {
  using namespace cook::compress::distill;
  const DistillOptions o = read_distill_options(path);
  o.validate(path);
  if (to_json(distill_options_from_json(to_json(o), "again")) != to_json(o)) broken("distillation options changed in their round trip");
}

// A stand-in for a `cook` subcommand: each kind of option the config reader translates.
void command_line_config(const std::string& path) {
  CLI::App app("cook");
  CLI::App* cmd = app.add_subcommand("train");
  std::string model, schedule;
  double start_lr = 0;
  int64_t steps = 0;
  bool use_kd = false;
  std::vector<std::string> hidden;
  std::vector<int64_t> layers;
  cmd->add_option("--config", "JSON file of options");
  cmd->add_option("--model", model);
  cmd->add_option("--schedule", schedule)->check(CLI::IsMember({"noam", "cosine", "constant"}));
  cmd->add_option("--start-lr", start_lr);
  cmd->add_option("--steps", steps);
  cmd->add_flag("--use-kd", use_kd);
  cmd->add_option("--kd-mse-hidn", hidden);
  cmd->add_option("--layers", layers);
  std::vector<std::string> args = {"train", "--steps", "3", "--config", path};
  args = cook::cli::expand_config_files(*cmd, args);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return;  // a value of the wrong type: `cook` reports CLI11's message
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cook::fuzz::ScratchFolder folder;
  const cook::fuzz::Bundle files = cook::fuzz::unpack_bundle({reinterpret_cast<const char*>(data), size});
  folder.fill(files);
  for (const auto& [name, bytes] : files) {
    const std::string path = folder.file(name);
    try {
      if (name == "compress.json") compress_config(path);
      else if (name == "model.json") model_config(path, false);
      else if (name == "config.json") model_config(path, true);
      else if (name == "kd.json") distill_config(path);
      else if (name == "train.json") command_line_config(path);
    } catch (const cook::Error&) {
      // A rejected config: what the reader is for.
    }
  }
  return 0;
}

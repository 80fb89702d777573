// Writes the seed corpus of fuzz_configs with Cook's own writers: every preset's model config in
// both JSON forms (model::to_json, to_hf_json), `cook compress --print-config` of the defaults and
// of each shipped recipe under configs/ (plan::to_json), BMCook's distillation section
// (distill::to_json), and a `--config` file for a command. Usage: seeds_configs <folder>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cook/compress/distill/options.h"
#include "cook/compress/plan/config.h"
#include "cook/core/error.h"
#include "cook/model/config.h"
#include "file_bundle.h"

using nlohmann::json;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  const std::string out = std::string(argv[1]) + "/";
  bool ok = true;
  auto seed = [&](const std::string& name, const std::string& file, const json& j) {
    ok = cook::fuzz::write_seed(out + name, {{file, j.dump(2)}}) && ok;
  };
  try {
    for (const std::string& p : cook::model::preset_names()) {
      seed("model-" + p, "model.json", cook::model::to_json(cook::model::preset(p)));
      seed("hf-" + p, "config.json", cook::model::to_hf_json(cook::model::preset(p)));
    }
    seed("compress-defaults", "compress.json", cook::compress::plan::to_json(cook::compress::plan::CompressConfig{}));
    for (const auto& e : fs::recursive_directory_iterator(COOK_CONFIGS_DIR)) {
      if (e.path().extension() != ".json") continue;
      const auto c = cook::compress::plan::read_compress_config(e.path().string());
      seed("compress-" + e.path().parent_path().filename().string() + "-" + e.path().stem().string(), "compress.json",
           cook::compress::plan::to_json(c));
    }
    cook::compress::distill::DistillOptions kd;
    kd.ce_scale = 1.0;
    seed("kd", "kd.json", {{"distillation", cook::compress::distill::to_json(kd)}});
    seed("train", "train.json",
         {{"model", "small"}, {"schedule", "cosine"}, {"start-lr", 0.001}, {"steps", 20}, {"use-kd", true},
          {"kd-mse-hidn", {"blocks.0", "blocks.1"}}, {"layers", {0, 1}}});
  } catch (const std::exception& e) {
    fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  if (!ok) {
    fprintf(stderr, "%s: cannot write the seeds in %s\n", argv[0], out.c_str());
    return 1;
  }
  return 0;
}

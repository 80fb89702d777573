// `cook train`'s quantization options: `--model <preset>-int8` (BMCook's gpt-j-full-int8 style)
// or a BMCook config file whose `quantization.is_quant` is true turn quantization-aware training
// on; the other options refine it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cook/cli/model_setup.h"
#include "cook/compress/quant/options.h"

namespace CLI {
class App;
}

namespace cook::cli {

struct QuantArgs {
  std::string config;                 // BMCook config JSON; its "quantization" section is read
  std::string scheme;                 // w8a8 | w8 | w4 (default w8a8)
  std::string backward;               // ste | bmcook (default ste)
  std::vector<std::string> modules;   // name patterns (BMCook's quantized_module)
  int64_t group_size = 0;             // int4 group (default 128)
};

void add_quant_options(CLI::App& cmd, QuantArgs& args);

// The quantization the options ask for, or nothing. Takes the "-int8" suffix off model.model.
// `force_on` (cook export --int8) turns it on whatever the preset and config say.
std::optional<quant::QuantOptions> resolve_quant(const QuantArgs& args, ModelArgs& model, bool force_on = false);

// Reads BMCook's config file (a JSON object with a "quantization" section; BMCook's other
// sections are left to their own passes). Errors name the file and the key.
quant::QuantOptions read_bmcook_quant_config(const std::string& path);

// Attaches QAT to the model and says so on stdout.
void attach_quant(model::GptJImpl& model, const quant::QuantOptions& options);

}  // namespace cook::cli

// libFuzzer target over the weight files Cook reads, each down the path a command takes with it.
// The input is a bundle (file_bundle.h); a file's name says which reader it goes to:
//   model.safetensors       a Cook checkpoint: read_checkpoint, then the model its config describes
//                           is built and loaded (the path of every --load); with a config.json
//                           beside it, the folder is read as a Hugging Face checkpoint instead
//   model-int8.safetensors  the quantized artefact of `cook export --int8` (quant::load_quantized)
//   masks.safetensors       pruning masks (prune::load_masks, --pruning-mask-path)
//   moe.safetensors         the MoE file of `cook moe split|router` (moe::load_moe_file, --moe-ckpt)
// Any file must either be read or fail with cook::Error: another exception, a crash, a sanitizer
// report, or an allocation beyond libFuzzer's -malloc_limit_mb (a config that claims a model far
// larger than the file) is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cook/compress/moe/moe_file.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/compress/quant/artefact.h"
#include "cook/core/error.h"
#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"
#include "file_bundle.h"

using namespace cook;

namespace {

[[noreturn]] void broken(const std::string& what) {
  fprintf(stderr, "fuzz_weight_files: broken promise: %s\n", what.c_str());
  abort();
}

void checkpoint(const std::string& path) {
  weights::Checkpoint ck = weights::read_checkpoint(path);
  model::GptJ m(ck.config);
  weights::load_into(*m, std::move(ck));
}

void masks(const std::string& path) {
  const prune::MaskSet set = prune::load_masks(path);
  if (set.masks.empty()) broken("a mask file with no masks was accepted");
  for (const auto& [name, mask] : set.masks)
    if (mask.scalar_type() != torch::kBool || mask.dim() != 2) broken("mask '" + name + "' is not a 2-D bool tensor");
  const double s = prune::overall_sparsity(set.masks);
  if (!(s >= 0.0 && s <= 1.0)) broken("sparsity outside [0, 1]");
}

void moe_file(const std::string& path) {
  const compress::moe::MoeFile f = compress::moe::load_moe_file(path);
  if (f.layers.empty() || f.num_expert <= 0 || f.d_ff % f.num_expert != 0) broken("an impossible MoE file was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::ScratchFolder folder;
  static const bool quiet = [] {
    torch::set_num_threads(1);
    return true;
  }();
  (void)quiet;
  const fuzz::Bundle files = fuzz::unpack_bundle({reinterpret_cast<const char*>(data), size});
  folder.fill(files);
  for (const auto& [name, bytes] : files) {
    const std::string path = folder.file(name);
    try {
      if (name == "model.safetensors") checkpoint(files.count("config.json") ? folder.path() : path);
      else if (name == "model-int8.safetensors") quant::load_quantized(path, {/*int8_kernels=*/false});
      else if (name == "masks.safetensors") masks(path);
      else if (name == "moe.safetensors") moe_file(path);
    } catch (const Error&) {
      // A rejected file: what the checks are for.
    }
  }
  return 0;
}

// Writes the seed corpus of fuzz_weight_files with Cook's own writers, for a micro model (vocab
// 16, d_model 8, one or two layers; a few KiB a file): a Cook checkpoint (save_checkpoint), a
// Hugging Face folder (write_hf_folder), the int8 and int4 artefacts (export_quantized), a 2:4
// mask file (save_masks) and MoE files with and without a router (save_moe_file), each packed
// into one bundle under the name fuzz_weight_files dispatches on. Usage: seeds_weight_files <folder>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cook/compress/moe/balanced_kmeans.h"
#include "cook/compress/moe/experts.h"
#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/router.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/quant/artefact.h"
#include "cook/core/error.h"
#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"
#include "seed_main.h"

using namespace cook;
namespace fs = std::filesystem;

namespace {

model::ModelConfig micro_config(int64_t layers, bool relu) {
  model::ModelConfig c;
  c.vocab_size = 16;
  c.n_positions = 8;
  c.d_model = 8;
  c.n_layer = layers;
  c.n_head = 2;
  c.rotary_dim = 2;
  c.d_ff = 16;
  if (relu) {
    c.activation = model::Activation::Relu;
    c.fc_in_bias = false;
  }
  return c;
}

model::GptJ micro_model(int64_t layers, bool relu) {
  model::GptJ m(micro_config(layers, relu));
  m->init_weights(0.2, 3);
  return m;
}

// Runs `write` into an empty scratch folder and packs what it left there into the seed `seed`.
template <typename Write>
void seed_from(const std::string& seed, Write write) {
  const fs::path dir = fs::temp_directory_path() / ("cook-seeds-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write(dir.string());
  fuzz::write_seed_or_throw(seed, fuzz::bundle_of_folder(dir.string()));
  fs::remove_all(dir);
}

compress::moe::MoeFile moe_of(model::GptJ& m, bool with_router) {
  using namespace compress::moe;
  MoeFile f;
  f.num_expert = 4;
  f.d_model = m->config().d_model;
  f.d_ff = m->config().d_ff;
  for (int64_t i = 0; i < m->config().n_layer; ++i) {
    BalancedKMeansOptions o;
    o.clusters = f.num_expert;
    o.restarts = 1;
    const BalancedKMeansResult r = balanced_kmeans(m->blocks()[i]->dense_ffn()->fc_in->weight.detach(), o);
    MoeLayer l{experts_from_labels(r.labels, f.num_expert), r.centroids, {}};
    if (with_router) l.mlp_router = MlpRouterImpl(r.centroids).tensors();
    f.layers[i] = l;
  }
  f.report = {{"made_by", "seeds_weight_files"}};
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  return fuzz::seed_writer_main(argc, argv, [](const std::string& out) {
    torch::manual_seed(1);
    model::GptJ gelu = micro_model(1, false), relu = micro_model(2, true);
    seed_from(out + "/checkpoint", [&](const std::string& d) {
      weights::save_checkpoint(d + "/model.safetensors", *gelu, gelu->config());
    });
    seed_from(out + "/checkpoint-relu", [&](const std::string& d) {
      weights::save_checkpoint(d + "/model.safetensors", *relu, relu->config(), {{"note", "relu"}});
    });
    seed_from(out + "/hf-folder", [&](const std::string& d) {
      weights::write_hf_folder(d, gelu->config(), weights::parameters_of(*gelu));
    });
    for (const auto& [name, scheme] : {std::pair{"int8-w8a8", quant::Scheme::W8A8}, std::pair{"int8-w8", quant::Scheme::W8},
                                       std::pair{"int4-w4", quant::Scheme::W4}}) {
      seed_from(out + "/" + name, [&, scheme = scheme](const std::string& d) {
        quant::QuantOptions o;
        o.is_quant = true;
        o.scheme = scheme;
        o.group_size = 4;
        quant::export_quantized(d + "/model-int8.safetensors", *gelu, o);
      });
    }
    seed_from(out + "/masks", [&](const std::string& d) {
      prune::MaskSet set;
      for (const char* w : {"blocks.0.attn.q_proj.weight", "blocks.0.ffn.fc_in.weight"}) {
        torch::Tensor weight = gelu->named_parameters()[w].detach();
        set.masks[w] = prune::m4n2_1d(weight.abs());
      }
      set.method = "m4n2_1d";
      set.pattern = "2:4";
      set.sparsity = prune::overall_sparsity(set.masks);
      prune::save_masks(d + "/masks.safetensors", set);
    });
    seed_from(out + "/moe", [&](const std::string& d) { compress::moe::save_moe_file(d + "/moe.safetensors", moe_of(relu, false)); });
    seed_from(out + "/moe-router", [&](const std::string& d) {
      compress::moe::save_moe_file(d + "/moe.safetensors", moe_of(relu, true));
    });
  });
}

// BMCook's int8 export (bmcook/store.py, save(model, file, mode="quant")): a torch.save state dict
// in BMCook's names in which the weight W of each quantized linear is replaced by
//   W_quant  int8 (out, in)  round(W / scale)                    (cpm_kernels gemm_round)
//   W_scale  fp16 (out)      max |row of W| / 127, one per row   (cpm_kernels gemm_calc_scale)
// e.g. "dec_layers.0.self_attention.q_proj_quant" for BMCook's GPT-J, whose linear weights have
// no ".weight" suffix, or "<module>.weight_quant" for a ModelCenter Linear; everything else is as
// in a BMCook .bin. The file holds no config: the preset (--model) gives the shape.
//
// Loaded as Cook loads its own int8 artefact: the float weights are q · scale (what the simulation
// uses) and each quantized linear gets the oneDNN int8 kernel with BMCook's integers and scales,
// so the model computes what BMCook's export describes.
#pragma once
#include <string>

#include "cook/compress/quant/artefact.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"

namespace cook::quant {

// True when `path` is a torch.save file holding at least one "<W>_quant" tensor (reads the
// pickle, not the tensors; false for anything unreadable).
bool is_bmcook_int8_file(const std::string& path);

// Errors name the file and the tensor: a _quant without its _scale (or the reverse), an int8
// tensor that is not 2-D int8, a scale of the wrong shape or a negative or non-finite one, a
// quantized weight that is not a linear's, and everything read_bmcook_checkpoint reports.
model::GptJ load_bmcook_int8(const std::string& path, const model::ModelConfig& config, const LoadOptions& options = {});

}  // namespace cook::quant

// The quantization pass: picks the linears to quantize by name and attaches the simulated
// quantization to each (quantization-aware training, or post-training quantization when the
// model is then exported without training). Model-local: nothing global, so two models with
// different quantization live side by side.
#pragma once
#include <string>
#include <vector>

#include "cook/compress/quant/options.h"
#include "cook/model/gptj.h"

namespace cook::quant {

// The names (as named_modules() spells them, e.g. "blocks.0.attn.q_proj") of the linears that
// `patterns` select: with no pattern, every cook::nn::Linear inside the blocks (q/k/v/out
// projections, fc_in, fc_out); with patterns, the block linears whose name contains one of them
// (BMCook's rule). The embedding and lm_head are never selected. Errors (cook::Error naming
// `where` and the pattern): a pattern that names no module, or only modules that are not
// quantizable linears (a layer norm, a block, lm_head).
std::vector<std::string> select_linears(const model::GptJImpl& model, const std::vector<std::string>& patterns,
                                        const std::string& where = "quantization.quantized_module");

// Attaches FakeQuantTransform (Backward::Ste) or BmcookInt8Kernel (Backward::Bmcook) to every
// selected linear; returns their names. Throws when options.is_quant is false or a selected
// linear already carries a transform or a kernel.
std::vector<std::string> apply_quantization(model::GptJImpl& model, const QuantOptions& options,
                                            const std::string& where = "quantization");

// Takes every quantization attachment off again (the floating-point model): fake-quant
// transforms and the int8 kernels (those whose name starts with "int8"); other attachments stay.
void remove_quantization(model::GptJImpl& model);

}  // namespace cook::quant

// The quantized artefact: what `cook export --int8` writes and what the int8 runtime loads.
//
// One safetensors file, a Cook checkpoint (cook.format_version, cook.model_config) whose
// quantized linears hold integers instead of their float weight:
//   <linear>.weight_int8   I8  (out, in)          w8a8 and w8: q = clamp(round(w / s), ±127)
//   <linear>.weight_int4   U8  (out, in / 2)      w4: two values in [-7, 7] per byte, two's
//                                                 complement nibbles, even column in the low one
//   <linear>.weight_scale  F32 (out, 1)           w8a8, w8: one scale per output channel
//                          F32 (out, in / group)  w4: one scale per group of input channels
// and "cook.quant" in the metadata, a JSON object:
//   {"version": 1, "scheme": "w8a8"|"w8"|"w4", "bits": 8|4, "group_size": 0|g,
//    "activations": "int8-per-token-dynamic"|"float", "modules": ["blocks.0.attn.q_proj", ...]}
// Everything else (embedding, norms, biases, lm_head) stays as in a Cook checkpoint (F32).
// See docs/formats.md.
#pragma once
#include <string>
#include <vector>

#include "cook/compress/quant/options.h"
#include "cook/model/gptj.h"
#include "cook/weights/tensor_io.h"

namespace cook::quant {

inline constexpr const char* kQuantMetadataKey = "cook.quant";

// Quantizes the linears `options` selects from the model's float weights (weight ⊙ mask) and
// writes the artefact atomically. Quantization happens here, from the weights as they are, so the
// same call is the export of a QAT model and post-training quantization of a float one.
// Returns the names of the quantized linears.
std::vector<std::string> export_quantized(const std::string& path, const model::GptJImpl& model,
                                          const QuantOptions& options);

// True when the safetensors metadata describes a quantized artefact.
bool is_quantized_artefact(const weights::Metadata& metadata);
// True when `path` is a safetensors file whose metadata has cook.quant (reads the header only).
bool is_quantized_file(const std::string& path);

struct LoadOptions {
  // w8a8: attach the oneDNN int8 kernel to each quantized linear (CPU). Without it (or without
  // oneDNN) the layer gets the fake-quant transform instead: the same function, simulated.
  bool int8_kernels = true;
};

// Builds the model from an artefact: float tensors loaded as they are, quantized weights
// dequantized into the layers' weights (what the simulation uses) and, for w8a8, the int8 kernel
// attached. Errors (cook::Error naming the file and the tensor or module): a missing or misshapen
// scale, an int8 weight of the wrong dtype or shape, a module listed that does not exist or is not
// a linear, integer tensors of a module not listed, bad cook.quant metadata.
model::GptJ load_quantized(const std::string& path, const LoadOptions& options = {});

}  // namespace cook::quant

// MoEfication as a pass over a model: every block the MoE file covers gets an expert FFN in place
// of its dense one, with the router the options pick.
#pragma once
#include <cstdint>
#include <string>

#include "cook/compress/moe/moe_file.h"
#include "cook/compress/moe/options.h"
#include "cook/model/gptj.h"

namespace cook::compress::moe {

// Replaces the FFNs; returns how many. Checks first, changing nothing on error: the blocks must
// be dense, the file's d_model/d_ff must match the model's, num_expert (when non-zero) the
// file's, the router asked for must be in the file, and the file's layers must exist. Errors name
// `file_name` and the field.
int64_t moefy(model::GptJImpl& model, const MoeFile& file, const MoeOptions& options, const std::string& file_name);

// Loads options.moe_path and moefies; a no-op unless options.is_moefy.
int64_t moefy(model::GptJImpl& model, const MoeOptions& options);

// The block's FFN back to dense (the expert FFN shares the dense weights); returns how many.
int64_t unmoefy(model::GptJImpl& model);

}  // namespace cook::compress::moe

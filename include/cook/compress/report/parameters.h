// How many parameters a (compressed) model has, how many are non-zero, and how many one token
// uses.
//   total     every parameter, plus the router tensors of MoEfied FFNs (buffers, but part of the
//             model as it runs).
//   nonzero   the entries that are not zero, counting each cook::nn::Linear's weight as
//             weight ⊙ mask (pruning masks live on the layer; a pruned checkpoint or an int8
//             artefact holds the zeros in the weight itself, which counts the same).
//   active    what one token's forward pass reads: the total, less the skipped share of every
//             expert FFN: (1 − k/E) of fc_in (weight and bias) and of fc_out's weight. With the
//             oracle router (which computes the whole fc_in) only fc_out's share is skipped. The
//             embedding counts whole, as in the total (one row of it is read per token).
#pragma once
#include <cstdint>

#include "cook/model/gptj.h"

namespace cook::compress::report {

struct ParameterCounts {
  int64_t total = 0;
  int64_t nonzero = 0;
  int64_t active = 0;  // per token; equals total for a model without expert FFNs
};

ParameterCounts count_parameters(const model::GptJImpl& model);

}  // namespace cook::compress::report

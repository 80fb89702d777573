// Activation checkpointing: a block whose activations are not kept for backward but computed again
// from its input when backward reaches it. Training memory then grows with one block's activations
// plus each block's input, instead of every block's activations, for about a third more compute.
#pragma once
#include <torch/torch.h>

#include "cook/model/attention.h"
#include "cook/model/block.h"

namespace cook::model {

// block(x).hidden, with the block's intermediates freed after forward and recomputed in backward.
// Gradients reach x and the block's parameters exactly as without recomputation (the block has no
// randomness). `x` must require grad (otherwise nothing would call backward on the block); the
// block must outlive the backward pass.
torch::Tensor forward_recomputed(GptJBlockImpl& block, const torch::Tensor& x, const AttentionContext& ctx);

}  // namespace cook::model

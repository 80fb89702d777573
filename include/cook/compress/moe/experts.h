// An expert assignment: which of an FFN's F neurons form each of its E experts. Stored as an
// (E, F/E) int64 tensor, each row the ascending neuron ids of one expert, every neuron in exactly
// one expert.
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace cook::compress::moe {

// The assignment that cluster labels (F) int64 in [0, E) describe; each cluster must hold F/E.
torch::Tensor experts_from_labels(const torch::Tensor& labels, int64_t num_experts);

// Throws cook::Error(where, ...) unless `experts` is an (E, d_ff/E) int64 partition of [0, d_ff).
void check_experts(const torch::Tensor& experts, int64_t d_ff, const std::string& where);

// (F) int64: the expert of each neuron.
torch::Tensor expert_of_neuron(const torch::Tensor& experts);

// (N, E): the positive activation mass of each expert, Σ over its neurons of max(h, 0), for
// intermediate activations h (N, F). What the oracle router ranks by and the router learns.
torch::Tensor expert_mass(const torch::Tensor& h, const torch::Tensor& experts);

// Share of the positive activation mass that the chosen experts (N, k) hold, summed over tokens:
// Σ mass[chosen] / Σ mass. 1 when nothing is active.
double coverage(const torch::Tensor& mass, const torch::Tensor& chosen);

}  // namespace cook::compress::moe

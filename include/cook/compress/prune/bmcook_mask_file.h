// BMCook's pruning mask file: what BMPrune.compute_mask saves at pruning_mask_path
// ("gpt-j-mask.bin" in its GPT-J example) and loads instead of computing masks. A torch.save of
//   {layer: [(name, mask), ...]}
// layer: the block's index as a string ("0", as TransformerBlockList names it; an int is read too)
// or, as BMCook V3 writes it, the block's module path ("dec_layers.0"); name: a parameter of the
// block as its state_dict() names it ("self_attention.q_proj", "ff.fc_in_weight"); mask: a tensor
// of the parameter's shape, any dtype (fp16 from m4n2_2d_greedy, int32 from m4n2_1d), 1 = kept,
// 0 = pruned. Every parameter of the block has a mask; the ones not pruned are all ones. V3 also
// stores a module outside the blocks as {module path: mask}.
//
// BMCook applies the file's masks whatever its pruned_module says; Cook keeps its own selection
// and checks the file against it: each selected weight takes its mask from the file, and a
// weight the file prunes that the selection leaves out is an error (so nothing is silently
// dropped). Masks of norms and biases must be all ones.
#pragma once
#include <string>
#include <vector>

#include "cook/compress/prune/layer_selection.h"
#include "cook/compress/prune/mask_file.h"
#include "cook/model/config.h"

namespace cook::prune {

// The masks of `layers` (Cook names) from a BMCook mask file of a model of `config`. Errors name
// the file and the entry ("layer '0': mask 'ff.fc_in_weight'"): a layer or parameter that the
// model does not have, a shape that differs, a value other than 0 and 1, a selected weight with no
// mask, a pruned weight that is not selected. MaskSet::method is "bmcook"; pattern "2:4" when
// every mask is 2:4 along the inputs, else "unstructured".
MaskSet read_bmcook_masks(const std::string& path, const model::ModelConfig& config,
                          const std::vector<PrunedLayer>& layers);

// Reads the masks of `layers` from either kind of file, told apart by content: a torch.save zip
// is BMCook's, anything else Cook's safetensors (mask_file.h, checked with check_masks_fit).
MaskSet load_masks_for(const std::string& path, const model::ModelConfig& config,
                       const std::vector<PrunedLayer>& layers);

}  // namespace cook::prune

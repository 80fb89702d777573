// BMCook's pruning mask file (tests/data/bmcook/gpt-j-mask.bin: {"0"|"1": [(name, fp16 mask)]},
// 2:4 along the rows of the attention and FFN weights, ones elsewhere) read for Cook's selection.
#include <gtest/gtest.h>

#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "cook/compress/prune/bmcook_mask_file.h"
#include "cook/compress/prune/nm_masks.h"
#include "cook/model/gptj.h"

using namespace cook::prune;
using cook::test::bmcook_file;

TEST(BMCookMasks, EverySelectedWeightTakesItsMaskUnderItsCookName) {
  const auto config = cook::test::bmcook_tiny_config(false);
  cook::model::GptJ model(config);
  const auto layers = select_layers(*model, default_pruned_modules(), "pruned_module");
  ASSERT_EQ(layers.size(), 12u);  // 4 projections + 2 FFN matrices × 2 blocks
  const MaskSet set = load_masks_for(bmcook_file("gpt-j-mask.bin"), config, layers);
  EXPECT_EQ(set.method, "bmcook");
  EXPECT_EQ(set.pattern, "2:4");
  EXPECT_DOUBLE_EQ(set.sparsity, 0.5);
  ASSERT_EQ(set.masks.size(), 12u);
  const torch::Tensor& fc_in = set.masks.at("blocks.1.ffn.fc_in.weight");
  EXPECT_EQ(fc_in.scalar_type(), torch::kBool);
  EXPECT_EQ(fc_in.sizes(), (torch::IntArrayRef{16, 8}));
  EXPECT_TRUE(is_2to4_along_inputs(fc_in));
  check_masks_fit(set, layers, "gpt-j-mask.bin");
}

TEST(BMCookMasks, AWeightTheFilePrunesButTheSelectionLeavesOutIsAnError) {
  const auto config = cook::test::bmcook_tiny_config(false);
  cook::model::GptJ model(config);
  const auto ffn_only = select_layers(*model, {"fc_"}, "pruned_module");
  cook::test::expect_error([&] { read_bmcook_masks(bmcook_file("gpt-j-mask.bin"), config, ffn_only); },
                           {"gpt-j-mask.bin", "layer '0': mask 'self_attention.", "which pruned_module does not select"});
}

TEST(BMCookMasks, AMaskOfAnotherShapeNamesTheLayerAndEntry) {
  auto config = cook::test::bmcook_tiny_config(false);
  config.d_ff = 32;
  cook::model::GptJ model(config);
  const auto layers = select_layers(*model, default_pruned_modules(), "pruned_module");
  cook::test::expect_error([&] { read_bmcook_masks(bmcook_file("gpt-j-mask.bin"), config, layers); },
                           {"layer '0': mask 'ff.fc_in_weight'", "shape"});
}

// MoEfication's folder as BMCook's --moe-ckpt reads it (tests/data/bmcook/moe/gp_split: labels as
// numpy ints and as ints, routers as whole pickled Sequentials under both names).
#include <gtest/gtest.h>

#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "cook/compress/moe/moefication_files.h"
#include "cook/compress/moe/moefy.h"
#include "cook/io/torch_object.h"
#include "cook/weights/bmcook_bin.h"

using namespace cook::compress::moe;
using cook::test::bmcook_file;

namespace {

cook::model::GptJ tiny_relu() {
  cook::model::GptJ m(cook::test::bmcook_tiny_config(true));
  m->init_weights(0.1, 3);
  return m;
}

}  // namespace

TEST(MoeficationFiles, LabelsBecomeExpertsAndTheSequentialTheMlpRouter) {
  auto model = tiny_relu();
  const MoeFile f = load_moe_source(bmcook_file("moe"), *model);
  EXPECT_EQ(f.num_expert, 4);
  EXPECT_EQ(f.d_ff, 16);
  ASSERT_EQ(f.layers.size(), 2u);
  // layer 0's labels: 1 2 0 1 1 0 2 2 2 3 3 3 3 0 1 0
  const torch::Tensor expected = torch::tensor({2, 5, 13, 15, 0, 3, 4, 14, 1, 6, 7, 8, 9, 10, 11, 12}, torch::kInt64).reshape({4, 4});
  EXPECT_TRUE(torch::equal(f.layers.at(0).experts, expected));
  for (const auto& [i, layer] : f.layers) {
    ASSERT_EQ(layer.mlp_router.size(), 4u) << "layer " << i;
    EXPECT_EQ(layer.mlp_router.at("w1").sizes(), (torch::IntArrayRef{4, 8}));
    EXPECT_EQ(layer.mlp_router.at("w2").sizes(), (torch::IntArrayRef{4, 4}));
    EXPECT_EQ(layer.mlp_router.at("b1").abs().sum().item<float>(), 0.0f);  // bias=False
    EXPECT_EQ(layer.centroids.sizes(), (torch::IntArrayRef{4, 8}));
  }
  // The router's first weight is the file's, exactly.
  const cook::io::TorchObjectFile router = cook::io::TorchObjectFile::open(bmcook_file("moe/gp_split/dec_layers.0.ff.fc_in_weight.model"));
  const auto* w1 = router.root().attribute("_modules")->entries[0].second->attribute("_parameters")->get("weight");
  EXPECT_TRUE(torch::equal(f.layers.at(0).mlp_router.at("w1"), cook::weights::copy_torch_tensor(w1->tensor)));
}

TEST(MoeficationFiles, TheMoefiedModelRunsFromTheFolder) {
  auto model = tiny_relu();
  MoeOptions o;
  o.is_moefy = true;
  o.moe_path = bmcook_file("moe");
  o.topk = 2;
  EXPECT_EQ(moefy(*model, o), 2);
  torch::NoGradGuard g;
  cook::model::ForwardInput in;
  in.input_ids = torch::tensor({1, 2, 3, 4}, torch::kInt64).reshape({1, 4});
  const auto out = model->forward(in);
  EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
}

TEST(MoeficationFiles, AFolderWithoutLabelsNamesWhereItLooked) {
  auto model = tiny_relu();
  cook::test::expect_error([&] { read_moefication_folder(bmcook_file("megatron"), *model); },
                           {"no MoEfication labels", "gp_split/dec_layers.0.ff.fc_in_weight"});
  auto wider = cook::model::GptJ([] {
    auto c = cook::test::bmcook_tiny_config(true);
    c.d_ff = 32;
    return c;
  }());
  cook::test::expect_error([&] { read_moefication_folder(bmcook_file("moe"), *wider); },
                           {"dec_layers.0.ff.fc_in_weight", "16 labels", "32 neurons"});
}

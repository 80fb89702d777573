// BMCook's int8 export (tests/data/bmcook/gpt-j-int8.bin: gptj-tiny-gelu.bin with each block
// linear's W replaced by W_quant int8 and W_scale fp16 = max|row| / 127, as bmcook/store.py does).
#include <gtest/gtest.h>

#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "cook/compress/quant/bmcook_int8.h"
#include "cook/weights/bmcook_bin.h"

using namespace cook::quant;
using cook::test::bmcook_file;

TEST(BMCookInt8, TheExportIsToldApartFromAFloatBin) {
  EXPECT_TRUE(is_bmcook_int8_file(bmcook_file("gpt-j-int8.bin")));
  EXPECT_FALSE(is_bmcook_int8_file(bmcook_file("gptj-tiny-gelu.bin")));
  EXPECT_FALSE(is_bmcook_int8_file(bmcook_file("megatron/tokens.idx")));
}

TEST(BMCookInt8, WeightsAreTheIntegersTimesTheScales) {
  const auto file = cook::weights::read_torch_bin(bmcook_file("gpt-j-int8.bin"));
  const auto dense = cook::weights::read_torch_bin(bmcook_file("gptj-tiny-gelu.bin"));
  for (bool kernels : {false, true}) {
    auto model = load_bmcook_int8(bmcook_file("gpt-j-int8.bin"), cook::test::bmcook_tiny_config(false), {kernels});
    const torch::Tensor q = file.at("dec_layers.1.ff.fc_in_weight_quant").to(torch::kFloat32);
    const torch::Tensor s = file.at("dec_layers.1.ff.fc_in_weight_scale").to(torch::kFloat32).reshape({-1, 1});
    const torch::Tensor w = model->blocks()[1]->dense_ffn()->fc_in->weight;
    EXPECT_TRUE(torch::allclose(w, q * s, 0, 0));
    // within half a quantization step of the dense weight it came from
    const torch::Tensor original = dense.at("dec_layers.1.ff.fc_in_weight").to(torch::kFloat32);
    EXPECT_TRUE(((w - original).abs() <= s * 0.5 + 1e-3).all().item<bool>());
    // the float tensors are as they were
    EXPECT_TRUE(torch::equal(model->embed->weight, dense.at("input_embedding.weight").to(torch::kFloat32)));
    torch::NoGradGuard g;
    cook::model::ForwardInput in;
    in.input_ids = torch::tensor({3, 1, 4, 1, 5}, torch::kInt64).reshape({1, 5});
    EXPECT_TRUE(torch::isfinite(model->forward(in).logits).all().item<bool>());
  }
}

TEST(BMCookInt8, AQuantWithoutItsScaleIsAnErrorNamingIt) {
  auto tensors = cook::weights::read_torch_bin(bmcook_file("gpt-j-int8.bin"));
  cook::weights::TensorMap broken;
  for (const auto& [name, t] : tensors)
    if (name != "dec_layers.0.self_attention.k_proj_scale") broken[name] = t.clone();
  const std::string path = ::testing::TempDir() + "/bmcook-int8-broken.bin";
  cook::weights::write_torch_bin(path, broken);
  cook::test::expect_error([&] { load_bmcook_int8(path, cook::test::bmcook_tiny_config(false)); },
                           {path, "dec_layers.0.self_attention.k_proj_quant", "k_proj_scale"});
}

// Checkpoints into the real model (cook::model::GptJ): every layout Cook reads gives the logits
// Hugging Face computed, and a Cook checkpoint saved from a model loads back to the same model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cook/model/gptj.h"
#include "cook/weights/bmcook_bin.h"
#include "cook/weights/checkpoint.h"
#include "weights_test_util.h"

using namespace cook::weights;
using cook::model::ForwardInput;
using cook::model::GptJ;
using cook::weights::testing::hf_fixture;
using cook::weights::testing::TempDir;

namespace {

// Logits at the unpadded positions of the fixture's reference input.
torch::Tensor logits_of(GptJ& model, const TensorMap& ref) {
  ForwardInput in;
  in.input_ids = ref.at("input_ids");
  in.attention_mask = ref.at("attention_mask");
  torch::NoGradGuard g;
  model->eval();
  return model->forward(in).logits.index({in.attention_mask.ne(0)});
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST(CheckpointIntoGptJ, EveryLayoutGivesHuggingFaceLogits) {
  TempDir dir;
  for (const std::string fixture : {"gptj-tiny-gelu", "gptj-tiny-relu"}) {
    SCOPED_TRACE(fixture);
    TensorMap ref = load_safetensors(hf_fixture(fixture) + "/reference.safetensors").tensors;
    torch::Tensor expected = ref.at("logits").index({ref.at("attention_mask").ne(0)});

    Checkpoint hf = read_checkpoint(hf_fixture(fixture));
    GptJ from_hf(hf.config);
    load_into(*from_hf, hf);
    EXPECT_LE(max_diff(logits_of(from_hf, ref), expected), 1e-4);

    // HF → BMCook .bin → model.
    std::string bin = dir.file(fixture + ".bin");
    write_bmcook_bin(bin, hf.config, hf.tensors);
    Checkpoint bm = read_bmcook_checkpoint(bin, hf.config);
    GptJ from_bm(bm.config);
    load_into(*from_bm, std::move(bm));
    EXPECT_LE(max_diff(logits_of(from_bm, ref), expected), 1e-4);

    // model → Cook checkpoint → model.
    std::string cook = dir.file(fixture + ".safetensors");
    save_checkpoint(cook, *from_hf, hf.config, {{"source", fixture}});
    Checkpoint ck = read_checkpoint(cook);
    EXPECT_EQ(ck.kind, CheckpointKind::Cook);
    GptJ from_cook(ck.config);
    load_into(*from_cook, std::move(ck));
    EXPECT_TRUE(torch::equal(logits_of(from_cook, ref), logits_of(from_hf, ref)));
  }
}

TEST(CheckpointIntoGptJ, BmcookFixtureLoadsIntoTheModel) {
  for (bool relu : {false, true}) {
    auto config = cook::weights::testing::bmcook_fixture_config(relu);
    std::string path = cook::weights::testing::data_dir() + (relu ? "/bmcook/gptj-tiny-relu.bin" : "/bmcook/gptj-tiny-gelu.bin");
    GptJ model(config);
    load_into(*model, read_bmcook_checkpoint(path, config));
    auto params = model->named_parameters();
    EXPECT_EQ(params.contains("blocks.0.ffn.fc_in.bias"), !relu);
    // lm_head.bias is tensor 24 of the fixture: 24 + (j % 16) / 16.
    EXPECT_FLOAT_EQ(params["lm_head.bias"][17].item<float>(), 24.0f + 1.0f / 16);
  }
}

TEST(CheckpointIntoGptJ, WrongConfigNamesFileAndTensor) {
  Checkpoint hf = read_checkpoint(hf_fixture("gptj-tiny-gelu"));
  auto config = hf.config;
  config.d_ff = 128;
  GptJ model(config);
  cook::weights::testing::expect_error(
      [&] { load_into(*model, hf); },
      {"model.safetensors: tensor 'transformer.h.0.mlp.fc_in.weight' (Cook 'blocks.0.ffn.fc_in.weight'): shape [256, 64] "
       "does not match the module's [128, 64]"});
}

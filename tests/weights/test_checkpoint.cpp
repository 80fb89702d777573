#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cook/io/atomic_file.h"
#include "cook/model/gptj.h"
#include "cook/io/mapped_file.h"
#include "cook/io/safetensors.h"
#include "cook/weights/bmcook_bin.h"
#include "cook/weights/checkpoint.h"
#include "weights_test_util.h"

using namespace cook::weights;
using cook::model::ModelConfig;
using cook::weights::testing::bmcook_fixture_config;
using cook::weights::testing::expect_error;
using cook::weights::testing::hf_fixture;
using cook::weights::testing::module_for;
using cook::weights::testing::module_with;
using cook::weights::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool in_any_mapping(const Checkpoint& ck, const torch::Tensor& t) {
  for (const auto& m : ck.mappings)
    if (m->contains(t.data_ptr(), t.nbytes())) return true;
  return false;
}

// The fixture's raw tensors under their Hugging Face names.
TensorMap raw_hf(const std::string& fixture) { return load_safetensors(hf_fixture(fixture) + "/model.safetensors").tensors; }

void expect_same_params(torch::nn::Module& module, const TensorMap& expected) {
  auto params = module.named_parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (const auto& item : params) {
    ASSERT_TRUE(expected.count(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), expected.at(item.key()).to(item.value().scalar_type()))) << item.key();
  }
}

// A module with every weight of `config`, filled with random values.
std::shared_ptr<cook::weights::testing::Holder> random_module_for(const ModelConfig& config) {
  auto m = module_for(config);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.copy_(torch::randn(p.sizes()));
  return m;
}

}  // namespace

// ---- Hugging Face ---------------------------------------------------------------------------

TEST(Checkpoint, ReadsTheHfFixturesZeroCopy) {
  for (const std::string fixture : {"gptj-tiny-gelu", "gptj-tiny-relu"}) {
    SCOPED_TRACE(fixture);
    Checkpoint ck = read_checkpoint(hf_fixture(fixture));
    EXPECT_EQ(ck.kind, CheckpointKind::HuggingFace);
    EXPECT_EQ(ck.config.d_model, 64);
    EXPECT_EQ(ck.config.n_layer, 3);
    EXPECT_EQ(ck.config.n_head, 4);
    EXPECT_EQ(ck.config.d_ff, 256);
    EXPECT_EQ(ck.config.vocab_size, 1000);
    EXPECT_EQ(ck.config.rotary_dim, 8);
    EXPECT_EQ(ck.config.activation,
              fixture == "gptj-tiny-relu" ? cook::model::Activation::Relu : cook::model::Activation::GeluNew);
    EXPECT_EQ(ck.metadata.at("format"), "pt");
    NameMap map(ck.config);
    ASSERT_EQ(ck.tensors.size(), map.entries().size());
    TensorMap raw = raw_hf(fixture);
    for (const auto& e : map.entries()) {
      const torch::Tensor& t = ck.tensors.at(e.cook);
      EXPECT_TRUE(in_any_mapping(ck, t)) << e.cook << " was copied";
      EXPECT_TRUE(torch::equal(t, raw.at(e.hf))) << e.cook;
    }
    EXPECT_NE(ck.describe("blocks.1.ffn.fc_in.weight").find("model.safetensors: tensor 'transformer.h.1.mlp.fc_in.weight' "
                                                           "(Cook 'blocks.1.ffn.fc_in.weight')"),
              std::string::npos);
  }
}

TEST(Checkpoint, HfFileOrFolderGiveTheSame) {
  Checkpoint a = read_checkpoint(hf_fixture("gptj-tiny-gelu"));
  Checkpoint b = read_checkpoint(hf_fixture("gptj-tiny-gelu") + "/model.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) EXPECT_TRUE(torch::equal(t, b.tensors.at(name))) << name;
}

TEST(Checkpoint, ReadsShardedHf) {
  TempDir dir;
  TensorMap raw = raw_hf("gptj-tiny-gelu");
  TensorMap s1, s2;
  nlohmann::json weight_map;
  size_t k = 0;
  for (const auto& [name, t] : raw) {
    bool first = k++ % 2 == 0;
    (first ? s1 : s2)[name] = t;
    weight_map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  save_safetensors(dir.file("model-00001-of-00002.safetensors"), s1);
  save_safetensors(dir.file("model-00002-of-00002.safetensors"), s2);
  nlohmann::json index = {{"metadata", {{"total_size", 123}}}, {"weight_map", weight_map}};
  cook::io::write_file_atomic(dir.file("model.safetensors.index.json"), index.dump());
  fs::copy_file(hf_fixture("gptj-tiny-gelu") + "/config.json", dir.file("config.json"));

  for (const std::string& path : {dir.path(), dir.file("model.safetensors.index.json")}) {
    Checkpoint ck = read_checkpoint(path);
    EXPECT_EQ(ck.kind, CheckpointKind::HuggingFace);
    EXPECT_EQ(ck.mappings.size(), 2u);
    EXPECT_EQ(ck.metadata.at("total_size"), "123");
    NameMap map(ck.config);
    ASSERT_EQ(ck.tensors.size(), map.entries().size());
    for (const auto& e : map.entries()) {
      EXPECT_TRUE(torch::equal(ck.tensors.at(e.cook), raw.at(e.hf))) << e.cook;
      EXPECT_TRUE(in_any_mapping(ck, ck.tensors.at(e.cook)));
    }
    // Messages name the shard a tensor came from.
    EXPECT_NE(ck.describe("embed.weight").find(std::string(weight_map["transformer.wte.weight"])), std::string::npos);
  }
}

TEST(Checkpoint, HfErrorsNameFileAndTensor) {
  TempDir dir;
  fs::copy_file(hf_fixture("gptj-tiny-gelu") + "/config.json", dir.file("config.json"));
  TensorMap raw = raw_hf("gptj-tiny-gelu");
  raw.erase("transformer.h.2.attn.k_proj.weight");
  raw["transformer.h.0.attn.rotary.weight"] = torch::zeros({2});
  raw["transformer.h.1.mlp.fc_out.bias"] = torch::zeros({65});
  save_safetensors(dir.file("model.safetensors"), raw);
  std::string file = dir.file("model.safetensors");
  expect_error([&] { read_checkpoint(dir.path()); },
               {dir.path(), "3 problems", file + ": tensor 'transformer.h.0.attn.rotary.weight'", "not a weight name",
                "'transformer.h.1.mlp.fc_out.bias': shape [65] does not match [64]",
                "'transformer.h.2.attn.k_proj.weight' is missing"});
}

TEST(Checkpoint, FolderErrors) {
  TempDir dir;
  expect_error([&] { read_checkpoint(dir.file("nothing-here")); }, {dir.file("nothing-here"), "no such file"});
  expect_error([&] { read_checkpoint(dir.path()); }, {dir.path(), "without config.json"});
  fs::copy_file(hf_fixture("gptj-tiny-gelu") + "/config.json", dir.file("config.json"));
  std::ofstream(dir.file("pytorch_model.bin.index.json")) << "{}";
  expect_error([&] { read_checkpoint(dir.path()); }, {dir.path(), "no model.safetensors", "a sharded pytorch_model.bin"});
  std::ofstream(dir.file("config.json")) << "{ broken";
  cook::io::write_file_atomic(dir.file("model.safetensors"), std::string(16, '\0'));
  expect_error([&] { read_checkpoint(dir.path()); }, {dir.file("model.safetensors")});
}

TEST(Checkpoint, PlainSafetensorsWithoutConfigIsAnError) {
  TempDir dir;
  std::string path = dir.file("loose.safetensors");
  save_safetensors(path, TensorMap{{"x", torch::zeros({2})}});
  expect_error([&] { read_checkpoint(path); }, {path, "cook.format_version", "config.json"});
}

// ---- Cook checkpoints -------------------------------------------------------------------------

TEST(Checkpoint, CookSaveLoadRoundTrip) {
  TempDir dir;
  ModelConfig config = bmcook_fixture_config(false);
  auto source = random_module_for(config);
  std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, *source, config, {{"step", "42"}});

  Checkpoint ck = read_checkpoint(path);
  EXPECT_EQ(ck.kind, CheckpointKind::Cook);
  EXPECT_EQ(ck.metadata.at("step"), "42");
  EXPECT_EQ(ck.metadata.at(kFormatVersionKey), "1");
  EXPECT_EQ(cook::model::to_json(ck.config), cook::model::to_json(config));
  // Written in model order.
  auto reader = cook::io::SafetensorsReader::open(path);
  std::vector<std::string> order;
  for (const auto& item : source->named_parameters()) order.push_back(item.key());
  EXPECT_EQ(reader.names(), order);

  auto target = module_for(config);
  load_into(*target, ck);
  expect_same_params(*target, parameters_of(*source));
  // The module owns its weights: nothing aliases the file.
  for (const auto& p : target->parameters()) EXPECT_FALSE(ck.mappings[0]->contains(p.data_ptr(), p.nbytes()));
  // The checkpoint's tensors are still readable after their pages were released.
  for (const auto& [name, t] : ck.tensors) EXPECT_TRUE(torch::equal(t, source->named_parameters()[name])) << name;
}

TEST(Checkpoint, LoadIntoFromRvalueReleasesTensors) {
  TempDir dir;
  ModelConfig config = bmcook_fixture_config(true);
  auto source = module_for(config);
  std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, *source, config);
  auto target = module_for(config);
  Checkpoint ck = read_checkpoint(path);
  std::weak_ptr<const cook::io::MappedFile> mapping = ck.mappings[0];
  load_into(*target, std::move(ck));
  EXPECT_TRUE(mapping.expired());  // every tensor, and with them the mapping, was let go
  expect_same_params(*target, parameters_of(*source));
}

TEST(Checkpoint, LoadIntoConvertsDTypes) {
  TempDir dir;
  ModelConfig config = bmcook_fixture_config(true);
  auto source = module_for(config, torch::kFloat16);
  std::string path = dir.file("half.safetensors");
  save_checkpoint(path, *source, config);
  auto target = module_for(config, torch::kFloat32);
  load_into(*target, read_checkpoint(path));
  for (const auto& p : target->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  expect_same_params(*target, parameters_of(*source));
}

// The tensors of a safetensors file as a Checkpoint (views of its mapping), with no model config:
// load_into works on any module, whatever tensors a file holds. (read_checkpoint would refuse these
// files: a Cook checkpoint must hold the weights of the config it carries.)
static Checkpoint tensors_of(const std::string& path) {
  const auto reader = cook::io::SafetensorsReader::open(path);
  Checkpoint ck;
  ck.source = path;
  for (const auto& info : reader.tensors()) ck.tensors.emplace(info.name, cook::weights::tensor_view(reader, info));
  ck.mappings.push_back(reader.mapping());
  return ck;
}

TEST(Checkpoint, LoadIntoErrorsNameFileAndTensorAndCopyNothing) {
  TempDir dir;
  std::string path = dir.file("ck.safetensors");
  TensorMap tensors;
  tensors["a.weight"] = torch::ones({4, 4});
  tensors["a.bias"] = torch::ones({3});               // module: [4]
  tensors["b.index"] = torch::ones({4}, torch::kInt64);  // module: float
  tensors["c.extra"] = torch::ones({1});              // module: none
  tensors["counts"] = torch::ones({2}, torch::kInt32);   // module: int64
  save_safetensors(path, tensors);
  auto module = module_with({{"a.weight", {4, 4}}, {"a.bias", {4}}, {"b.index", {4}}, {"d.missing", {2}}});
  auto counts = torch::zeros({2}, torch::kInt64);
  module->register_parameter("counts", counts, /*requires_grad=*/false);
  std::string msg = expect_error([&] { load_into(*module, tensors_of(path)); },
                                 {path, "5 problems", path + ": tensor 'a.bias': shape [3] does not match the module's [4]",
                                  path + ": tensor 'b.index': dtype Long cannot be loaded into the Float parameter",
                                  path + ": tensor 'd.missing' is missing",
                                  path + ": tensor 'c.extra': the module has no such parameter",
                                  path + ": tensor 'counts': dtype Int cannot be loaded into the Long parameter"});
  // Nothing was copied, not even the tensor that was fine.
  EXPECT_TRUE(torch::all(module->named_parameters()["a.weight"] == -7).item<bool>());
}

TEST(Checkpoint, CookMetadataErrors) {
  TempDir dir;
  ModelConfig config = bmcook_fixture_config(true);
  std::string path = dir.file("ck.safetensors");
  TensorMap t = {{"x", torch::zeros({1})}};
  save_safetensors(path, t, {{kFormatVersionKey, "7"}, {kModelConfigKey, "{}"}});
  expect_error([&] { read_checkpoint(path); }, {path, "cook.format_version is '7'"});
  save_safetensors(path, t, {{kFormatVersionKey, "1"}});
  expect_error([&] { read_checkpoint(path); }, {path, "no cook.model_config"});
  save_safetensors(path, t, {{kFormatVersionKey, "1"}, {kModelConfigKey, "{nope"}});
  expect_error([&] { read_checkpoint(path); }, {path, "cook.model_config", "not valid JSON"});
  auto j = cook::model::to_json(config);
  j["d_model"] = "eight";
  save_safetensors(path, t, {{kFormatVersionKey, "1"}, {kModelConfigKey, j.dump()}});
  expect_error([&] { read_checkpoint(path); }, {path, "cook.model_config", "d_model"});
  expect_error([&] { save_checkpoint(path, t, config, {{kModelConfigKey, "x"}}); }, {path, "may not set"});
}

TEST(Checkpoint, PresetMustAgreeWithTheCheckpoint) {
  std::string hf = hf_fixture("gptj-tiny-gelu");
  expect_error([&] { read_checkpoint(hf, std::string("tiny")); },
               {hf, "does not match preset 'tiny'", "vocab_size 1000 vs 50400"});
  TempDir dir;
  std::string path = dir.file("ck.safetensors");
  cook::model::GptJ relu(cook::model::preset("tiny-relu"));
  save_checkpoint(path, *relu, relu->config());
  EXPECT_EQ(read_checkpoint(path, std::string("tiny-relu")).config.activation, cook::model::Activation::Relu);
  expect_error([&] { read_checkpoint(path, std::string("tiny")); }, {path, "preset 'tiny'", "fc_in_bias false vs true"});
}

// ---- BMCook -----------------------------------------------------------------------------------

TEST(Checkpoint, ReadsTheBmcookFixtures) {
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "gelu");
    std::string path = cook::weights::testing::data_dir() + (relu ? "/bmcook/gptj-tiny-relu.bin" : "/bmcook/gptj-tiny-gelu.bin");
    ModelConfig config = bmcook_fixture_config(relu);
    Checkpoint ck = read_bmcook_checkpoint(path, config);
    EXPECT_EQ(ck.kind, CheckpointKind::BMCook);
    NameMap map(config);
    ASSERT_EQ(ck.tensors.size(), map.entries().size());
    // make_bmcook_fixture.py: tensor k of its list is k + (j % 16) / 16 at flat index j, in fp16.
    auto expected = [](int k, const std::vector<int64_t>& shape) {
      int64_t n = 1;
      for (auto d : shape) n *= d;
      return (k + torch::arange(n).remainder(16).to(torch::kFloat32) / 16).reshape(shape).to(torch::kFloat16);
    };
    EXPECT_TRUE(torch::equal(ck.tensors.at("embed.weight"), expected(0, {32, 8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("blocks.0.ln.bias"), expected(2, {8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("blocks.1.attn.k_proj.weight"), expected(14, {8, 8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("blocks.1.ffn.fc_in.weight"), expected(17, {16, 8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("blocks.1.ffn.fc_out.bias"), expected(20, {8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("ln_f.weight"), expected(21, {8})));
    EXPECT_TRUE(torch::equal(ck.tensors.at("lm_head.bias"), expected(24, {32})));
    if (relu) {
      EXPECT_EQ(ck.tensors.count("blocks.0.ffn.fc_in.bias"), 0u);
    } else {
      EXPECT_TRUE(torch::equal(ck.tensors.at("blocks.1.ffn.fc_in.bias"), expected(18, {16})));
    }
    EXPECT_NE(ck.describe("lm_head.bias").find("gptj-tiny-"), std::string::npos);
    auto module = module_for(config);
    load_into(*module, ck);
    EXPECT_TRUE(torch::equal(module->named_parameters()["lm_head.bias"], expected(24, {32}).to(torch::kFloat32)));
  }
}

TEST(Checkpoint, BmcookBinRunsWithBmcooksLayerNormEps) {
  // BMCook's example/train.py builds every GPT-J with eps=1e-6; a preset's own eps is 1e-5.
  const ModelConfig tiny = cook::model::preset("tiny");
  ASSERT_EQ(tiny.layer_norm_eps, 1e-5);
  TempDir dir;
  write_bmcook_bin(dir.file("tiny.bin"), tiny, parameters_of(*module_for(tiny)));
  EXPECT_EQ(read_checkpoint(dir.file("tiny.bin"), std::string("tiny")).config.layer_norm_eps, 1e-6);
}

TEST(Checkpoint, BmcookNeedsAPresetThatFits) {
  std::string path = cook::weights::testing::data_dir() + "/bmcook/gptj-tiny-gelu.bin";
  expect_error([&] { read_checkpoint(path); }, {path, "no model config", "gpt-j-6b"});
  expect_error([&] { read_checkpoint(path, std::string("enormous")); }, {path, "unknown preset 'enormous'"});
  expect_error([&] { read_checkpoint(path, std::string("tiny")); },
               {path, "problems", "tensor 'dec_layers.0.ff.fc_in_bias': shape [1, 16, 1] does not match [1, 256, 1]"});
  ModelConfig wider = bmcook_fixture_config(false);
  wider.d_ff = 32;
  expect_error([&] { read_bmcook_checkpoint(path, wider); },
               {path, "6 problems", "tensor 'dec_layers.1.ff.fc_out_weight': shape [8, 16] does not match [8, 32]"});
}

TEST(Checkpoint, TorchBinErrors) {
  TempDir dir;
  std::string legacy = dir.file("legacy.bin");
  std::ofstream(legacy, std::ios::binary) << "\x80\x02" << "legacy pickle";
  expect_error([&] { read_torch_bin(legacy); }, {legacy, "legacy"});
  std::string junk = dir.file("junk.bin");
  std::ofstream(junk, std::ios::binary) << "not a zip at all";
  expect_error([&] { read_torch_bin(junk); }, {junk, "not a torch.save zip"});
  std::string broken = dir.file("broken.bin");
  std::ofstream(broken, std::ios::binary) << "PK\x03\x04 then nothing sensible";
  expect_error([&] { read_torch_bin(broken); }, {broken, "not a zip archive"});
  std::string mixed = dir.file("mixed.bin");
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("w", torch::ones({2}));
  d.insert("step", int64_t{3});
  auto bytes = torch::pickle_save(c10::IValue(d));
  cook::io::write_file_atomic(mixed, std::string_view(bytes.data(), bytes.size()));
  expect_error([&] { read_torch_bin(mixed); }, {mixed, "entry 'step'", "not a tensor"});
  std::string list = dir.file("list.bin");
  auto lbytes = torch::pickle_save(c10::IValue(c10::List<at::Tensor>({torch::ones({1})})));
  cook::io::write_file_atomic(list, std::string_view(lbytes.data(), lbytes.size()));
  expect_error([&] { read_torch_bin(list); }, {list, "not a dict"});
}

// ---- conversions --------------------------------------------------------------------------------

TEST(Checkpoint, HfToBmcookAndBack) {
  TempDir dir;
  for (const std::string fixture : {"gptj-tiny-gelu", "gptj-tiny-relu"}) {
    Checkpoint hf = read_checkpoint(hf_fixture(fixture));
    std::string bin = dir.file(fixture + ".bin");
    write_bmcook_bin(bin, hf.config, hf.tensors);
    TensorMap raw = read_torch_bin(bin);
    EXPECT_EQ(raw.at("dec_layers.0.ff.fc_out_bias").sizes(), (std::vector<int64_t>{1, 64, 1}));
    Checkpoint bm = read_bmcook_checkpoint(bin, hf.config);
    ASSERT_EQ(bm.tensors.size(), hf.tensors.size());
    for (const auto& [name, t] : hf.tensors) EXPECT_TRUE(torch::equal(bm.tensors.at(name), t)) << name;
  }
  // With no fc_in bias, the .bin still carries BMCook's (unused) ff.fc_in_bias, as zeros.
  ModelConfig relu = bmcook_fixture_config(true);
  Checkpoint small = read_bmcook_checkpoint(cook::weights::testing::data_dir() + "/bmcook/gptj-tiny-relu.bin", relu);
  std::string bin = dir.file("relu.bin");
  write_bmcook_bin(bin, relu, small.tensors);
  TensorMap raw = read_torch_bin(bin);
  EXPECT_TRUE(torch::equal(raw.at("dec_layers.1.ff.fc_in_bias"), torch::zeros({1, 16, 1}, torch::kFloat16)));
}

TEST(Checkpoint, WriteHfFolderRoundTrip) {
  TempDir dir;
  Checkpoint bm = read_bmcook_checkpoint(cook::weights::testing::data_dir() + "/bmcook/gptj-tiny-gelu.bin",
                                         bmcook_fixture_config(false));
  std::string folder = dir.file("hf-out");
  write_hf_folder(folder, bm.config, bm.tensors);
  Checkpoint hf = read_checkpoint(folder);
  EXPECT_EQ(hf.kind, CheckpointKind::HuggingFace);
  EXPECT_EQ(cook::model::to_json(hf.config), cook::model::to_json(bm.config));
  ASSERT_EQ(hf.tensors.size(), bm.tensors.size());
  for (const auto& [name, t] : bm.tensors) EXPECT_TRUE(torch::equal(hf.tensors.at(name), t)) << name;
  auto reader = cook::io::SafetensorsReader::open(folder + "/model.safetensors");
  EXPECT_EQ(reader.tensors().front().name, "transformer.wte.weight");  // model order
  EXPECT_EQ(reader.metadata().at("format"), "pt");
  // An incomplete set is refused before anything is written.
  TensorMap partial = bm.tensors;
  partial.erase("ln_f.bias");
  expect_error([&] { write_hf_folder(dir.file("hf-bad"), bm.config, partial); }, {"hf-bad", "'ln_f.bias' is missing"});
  EXPECT_FALSE(fs::exists(dir.file("hf-bad/model.safetensors")));
}

TEST(Checkpoint, LargeTensorsAreCopiedInSlices) {
  // Over the 32 MiB slice, not a multiple of it, and one converted from float16 on the way.
  TempDir dir;
  std::string path = dir.file("big.safetensors");
  TensorMap tensors;
  tensors["big.weight"] = torch::randn({5003, 2099});
  tensors["half.weight"] = torch::randn({9001, 2048}).to(torch::kFloat16);
  save_safetensors(path, tensors);
  auto module = module_with({{"big.weight", {5003, 2099}}, {"half.weight", {9001, 2048}}});
  Checkpoint ck = tensors_of(path);
  load_into(*module, ck);
  auto params = module->named_parameters();
  EXPECT_TRUE(torch::equal(params["big.weight"], tensors["big.weight"]));
  EXPECT_TRUE(torch::equal(params["half.weight"], tensors["half.weight"].to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(ck.tensors.at("big.weight"), tensors["big.weight"]));  // still readable
}

TEST(Checkpoint, ReadsAnHfFolderWithPytorchModelBin) {
  TempDir dir;
  TensorMap raw = raw_hf("gptj-tiny-relu");
  raw["transformer.h.0.attn.masked_bias"] = torch::tensor(-1e9);  // HF's buffers come along in old .bin files
  write_torch_bin(dir.file("pytorch_model.bin"), raw);
  fs::copy_file(hf_fixture("gptj-tiny-relu") + "/config.json", dir.file("config.json"));
  for (const std::string& path : {dir.path(), dir.file("pytorch_model.bin")}) {
    Checkpoint ck = read_checkpoint(path);
    EXPECT_EQ(ck.kind, CheckpointKind::HuggingFace);
    EXPECT_EQ(ck.config.activation, cook::model::Activation::Relu);
    NameMap map(ck.config);
    ASSERT_EQ(ck.tensors.size(), map.entries().size());
    for (const auto& e : map.entries()) {
      EXPECT_TRUE(torch::equal(ck.tensors.at(e.cook), raw.at(e.hf))) << e.cook;
      EXPECT_TRUE(in_any_mapping(ck, ck.tensors.at(e.cook))) << e.cook << " was copied";
    }
  }
}

// A checkpoint written as one part per rank reads as the union of its parts, and `--load` of a
// `cook train` checkpoint folder takes either form.
TEST(Checkpoint, RankShardsMergeAndTheirErrorsNameTheFile) {
  TempDir dir;
  ModelConfig config = bmcook_fixture_config(false);
  auto source = random_module_for(config);
  TensorMap all = parameters_of(*source), part0, part1;
  size_t i = 0;
  for (const auto& [name, t] : all) (i++ % 2 ? part1 : part0).emplace(name, t);
  save_checkpoint(dir / rank_shard_name("model", 0, 2), part0, config);
  save_checkpoint(dir / rank_shard_name("model", 1, 2), part1, config);
  std::ofstream(dir / "trainer.json") << "{}";
  EXPECT_EQ(rank_shard_name("model", 1, 2), "model.rank-1-of-2.safetensors");
  ASSERT_TRUE(has_rank_shards(dir.path(), "model"));
  for (const Checkpoint& ck : {read_rank_shards(dir.path(), "model"), read_checkpoint(dir.path())}) {
    EXPECT_EQ(ck.kind, CheckpointKind::Cook);
    EXPECT_EQ(cook::model::to_json(ck.config), cook::model::to_json(config));
    ASSERT_EQ(ck.tensors.size(), all.size());
    for (const auto& [name, t] : all) EXPECT_TRUE(torch::equal(ck.tensors.at(name), t)) << name;
  }
  // A tensor in two parts, then a missing part.
  save_checkpoint(dir / rank_shard_name("model", 1, 2), all, config);
  expect_error([&] { read_rank_shards(dir.path(), "model"); }, {"model.rank-1-of-2.safetensors", "is also in", "model.rank-0-of-2"});
  std::filesystem::remove(dir / rank_shard_name("model", 1, 2));
  expect_error([&] { read_checkpoint(dir.path()); }, {"model.rank-1-of-2.safetensors", "missing"});
  // A consolidated `cook train` folder: its model.safetensors.
  std::filesystem::remove(dir / rank_shard_name("model", 0, 2));
  save_checkpoint(dir / "model.safetensors", all, config);
  EXPECT_EQ(read_checkpoint(dir.path()).tensors.size(), all.size());
}

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "cook/io/mapped_file.h"
#include "cook/io/safetensors.h"
#include "cook/weights/tensor_io.h"
#include "weights_test_util.h"

using namespace cook::weights;
using cook::weights::testing::expect_error;
using cook::weights::testing::TempDir;

namespace {
bool aliases(const std::shared_ptr<const cook::io::MappedFile>& m, const torch::Tensor& t) {
  return m->contains(t.data_ptr(), t.nbytes());
}
}  // namespace

TEST(TensorIo, ZeroCopyLoadAliasesTheMapping) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  TensorMap in = {{"a", torch::randn({64, 32})}, {"b", torch::arange(10, torch::kInt64)}};
  save_safetensors(path, in, {{"k", "v"}});
  LoadedTensors loaded = load_safetensors(path);
  ASSERT_TRUE(loaded.mapping);
  EXPECT_EQ(loaded.metadata.at("k"), "v");
  for (const auto& [name, t] : in) {
    const torch::Tensor& got = loaded.tensors.at(name);
    EXPECT_TRUE(aliases(loaded.mapping, got)) << name << ": data pointer is not inside the mapping";
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
}

TEST(TensorIo, TensorsKeepTheMappingAlive) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  torch::Tensor ref = torch::randn({1000});
  save_safetensors(path, TensorMap{{"x", ref}});
  torch::Tensor survivor;
  std::weak_ptr<const cook::io::MappedFile> weak;
  {
    LoadedTensors loaded = load_safetensors(path);
    weak = loaded.mapping;
    survivor = loaded.tensors.at("x");
  }
  EXPECT_FALSE(weak.expired());
  std::filesystem::remove(path);
  EXPECT_TRUE(torch::equal(survivor, ref));
  survivor = torch::Tensor();
  EXPECT_TRUE(weak.expired());  // the last tensor unmapped it
}

TEST(TensorIo, RoundTripEveryDType) {
  TempDir dir;
  std::string path = dir.file("d.safetensors");
  TensorMap in;
  in["f64"] = torch::randn({3, 4}, torch::kFloat64);
  in["f32"] = torch::randn({3, 4});
  in["f16"] = torch::randn({3, 4}).to(torch::kFloat16);
  in["bf16"] = torch::randn({3, 4}).to(torch::kBFloat16);
  in["i64"] = torch::randint(-1000, 1000, {5}, torch::kInt64);
  in["i32"] = torch::randint(-1000, 1000, {5}, torch::kInt32);
  in["i16"] = torch::randint(-1000, 1000, {5}, torch::kInt16);
  in["i8"] = torch::randint(-100, 100, {5}, torch::kInt8);
  in["u8"] = torch::randint(0, 255, {5}, torch::kUInt8);
  in["bool"] = torch::randint(0, 2, {7}).to(torch::kBool);
  in["scalar"] = torch::tensor(3.5);
  in["empty"] = torch::empty({0, 3});
  save_safetensors(path, in);
  auto loaded = load_safetensors(path);
  ASSERT_EQ(loaded.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const torch::Tensor& got = loaded.tensors.at(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
}

TEST(TensorIo, NonContiguousTensorsAreWrittenAsTheirValues) {
  TempDir dir;
  std::string path = dir.file("n.safetensors");
  torch::Tensor base = torch::randn({6, 8});
  std::vector<std::pair<std::string, torch::Tensor>> in = {
      {"transposed", base.t()}, {"slice", base.index({torch::indexing::Slice(), 3})},
      {"expanded", torch::randn({1, 4}).expand({3, 4})}, {"grad", torch::randn({2}, torch::requires_grad())}};
  save_safetensors(path, in);
  auto loaded = load_safetensors(path);
  for (const auto& [name, t] : in) EXPECT_TRUE(torch::equal(loaded.tensors.at(name), t.detach())) << name;
  // Written in the order given.
  auto reader = cook::io::SafetensorsReader::open(path);
  EXPECT_EQ(reader.names(), (std::vector<std::string>{"transposed", "slice", "expanded", "grad"}));
}

TEST(TensorIo, UnsupportedDTypeNamesFileAndTensor) {
  TempDir dir;
  std::string path = dir.file("c.safetensors");
  expect_error([&] { save_safetensors(path, TensorMap{{"z", torch::randn({2}, torch::kComplexFloat)}}); },
               {path, "'z'", "ComplexFloat"});
  expect_error([&] { save_safetensors(path, TensorMap{{"u", torch::Tensor()}}); }, {path, "'u'", "undefined"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TensorIo, MisalignedTensorIsCopiedNotAliased) {
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  // A U8 [1] then an F32 [2] at data offset 1: legal safetensors, but not 4-byte aligned.
  std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  while ((8 + header.size()) % 8) header += ' ';
  float vals[2] = {1.5f, -2.25f};
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  bytes += header;
  bytes += '\x07';
  bytes.append(reinterpret_cast<const char*>(vals), sizeof vals);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto loaded = load_safetensors(path);
  const torch::Tensor& f = loaded.tensors.at("f");
  EXPECT_FALSE(aliases(loaded.mapping, f));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data_ptr()) % 4, 0u);
  EXPECT_FLOAT_EQ(f[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(f[1].item<float>(), -2.25f);
  EXPECT_EQ(loaded.tensors.at("b").item<uint8_t>(), 7);
}

TEST(TensorIo, BadFileErrorsNameTheFile) {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  std::ofstream(path, std::ios::binary) << "garbage!";
  expect_error([&] { load_safetensors(path); }, {path});
}

// Lazy tensors are made one at a time, as their turn to be written comes: the writer never holds
// two (what lets rank 0 stream a consolidated checkpoint of a sharded model).
TEST(TensorIo, LazyTensorsAreMadeOneAtATimeAndRoundTrip) {
  TempDir dir;
  int live = 0, most = 0;
  std::vector<LazyTensor> lazy;
  for (int i = 0; i < 4; ++i) {
    lazy.push_back({"t" + std::to_string(i), torch::kFloat32, {3, 2 + i}, [&live, &most, i] {
                      auto* data = new float[3 * (2 + i)];
                      for (int k = 0; k < 3 * (2 + i); ++k) data[k] = static_cast<float>(10 * i + k);
                      most = std::max(most, ++live);
                      return torch::from_blob(data, {3, 2 + i}, [&live](void* p) {
                        --live;
                        delete[] static_cast<float*>(p);
                      });
                    }});
  }
  save_safetensors(dir / "lazy.safetensors", lazy, {{"k", "v"}});
  EXPECT_EQ(most, 1);
  EXPECT_EQ(live, 0);
  auto loaded = load_safetensors(dir / "lazy.safetensors");
  EXPECT_EQ(loaded.metadata.at("k"), "v");
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(torch::equal(loaded.tensors.at("t" + std::to_string(i)),
                             torch::arange(3 * (2 + i), torch::kFloat32).add(10 * i).reshape({3, 2 + i})));
  // A tensor made with another shape than declared is an error naming the file and the tensor.
  std::vector<LazyTensor> wrong{{"w", torch::kFloat32, {2, 2}, [] { return torch::zeros({2, 3}); }}};
  expect_error([&] { save_safetensors(dir / "wrong.safetensors", wrong); }, {"wrong.safetensors", "'w'", "[2, 3]"});
}

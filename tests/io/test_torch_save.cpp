#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cook/io/torch_save.h"
#include "cook/io/zip.h"
#include "cook/io/mapped_file.h"
#include "io_test_util.h"

using namespace std::string_literals;

using namespace cook::io;
using cook::io::testing::expect_error;
using cook::io::testing::TempDir;
using cook::io::testing::write_bytes;

namespace {

float half_to_float(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0 ? std::ldexp(static_cast<float>(m), -24) : std::ldexp(static_cast<float>(m | 1024), e - 25);
  return (h & 0x8000) ? -v : v;
}

std::string u16le(uint16_t v) { return {static_cast<char>(v & 255), static_cast<char>(v >> 8)}; }
std::string u32le(uint32_t v) { return u16le(static_cast<uint16_t>(v & 0xFFFF)) + u16le(static_cast<uint16_t>(v >> 16)); }

// A zip archive of stored entries, as torch.save lays them out (no CRC check is made on reading).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, uint16_t method = 0) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    uint32_t offset = static_cast<uint32_t>(out.size());
    out += u32le(0x04034b50) + u16le(20) + u16le(0) + u16le(method) + u32le(0) + u32le(0) +
           u32le(static_cast<uint32_t>(data.size())) + u32le(static_cast<uint32_t>(data.size())) +
           u16le(static_cast<uint16_t>(name.size())) + u16le(0) + name + data;
    cd += u32le(0x02014b50) + u16le(20) + u16le(20) + u16le(0) + u16le(method) + u32le(0) + u32le(0) +
          u32le(static_cast<uint32_t>(data.size())) + u32le(static_cast<uint32_t>(data.size())) +
          u16le(static_cast<uint16_t>(name.size())) + u16le(0) + u16le(0) + u16le(0) + u16le(0) + u32le(0) +
          u32le(offset) + name;
  }
  uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += cd;
  out += u32le(0x06054b50) + u16le(0) + u16le(0) + u16le(static_cast<uint16_t>(entries.size())) +
         u16le(static_cast<uint16_t>(entries.size())) + u32le(static_cast<uint32_t>(cd.size())) + u32le(cd_offset) +
         u16le(0);
  return out;
}

std::string ustr(const std::string& s) { return "X" + u32le(static_cast<uint32_t>(s.size())) + s; }
std::string small_int(int v) { return "K" + std::string(1, static_cast<char>(v)); }
std::string int_tuple(const std::vector<int>& v) {
  std::string s = "(";
  for (int x : v) s += small_int(x);
  return s + "t";
}

// The pickle of one tensor: _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict()).
std::string tensor_pickle(const std::string& storage_type, const std::string& key, int numel, int offset,
                          const std::vector<int>& size, const std::vector<int>& stride) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + ustr("storage") + "ctorch\n" + storage_type + "\n" + ustr(key) +
         ustr("cpu") + small_int(numel) + "tQ" + small_int(offset) + int_tuple(size) + int_tuple(stride) +
         "\x89" "ccollections\nOrderedDict\n)RtR";
}

// A dict pickle from (key pickle, value pickle) pairs.
std::string dict_pickle(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string s = "\x80\x02}q\x00("s;
  for (const auto& [k, v] : items) s += k + v;
  return s + "u.";
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

class TorchSave : public ::testing::Test {
 protected:
  TorchSaveReader load(const std::string& bytes) {
    write_bytes(path_, bytes);
    return TorchSaveReader::open(path_);
  }
  TempDir dir_;
  std::string path_ = dir_.file("t.bin");
};

}  // namespace

TEST_F(TorchSave, ReadsTheBmcookStateDictFixture) {
  // An OrderedDict with _metadata, as Module.state_dict() and bmtrain.save give: what
  // torch::pickle_load cannot read.
  auto r = TorchSaveReader::open(std::string(COOK_TEST_DATA_DIR) + "/bmcook/gptj-tiny-gelu.bin");
  ASSERT_EQ(r.tensors().size(), 25u);
  EXPECT_EQ(r.tensors()[0].name, "input_embedding.weight");
  EXPECT_EQ(r.tensors()[24].name, "lm_head.bias");
  for (size_t k = 0; k < r.tensors().size(); ++k) {
    const auto& t = r.tensors()[k];
    EXPECT_EQ(t.dtype, DType::F16) << t.name;
    EXPECT_TRUE(t.is_contiguous()) << t.name;
    // make_bmcook_fixture.py: element j of tensor k is k + (j % 16) / 16.
    auto* h = reinterpret_cast<const uint16_t*>(t.data());
    for (int64_t j = 0; j < t.numel(); j += 5)
      ASSERT_EQ(half_to_float(h[j]), static_cast<float>(k) + static_cast<float>(j % 16) / 16) << t.name << " " << j;
  }
  EXPECT_EQ(r.tensors()[24].shape, (std::vector<int64_t>{1, 32, 1}));
  EXPECT_EQ(r.tensors()[7].name, "dec_layers.0.ff.fc_in_weight");
  EXPECT_EQ(r.tensors()[7].shape, (std::vector<int64_t>{16, 8}));
  ASSERT_TRUE(r.mapping());
  for (const auto& t : r.tensors()) EXPECT_TRUE(r.mapping()->data() <= t.data());  // aliases the mapping
}

TEST_F(TorchSave, ReadsAPlainDict) {
  auto r = TorchSaveReader::open(std::string(COOK_TEST_DATA_DIR) + "/bmcook/gptj-tiny-relu.bin");
  EXPECT_EQ(r.tensors().size(), 25u);
}

TEST_F(TorchSave, StridesOffsetsAndSharedStorages) {
  std::string pkl = dict_pickle({{ustr("full"), tensor_pickle("FloatStorage", "0", 6, 0, {2, 3}, {3, 1})},
                                 {ustr("transposed"), tensor_pickle("FloatStorage", "0", 6, 0, {3, 2}, {1, 3})},
                                 {ustr("row1"), tensor_pickle("FloatStorage", "0", 6, 3, {3}, {1})},
                                 {ustr("ints"), tensor_pickle("LongStorage", "1", 2, 0, {2}, {1})}});
  std::string ints(16, '\0');
  ints[0] = 7;
  ints[8] = 9;
  auto r = load(make_zip({{"archive/data.pkl", pkl}, {"archive/byteorder", "little"},
                          {"archive/data/0", floats({0, 1, 2, 3, 4, 5})}, {"archive/data/1", ints}}));
  ASSERT_EQ(r.tensors().size(), 4u);
  const auto& tr = r.tensors()[1];
  EXPECT_EQ(tr.strides, (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_TRUE(r.tensors()[0].is_contiguous());
  EXPECT_EQ(r.tensors()[0].storage, tr.storage);  // one storage, two views
  EXPECT_EQ(reinterpret_cast<const float*>(r.tensors()[2].data())[0], 3.0f);
  EXPECT_EQ(r.tensors()[3].dtype, DType::I64);
  EXPECT_EQ(reinterpret_cast<const int64_t*>(r.tensors()[3].data())[1], 9);
}

TEST_F(TorchSave, NotTorchSave) {
  expect_error([&] { load(""); }, {path_, "not a torch.save zip"});
  expect_error([&] { load("\x80\x02}q\x00."s); }, {path_, "legacy"});
  expect_error([&] { load("PK\x03\x04 and then nothing"); }, {path_, "not a zip archive", "truncated"});
  expect_error([&] { load(make_zip({{"something.txt", "hello"}})); }, {path_, "data.pkl"});
}

TEST_F(TorchSave, TruncatedArchive) {
  std::string z = make_zip({{"archive/data.pkl", dict_pickle({})}});
  expect_error([&] { load(z.substr(0, z.size() - 3)); }, {path_, "truncated"});
  expect_error([&] { load(z.substr(0, 20) + z.substr(z.size() - 22)); }, {path_});
}

TEST_F(TorchSave, CompressedEntry) {
  expect_error([&] { load(make_zip({{"archive/data.pkl", dict_pickle({})}}, /*method=*/8)); },
               {path_, "entry 'archive/data.pkl'", "compressed"});
}

TEST_F(TorchSave, MissingStorageRecord) {
  std::string pkl = dict_pickle({{ustr("w"), tensor_pickle("FloatStorage", "5", 2, 0, {2}, {1})}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}})); }, {path_, "storage '5'", "archive/data/5"});
}

TEST_F(TorchSave, StorageSmallerThanClaimed) {
  std::string pkl = dict_pickle({{ustr("w"), tensor_pickle("FloatStorage", "0", 4, 0, {4}, {1})}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}, {"archive/data/0", floats({1, 2})}})); },
               {path_, "storage '0'", "4 elements", "8 bytes"});
}

TEST_F(TorchSave, TensorOutsideItsStorage) {
  std::string pkl = dict_pickle({{ustr("w"), tensor_pickle("FloatStorage", "0", 4, 2, {3}, {1})}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}, {"archive/data/0", floats({1, 2, 3, 4})}})); },
               {path_, "storage '0'", "reaches element 4 of 4"});
}

TEST_F(TorchSave, UnsupportedStorageType) {
  std::string pkl = dict_pickle({{ustr("w"), tensor_pickle("ComplexFloatStorage", "0", 1, 0, {1}, {1})}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}, {"archive/data/0", floats({1, 2})}})); },
               {path_, "ComplexFloatStorage", "not supported"});
}

TEST_F(TorchSave, ValueThatIsNotATensor) {
  std::string pkl = dict_pickle({{ustr("step"), small_int(3)}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}})); }, {path_, "entry 'step'", "int, not a tensor"});
  std::string list = "\x80\x02](K\x01" "e.";
  expect_error([&] { load(make_zip({{"archive/data.pkl", list}})); }, {path_, "list, not a dict"});
  std::string intkey = dict_pickle({{small_int(1), tensor_pickle("FloatStorage", "0", 1, 0, {1}, {1})}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", intkey}, {"archive/data/0", floats({1})}})); },
               {path_, "key is a int"});
}

TEST_F(TorchSave, DuplicateName) {
  std::string t = tensor_pickle("FloatStorage", "0", 1, 0, {1}, {1});
  std::string pkl = dict_pickle({{ustr("w"), t}, {ustr("w"), t}});
  expect_error([&] { load(make_zip({{"archive/data.pkl", pkl}, {"archive/data/0", floats({1})}})); },
               {path_, "entry 'w'", "twice"});
}

TEST_F(TorchSave, MalformedPickles) {
  auto with = [&](const std::string& pkl) { return make_zip({{"archive/data.pkl", pkl}}); };
  expect_error([&] { load(with("\x80\x02}q\x00("s)); }, {path_, "data.pkl", "without a STOP"});
  expect_error([&] { load(with("\x80\x02u.")); }, {path_, "data.pkl", "no MARK"});
  expect_error([&] { load(with("\x80\x02h\x05.")); }, {path_, "data.pkl", "memo entry 5"});
  expect_error([&] { load(with("\x80\x02R.")); }, {path_, "data.pkl", "underflow"});
  expect_error([&] { load(with("\x80\x02\xff.")); }, {path_, "data.pkl", "opcode 0xff at byte 2"});
  expect_error([&] { load(with("\x80\x02X\xff\xff\x00\x00" "abc."s)); }, {path_, "data.pkl", "truncated"});
  expect_error([&] { load(with("\x80\x02" "cos\nsystem\n.")); }, {path_, "global, not a dict"});
  expect_error([&] { load(with("\x80\x02(K\x01K\x02" "d.")); }, {path_, "key is a int"});
}

TEST_F(TorchSave, BigEndianFilesAreRefused) {
  expect_error([&] { load(make_zip({{"archive/data.pkl", dict_pickle({})}, {"archive/byteorder", "big"}})); },
               {path_, "byteorder 'big'"});
}

TEST(Zip, FindsEntriesAndRejectsDuplicates) {
  std::string z = make_zip({{"a/one", "1"}, {"a/two", "22"}});
  auto zip = ZipArchive::parse(reinterpret_cast<const uint8_t*>(z.data()), z.size(), "mem.zip");
  ASSERT_EQ(zip.entries().size(), 2u);
  const auto* e = zip.find("a/two");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(zip.data(*e)), e->size), "22");
  EXPECT_EQ(zip.find("a/three"), nullptr);
  std::string dup = make_zip({{"x", "1"}, {"x", "2"}});
  expect_error([&] { ZipArchive::parse(reinterpret_cast<const uint8_t*>(dup.data()), dup.size(), "dup.zip"); },
               {"dup.zip", "entry 'x'", "twice"});
}

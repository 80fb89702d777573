#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "cook/io/mapped_file.h"
#include "cook/io/safetensors.h"
#include "io_test_util.h"

using namespace cook::io;
using cook::io::testing::expect_error;
using cook::io::testing::raw_safetensors;
using cook::io::testing::read_bytes;
using cook::io::testing::TempDir;
using cook::io::testing::write_bytes;

namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TensorToWrite tensor(const std::string& name, DType dt, std::vector<int64_t> shape, const std::vector<uint8_t>& bytes) {
  TensorToWrite t;
  t.name = name;
  t.dtype = dt;
  t.shape = std::move(shape);
  t.data = bytes.data();
  t.nbytes = bytes.size();
  return t;
}

// A valid two-tensor header with F32 "a" [2] (8 bytes) then "b" [2] (8 bytes).
const std::string kGoodHeader =
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";

}  // namespace

TEST(Safetensors, DTypeTable) {
  const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  const size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(dtype_size(all[i]), sizes[i]) << dtype_name(all[i]);
    EXPECT_EQ(dtype_from_name(dtype_name(all[i])), all[i]);
  }
  EXPECT_FALSE(dtype_from_name("F8_E4M3").has_value());
  EXPECT_FALSE(dtype_from_name("f32").has_value());
}

TEST(Safetensors, RoundTripEveryDTypeAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  std::vector<std::vector<uint8_t>> data;
  std::vector<TensorToWrite> ts;
  for (size_t i = 0; i < 10; ++i) {
    std::vector<int64_t> shape = {2, static_cast<int64_t>(i + 1), 3};
    size_t n = 2 * (i + 1) * 3 * dtype_size(all[i]);
    data.push_back(pattern(n, static_cast<uint8_t>(i)));
    if (all[i] == DType::BOOL)
      for (auto& b : data.back()) b &= 1;
  }
  for (size_t i = 0; i < 10; ++i)
    ts.push_back(tensor(std::string("t.") + dtype_name(all[i]), all[i], {2, static_cast<int64_t>(i + 1), 3}, data[i]));
  // Scalars and empty tensors round-trip too.
  std::vector<uint8_t> scalar = pattern(4, 99), empty;
  ts.push_back(tensor("scalar", DType::F32, {}, scalar));
  ts.push_back(tensor("empty", DType::F16, {0, 5}, empty));
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"cook.note", "héllo \"quoted\"\n"}};
  write_safetensors(path, ts, meta);

  auto r = SafetensorsReader::open(path);
  EXPECT_EQ(r.metadata(), meta);
  ASSERT_EQ(r.size(), ts.size());
  EXPECT_EQ(r.data_area_offset() % 8, 0u);
  for (size_t i = 0; i < ts.size(); ++i) {
    const TensorInfo& t = r.at(ts[i].name);
    EXPECT_EQ(t.dtype, ts[i].dtype) << ts[i].name;
    EXPECT_EQ(t.shape, ts[i].shape) << ts[i].name;
    ASSERT_EQ(t.nbytes(), ts[i].nbytes) << ts[i].name;
    if (t.nbytes() > 0) EXPECT_EQ(std::memcmp(r.data(t), ts[i].data, t.nbytes()), 0) << ts[i].name;
    // The data points into the mapping, in the order written.
    EXPECT_TRUE(r.mapping()->contains(r.data(t), t.nbytes()));
    EXPECT_EQ(r.tensors()[i].name, ts[i].name);
  }
  EXPECT_EQ(r.at("scalar").numel(), 1);
  EXPECT_EQ(r.at("empty").numel(), 0);
}

TEST(Safetensors, ProducerStreamsPieces) {
  TempDir dir;
  const std::string path = dir.file("p.safetensors");
  std::vector<uint8_t> direct = pattern(12, 1), produced = pattern(4000, 2);
  std::vector<TensorToWrite> ts = {tensor("direct", DType::I32, {3}, direct)};
  TensorToWrite p;
  p.name = "produced";
  p.dtype = DType::U8;
  p.shape = {1000, 4};
  p.nbytes = produced.size();
  int calls = 0;
  p.produce = [&](const TensorToWrite::Sink& sink) {
    ++calls;
    sink(produced.data(), 1000);
    sink(produced.data() + 1000, 3000);
  };
  ts.push_back(p);
  write_safetensors(path, ts);
  EXPECT_EQ(calls, 1);
  auto r = SafetensorsReader::open(path);
  EXPECT_TRUE(r.metadata().empty());
  EXPECT_EQ(std::memcmp(r.data(r.at("produced")), produced.data(), produced.size()), 0);
  EXPECT_EQ(std::memcmp(r.data(r.at("direct")), direct.data(), direct.size()), 0);
}

TEST(Safetensors, ProducerGivingTheWrongCountFailsAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("p.safetensors");
  std::vector<uint8_t> bytes = pattern(16, 3);
  TensorToWrite p;
  p.name = "short";
  p.dtype = DType::F32;
  p.shape = {4};
  p.nbytes = 16;
  p.produce = [&](const TensorToWrite::Sink& sink) { sink(bytes.data(), 8); };
  expect_error([&] { write_safetensors(path, {p}); }, {path, "'short'", "8 bytes"});
  p.produce = [&](const TensorToWrite::Sink& sink) {
    sink(bytes.data(), 16);
    sink(bytes.data(), 1);
  };
  expect_error([&] { write_safetensors(path, {p}); }, {path, "'short'", "more than"});
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // no temporary left behind
}

TEST(Safetensors, WriterRejectsBadTensorsBeforeWriting) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  std::vector<uint8_t> b8 = pattern(8, 0);
  expect_error([&] { write_safetensors(path, {tensor("x", DType::F32, {3}, b8)}); }, {path, "'x'", "needs 12"});
  expect_error([&] { write_safetensors(path, {tensor("x", DType::F32, {-2}, b8)}); }, {path, "'x'", "negative"});
  expect_error([&] { write_safetensors(path, {tensor("x", DType::U8, {8}, b8), tensor("x", DType::U8, {8}, b8)}); },
               {path, "'x'", "twice"});
  expect_error([&] { write_safetensors(path, {tensor("bad\xff", DType::U8, {8}, b8)}); }, {path, "bad\\xff", "UTF-8"});
  expect_error([&] { write_safetensors(path, {tensor("", DType::U8, {8}, b8)}); }, {path, "empty name"});
  expect_error([&] { write_safetensors(path, {tensor("__metadata__", DType::U8, {8}, b8)}); }, {path, "__metadata__"});
  expect_error([&] { write_safetensors(path, {}, {{"k", "\xc3"}}); }, {path, "'k'", "UTF-8"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Safetensors, HeaderIsPaddedAndNamesAreEscaped) {
  std::vector<uint8_t> b = pattern(3, 0);
  for (int len = 1; len < 12; ++len) {
    std::string name(static_cast<size_t>(len), 'n');
    name[0] = '"';  // needs escaping in JSON
    if (len > 2) name[1] = '\\';
    std::string file = safetensors_header({tensor(name, DType::U8, {3}, b)}, {}, "mem");
    EXPECT_EQ(file.size() % 8, 0u) << len;
    file.append(reinterpret_cast<const char*>(b.data()), b.size());
    auto r = SafetensorsReader::parse(file.data(), file.size(), "mem");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r.tensors()[0].name, name);
    EXPECT_EQ(r.data_area_offset() % 8, 0u);
  }
}

TEST(Safetensors, ParsesCallerBuffer) {
  std::vector<uint8_t> b = pattern(6, 5);
  std::string file = safetensors_header({tensor("x", DType::I16, {3}, b)}, {{"m", "v"}}, "mem");
  file.append(reinterpret_cast<const char*>(b.data()), b.size());
  auto r = SafetensorsReader::parse(file.data(), file.size(), "buffer");
  EXPECT_EQ(r.path(), "buffer");
  EXPECT_EQ(r.mapping(), nullptr);
  EXPECT_EQ(r.at("x").shape, std::vector<int64_t>{3});
  EXPECT_EQ(std::memcmp(r.data(r.at("x")), b.data(), 6), 0);
  EXPECT_EQ(r.metadata().at("m"), "v");
}

TEST(Safetensors, MissingTensorNamesFileAndNearestNames) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  std::vector<uint8_t> b = pattern(4, 0);
  write_safetensors(path, {tensor("blocks.0.attn.q_proj.weight", DType::U8, {4}, b),
                           tensor("blocks.0.attn.k_proj.weight", DType::U8, {4}, b),
                           tensor("embed.weight", DType::U8, {4}, b)});
  auto r = SafetensorsReader::open(path);
  EXPECT_EQ(r.find("blocks.0.attn.v_proj.weight"), nullptr);
  std::string msg = expect_error([&] { r.at("blocks.0.attn.v_proj.weight"); },
                                 {path, "'blocks.0.attn.v_proj.weight'", "nearest", "'blocks.0.attn.q_proj.weight'"});
  // Nearest first: the two attention names come before the embedding.
  EXPECT_LT(msg.find("k_proj"), msg.find("embed.weight"));
}

// ---- bad inputs: each error names the file and, where there is one, the tensor ----------------

class BadSafetensors : public ::testing::Test {
 protected:
  std::string load(const std::string& bytes) {
    write_bytes(path_, bytes);
    SafetensorsReader::open(path_);
    return {};
  }
  TempDir dir_;
  std::string path_ = dir_.file("bad.safetensors");
};

TEST_F(BadSafetensors, EmptyFile) {
  expect_error([&] { load(""); }, {path_, "0 bytes", "truncated"});
}

TEST_F(BadSafetensors, ShorterThanTheLengthPrefix) {
  expect_error([&] { load(std::string("\x10\x00\x00", 3)); }, {path_, "3 bytes", "truncated"});
}

TEST_F(BadSafetensors, TruncatedInTheDataArea) {
  std::string good = raw_safetensors(kGoodHeader, std::string(16, 'x'));
  SafetensorsReader::parse(good.data(), good.size(), "good");  // the untruncated file is fine
  expect_error([&] { load(good.substr(0, good.size() - 5)); }, {path_, "'b'", "run past the end", "truncated"});
}

TEST_F(BadSafetensors, TruncatedInTheHeader) {
  std::string good = raw_safetensors(kGoodHeader, std::string(16, 'x'));
  expect_error([&] { load(good.substr(0, 20)); }, {path_, "header length", "past the end", "truncated"});
}

TEST_F(BadSafetensors, HeaderLengthPastEnd) {
  expect_error([&] { load(cook::io::testing::le64(1000) + "{}"); }, {path_, "header length 1000", "past the end"});
}

TEST_F(BadSafetensors, HeaderLengthAbsurd) {
  expect_error([&] { load(cook::io::testing::le64(~0ull) + "{}"); }, {path_, "over the limit"});
}

TEST_F(BadSafetensors, HeaderLengthTooShort) {
  expect_error([&] { load(cook::io::testing::le64(0)); }, {path_, "too short"});
}

TEST_F(BadSafetensors, OffsetsOutsideTheDataArea) {
  std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(16, 'x'))); }, {path_, "'w'", "[4, 20]", "past the end"});
}

TEST_F(BadSafetensors, OffsetsEndBeforeBegin) {
  std::string h = R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(16, 'x'))); }, {path_, "'w'", "end before"});
}

TEST_F(BadSafetensors, SizeDisagreesWithShapeTimesDType) {
  std::string h = R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(16, 'x'))); },
               {path_, "'w'", "16 bytes", "[2, 3]", "F32", "needs 24"});
}

TEST_F(BadSafetensors, Overlap) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(12, 'x'))); }, {path_, "'b'", "overlap", "'a'"});
}

TEST_F(BadSafetensors, HoleInTheDataArea) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(20, 'x'))); }, {path_, "'b'", "[8, 12)", "unused"});
}

TEST_F(BadSafetensors, TrailingBytes) {
  expect_error([&] { load(raw_safetensors(kGoodHeader, std::string(24, 'x'))); }, {path_, "24 bytes", "cover only 16"});
}

TEST_F(BadSafetensors, UnknownDType) {
  std::string h = R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(2, 'x'))); }, {path_, "'w'", "unknown dtype 'F8_E4M3'", "BF16"});
}

TEST_F(BadSafetensors, DTypeNotAString) {
  std::string h = R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})";
  expect_error([&] { load(raw_safetensors(h, std::string(8, 'x'))); }, {path_, "'w'", "dtype", "not a string"});
}

TEST_F(BadSafetensors, BadJson) {
  std::string h = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";  // one brace short
  expect_error([&] { load(raw_safetensors(h, std::string(8, 'x'))); }, {path_, "not valid JSON"});
}

TEST_F(BadSafetensors, HeaderNotAnObject) {
  expect_error([&] { load(raw_safetensors("[1, 2]  ", "")); }, {path_, "array", "not an object"});
}

TEST_F(BadSafetensors, NonUtf8Name) {
  std::string h = "{\"we\xff" "ird\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "tensor \"we\\xffird\"", "not valid UTF-8"});
}

TEST_F(BadSafetensors, OverlongUtf8Name) {
  // "/" encoded in two bytes (C0 AF) is an overlong form, not UTF-8.
  std::string h = "{\"a\xc0\xaf\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "a\\xc0\\xaf", "not valid UTF-8"});
}

TEST_F(BadSafetensors, EscapedLoneSurrogateName) {
  std::string h = R"({"a\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "not valid JSON"});
}

TEST_F(BadSafetensors, DuplicateName) {
  std::string h = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                  R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  expect_error([&] { load(raw_safetensors(h, "xy")); }, {path_, "'w'", "twice"});
}

TEST_F(BadSafetensors, DuplicateKeyInsideAnEntry) {
  std::string h = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"shape":[2]}})";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "'w'", "'shape'", "twice"});
}

TEST_F(BadSafetensors, NegativeDimension) {
  std::string h = R"({"w":{"dtype":"U8","shape":[-1,2],"data_offsets":[0,0]}})";
  expect_error([&] { load(raw_safetensors(h, "")); }, {path_, "'w'", "-1", "non-negative"});
}

TEST_F(BadSafetensors, FractionalDimension) {
  std::string h = R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "'w'", "1.5"});
}

TEST_F(BadSafetensors, ShapeOverflow) {
  std::string h = R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
  expect_error([&] { load(raw_safetensors(h, "")); }, {path_, "'w'", "overflow"});
  std::string h2 = R"({"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})";  // 2^61 × 8
  expect_error([&] { load(raw_safetensors(h2, "")); }, {path_, "'w'", "overflow"});
}

TEST_F(BadSafetensors, DataOffsetsMalformed) {
  std::string h = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "'w'", "data_offsets", "two non-negative"});
  std::string h2 = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})";
  expect_error([&] { load(raw_safetensors(h2, "x")); }, {path_, "'w'", "two non-negative"});
}

TEST_F(BadSafetensors, MissingAndUnknownKeys) {
  expect_error([&] { load(raw_safetensors(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", "x")); }, {path_, "'w'", "no dtype"});
  expect_error([&] { load(raw_safetensors(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", "x")); }, {path_, "'w'", "no shape"});
  expect_error([&] { load(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1]}})", "x")); }, {path_, "'w'", "no data_offsets"});
  expect_error([&] { load(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}})", "x")); },
               {path_, "'w'", "unknown key 'x'"});
  expect_error([&] { load(raw_safetensors(R"({"w":[1]})", "x")); }, {path_, "'w'", "not an object"});
}

TEST_F(BadSafetensors, MetadataMustMapStringsToStrings) {
  expect_error([&] { load(raw_safetensors(R"({"__metadata__":{"n":1}})", "")); }, {path_, "__metadata__ 'n'", "not a string"});
  expect_error([&] { load(raw_safetensors(R"({"__metadata__":"x"})", "")); }, {path_, "__metadata__", "not an object"});
}

TEST_F(BadSafetensors, NestingTooDeep) {
  std::string h = R"({"w":{"dtype":"U8","shape":[[[[1]]]],"data_offsets":[0,1]}})";
  expect_error([&] { load(raw_safetensors(h, "x")); }, {path_, "'w'", "nested"});
  std::string deep = "{\"w\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expect_error([&] { load(raw_safetensors(deep, "")); }, {path_, "nested"});
}

TEST_F(BadSafetensors, NotAFile) {
  expect_error([&] { SafetensorsReader::open(dir_.path()); }, {dir_.path(), "folder"});
  expect_error([&] { SafetensorsReader::open(dir_.file("absent.safetensors")); }, {"absent.safetensors", "cannot open"});
}

#include <gtest/gtest.h>

#include <cstring>

#include "cook/io/safetensors.h"
#include "io_test_util.h"

using namespace cook::io;
using cook::io::testing::expect_error;
using cook::io::testing::TempDir;
using cook::io::testing::write_bytes;

namespace {

void write_shard(const std::string& path, const std::vector<std::string>& names, uint8_t fill) {
  static std::vector<uint8_t> bytes;
  bytes.assign(names.size() * 4, fill);
  std::vector<TensorToWrite> ts;
  for (size_t i = 0; i < names.size(); ++i) {
    TensorToWrite t;
    t.name = names[i];
    t.dtype = DType::U8;
    t.shape = {4};
    t.data = bytes.data() + 4 * i;
    t.nbytes = 4;
    ts.push_back(t);
  }
  write_safetensors(path, ts);
}

}  // namespace

TEST(Sharded, OpensEachShardOnceAndFindsEveryTensor) {
  TempDir dir;
  write_shard(dir.file("model-00001-of-00002.safetensors"), {"a", "b"}, 1);
  write_shard(dir.file("model-00002-of-00002.safetensors"), {"c", "extra"}, 2);
  write_bytes(dir.file("model.safetensors.index.json"),
              R"({"metadata": {"total_size": 12, "format": "pt"},
                  "weight_map": {"a": "model-00001-of-00002.safetensors",
                                 "b": "model-00001-of-00002.safetensors",
                                 "c": "model-00002-of-00002.safetensors"}})");
  auto s = ShardedSafetensors::open(dir.file("model.safetensors.index.json"));
  EXPECT_EQ(s.shards().size(), 2u);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b", "c"}));  // "extra" is not in weight_map
  EXPECT_EQ(s.metadata().at("total_size"), "12");
  EXPECT_EQ(s.metadata().at("format"), "pt");
  auto c = s.at("c");
  EXPECT_EQ(c.shard->path(), dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(c.shard->data(*c.info)[0], 2);
  EXPECT_EQ(s.at("a").shard, s.at("b").shard);
  EXPECT_FALSE(s.find("extra").has_value());
  expect_error([&] { s.at("d"); }, {dir.file("model.safetensors.index.json"), "'d'", "nearest"});
}

TEST(Sharded, TensorMissingFromItsShard) {
  TempDir dir;
  write_shard(dir.file("s1.safetensors"), {"a"}, 1);
  write_bytes(dir.file("index.json"), R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  expect_error([&] { ShardedSafetensors::open(dir.file("index.json")); },
               {dir.file("index.json"), "'b'", "s1.safetensors", "does not hold it"});
}

TEST(Sharded, MissingShardNamesTheShard) {
  TempDir dir;
  write_bytes(dir.file("index.json"), R"({"weight_map": {"a": "gone.safetensors"}})");
  expect_error([&] { ShardedSafetensors::open(dir.file("index.json")); }, {"gone.safetensors", "cannot open"});
}

TEST(Sharded, BadIndex) {
  TempDir dir;
  std::string idx = dir.file("index.json");
  write_bytes(idx, "{not json");
  expect_error([&] { ShardedSafetensors::open(idx); }, {idx, "not valid JSON"});
  write_bytes(idx, R"({"metadata": {}})");
  expect_error([&] { ShardedSafetensors::open(idx); }, {idx, "weight_map"});
  write_bytes(idx, R"({"weight_map": {"a": 3}})");
  expect_error([&] { ShardedSafetensors::open(idx); }, {idx, "'a'", "not a file name"});
  write_bytes(idx, R"({"weight_map": {"a": "../outside.safetensors"}})");
  expect_error([&] { ShardedSafetensors::open(idx); }, {idx, "'a'", "inside the checkpoint folder"});
  write_bytes(idx, R"({"weight_map": {"a": "/etc/passwd"}})");
  expect_error([&] { ShardedSafetensors::open(idx); }, {idx, "'a'", "inside the checkpoint folder"});
}

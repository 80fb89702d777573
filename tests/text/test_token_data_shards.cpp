// Token shards, manifest and the memory-mapped dataset: round trips and every way a folder can be
// broken.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cook/text/token_dataset.h"
#include "cook/text/token_shards.h"
#include "test_token_data_util.h"

namespace cook::text {
namespace {

using namespace test_util;
namespace fs = std::filesystem;

std::vector<int64_t> flatten(const std::vector<std::vector<int32_t>>& docs) {
  std::vector<int64_t> all;
  for (const auto& d : docs) all.insert(all.end(), d.begin(), d.end());
  return all;
}

TEST(TokenShards, DtypeFollowsVocabulary) {
  EXPECT_EQ(dtype_for_vocab(50257), TokenDtype::uint16);
  EXPECT_EQ(dtype_for_vocab(65536), TokenDtype::uint16);
  EXPECT_EQ(dtype_for_vocab(65537), TokenDtype::uint32);
  EXPECT_EQ(dtype_size(TokenDtype::uint16), 2);
  EXPECT_EQ(dtype_size(TokenDtype::uint32), 4);
  EXPECT_HAS(error_of([] { parse_dtype("int8", "x.json: field 'dtype'"); }), "field 'dtype'");
}

TEST(TokenShards, WriterCutsShardsAndIndexesDocuments) {
  TempDir dir;
  const auto train = counting_docs({5, 7, 1, 12});  // 25 tokens
  const auto valid = counting_docs({3, 4}, 1000, 500);
  const TokenManifest m = write_splits(dir.path(), train, valid, /*shard_tokens=*/10);

  const SplitInfo& t = m.splits.at(kTrainSplit);
  EXPECT_EQ(t.tokens, 25);
  EXPECT_EQ(t.documents, 4);
  ASSERT_EQ(t.shards.size(), 3u);
  EXPECT_EQ(t.shards[0].file, "train-00000.tokens");
  EXPECT_EQ(t.shards[0].tokens, 10);
  EXPECT_EQ(t.shards[1].tokens, 10);
  EXPECT_EQ(t.shards[2].tokens, 5);
  EXPECT_EQ(fs::file_size(dir / "train-00002.tokens"), 10u);  // 5 uint16 ids
  EXPECT_EQ(fs::file_size(dir / "train.index"), 5u * 8);

  // The manifest on disk reads back as written.
  const TokenManifest back = TokenManifest::load(dir.path());
  EXPECT_EQ(back.to_json(), m.to_json());

  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  EXPECT_EQ(ds.num_tokens(), 25);
  EXPECT_EQ(ds.num_documents(), 4);
  const std::vector<int64_t> all = flatten(train);
  EXPECT_EQ(ds.read(0, 25), all);
  // A window across two shard boundaries.
  EXPECT_EQ(ds.read(8, 14), std::vector<int64_t>(all.begin() + 8, all.begin() + 22));
  EXPECT_EQ(ds.document_start(0), 0);
  EXPECT_EQ(ds.document_start(1), 5);
  EXPECT_EQ(ds.document_start(2), 12);
  EXPECT_EQ(ds.document_start(3), 13);
  EXPECT_EQ(ds.document_start(4), 25);
  EXPECT_NO_THROW(ds.verify());

  const TokenDataset vs = TokenDataset::open(dir.path(), kValidationSplit);
  EXPECT_EQ(vs.num_tokens(), 7);
  EXPECT_EQ(vs.read(0, 7), flatten(valid));
}

TEST(TokenShards, Uint32WhenTheVocabularyNeedsIt) {
  TempDir dir;
  const std::vector<std::vector<int32_t>> docs = {{0, 70000, 65535, 65536, 99999}};
  const TokenManifest m = write_splits(dir.path(), docs, {}, 4, /*vocab_size=*/100000);
  EXPECT_EQ(m.dtype, TokenDtype::uint32);
  EXPECT_EQ(fs::file_size(dir / "train-00000.tokens"), 16u);
  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  EXPECT_EQ(ds.read(0, 5), (std::vector<int64_t>{0, 70000, 65535, 65536, 99999}));
  // An empty split still opens, holding nothing.
  const TokenDataset vs = TokenDataset::open(dir.path(), kValidationSplit);
  EXPECT_EQ(vs.num_tokens(), 0);
  EXPECT_EQ(vs.num_documents(), 0);
}

TEST(TokenShards, WriterRejectsIdsOutsideTheVocabulary) {
  TempDir dir;
  ShardWriter w(dir.path(), kTrainSplit, TokenDtype::uint16, 100, 10);
  const std::vector<int32_t> ok = {1, 2, 99};
  w.add_document(ok);
  const std::vector<int32_t> bad = {1, 100};
  EXPECT_HAS(error_of([&] { w.add_document(bad); }), "id 100 is outside the vocabulary [0, 100)");
  const std::vector<int32_t> negative = {-1};
  EXPECT_HAS(error_of([&] { w.add_document(negative); }), "id -1");
  EXPECT_HAS(error_of([&] { ShardWriter(dir.path(), kTrainSplit, TokenDtype::uint16, 70000, 10); }),
             "uint16 cannot hold");
}

TEST(TokenShards, ReadOutOfRangeIsAnError) {
  TempDir dir;
  write_splits(dir.path(), counting_docs({10}), {}, 100);
  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  EXPECT_HAS(error_of([&] { ds.read(5, 6); }), "cannot read tokens [5, 11): the split holds 10");
  EXPECT_HAS(error_of([&] { ds.read(-1, 1); }), "cannot read tokens");
  EXPECT_HAS(error_of([&] { ds.document_start(2); }), "no document 2");
  EXPECT_EQ(ds.read(10, 0).size(), 0u);
}

TEST(TokenShards, IdOutsideTheVocabularyNamesTheShardAndTheToken) {
  TempDir dir;
  write_splits(dir.path(), counting_docs({10}), {}, 100);
  // Token 7 (id 7) with its high byte flipped to 0xFF: id 0xFF07 = 65287, past the vocabulary.
  const std::string shard = dir / "train-00000.tokens";
  std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(7 * 2 + 1);
  f.put(static_cast<char>(0xFF));
  f.close();
  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  EXPECT_EQ(ds.read(0, 7).size(), 7u);  // the tokens before it read as they are
  const std::string e = error_of([&] { ds.read(2, 8); });
  EXPECT_HAS(e, shard);
  EXPECT_HAS(e, "token 7 has id 65287, outside the vocabulary of 1000");
  EXPECT_HAS(error_of([&] { ds.verify(); }), "SHA-256");
}

class BrokenFolder : public ::testing::Test {
 protected:
  void SetUp() override { write_splits(dir.path(), counting_docs({6, 9, 5}), counting_docs({4}), 8); }
  nlohmann::json manifest() { return nlohmann::json::parse(read_text(dir / kManifestFile)); }
  void save(const nlohmann::json& j) { write_text(dir / kManifestFile, j.dump(2)); }
  std::string open_error(const std::string& split = kTrainSplit) {
    return error_of([&] { TokenDataset::open(dir.path(), split); });
  }
  TempDir dir;
};

TEST_F(BrokenFolder, TruncatedShardNamesFileAndField) {
  fs::resize_file(dir / "train-00001.tokens", 15);
  const std::string e = open_error();
  EXPECT_HAS(e, "train-00001.tokens: truncated: 15 bytes");
  EXPECT_HAS(e, "field 'splits.train.shards[1].tokens' = 8");
  EXPECT_HAS(e, "16 bytes");
}

TEST_F(BrokenFolder, LongerShardIsAnErrorToo) {
  write_text(dir / "train-00002.tokens", read_text(dir / "train-00002.tokens") + "xx");
  EXPECT_HAS(open_error(), "train-00002.tokens: longer than the manifest says");
}

TEST_F(BrokenFolder, MissingShardNamesFileAndField) {
  fs::remove(dir / "train-00000.tokens");
  const std::string e = open_error();
  EXPECT_HAS(e, "train-00000.tokens: missing");
  EXPECT_HAS(e, "splits.train.shards[0].file");
}

TEST_F(BrokenFolder, TruncatedIndex) {
  fs::resize_file(dir / "train.index", 16);
  const std::string e = open_error();
  EXPECT_HAS(e, "train.index: truncated");
  EXPECT_HAS(e, "splits.train.documents' = 3");
}

TEST_F(BrokenFolder, ManifestTokenCountThatShardsDoNotHold) {
  auto j = manifest();
  j["splits"]["train"]["tokens"] = 21;
  save(j);
  EXPECT_HAS(open_error(), "field 'splits.train.tokens': 21 but its shards hold 20");
}

TEST_F(BrokenFolder, ManifestShardSizeThatTheFileDoesNotHave) {
  auto j = manifest();
  j["splits"]["train"]["shards"][2]["tokens"] = 5;  // the file holds 4
  j["splits"]["train"]["tokens"] = 21;
  save(j);
  const std::string e = open_error();
  EXPECT_HAS(e, "train-00002.tokens: truncated: 8 bytes");
  EXPECT_HAS(e, "'splits.train.shards[2].tokens' = 5");
}

TEST_F(BrokenFolder, InnerShardSmallerThanShardTokens) {
  auto j = manifest();
  j["shard_tokens"] = 9;
  save(j);
  EXPECT_HAS(open_error(), "field 'splits.train.shards[0].tokens': 8 but every shard except the last");
}

TEST_F(BrokenFolder, IndexThatDisagreesWithTheTokenCount) {
  // Rewrite the index with a last offset that is not the token count.
  std::vector<uint64_t> offsets = {0, 6, 15, 19};
  write_text(dir / "train.index", std::string(reinterpret_cast<const char*>(offsets.data()), offsets.size() * 8));
  EXPECT_HAS(open_error(), "train.index: the last document ends at token 19");
  offsets = {0, 9, 6, 20};
  write_text(dir / "train.index", std::string(reinterpret_cast<const char*>(offsets.data()), offsets.size() * 8));
  EXPECT_HAS(open_error(), "not increasing at entry 2");
}

TEST_F(BrokenFolder, WrongTypesAndMissingFieldsNameTheField) {
  auto j = manifest();
  j["dtype"] = "float32";
  save(j);
  EXPECT_HAS(open_error(), "field 'dtype'");

  write_splits(dir.path(), counting_docs({6, 9, 5}), counting_docs({4}), 8);
  j = manifest();
  j["tokenizer"].erase("vocab_size");
  save(j);
  EXPECT_HAS(open_error(), "manifest.json: field 'tokenizer.vocab_size': missing");

  write_splits(dir.path(), counting_docs({6, 9, 5}), counting_docs({4}), 8);
  j = manifest();
  j["splits"]["validation"]["shards"][0]["tokens"] = "four";
  save(j);
  EXPECT_HAS(open_error(), "field 'splits.validation.shards[0].tokens': expected a non-negative integer");

  write_splits(dir.path(), counting_docs({6, 9, 5}), counting_docs({4}), 8);
  j = manifest();
  j["format_version"] = 99;
  save(j);
  EXPECT_HAS(open_error(), "field 'format_version': version 99 is not supported");

  write_splits(dir.path(), counting_docs({6, 9, 5}), counting_docs({4}), 8);
  j = manifest();
  j["splits"]["train"]["shards"][0]["file"] = "../elsewhere.tokens";
  save(j);
  EXPECT_HAS(open_error(), "not a plain file name");

  write_text(dir / kManifestFile, "{ not json");
  EXPECT_HAS(open_error(), "manifest.json: not valid JSON");
}

TEST_F(BrokenFolder, UnknownSplitAndMissingFolder) {
  EXPECT_HAS(open_error("test"), "no split 'test' (the data has: train, validation)");
  fs::remove(dir / kManifestFile);
  EXPECT_HAS(open_error(), "manifest.json: missing: not a token data folder");
  EXPECT_HAS(error_of([&] { TokenDataset::open(dir / "nowhere", kTrainSplit); }),
             "nowhere: no such token data folder");
}

TEST_F(BrokenFolder, VerifyFindsChangedBytes) {
  {
    const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
    EXPECT_NO_THROW(ds.verify());
  }
  std::string bytes = read_text(dir / "train-00001.tokens");
  bytes[3] ^= 1;  // same size, other content
  write_text(dir / "train-00001.tokens", bytes);
  const TokenDataset ds = TokenDataset::open(dir.path(), kTrainSplit);
  EXPECT_HAS(error_of([&] { ds.verify(); }), "train-00001.tokens: SHA-256");
}

TEST(TokenShards, RemoveTokenDataKeepsOtherFiles) {
  TempDir dir;
  write_splits(dir.path(), counting_docs({30}), counting_docs({4}), 8);
  write_text(dir / "notes.txt", "mine");
  write_text(dir / ".train-00007.tokens.tmp-123-4", "left by a crash");
  remove_token_data(dir.path());
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"notes.txt"});
}

}  // namespace
}  // namespace cook::text

// BMCook's token data, a Megatron MMapIndexedDataset (tests/data/bmcook/megatron, written by
// make_bmcook_files.py as Megatron's builder lays it out), read as a token-data split.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "../common/temp_dir.h"
#include "cook/text/megatron_dataset.h"
#include "cook/text/token_dataset.h"

using namespace cook::text;
using cook::test::bmcook_file;

namespace {

std::vector<int64_t> all_tokens(const TokenDataset& d) { return d.read(0, d.num_tokens()); }

}  // namespace

TEST(MegatronDataset, PrefixFilesAndFolderNameTheSamePair) {
  const std::string prefix = bmcook_file("megatron/tokens");
  EXPECT_EQ(megatron_prefix(prefix), prefix);
  EXPECT_EQ(megatron_prefix(prefix + ".idx"), prefix);
  EXPECT_EQ(megatron_prefix(prefix + ".bin"), prefix);
  EXPECT_EQ(megatron_prefix(bmcook_file("megatron")), prefix);
  EXPECT_EQ(megatron_prefix(bmcook_file("moe")), std::nullopt);
}

TEST(MegatronDataset, DocumentsJoinTheirItemsAndTheLastIsValidation) {
  // items [1..5] [6 7 8] [9..12] [13..18] [19 20 31]; documents: item 0, items 1-2, item 3, item 4
  const TokenDataset train = TokenDataset::open(bmcook_file("megatron"), kTrainSplit);
  EXPECT_TRUE(train.is_megatron());
  EXPECT_EQ(train.num_documents(), 3);
  EXPECT_EQ(train.num_tokens(), 18);
  EXPECT_EQ(train.document_start(1), 5);
  EXPECT_EQ(train.document_start(2), 12);
  std::vector<int64_t> expected(18);
  for (int k = 0; k < 18; ++k) expected[static_cast<size_t>(k)] = k + 1;
  EXPECT_EQ(all_tokens(train), expected);
  EXPECT_EQ(train.manifest().dtype, TokenDtype::uint16);

  const TokenDataset validation = TokenDataset::open(bmcook_file("megatron/tokens"), kValidationSplit);
  EXPECT_EQ(validation.num_documents(), 1);
  EXPECT_EQ(all_tokens(validation), (std::vector<int64_t>{19, 20, 31}));
  EXPECT_EQ(validation.document_start(1), 3);
  cook::test::expect_error([&] { validation.read(1, 3); }, {"cannot read tokens [1, 4)"});
}

TEST(MegatronDataset, SplitRuleKeepsAtLeastOneDocumentEachSide) {
  EXPECT_EQ(megatron_split(100, kValidationSplit, "x").first_document, 97);
  EXPECT_EQ(megatron_split(2, kTrainSplit, "x").end_document, 1);
  EXPECT_EQ(megatron_split(1, kTrainSplit, "x").end_document, 1);
  EXPECT_EQ(megatron_split(1, kValidationSplit, "x").first_document, 0);
  cook::test::expect_error([] { megatron_split(4, "test", "f.idx"); }, {"f.idx", "'test'"});
}

TEST(MegatronDataset, BrokenIndexesAreErrorsNamingTheField) {
  cook::test::TempDir dir;
  const std::string src = bmcook_file("megatron/tokens");
  std::ifstream in(src + ".idx", std::ios::binary);
  const std::string idx((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string prefix = dir.path() + "/t";
  std::filesystem::copy_file(src + ".bin", prefix + ".bin");
  auto write_idx = [&](const std::string& bytes) {
    std::ofstream(prefix + ".idx", std::ios::binary | std::ios::trunc) << bytes;
  };
  std::string bad = idx;
  bad[0] = 'X';
  write_idx(bad);
  cook::test::expect_error([&] { TokenDataset::open(prefix, kTrainSplit); }, {prefix + ".idx", "magic"});
  bad = idx;
  bad[17] = 5;  // int64 ids
  write_idx(bad);
  cook::test::expect_error([&] { TokenDataset::open(prefix, kTrainSplit); }, {"dtype", "code 5"});
  write_idx(idx.substr(0, idx.size() - 8));
  cook::test::expect_error([&] { TokenDataset::open(prefix, kTrainSplit); }, {prefix + ".idx", "need"});
  bad = idx;
  bad[34 + 5 * 4 + 8] = 0;  // pointers[1] no longer follows item 0
  write_idx(bad);
  cook::test::expect_error([&] { TokenDataset::open(prefix, kTrainSplit); }, {"pointers[1]", "back to back"});
}

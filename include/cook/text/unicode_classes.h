// The four character classes GPT-2's pre-tokenizer regex distinguishes, as JavaScript's `/u` regex
// (gpt-3-encoder's Encoder.js) sees them:
//   kLetter  \p{L}  general categories Lu Ll Lt Lm Lo
//   kNumber  \p{N}  general categories Nd Nl No
//   kSpace   \s     ECMAScript WhiteSpace + LineTerminator: U+0009..U+000D, U+0020, U+00A0, U+1680,
//                   U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF (not U+0085)
//   kOther          everything else: punctuation, symbols, marks, controls, unassigned, surrogates
// The table is generated from Debian's UnicodeData.txt by scripts/gen_unicode_classes.py into
// src/text/unicode_class_table.cpp (Unicode 15.0; code points assigned only in later versions
// are kOther here).
#pragma once
#include <cstddef>
#include <cstdint>

namespace cook::text {

enum class CharClass : std::uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

// One run of code points [first, last] of the same class; the generated table is sorted,
// non-overlapping and lists no kOther runs.
struct CharClassRange {
  std::uint32_t first;
  std::uint32_t last;
  CharClass cls;
};

extern const CharClassRange kCharClassRanges[];
extern const std::size_t kCharClassRangeCount;
extern const char kUnicodeClassTableVersion[];  // e.g. "15.0.0"

// The class of any code point (values above U+10FFFF are kOther).
CharClass char_class(std::uint32_t code_point);

// A flat table of the classes of U+0000..U+FFFF (65536 entries), built on first use; the
// pre-tokenizer's fast path.
const CharClass* bmp_char_classes();

}  // namespace cook::text

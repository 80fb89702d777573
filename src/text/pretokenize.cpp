// The GPT-2 pre-tokenizer as a scanner over UTF-8 "units": one well-formed code point, or one byte
// of ill-formed UTF-8 (class kOther). See cook/text/pretokenize.h for the rules it implements.
#include "cook/text/pretokenize.h"

#include <cstdint>

namespace cook::text {
namespace {

struct Unit {
  std::uint32_t len;  // bytes, 1..4
  CharClass cls;
};

inline bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// The unit starting at s[p] (p < n). Well-formed means as in the Unicode standard (Table 3-7): no
// overlong forms, no surrogates, nothing above U+10FFFF.
inline Unit unit_at(const unsigned char* s, std::size_t p, std::size_t n, const CharClass* bmp) {
  const unsigned char b0 = s[p];
  if (b0 < 0x80) return {1, bmp[b0]};
  const std::size_t left = n - p;
  if (b0 < 0xC2) return {1, CharClass::kOther};  // continuation byte or overlong 2-byte lead
  if (b0 < 0xE0) {
    if (left < 2 || !is_continuation(s[p + 1])) return {1, CharClass::kOther};
    return {2, bmp[((b0 & 0x1Fu) << 6) | (s[p + 1] & 0x3Fu)]};
  }
  if (b0 < 0xF0) {
    if (left < 3) return {1, CharClass::kOther};
    const unsigned char b1 = s[p + 1], b2 = s[p + 2];
    if (!is_continuation(b1) || !is_continuation(b2)) return {1, CharClass::kOther};
    if (b0 == 0xE0 && b1 < 0xA0) return {1, CharClass::kOther};  // overlong
    if (b0 == 0xED && b1 > 0x9F) return {1, CharClass::kOther};  // UTF-16 surrogate
    return {3, bmp[((b0 & 0x0Fu) << 12) | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu)]};
  }
  if (b0 < 0xF5) {
    if (left < 4) return {1, CharClass::kOther};
    const unsigned char b1 = s[p + 1], b2 = s[p + 2], b3 = s[p + 3];
    if (!is_continuation(b1) || !is_continuation(b2) || !is_continuation(b3)) return {1, CharClass::kOther};
    if (b0 == 0xF0 && b1 < 0x90) return {1, CharClass::kOther};  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return {1, CharClass::kOther};  // above U+10FFFF
    const std::uint32_t cp = ((b0 & 0x07u) << 18) | ((b1 & 0x3Fu) << 12) | ((b2 & 0x3Fu) << 6) | (b3 & 0x3Fu);
    return {4, char_class(cp)};
  }
  return {1, CharClass::kOther};  // F5..FF never occur in UTF-8
}

// The length of the contraction ('s 't 're 've 'm 'll 'd) at s[p] == '\'', or 0.
inline std::size_t contraction_length(const unsigned char* s, std::size_t p, std::size_t n) {
  if (p + 1 >= n) return 0;
  switch (s[p + 1]) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 2;
    case 'r':
    case 'v':
      return (p + 2 < n && s[p + 2] == 'e') ? 3 : 0;
    case 'l':
      return (p + 2 < n && s[p + 2] == 'l') ? 3 : 0;
    default:
      return 0;
  }
}

}  // namespace

PreTokenizer::PreTokenizer(std::string_view text) : text_(text), bmp_(bmp_char_classes()) {}

bool PreTokenizer::next(std::string_view* piece) {
  const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
  const std::size_t n = text_.size();
  const std::size_t start = pos_;
  if (start >= n) return false;

  std::size_t end = start;
  if (s[start] == '\'') end = start + contraction_length(s, start, n);

  if (end == start) {
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a run of one class, optionally after one space.
    std::size_t p = start;
    Unit u = unit_at(s, p, n, bmp_);
    if (s[p] == ' ' && p + 1 < n) {
      const Unit after = unit_at(s, p + 1, n, bmp_);
      if (after.cls != CharClass::kSpace) {
        p += 1;
        u = after;
      }
    }
    if (u.cls != CharClass::kSpace) {
      const CharClass cls = u.cls;
      p += u.len;
      while (p < n) {
        const Unit v = unit_at(s, p, n, bmp_);
        if (v.cls != cls) break;
        p += v.len;
      }
      end = p;
    } else {
      // `\s+(?!\S)|\s+`: the whitespace run starting here.
      std::size_t last_start = p;
      std::size_t count = 0;
      while (p < n) {
        const Unit v = unit_at(s, p, n, bmp_);
        if (v.cls != CharClass::kSpace) break;
        last_start = p;
        p += v.len;
        ++count;
      }
      if (p == n || count == 1) {
        end = p;
      } else {
        end = last_start;  // leave the last whitespace character for the next piece
      }
    }
  }
  pos_ = end;
  *piece = text_.substr(start, end - start);
  return true;
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  PreTokenizer pre(text);
  std::string_view piece;
  while (pre.next(&piece)) pieces.push_back(piece);
  return pieces;
}

}  // namespace cook::text

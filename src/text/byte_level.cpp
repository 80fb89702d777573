// GPT-2's byte ↔ character alphabet (see cook/text/byte_level.h).
#include "cook/text/byte_level.h"

#include <cstdint>

namespace cook::text {
namespace {

bool stands_for_itself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

std::array<char32_t, 256> build_byte_to_char() {
  std::array<char32_t, 256> table{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) table[b] = stands_for_itself(b) ? char32_t(b) : next++;
  return table;
}

void append_utf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(char(c));
  } else if (c < 0x800) {
    out->push_back(char(0xC0 | (c >> 6)));
    out->push_back(char(0x80 | (c & 0x3F)));
  } else {
    // The alphabet ends at U+0143, but keep the general form for completeness.
    out->push_back(char(0xE0 | (c >> 12)));
    out->push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(char(0x80 | (c & 0x3F)));
  }
}

}  // namespace

const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = build_byte_to_char();
  return table;
}

int char_to_byte(char32_t c) {
  if (c < 0x100) return stands_for_itself(int(c)) ? int(c) : -1;
  if (c > 0x143) return -1;
  // U+0100 + k stands for the k-th byte (in increasing order) that does not stand for itself.
  static const std::array<int, 68> others = [] {
    std::array<int, 68> o{};
    int k = 0;
    for (int b = 0; b < 256; ++b)
      if (!stands_for_itself(b)) o[k++] = b;
    return o;
  }();
  return others[c - 0x100];
}

bool spelling_to_bytes(std::string_view spelling, std::string* bytes) {
  bytes->clear();
  const auto* s = reinterpret_cast<const unsigned char*>(spelling.data());
  const std::size_t n = spelling.size();
  std::size_t i = 0;
  while (i < n) {
    char32_t c;
    if (s[i] < 0x80) {
      c = s[i];
      i += 1;
    } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
      c = char32_t((s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F));
      if (c < 0x80) return false;  // overlong
      i += 2;
    } else {
      return false;  // every alphabet character is at most two UTF-8 bytes
    }
    const int b = char_to_byte(c);
    if (b < 0) return false;
    bytes->push_back(char(b));
  }
  return true;
}

std::string bytes_to_spelling(std::string_view bytes) {
  const auto& table = byte_to_char();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(table[b], &out);
  return out;
}

}  // namespace cook::text

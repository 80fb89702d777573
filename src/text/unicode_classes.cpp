// Lookup of the generated Unicode class ranges: a flat table for the Basic Multilingual Plane and a
// binary search above it.
#include "cook/text/unicode_classes.h"

#include <algorithm>
#include <array>

namespace cook::text {
namespace {

CharClass search_ranges(std::uint32_t cp) {
  const CharClassRange* end = kCharClassRanges + kCharClassRangeCount;
  // The first range whose last code point is >= cp.
  const CharClassRange* it = std::lower_bound(
      kCharClassRanges, end, cp, [](const CharClassRange& r, std::uint32_t v) { return r.last < v; });
  return (it != end && it->first <= cp) ? it->cls : CharClass::kOther;
}

std::array<CharClass, 0x10000> build_bmp_table() {
  std::array<CharClass, 0x10000> table{};
  table.fill(CharClass::kOther);
  for (std::size_t i = 0; i < kCharClassRangeCount; ++i) {
    const CharClassRange& r = kCharClassRanges[i];
    if (r.first > 0xFFFF) break;
    const std::uint32_t last = std::min<std::uint32_t>(r.last, 0xFFFF);
    for (std::uint32_t cp = r.first; cp <= last; ++cp) table[cp] = r.cls;
  }
  return table;
}

}  // namespace

const CharClass* bmp_char_classes() {
  static const std::array<CharClass, 0x10000> table = build_bmp_table();
  return table.data();
}

CharClass char_class(std::uint32_t code_point) {
  if (code_point <= 0xFFFF) return bmp_char_classes()[code_point];
  return search_ranges(code_point);
}

}  // namespace cook::text

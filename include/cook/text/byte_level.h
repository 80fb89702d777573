// GPT-2's byte-level alphabet (bytes_to_unicode in the reference encoder): each of the 256 byte
// values is written as one printable Unicode character, so that vocabulary and merge files can hold
// any byte sequence as text. The printable bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF stand
// for themselves; the other 68 bytes (controls, space, U+00AD, ...) map in order to U+0100..U+0143.
// E.g. the token " the" is spelled "Ġthe" (U+0120 = byte 0x20).
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace cook::text {

// The character that stands for each byte value.
const std::array<char32_t, 256>& byte_to_char();

// The byte a character stands for, or -1 when it is not in the alphabet.
int char_to_byte(char32_t c);

// A vocabulary spelling (UTF-8 text of alphabet characters) → the raw bytes it stands for. Returns
// false, leaving *bytes unspecified, on ill-formed UTF-8 or a character outside the alphabet.
bool spelling_to_bytes(std::string_view spelling, std::string* bytes);

// Raw bytes → their vocabulary spelling (UTF-8).
std::string bytes_to_spelling(std::string_view bytes);

}  // namespace cook::text

// GPT-2 pre-tokenization: splits text into the pieces that BPE then encodes one at a time, exactly
// as gpt-3-encoder's JavaScript regex
//     /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
// does, but with a hand-written scanner instead of a regex engine. At each position the first
// alternative that matches wins:
//   1. an ASCII apostrophe followed by s, t, re, ve, m, ll or d (case-sensitive);
//   2. an optional U+0020 space then a run of letters, or of numbers, or of "other" characters
//      (neither space, letter nor number); the space joins only if such a run follows it;
//   3. a run of whitespace: to the end of the text when nothing follows it; else all of it but its
//      last character when it is two or more characters long (that last one, if it is U+0020,
//      then prefixes the next word); else the single whitespace character.
// Character classes are those of cook/text/unicode_classes.h.
//
// Invalid UTF-8: a byte that does not begin a well-formed UTF-8 sequence (a stray continuation
// byte, an overlong or surrogate form, a truncated sequence, a lead byte F5..FF) is one character
// of class "other" on its own, i.e. it is classed like the U+FFFD a UTF-8 decoder would put in its
// place, so it joins runs of punctuation and symbols. Its raw byte stays in the piece, so BPE gets
// it as a byte token and decoding gives it back unchanged. The pieces always tile the input:
// concatenated they are the text, byte for byte.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

#include "cook/text/unicode_classes.h"

namespace cook::text {

class PreTokenizer {
 public:
  explicit PreTokenizer(std::string_view text);

  // Sets *piece to the next pre-token and returns true; returns false at the end of the text.
  bool next(std::string_view* piece);

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  const CharClass* bmp_;  // bmp_char_classes()
};

// All pre-tokens of `text`, in order (views into `text`).
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace cook::text

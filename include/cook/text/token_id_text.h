// Token ids as text, the form `cook tokenize` prints and `cook detokenize` reads: decimal ids
// separated by whitespace.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cook::text {

// "id id id\n": one line, ids separated by single spaces ("\n" alone for no ids).
std::string format_token_ids(const std::vector<std::int32_t>& ids);

// Reads whitespace-separated decimal ids. Throws cook::Error(where, ...) naming the token's
// position and text when one is not a decimal integer or is outside [0, vocab_size). `where` names
// the input (a file path, or "<stdin>").
std::vector<std::int32_t> parse_token_ids(std::string_view text, const std::string& where, std::int32_t vocab_size);

}  // namespace cook::text

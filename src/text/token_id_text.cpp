// Formatting and parsing of whitespace-separated token ids (see cook/text/token_id_text.h).
#include "cook/text/token_id_text.h"

#include <charconv>

#include "cook/core/error.h"

namespace cook::text {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The token as shown in a message: at most 40 bytes, quoted.
std::string shown(std::string_view token) {
  std::string s(token.substr(0, 40));
  if (token.size() > 40) s += "...";
  return "'" + s + "'";
}

}  // namespace

std::string format_token_ids(const std::vector<std::int32_t>& ids) {
  std::string out;
  out.reserve(ids.size() * 6 + 1);
  char buf[16];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out.push_back(' ');
    const auto r = std::to_chars(buf, buf + sizeof(buf), ids[i]);
    out.append(buf, r.ptr);
  }
  out.push_back('\n');
  return out;
}

std::vector<std::int32_t> parse_token_ids(std::string_view text, const std::string& where, std::int32_t vocab_size) {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 5 + 1);
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    const std::string_view token = text.substr(start, i - start);
    const std::string position = "token " + std::to_string(ids.size() + 1) + " " + shown(token);
    long long value = 0;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), value);
    if (r.ec == std::errc::result_out_of_range) {
      throw Error(where, position + ": id is out of range [0, " + std::to_string(vocab_size) + ")");
    }
    if (r.ec != std::errc() || r.ptr != token.data() + token.size()) {
      throw Error(where, position + ": not an integer token id");
    }
    if (value < 0 || value >= vocab_size) {
      throw Error(where, position + ": id is out of range [0, " + std::to_string(vocab_size) + ")");
    }
    ids.push_back(std::int32_t(value));
  }
  return ids;
}

}  // namespace cook::text

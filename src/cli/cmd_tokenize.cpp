// `cook tokenize [--tokenizer DIR] [FILE]`: prints the GPT-2 token ids of FILE (stdin without FILE)
// as one line of space-separated ids. `cook detokenize [--tokenizer DIR] [FILE]`: reads
// whitespace-separated ids and writes the bytes they stand for.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "cook/cli/commands.h"
#include "cook/core/error.h"
#include "cook/core/input_file.h"
#include "cook/core/paths.h"
#include "cook/text/token_id_text.h"
#include "cook/text/tokenizer.h"

namespace cook::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer = default_tokenizer_dir();
  std::string file;  // empty: stdin
};

// The name used in messages for the input.
std::string input_name(const TokenizeArgs& a) { return a.file.empty() ? "<stdin>" : a.file; }

std::string read_input(const TokenizeArgs& a) {
  if (a.file.empty()) {
    std::ios::sync_with_stdio(false);
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) throw Error("<stdin>", "read failed");
    return text;
  }
  return read_input_file(a.file);  // a folder or a FIFO is refused: pipes come in on stdin
}

text::Tokenizer load_tokenizer(const TokenizeArgs& a) {
  if (!std::filesystem::is_directory(a.tokenizer)) {
    throw Error("--tokenizer", a.tokenizer + ": no such folder (it should hold encoder.json + vocab.bpe, or tokenizer.json)");
  }
  return text::Tokenizer::from_dir(a.tokenizer);
}

void write_stdout(const std::string& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
    throw Error("<stdout>", std::string("write failed: ") + std::strerror(errno));
  }
}

void run_tokenize(const TokenizeArgs& a) {
  const std::string text = read_input(a);
  const text::Tokenizer tokenizer = load_tokenizer(a);
  write_stdout(text::format_token_ids(tokenizer.encode(text)));
}

void run_detokenize(const TokenizeArgs& a) {
  const std::string text = read_input(a);
  const text::Tokenizer tokenizer = load_tokenizer(a);
  write_stdout(tokenizer.decode(text::parse_token_ids(text, input_name(a), tokenizer.vocab_size())));
}

void add_common_options(CLI::App* cmd, TokenizeArgs* a, const char* file_help) {
  cmd->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer folder: encoder.json + vocab.bpe, or a Hugging Face tokenizer.json")
      ->capture_default_str();
  cmd->add_option("file", a->file, file_help);
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tokenize_args = std::make_shared<TokenizeArgs>();
  CLI::App* tokenize = app.add_subcommand(
      "tokenize", "Print the GPT-2 token ids of a text (FILE, or stdin) as one line of space-separated ids");
  add_common_options(tokenize, tokenize_args.get(), "Text file to encode (any bytes; default: stdin)");
  tokenize->callback([tokenize_args] { run_tokenize(*tokenize_args); });

  auto detokenize_args = std::make_shared<TokenizeArgs>();
  CLI::App* detokenize = app.add_subcommand(
      "detokenize", "Read whitespace-separated token ids (FILE, or stdin) and write the text bytes they stand for");
  add_common_options(detokenize, detokenize_args.get(), "File of token ids (default: stdin)");
  detokenize->callback([detokenize_args] { run_detokenize(*detokenize_args); });
}

}  // namespace cook::cli

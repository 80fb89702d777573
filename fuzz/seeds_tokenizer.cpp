// Writes the seed corpus of fuzz_tokenizer. Cook writes no tokenizer files of its own, so the
// seeds are small byte-level BPE vocabularies spelled with Cook's byte-level alphabet
// (cook/text/byte_level.h): the 256 byte tokens, a few merges and <|endoftext|>, as GPT-2's
// encoder.json + vocab.bpe and as a Hugging Face tokenizer.json (merges as strings and as pairs),
// each with a sample text. Usage: seeds_tokenizer <folder>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cook/text/byte_level.h"
#include "seed_main.h"

using nlohmann::json;
using namespace cook::text;

namespace {

struct Vocab {
  json encoder = json::object();
  std::vector<std::pair<std::string, std::string>> merges;
};

Vocab small_vocab() {
  Vocab v;
  int64_t id = 0;
  for (int b = 0; b < 256; ++b) v.encoder[bytes_to_spelling(std::string(1, static_cast<char>(b)))] = id++;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {" ", "t"}, {"h", "e"}, {" t", "he"}, {"i", "n"}, {" ", "a"}, {"e", "r"}, {"o", "n"}, {" ", "s"}};
  for (const auto& [l, r] : merges) {
    v.merges.emplace_back(bytes_to_spelling(l), bytes_to_spelling(r));
    v.encoder[bytes_to_spelling(l + r)] = id++;
  }
  v.encoder["<|endoftext|>"] = id++;
  return v;
}

std::string merges_file(const Vocab& v) {
  std::string out = "#version: 0.2\n";
  for (const auto& [l, r] : v.merges) out += l + " " + r + "\n";
  return out;
}

std::string hf_json(const Vocab& v, bool pairs) {
  json merges = json::array();
  for (const auto& [l, r] : v.merges) {
    if (pairs) merges.push_back({l, r});
    else merges.push_back(l + " " + r);
  }
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = json::array({{{"id", v.encoder["<|endoftext|>"]}, {"content", "<|endoftext|>"}, {"special", true}}});
  j["model"] = {{"type", "BPE"}, {"vocab", v.encoder}, {"merges", merges}};
  return j.dump();
}

}  // namespace

int main(int argc, char** argv) {
  return cook::fuzz::seed_writer_main(argc, argv, [](const std::string& out) {
    const Vocab v = small_vocab();
    const std::string sample = " the theater in the sun, another one: 42\t\xe2\x82\xac <|endoftext|>";
    cook::fuzz::write_seed_or_throw(out + "/gpt2-files", {{"encoder.json", v.encoder.dump()},
                                                          {"vocab.bpe", merges_file(v)},
                                                          {"sample.txt", sample}});
    cook::fuzz::write_seed_or_throw(out + "/hf-string-merges",
                                    {{"tokenizer.json", hf_json(v, false)}, {"sample.txt", sample}});
    cook::fuzz::write_seed_or_throw(out + "/hf-pair-merges", {{"tokenizer.json", hf_json(v, true)}});
  });
}

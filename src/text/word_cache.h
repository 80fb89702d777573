// The per-call cache of Tokenizer::encode: distinct pre-tokens → where their ids were first
// written. An open-addressing hash table of views into the text being encoded (which outlives the
// cache), faster than std::unordered_map for millions of short words.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace cook::text {

class WordCache {
 public:
  struct Entry {
    const char* data = nullptr;  // nullptr: empty slot
    std::uint32_t size = 0;
    std::uint32_t hash = 0;
    std::uint32_t offset = 0;  // the word's ids: ids[offset, offset + length)
    std::uint32_t length = 0;
  };

  // Sized for about `expected_words` distinct words; grows as needed.
  explicit WordCache(std::size_t expected_words) {
    std::size_t capacity = 64;
    while (capacity < expected_words * 2) capacity *= 2;
    slots_.resize(capacity);
  }

  // The entry of `word`; when it was not there, inserts it with *inserted = true (the caller then
  // fills offset and length).
  Entry* find_or_insert(std::string_view word, bool* inserted) {
    const std::uint32_t h = hash(word);
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      Entry& e = slots_[i];
      if (e.data == nullptr) {
        if ((used_ + 1) * 2 > slots_.size()) {
          grow();
          return find_or_insert(word, inserted);
        }
        e.data = word.data();
        e.size = std::uint32_t(word.size());
        e.hash = h;
        ++used_;
        *inserted = true;
        return &e;
      }
      if (e.hash == h && e.size == word.size() && std::memcmp(e.data, word.data(), word.size()) == 0) {
        *inserted = false;
        return &e;
      }
    }
  }

 private:
  static std::uint32_t hash(std::string_view word) {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : word) h = (h ^ c) * 0x100000001B3ull;
    return std::uint32_t(h ^ (h >> 32));
  }

  void grow() {
    std::vector<Entry> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Entry& e : old) {
      if (e.data == nullptr) continue;
      std::size_t i = e.hash & mask;
      while (slots_[i].data != nullptr) i = (i + 1) & mask;
      slots_[i] = e;
    }
  }

  std::vector<Entry> slots_;
  std::size_t used_ = 0;
};

}  // namespace cook::text

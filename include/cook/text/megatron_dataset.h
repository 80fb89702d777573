// Megatron-LM's MMapIndexedDataset, the token data BMCook's GPT examples train on
// (examples/gpt/data/indexed_dataset.py; made by preprocess_data.py): a pair PREFIX.bin/PREFIX.idx.
//   PREFIX.bin  the token ids of every item (sentence, or whole document), back to back, no header
//   PREFIX.idx  little-endian:
//     "MMIDIDX\0\0"  magic, 9 bytes
//     u64  version, 1
//     u8   dtype code: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float64, 8 uint16
//     u64  N, the number of items;  u64 M, the number of document-index entries
//     i32[N] sizes (ids per item);  i64[N] pointers (byte offset of each item in .bin);
//     i64[M] doc_idx: the first item of each document, 0 first and N last (M = documents + 1)
// Cook reads the token dtypes Megatron's preprocessing writes, uint16 (vocabulary < 65500) and
// int32, and needs the items back to back (pointers = running sums of sizes, as the builder writes
// them) so that the .bin is one token stream. Empty documents are dropped.
//
// The pair holds no train/validation split: Cook takes the last 3 % of the documents (at least one)
// as the validation split, about Megatron's default "969,30,1"; a one-document file is both splits.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cook::text {

struct MegatronIndex {
  int dtype_code = 0;
  int64_t bytes_per_token = 0;
  std::vector<uint64_t> document_starts;  // in tokens: documents + 1 entries, 0 first, the token count last
};

// The PREFIX of a Megatron pair named by `path`: PREFIX itself (PREFIX.bin and PREFIX.idx exist),
// PREFIX.bin or PREFIX.idx, or a folder holding exactly one such pair. nullopt when it is none of
// these (a folder with several pairs is an error naming them).
std::optional<std::string> megatron_prefix(const std::string& path);

// Reads and checks PREFIX.idx against a .bin of `bin_bytes` bytes. Errors name the file and the
// field (magic, version, dtype code, counts, an item or document entry that is out of order).
MegatronIndex read_megatron_index(const std::string& idx_path, uint64_t bin_bytes);

// The documents [first, last) of each split, by Cook's rule above.
struct MegatronSplit {
  int64_t first_document = 0, end_document = 0;
};
MegatronSplit megatron_split(int64_t documents, const std::string& split, const std::string& where);

}  // namespace cook::text

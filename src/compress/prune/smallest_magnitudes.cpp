#include "smallest_magnitudes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <mutex>

#include "magnitude_key.h"

namespace cook::prune::kernels {

namespace {

constexpr int64_t kChunkSize = 1 << 16;
constexpr uint32_t kInfinityKey = 0x7F800000u;
constexpr int64_t kHighBins = 1 << 15;  // key >> 16: the sign bit is always 0
constexpr int64_t kLowBins = 1 << 16;

// A stretch of one array; chunks are in sequence order.
struct Chunk {
  size_t array;
  int64_t begin, end;
};

std::vector<Chunk> chunks_of(const std::vector<FloatArray>& scores) {
  std::vector<Chunk> chunks;
  for (size_t a = 0; a < scores.size(); ++a)
    for (int64_t b = 0; b < scores[a].size; b += kChunkSize) chunks.push_back({a, b, std::min(scores[a].size, b + kChunkSize)});
  return chunks;
}

// How many keys fall in each bin: bin_of(key) in [0, bins), or `bins` for a key not counted.
template <typename BinOf>
std::vector<int64_t> histogram(const std::vector<FloatArray>& scores, const std::vector<Chunk>& chunks, int64_t bins,
                               BinOf bin_of) {
  std::vector<int64_t> total(bins, 0);
  std::mutex total_mutex;
  at::parallel_for(0, static_cast<int64_t>(chunks.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> local(bins + 1, 0);
    for (int64_t c = begin; c < end; ++c) {
      const float* data = scores[chunks[c].array].data;
      for (int64_t j = chunks[c].begin; j < chunks[c].end; ++j) ++local[bin_of(magnitude_key(data[j]))];
    }
    std::lock_guard<std::mutex> lock(total_mutex);
    for (int64_t b = 0; b < bins; ++b) total[b] += local[b];
  });
  return total;
}

// The bin of the rank-th smallest key (0-based) and how many keys lie in the bins before it.
struct Located {
  uint32_t bin;
  int64_t before;
};

Located locate(const std::vector<int64_t>& counts, int64_t rank) {
  int64_t before = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    if (rank < before + counts[b]) return {static_cast<uint32_t>(b), before};
    before += counts[b];
  }
  return {static_cast<uint32_t>(counts.size() - 1), before};  // unreachable for rank < total
}

void keep_everything(const std::vector<FloatArray>& scores, const std::vector<bool*>& keep) {
  for (size_t a = 0; a < scores.size(); ++a) std::fill(keep[a], keep[a] + scores[a].size, true);
}

}  // namespace

void prune_smallest_magnitudes(const std::vector<FloatArray>& scores, int64_t count, const std::vector<bool*>& keep) {
  int64_t total = 0;
  for (const auto& s : scores) total += s.size;
  count = std::min(count, total);
  if (count <= 0) return keep_everything(scores, keep);
  const std::vector<Chunk> chunks = chunks_of(scores);

  // The threshold: the count-th smallest key, 16 bits at a time.
  const int64_t rank = count - 1;
  const Located high = locate(histogram(scores, chunks, kHighBins, [](uint32_t k) { return k >> 16; }), rank);
  const uint32_t high_bin = high.bin;
  const Located low = locate(histogram(scores, chunks, kLowBins,
                                       [high_bin](uint32_t k) { return (k >> 16) == high_bin ? (k & 0xFFFFu) : kLowBins; }),
                             rank - high.before);
  const uint32_t threshold = (high.bin << 16) | low.bin;
  if (threshold > kInfinityKey) return keep_everything(scores, keep);  // a NaN threshold
  const int64_t tied_to_prune = count - high.before - low.before;

  // Keep every key above the threshold and, for now, every tie; count the ties of each chunk.
  std::vector<int64_t> ties(chunks.size(), 0);
  at::parallel_for(0, static_cast<int64_t>(chunks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float* data = scores[chunks[c].array].data;
      bool* out = keep[chunks[c].array];
      int64_t n = 0;
      for (int64_t j = chunks[c].begin; j < chunks[c].end; ++j) {
        const uint32_t k = magnitude_key(data[j]);
        out[j] = k >= threshold;
        n += k == threshold;
      }
      ties[c] = n;
    }
  });

  // Prune the first `tied_to_prune` ties in sequence order.
  std::vector<int64_t> ties_before(chunks.size(), 0);
  for (size_t c = 1; c < chunks.size(); ++c) ties_before[c] = ties_before[c - 1] + ties[c - 1];
  at::parallel_for(0, static_cast<int64_t>(chunks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t left = tied_to_prune - ties_before[c];
      if (ties[c] == 0 || left <= 0) continue;
      const float* data = scores[chunks[c].array].data;
      bool* out = keep[chunks[c].array];
      for (int64_t j = chunks[c].begin; j < chunks[c].end && left > 0; ++j) {
        if (magnitude_key(data[j]) == threshold) {
          out[j] = false;
          --left;
        }
      }
    }
  });
}

}  // namespace cook::prune::kernels

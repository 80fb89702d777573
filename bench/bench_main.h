// The main of the Google Benchmark programs that measure what `cook` runs: the heap is set up as
// `cook` sets it up (main.cpp: freed large buffers stay in the heap). Without it every call of a
// large product faulted in its outputs afresh (int8 at M = 512, N = 16384: two 32 MB buffers,
// 3-4× slower than in `cook`; docs/quantization.md).
#pragma once
#include <benchmark/benchmark.h>

#include "cook/core/heap.h"

namespace cook::bench {

inline int run_benchmarks_as_cook_runs(int argc, char** argv) {
  cook::keep_freed_buffers_in_heap();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace cook::bench

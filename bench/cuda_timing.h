// Timing of GPU work for the plain benchmark programs: per-call microseconds of eager calls, and of
// the same calls replayed from a CUDA graph (what launch overhead leaves of them).
#pragma once
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>

#ifdef COOK_TORCH_HAS_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace cook::bench {

// Microseconds per call of `call`: calls are repeated for at least min_ms milliseconds after a
// warm-up, and the clock stops when the device has finished them.
template <typename Call>
double time_call(Call call, double min_ms) {
  for (int i = 0; i < 3; ++i) call();
  torch::cuda::synchronize();
  int64_t calls = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed_ms = 0;
  while (calls < 10 || elapsed_ms < min_ms) {
    for (int i = 0; i < 10; ++i) call();
    calls += 10;
    torch::cuda::synchronize();
    elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return elapsed_ms * 1000.0 / static_cast<double>(calls);
}

#ifdef COOK_TORCH_HAS_CUDA
// Microseconds per call when `per_graph` calls are captured into one CUDA graph and replayed.
// Throws (c10::Error) when a call cannot be captured.
template <typename Call>
double time_graph(Call call, double min_ms, int per_graph = 20) {
  c10::cuda::CUDAStreamGuard on_side_stream(c10::cuda::getStreamFromPool());
  for (int i = 0; i < 3; ++i) call();  // allocations and searches happen before the capture
  torch::cuda::synchronize();
  at::cuda::CUDAGraph graph;
  graph.capture_begin();
  try {
    for (int i = 0; i < per_graph; ++i) call();
  } catch (...) {
    try {
      graph.capture_end();  // leaves the stream out of capture mode; throws for the broken capture
    } catch (...) {
    }
    throw;
  }
  graph.capture_end();
  return time_call([&] { graph.replay(); }, min_ms) / per_graph;
}
#endif

}  // namespace cook::bench

// Can a 2:4 sparse linear beat the dense fp32 one on this CPU? y = x·Wᵀ for GPT-J shapes with
// M tokens, three ways:
//   Dense       torch's linear (MKL / oneDNN sgemm), the baseline;
//   Compressed  a 2:4 kernel over compressed weights (the 2 kept values of every group of 4 plus
//               their two 2-bit positions in one byte: half the weight bytes), AVX2/FMA,
//               parallel over outputs, x transposed once so the inner loop runs over tokens;
//   Csr         torch's sparse CSR matmul (MKL sparse) of the same 50% sparse matrix.
// Written for the measurement in docs/pruning.md; Cook ships no CPU 2:4 path unless it wins.
//   build/bench/bench_sparse24_cpu [--benchmark_filter=Compressed]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include "cook/compress/prune/nm_masks.h"

namespace {

struct Compressed24 {
  torch::Tensor values;  // (N, K/2) float32
  torch::Tensor index;   // (N, K/4) uint8: first kept position | second << 2
};

Compressed24 compress(const torch::Tensor& w, const torch::Tensor& mask) {
  const int64_t n = w.size(0), k = w.size(1);
  // Kept positions first in every group (a stable sort keeps their order).
  const torch::Tensor pos =
      std::get<1>(mask.reshape({n, k / 4, 4}).to(torch::kInt8).sort(true, 2, true)).narrow(2, 0, 2).contiguous();
  Compressed24 c;
  c.values = w.reshape({n, k / 4, 4}).gather(2, pos).reshape({n, k / 2}).contiguous();
  c.index = (pos.select(2, 0) + pos.select(2, 1) * 4).to(torch::kUInt8).contiguous();
  return c;
}

// Rows [begin, end) of yt (N×M) from xt (K×M).
__attribute__((target("avx2,fma"))) void rows_2to4(const float* xt, int64_t m, const float* values, const uint8_t* index,
                                                   int64_t k, float* yt, int64_t begin, int64_t end) {
  const int64_t groups = k / 4;
  for (int64_t n = begin; n < end; ++n) {
    float* out = yt + n * m;
    const float* v = values + n * (k / 2);
    const uint8_t* ix = index + n * groups;
    if (m == 1) {
      float acc0 = 0.f, acc1 = 0.f;
      for (int64_t g = 0; g < groups; ++g) {
        acc0 += v[2 * g] * xt[4 * g + (ix[g] & 3)];
        acc1 += v[2 * g + 1] * xt[4 * g + (ix[g] >> 2)];
      }
      out[0] = acc0 + acc1;
      continue;
    }
    for (int64_t j = 0; j < m; ++j) out[j] = 0.f;
    for (int64_t g = 0; g < groups; ++g) {
      const float v0 = v[2 * g], v1 = v[2 * g + 1];
      const float* x0 = xt + (4 * g + (ix[g] & 3)) * m;
      const float* x1 = xt + (4 * g + (ix[g] >> 2)) * m;
      for (int64_t j = 0; j < m; ++j) out[j] += v0 * x0[j] + v1 * x1[j];
    }
  }
}

torch::Tensor linear_2to4(const torch::Tensor& x, const Compressed24& c, int64_t k) {
  const int64_t m = x.size(0), n = c.values.size(0);
  const torch::Tensor xt = x.t().contiguous();
  torch::Tensor yt = torch::empty({n, m}, x.options());
  const float* xp = xt.data_ptr<float>();
  const float* vp = c.values.data_ptr<float>();
  const uint8_t* ip = c.index.data_ptr<uint8_t>();
  float* yp = yt.data_ptr<float>();
  at::parallel_for(0, n, 16, [&](int64_t b, int64_t e) { rows_2to4(xp, m, vp, ip, k, yp, b, e); });
  return yt.t();
}

struct Problem {
  torch::Tensor x, w, mask, sparse_w;
};

Problem make(benchmark::State& state) {
  const int64_t n = state.range(0), k = state.range(1), m = state.range(2);
  auto gen = at::detail::createCPUGenerator(1);
  Problem p;
  p.w = torch::randn({n, k}, gen, torch::kFloat32);
  p.mask = cook::prune::m4n2_1d(p.w);
  p.sparse_w = p.w * p.mask;
  p.x = torch::randn({m, k}, gen, torch::kFloat32);
  return p;
}

void label(benchmark::State& state) {
  const double flops = 2.0 * state.range(0) * state.range(1) * state.range(2);
  state.counters["dense_GFLOP/s"] = benchmark::Counter(flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}

void BM_Dense(benchmark::State& state) {
  Problem p = make(state);
  torch::InferenceMode guard;
  for (auto _ : state) benchmark::DoNotOptimize(torch::nn::functional::linear(p.x, p.sparse_w).data_ptr());
  label(state);
}

void BM_Compressed(benchmark::State& state) {
  Problem p = make(state);
  const Compressed24 c = compress(p.w, p.mask);
  torch::InferenceMode guard;
  const torch::Tensor y = linear_2to4(p.x, c, p.w.size(1));
  const torch::Tensor ref = torch::nn::functional::linear(p.x, p.sparse_w);
  if (!torch::allclose(y, ref, 1e-3, 1e-2)) state.SkipWithError("the 2:4 kernel disagrees with the dense product");
  for (auto _ : state) benchmark::DoNotOptimize(linear_2to4(p.x, c, p.w.size(1)).data_ptr());
  label(state);
}

void BM_Csr(benchmark::State& state) {
  Problem p = make(state);
  torch::InferenceMode guard;
  torch::Tensor csr;
  try {
    csr = p.sparse_w.to_sparse_csr();
    benchmark::DoNotOptimize(torch::mm(csr, p.x.t()).data_ptr());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(csr, p.x.t()).data_ptr());
  label(state);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (auto nk : std::vector<std::pair<int64_t, int64_t>>{{4096, 4096}, {16384, 4096}, {4096, 16384}})
    for (int64_t m : {1, 8, 32, 128}) b->Args({nk.first, nk.second, m});
  b->ArgNames({"N", "K", "M"})->Unit(benchmark::kMillisecond)->MinTime(0.3);
}

}  // namespace

BENCHMARK(BM_Dense)->Apply(shapes);
BENCHMARK(BM_Compressed)->Apply(shapes);
BENCHMARK(BM_Csr)->Apply(shapes);
BENCHMARK_MAIN();

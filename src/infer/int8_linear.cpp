#include "cook/infer/int8_linear.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#ifdef COOK_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include "cook/core/error.h"

namespace cook::infer {

namespace {

constexpr float kQmax = 127.0f;

void quantize_row_scalar(const float* x, int64_t n, int8_t* q, float* scale) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float s = amax / kQmax;
  *scale = s;
  const float d = s == 0.0f ? 1.0f : s;
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(std::min(kQmax, std::max(-kQmax, std::nearbyint(x[i] / d))));
}

#if defined(__x86_64__) && defined(__GNUC__)
// 16 values: x / d (a true division, as the simulation does), round half to even, clamp ±127.
__attribute__((target("avx512f"))) inline __m512i quantize16(__m512 v, __m512 d) {
  const __m512 lo = _mm512_set1_ps(-kQmax), hi = _mm512_set1_ps(kQmax);
  v = _mm512_roundscale_ps(_mm512_div_ps(v, d), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_max_ps(lo, v)));
}

__attribute__((target("avx512f"))) void quantize_row_avx512(const float* x, int64_t n, int8_t* q, float* scale) {
  __m512 vmax = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  if (i < n) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + i)));
  const float amax = _mm512_reduce_max_ps(vmax);
  const float s = amax / kQmax;
  *scale = s;
  const __m512 d = _mm512_set1_ps(s == 0.0f ? 1.0f : s);
  for (i = 0; i + 16 <= n; i += 16) _mm512_mask_cvtsepi32_storeu_epi8(q + i, 0xFFFF, quantize16(_mm512_loadu_ps(x + i), d));
  if (i < n) _mm512_mask_cvtsepi32_storeu_epi8(q + i, tail, quantize16(_mm512_maskz_loadu_ps(tail, x + i), d));
}

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
#endif

}  // namespace

void quantize_tokens(const float* x, int64_t rows, int64_t cols, int8_t* q, float* scales) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
#if defined(__x86_64__) && defined(__GNUC__)
      if (cpu_has_avx512()) {
        quantize_row_avx512(x + r * cols, cols, q + r * cols, scales + r);
        continue;
      }
#endif
      quantize_row_scalar(x + r * cols, cols, q + r * cols, scales + r);
    }
  });
}

void rescale_accumulators(const int32_t* acc, int64_t rows, int64_t cols, const float* row_scales,
                          const float* col_scales, const float* bias, float* y) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float s = row_scales[r];
      const int32_t* ar = acc + r * cols;
      float* yr = y + r * cols;
      if (bias) {
        for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(ar[c]) * (s * col_scales[c]) + bias[c];
      } else {
        for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(ar[c]) * (s * col_scales[c]);
      }
    }
  });
}

#ifdef COOK_HAVE_DNNL

// oneDNN's state of one layer: the engine, and per token count M a matmul primitive with the
// weights reordered into the layout it asked for (shared between M's that ask the same layout).
struct Int8LinearKernel::Cache {
  static constexpr size_t kMaxShapes = 16;
  struct Entry {
    int64_t m;
    dnnl::matmul matmul;
    std::shared_ptr<dnnl::memory> weights;
  };
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::deque<Entry> entries;
  std::vector<std::pair<dnnl::memory::desc, std::shared_ptr<dnnl::memory>>> packed;

  Entry& get(int64_t m, const torch::Tensor& weight) {
    for (auto& e : entries)
      if (e.m == m) return e;
    using md = dnnl::memory::desc;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const int64_t n = weight.size(0), k = weight.size(1);
    md src({m, k}, dt::s8, tag::ab), wei_any({k, n}, dt::s8, tag::any), dst({m, n}, dt::s32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei_any, dst), engine);
    const md want = pd.weights_desc();
    std::shared_ptr<dnnl::memory> packed_weights;
    for (auto& [desc, mem] : packed)
      if (desc == want) packed_weights = mem;
    if (!packed_weights) {
      // The (N, K) row-major int8 weight is the (K, N) matrix in "ba" layout: no copy to describe it.
      dnnl::memory user(md({k, n}, dt::s8, tag::ba), engine, weight.data_ptr<int8_t>());
      packed_weights = std::make_shared<dnnl::memory>(want, engine);
      dnnl::stream s(engine);
      dnnl::reorder(user, *packed_weights).execute(s, user, *packed_weights);
      s.wait();
      packed.emplace_back(want, packed_weights);
    }
    if (entries.size() == kMaxShapes) entries.pop_front();
    entries.push_back({m, dnnl::matmul(pd), packed_weights});
    return entries.back();
  }
};

#else

struct Int8LinearKernel::Cache {};

#endif

namespace {

// oneDNN's int8 matmul is exact only where the CPU has VNNI (see int8_linear.h).
bool cpu_has_vnni() {
#if defined(__x86_64__) && defined(__GNUC__) && defined(COOK_HAVE_DNNL)
  static const bool has = __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
  return has;
#else
  return false;
#endif
}

// acc (M, N) = a · wᵀ, split over the weight's tiles between this thread and, for products large
// enough to repay starting it, one more (LibTorch's intra-op pool is often a single thread).
void multiply_packed(const PackedInt8Weight& w, const PairedActivations& a, int32_t* acc) {
  const int64_t n = w.out_features(), tiles = w.tiles();
  const int64_t work = a.rows() * n * w.in_features();
  const bool split = work >= (int64_t{1} << 22) && tiles >= 2 && std::thread::hardware_concurrency() >= 2;
  if (!split) {
    w.multiply(a, nullptr, a.rows(), acc, n, nullptr, /*accumulate=*/false);
    return;
  }
  const int64_t half = tiles / 2;
  std::thread other([&] { w.multiply(a, nullptr, a.rows(), acc, n, nullptr, false, half, tiles); });
  w.multiply(a, nullptr, a.rows(), acc, n, nullptr, false, 0, half);
  other.join();
}

}  // namespace

Int8LinearKernel::Int8LinearKernel(torch::Tensor weight, torch::Tensor scales, const std::string& where) {
  if (!weight.defined() || weight.scalar_type() != torch::kInt8 || weight.dim() != 2)
    throw Error(where, "the int8 weight must be a 2-D int8 tensor (out, in)");
  const int64_t n = weight.size(0);
  if (!scales.defined() || !scales.is_floating_point() || scales.numel() != n ||
      !(scales.dim() == 1 || (scales.dim() == 2 && scales.size(1) == 1)))
    throw Error(where, "the weight scales must be (" + std::to_string(n) + ") or (" + std::to_string(n) +
                           ", 1) floats, one per output channel");
  weight_ = weight.to(torch::kCPU).contiguous().clone();
  scales_ = scales.to(torch::kCPU, torch::kFloat32).reshape({n}).contiguous().clone();
  if (cpu_has_vnni()) cache_ = std::make_unique<Cache>();
  else packed_ = std::make_shared<const PackedInt8Weight>(weight_, where);
}

Int8LinearKernel::~Int8LinearKernel() = default;

torch::Tensor Int8LinearKernel::forward(const nn::LinearImpl& layer, const torch::Tensor& x) const {
  const int64_t n = weight_.size(0), k = weight_.size(1);
  if (x.size(-1) != k || layer.out_features() != n)
    throw Error("Int8LinearKernel", "input of " + std::to_string(x.size(-1)) + " features for an int8 weight of " +
                                        std::to_string(k));
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = n;
  if (x.numel() == 0) return torch::empty(out_shape, x.options());
  if (!x.device().is_cpu()) {
    std::shared_ptr<const DeviceInt8Weight> device;
    {
      std::lock_guard<std::mutex> lock(device_mutex_);
      if (!device_ || device_->device() != x.device())
        device_ = std::make_shared<const DeviceInt8Weight>(weight_, scales_, x.device());
      device = device_;
    }
    const torch::Tensor bias = layer.has_bias() ? layer.bias : torch::Tensor();
    return device->forward(x.reshape({-1, k}), bias).reshape(out_shape);
  }

  const torch::Tensor x2d = x.reshape({-1, k}).to(torch::kFloat32).contiguous();
  const int64_t m = x2d.size(0);
  torch::Tensor q = torch::empty({m, k}, torch::kInt8);
  torch::Tensor sx = torch::empty({m}, torch::kFloat32);
  quantize_tokens(x2d.data_ptr<float>(), m, k, q.data_ptr<int8_t>(), sx.data_ptr<float>());
  torch::Tensor acc = torch::empty({m, n}, torch::kInt32);
  if (packed_) {
    multiply_packed(*packed_, PairedActivations(q), acc.data_ptr<int32_t>());
  } else {
#ifdef COOK_HAVE_DNNL
    std::lock_guard<std::mutex> lock(cache_->mutex);
    Cache::Entry& e = cache_->get(m, weight_);
    using md = dnnl::memory::desc;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::memory src(md({m, k}, dt::s8, tag::ab), cache_->engine, q.data_ptr<int8_t>());
    dnnl::memory dst(md({m, n}, dt::s32, tag::ab), cache_->engine, acc.data_ptr<int32_t>());
    dnnl::stream s(cache_->engine);
    e.matmul.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, *e.weights}, {DNNL_ARG_DST, dst}});
    s.wait();
#endif
  }
  torch::Tensor y = torch::empty({m, n}, torch::kFloat32);
  const torch::Tensor bias = layer.has_bias() ? layer.bias.to(torch::kFloat32).contiguous() : torch::Tensor();
  rescale_accumulators(acc.data_ptr<int32_t>(), m, n, sx.data_ptr<float>(), scales_.data_ptr<float>(),
                       bias.defined() ? bias.data_ptr<float>() : nullptr, y.data_ptr<float>());
  return y.reshape(out_shape).to(x.scalar_type());
}

}  // namespace cook::infer

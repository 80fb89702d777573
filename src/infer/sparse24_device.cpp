#include "cook/infer/sparse24_device.h"

#include <chrono>

#include "cook/core/error.h"

// COOK_NO_CSLT leaves cuSPARSELt out of a LibTorch that has it (a build that cannot compile it).
#if (COOK_TORCH_MAJOR > 2 || (COOK_TORCH_MAJOR == 2 && COOK_TORCH_MINOR >= 1)) && !defined(COOK_NO_CSLT)
#define COOK_HAVE_CSLT 1
#endif

namespace cook::infer {

namespace {

constexpr int64_t kRowMultiple = 16;  // cuSPARSELt: dense columns (our tokens) a multiple of 16 for int8, 8 else

int64_t padded_tokens(int64_t m) { return (m + kRowMultiple - 1) / kRowMultiple * kRowMultiple; }

// Buckets of token counts that share one choice of path: powers of two.
int64_t bucket_of(int64_t m) {
  int64_t b = 1;
  while (b < m) b *= 2;
  return b;
}

torch::Tensor pad_rows(const torch::Tensor& x, int64_t rows) {
  if (x.size(0) == rows) return x.contiguous();
  return torch::constant_pad_nd(x, {0, 0, 0, rows - x.size(0)}, 0);
}

// Microseconds per call of `call`, after one warm-up, over `reps` calls.
template <typename Call>
double microseconds(Call call, int reps) {
  call();
  torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) call();
  torch::cuda::synchronize();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / reps;
}

}  // namespace

bool device_sparse24_compiled() {
#ifdef COOK_HAVE_CSLT
  return true;
#else
  return false;
#endif
}

void check_two_of_four(const torch::Tensor& w, const std::string& where) {
  if (!w.defined() || w.dim() != 2 || w.size(1) % 4 != 0)
    throw Error(where, "a 2:4 weight must be 2-D with a multiple of 4 columns");
  const torch::Tensor per_group = w.ne(0).reshape({w.size(0), w.size(1) / 4, 4}).sum(-1);
  const int64_t worst = per_group.numel() ? per_group.max().item<int64_t>() : 0;
  if (worst > 2)
    throw Error(where, "is not 2:4 sparse: a group of 4 consecutive weights holds " + std::to_string(worst) +
                           " non-zeros (prune it with a 2:4 mask first)");
}

DeviceSparse24Weight::DeviceSparse24Weight(const torch::Tensor& weight, const std::string& where) {
  if (!weight.defined() || !weight.is_cuda()) throw Error(where, "the 2:4 weight must be on a CUDA device");
  const auto t = weight.scalar_type();
  if (t != torch::kBFloat16 && t != torch::kFloat16 && t != torch::kInt8)
    throw Error(where, std::string("2:4 products through cuSPARSELt take bf16, fp16 or int8 weights, not ") +
                           c10::toString(t));
  check_two_of_four(weight, where);
  n_ = weight.size(0);
  k_ = weight.size(1);
  if (n_ % 16 != 0 || k_ % 32 != 0)
    throw Error(where, "cuSPARSELt needs out features a multiple of 16 and in features a multiple of 32, got (" +
                           std::to_string(n_) + ", " + std::to_string(k_) + ")");
  dense_ = weight.contiguous();
#ifdef COOK_HAVE_CSLT
  try {
    compressed_ = at::_cslt_compress(dense_);
  } catch (const c10::Error& e) {
    throw Error(where, std::string("cuSPARSELt could not compress the weight (is this LibTorch built with it?): ") +
                           e.what_without_backtrace());
  }
#else
  throw Error(where, "2:4 products on CUDA need LibTorch ≥ 2.1 (at::_cslt_compress)");
#endif
}

int64_t DeviceSparse24Weight::algorithm_for(const torch::Tensor& x_padded, std::optional<c10::ScalarType> out_dtype) const {
  const int64_t rows = x_padded.size(0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = algorithm_.find(rows); it != algorithm_.end()) return it->second;
  }
  int64_t id = 0;
#ifdef COOK_HAVE_CSLT
  id = at::_cslt_sparse_mm_search(compressed_, x_padded.t(), std::nullopt, std::nullopt, out_dtype, true);
#endif
  std::lock_guard<std::mutex> lock(mutex_);
  algorithm_[rows] = id;
  return id;
}

torch::Tensor DeviceSparse24Weight::sparse_product(const torch::Tensor& x, const torch::Tensor& bias,
                                                   std::optional<c10::ScalarType> out_dtype) const {
  if (x.dim() != 2 || x.size(1) != k_)
    throw Error("DeviceSparse24Weight", "activations of " + std::to_string(x.size(-1)) + " features for a weight of " +
                                            std::to_string(k_));
  const int64_t m = x.size(0);
  const torch::Tensor a = pad_rows(x, padded_tokens(std::max<int64_t>(m, 1)));
  [[maybe_unused]] const int64_t alg = algorithm_for(a, out_dtype);
  torch::Tensor y;
#ifdef COOK_HAVE_CSLT
  // (W · aᵀ) written transposed: its .t() is the (M', N) row-major product.
  y = at::_cslt_sparse_mm(compressed_, a.t(), bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt,
                          std::nullopt, out_dtype, true, alg)
          .t();
#endif
  return y.narrow(0, 0, m);
}

torch::Tensor DeviceSparse24Weight::forward_sparse(const torch::Tensor& x, const torch::Tensor& bias) const {
  return sparse_product(x.to(dense_.scalar_type()), bias.defined() ? bias.to(dense_.scalar_type()) : bias, std::nullopt);
}

torch::Tensor DeviceSparse24Weight::multiply(const torch::Tensor& q) const {
  if (dense_.scalar_type() != torch::kInt8 || q.scalar_type() != torch::kInt8)
    throw Error("DeviceSparse24Weight", "multiply() takes an int8 weight and int8 activations");
  return sparse_product(q, torch::Tensor(), torch::kInt32);
}

DeviceSparse24Weight::Path DeviceSparse24Weight::choice(int64_t m) const {
  if (dense_.scalar_type() == torch::kInt8) throw Error("DeviceSparse24Weight", "choice() is for bf16 and fp16 weights");
  const int64_t bucket = bucket_of(m);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = path_.find(bucket); it != path_.end()) return it->second;
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({bucket, k_}, dense_.options().dtype(torch::kFloat32)).to(dense_.scalar_type());
  const double sparse = microseconds([&] { forward_sparse(x, torch::Tensor()); }, 5);
  const double dense = microseconds([&] { torch::mm(x, dense_.t()); }, 5);
  const Path p = sparse < dense ? Path::sparse : Path::dense;
  std::lock_guard<std::mutex> lock(mutex_);
  path_[bucket] = p;
  return p;
}

torch::Tensor DeviceSparse24Weight::forward(const torch::Tensor& x, const torch::Tensor& bias) const {
  if (dense_.scalar_type() == torch::kInt8)
    throw Error("DeviceSparse24Weight", "forward() takes a bf16 or fp16 weight; an int8 one multiplies (multiply())");
  if (choice(x.size(0)) == Path::sparse) return forward_sparse(x, bias);
  const torch::Tensor xs = x.to(dense_.scalar_type());
  return bias.defined() ? torch::addmm(bias.to(dense_.scalar_type()), xs, dense_.t()) : torch::mm(xs, dense_.t());
}

}  // namespace cook::infer

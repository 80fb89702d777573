// Helpers shared by the quantization tests: a float64 reference of BMCook's formulas, small models.
#pragma once
#include <torch/torch.h>

#include <cmath>
#include <cstdint>

#include "cook/model/config.h"
#include "cook/model/gptj.h"

namespace cook::quant::test {

// The formulas written out in double precision, one element at a time:
//   scale = absmax(row) / qmax, q = clamp(nearbyint(x / scale), ±qmax) (nearbyint: half to even).
struct RefQuant {
  torch::Tensor q;      // float64 values
  torch::Tensor scale;  // float64 (rows, 1)
};

inline RefQuant reference_quantize_rows(const torch::Tensor& x2d, double qmax = 127.0) {
  torch::Tensor x = x2d.to(torch::kFloat64).contiguous();
  const int64_t rows = x.size(0), cols = x.size(1);
  torch::Tensor q = torch::zeros_like(x), scale = torch::zeros({rows, 1}, torch::kFloat64);
  auto xa = x.accessor<double, 2>();
  auto qa = q.accessor<double, 2>();
  auto sa = scale.accessor<double, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    double amax = 0;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::abs(xa[r][c]));
    const double s = amax / qmax;
    sa[r][0] = s;
    for (int64_t c = 0; c < cols; ++c) {
      const double v = s == 0 ? 0.0 : std::nearbyint(xa[r][c] / s);
      qa[r][c] = std::min(qmax, std::max(-qmax, v));
    }
  }
  return {q, scale};
}

// A model small enough for tests in milliseconds.
inline model::ModelConfig micro_config() {
  model::ModelConfig c;
  c.vocab_size = 96;
  c.n_positions = 32;
  c.d_model = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.rotary_dim = 4;
  c.d_ff = 128;
  return c;
}

inline model::GptJ micro_model(uint64_t seed = 7) {
  model::GptJ m(micro_config());
  m->init_weights(0.2, seed);
  // Non-zero biases, so that the tests see them.
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& p : m->named_parameters())
    if (p.key().find("bias") != std::string::npos) p.value().uniform_(-0.1, 0.1);
  return m;
}

inline torch::Tensor micro_ids(int64_t batch = 2, int64_t len = 12, uint64_t seed = 3) {
  torch::manual_seed(seed);
  return torch::randint(0, micro_config().vocab_size, {batch, len}, torch::kInt64);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace cook::quant::test

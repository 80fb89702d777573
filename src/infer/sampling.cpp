#include "cook/infer/sampling.h"

#include <cmath>
#include <limits>
#include <string>

#include "cook/core/error.h"

namespace cook::infer {

namespace {

void check_logits(const torch::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) == 0 || logits.size(1) == 0)
    throw Error("logits", "expected a non-empty (batch, vocab) tensor");
}

}  // namespace

void SamplingOptions::validate() const {
  if (!std::isfinite(temperature) || temperature < 0)
    throw Error("--temperature", "must be ≥ 0 (0 means greedy), got " + std::to_string(temperature));
  if (top_k < 0) throw Error("--top-k", "must be ≥ 0 (0 keeps every token), got " + std::to_string(top_k));
  if (!(top_p > 0.0 && top_p <= 1.0)) throw Error("--top-p", "must be in (0, 1], got " + std::to_string(top_p));
}

torch::Tensor filter_logits(const torch::Tensor& logits_in, const SamplingOptions& o) {
  o.validate();
  check_logits(logits_in);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  torch::Tensor logits = logits_in.to(torch::kFloat32);
  if (!o.is_greedy()) logits = logits / o.temperature;
  const int64_t V = logits.size(1);
  if (o.top_k > 0 && o.top_k < V) {
    const torch::Tensor keep = std::get<1>(logits.topk(o.top_k, -1));
    torch::Tensor filtered = torch::full_like(logits, neg_inf);
    logits = filtered.scatter(-1, keep, logits.gather(-1, keep));
  }
  if (o.top_p < 1.0) {
    auto [sorted, order] = logits.sort(-1, /*descending=*/true);
    const torch::Tensor probs = torch::softmax(sorted, -1);
    // Mass of the tokens before each one: a token is kept while that is still < p, so the first
    // token is always kept and the kept set is the smallest whose mass reaches p.
    const torch::Tensor before = probs.cumsum(-1) - probs;
    const torch::Tensor drop_sorted = before.ge(o.top_p);
    const torch::Tensor drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    logits = logits.masked_fill(drop, neg_inf);
  }
  return logits;
}

torch::Tensor choose_next(const torch::Tensor& logits, const SamplingOptions& o, at::Generator& generator) {
  check_logits(logits);
  o.validate();
  const torch::Tensor cpu = logits.detach().to(torch::kCPU, torch::kFloat32);
  if (o.is_greedy()) return cpu.argmax(-1).to(torch::kInt64);
  const torch::Tensor probs = torch::softmax(filter_logits(cpu, o), -1);
  return torch::multinomial(probs, 1, /*replacement=*/false, generator).view({-1}).to(torch::kInt64);
}

}  // namespace cook::infer

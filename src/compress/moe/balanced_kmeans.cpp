#include "cook/compress/moe/balanced_kmeans.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <vector>

#include "cook/core/error.h"

namespace cook::compress::moe {

namespace {

// The seats of one cluster: their prices in ascending order and who holds each (-1: nobody).
struct Seats {
  std::vector<double> price;
  std::vector<int64_t> owner;
};

// One ε phase of the auction: every point starts unassigned; seat prices carry over from the
// previous phase. Gauss-Seidel: one bidder at a time, from a FIFO queue.
void auction_phase(const double* a, int64_t n, int64_t e, int64_t cap, double eps, std::vector<Seats>& seats,
                   std::vector<int64_t>& label) {
  for (auto& s : seats) std::fill(s.owner.begin(), s.owner.end(), -1);
  std::fill(label.begin(), label.end(), -1);
  std::deque<int64_t> queue;
  for (int64_t i = 0; i < n; ++i) queue.push_back(i);
  const double lowest = -std::numeric_limits<double>::infinity();
  while (!queue.empty()) {
    const int64_t i = queue.front();
    queue.pop_front();
    const double* row = a + i * e;
    // Best and second-best value over the cheapest seat of each cluster.
    int64_t best = 0;
    double v1 = lowest, v2 = lowest;
    for (int64_t j = 0; j < e; ++j) {
      const double v = row[j] - seats[j].price[0];
      if (v > v1) {
        v2 = v1;
        v1 = v;
        best = j;
      } else if (v > v2) {
        v2 = v;
      }
    }
    Seats& s = seats[best];
    // The second-cheapest seat of the same cluster is an alternative too.
    if (cap > 1) v2 = std::max(v2, row[best] - s.price[1]);
    const double raise = (v2 == lowest ? 1.0 : v1 - v2) + eps;
    const int64_t evicted = s.owner[0];
    if (evicted >= 0) {
      label[evicted] = -1;
      queue.push_back(evicted);
    }
    // The seat's new price, moved to its place in ascending order.
    const double p = s.price[0] + raise;
    int64_t k = 0;
    while (k + 1 < cap && s.price[k + 1] < p) {
      s.price[k] = s.price[k + 1];
      s.owner[k] = s.owner[k + 1];
      ++k;
    }
    s.price[k] = p;
    s.owner[k] = i;
    label[i] = best;
  }
}

}  // namespace

torch::Tensor balanced_assignment(const torch::Tensor& benefit_in, double final_epsilon) {
  return balanced_assignment(benefit_in, final_epsilon, nullptr);
}

torch::Tensor balanced_assignment(const torch::Tensor& benefit_in, double final_epsilon, AuctionPrices* warm) {
  if (!benefit_in.defined() || benefit_in.dim() != 2 || benefit_in.size(0) == 0 || benefit_in.size(1) == 0)
    throw Error("balanced_assignment", "expected a non-empty (points, clusters) benefit matrix");
  if (!benefit_in.is_floating_point()) throw Error("balanced_assignment", "the benefit matrix must be floating point");
  const int64_t n = benefit_in.size(0), e = benefit_in.size(1);
  if (n % e != 0)
    throw Error("balanced_assignment", std::to_string(e) + " clusters do not divide " + std::to_string(n) + " points");
  const int64_t cap = n / e;
  if (e == 1) return torch::zeros({n}, torch::kInt64);
  const torch::Tensor benefit = benefit_in.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(benefit).all().item<bool>()) throw Error("balanced_assignment", "the benefit matrix is not finite");
  const double hi = benefit.max().item<double>(), lo = benefit.min().item<double>();
  const double range = std::max(hi - lo, 1e-12);
  const double eps_final = range * final_epsilon;

  std::vector<Seats> seats(e);
  const bool warm_start = warm != nullptr && static_cast<int64_t>(warm->seat_price.size()) == n;
  for (int64_t j = 0; j < e; ++j) {
    seats[j].price.assign(cap, 0.0);
    seats[j].owner.assign(cap, -1);
    if (warm_start) std::copy_n(warm->seat_price.begin() + j * cap, cap, seats[j].price.begin());
  }
  std::vector<int64_t> label(n, -1);
  const double* a = benefit.data_ptr<double>();
  // ε-scaling: large steps settle prices coarsely, each phase refines them by a factor of 8.
  // Warm prices are near the new equilibrium: start fine.
  double eps = warm_start ? std::max(range / 512.0, eps_final) : range / 4.0;
  while (true) {
    auction_phase(a, n, e, cap, eps, seats, label);
    if (eps <= eps_final) break;
    eps = std::max(eps / 8.0, eps_final);
  }
  if (warm != nullptr) {
    warm->seat_price.resize(n);
    for (int64_t j = 0; j < e; ++j) std::copy_n(seats[j].price.begin(), cap, warm->seat_price.begin() + j * cap);
  }
  return torch::tensor(label, torch::kInt64);
}

namespace {

struct Run {
  torch::Tensor labels, centroids;
  double inertia = 0.0;
  int64_t iterations = 0;
};

// Mean of each cluster's points (every cluster holds exactly `cap` points).
torch::Tensor cluster_means(const torch::Tensor& x, const torch::Tensor& labels, int64_t e, int64_t cap) {
  return torch::zeros({e, x.size(1)}, x.options()).index_add_(0, labels, x).div_(static_cast<double>(cap));
}

double inertia_of(const torch::Tensor& x, const torch::Tensor& labels, const torch::Tensor& centroids) {
  return (x - centroids.index_select(0, labels)).pow(2).sum().item<double>();
}

Run one_run(const torch::Tensor& x, int64_t e, const BalancedKMeansOptions& o, uint64_t seed,
            const std::function<void()>& on_iteration) {
  const int64_t n = x.size(0), cap = n / e;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const torch::Tensor pick = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64)).narrow(0, 0, e);
  Run run;
  run.centroids = x.index_select(0, pick);
  double previous = std::numeric_limits<double>::infinity();
  AuctionPrices prices;  // carried from one iteration to the next
  for (int64_t it = 0; it < o.max_iterations; ++it) {
    // ‖x − c‖² = ‖x‖² − (2 x·c − ‖c‖²): maximizing the bracket minimizes the distance.
    const torch::Tensor benefit = torch::mm(x, run.centroids.t()).mul_(2.0).sub_(run.centroids.pow(2).sum(1).unsqueeze(0));
    run.labels = balanced_assignment(benefit, 1e-7, &prices);
    run.centroids = cluster_means(x, run.labels, e, cap);
    run.inertia = inertia_of(x, run.labels, run.centroids);
    ++run.iterations;
    if (on_iteration) on_iteration();
    if (std::isfinite(previous) && previous - run.inertia <= o.tolerance * previous) break;
    previous = run.inertia;
  }
  return run;
}

}  // namespace

BalancedKMeansResult balanced_kmeans(const torch::Tensor& points, const BalancedKMeansOptions& o,
                                     const std::function<void()>& on_iteration) {
  const std::string where = "balanced_kmeans";
  if (!points.defined() || points.dim() != 2 || points.size(0) == 0 || points.size(1) == 0)
    throw Error(where, "expected a non-empty (points, features) matrix");
  const int64_t n = points.size(0);
  if (o.clusters <= 0 || o.clusters > n)
    throw Error(where, "clusters: must be in [1, " + std::to_string(n) + "], got " + std::to_string(o.clusters));
  if (n % o.clusters != 0)
    throw Error(where, "clusters: " + std::to_string(o.clusters) + " experts do not divide " + std::to_string(n) +
                           " neurons into equal parts");
  if (o.restarts <= 0) throw Error(where, "restarts: must be positive, got " + std::to_string(o.restarts));
  if (o.max_iterations <= 0)
    throw Error(where, "max_iterations: must be positive, got " + std::to_string(o.max_iterations));

  torch::NoGradGuard no_grad;
  torch::Tensor x = points.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (o.normalize) x = x / x.norm(2, 1, true).clamp_min(1e-12);

  BalancedKMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < o.restarts; ++r) {
    Run run = one_run(x, o.clusters, o, o.seed * 1000003ULL + static_cast<uint64_t>(r), on_iteration);
    best.iterations += run.iterations;
    if (run.inertia < best.inertia) {
      best.inertia = run.inertia;
      best.labels = run.labels;
      best.centroids = run.centroids;
      best.best_restart = r;
    }
  }
  return best;
}

}  // namespace cook::compress::moe

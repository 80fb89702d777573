// Balanced k-means: the split step of MoEfication. The F neurons of an FFN, each represented by its
// L2-normalized fc_in row, are grouped into E experts of exactly F/E neurons, so that neurons that
// respond to similar inputs share an expert.
//
// Each iteration assigns points to centroids by an EXACT balanced assignment (every cluster takes
// exactly N/E points, the total squared distance minimal): an auction algorithm with ε-scaling
// (Bertsekas) on the N × E benefit matrix, treating the N/E seats of a cluster as identical
// objects. Restarts from different seeded initializations keep the one of least inertia.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

namespace cook::compress::moe {

// Assigns each of N points to one of E clusters (E = benefit.size(1)), each cluster taking exactly
// N/E points, maximizing Σ benefit[i, label[i]]. `benefit` (N, E) is any floating tensor on the
// CPU; N must be a multiple of E. The auction ends when its ε is below `final_epsilon` times the
// benefit's range: the total is then within N·ε of the optimum. Returns labels (N) int64.
// Throws cook::Error for a bad shape.
torch::Tensor balanced_assignment(const torch::Tensor& benefit, double final_epsilon = 1e-7);

// Seat prices carried from one assignment to the next: k-means moves its centroids a little per
// iteration, so the last equilibrium prices are a good start (any start gives the exact result).
struct AuctionPrices {
  std::vector<double> seat_price;  // N: each cluster's N/E seats in turn; empty: a cold start
};
// The same, starting from `warm`'s prices (when it holds N) and leaving the final ones there.
torch::Tensor balanced_assignment(const torch::Tensor& benefit, double final_epsilon, AuctionPrices* warm);

struct BalancedKMeansOptions {
  int64_t clusters = 0;          // E; must divide the number of points
  int64_t restarts = 3;          // independent initializations; the least inertia wins
  int64_t max_iterations = 15;   // per restart
  double tolerance = 1e-4;       // stop a restart when the inertia improves by less (relative)
  uint64_t seed = 1;             // initial centroids: E distinct points drawn with this seed
  bool normalize = true;         // L2-normalize the points first (MoEfication's choice)
};

struct BalancedKMeansResult {
  torch::Tensor labels;     // (N) int64 in [0, E), every cluster exactly N/E times
  torch::Tensor centroids;  // (E, d) float32, the mean of each cluster's (normalized) points
  double inertia = 0.0;     // Σ ‖x − c(x)‖²
  int64_t best_restart = 0;
  int64_t iterations = 0;   // of all restarts together
};

// Clusters the rows of `points` (N, d) (CPU, any floating dtype). Deterministic for a seed (on a
// given machine and thread count). `on_iteration` (optional) is called after every iteration.
// Throws cook::Error naming the option when E does not divide N or is out of range.
BalancedKMeansResult balanced_kmeans(const torch::Tensor& points, const BalancedKMeansOptions& options,
                                     const std::function<void()>& on_iteration = {});

}  // namespace cook::compress::moe

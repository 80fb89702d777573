#include <ATen/Parallel.h>

#include <cmath>

#include "nm_kernels.h"

namespace cook::prune::kernels {

namespace {

// Groups of 4 per thread at least.
constexpr int64_t kGroupGrain = 1 << 14;

}  // namespace

template <typename T>
void keep_2_of_4(const T* score, int64_t groups, bool* keep) {
  at::parallel_for(0, groups, kGroupGrain, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      const T* x = score + 4 * g;
      const T a0 = std::abs(x[0]), a1 = std::abs(x[1]), a2 = std::abs(x[2]), a3 = std::abs(x[3]);
      const int beaten0 = (a1 > a0) + (a2 > a0) + (a3 > a0);
      const int beaten1 = (a0 >= a1) + (a2 > a1) + (a3 > a1);
      const int beaten2 = (a0 >= a2) + (a1 >= a2) + (a3 > a2);
      const int beaten3 = (a0 >= a3) + (a1 >= a3) + (a2 >= a3);
      bool* k = keep + 4 * g;
      k[0] = beaten0 < 2;
      k[1] = beaten1 < 2;
      k[2] = beaten2 < 2;
      k[3] = beaten3 < 2;
    }
  });
}

template void keep_2_of_4<float>(const float*, int64_t, bool*);
template void keep_2_of_4<double>(const double*, int64_t, bool*);

}  // namespace cook::prune::kernels

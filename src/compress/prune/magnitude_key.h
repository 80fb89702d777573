// |x| as an unsigned integer that orders like the magnitude: the IEEE bits without the sign. Every
// NaN maps to one value above +inf, so NaNs sort as the largest and equal to each other, as in
// torch's sort and kthvalue. -0 and +0 map to 0.
#pragma once
#include <cstdint>
#include <cstring>

namespace cook::prune {

inline uint32_t magnitude_key(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= 0x7FFFFFFFu;
  return bits > 0x7F800000u ? 0x7FC00000u : bits;
}

inline uint64_t magnitude_key(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= 0x7FFFFFFFFFFFFFFFull;
  return bits > 0x7FF0000000000000ull ? 0x7FF8000000000000ull : bits;
}

}  // namespace cook::prune

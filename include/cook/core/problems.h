// Collects the problems a check finds, so that one error reports them all (up to a dozen lines,
// then a count) instead of stopping at the first.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace cook {

class Problems {
 public:
  void add(std::string line);
  bool empty() const { return count_ == 0; }
  // Throws cook::Error(where, "<what> (N problems):\n  line\n  ...") when any were added.
  void throw_if_any(const std::string& where, const std::string& what) const;

 private:
  static constexpr size_t kShown = 12;
  std::vector<std::string> lines_;
  size_t count_ = 0;
};

}  // namespace cook

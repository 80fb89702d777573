#include "cook/core/problems.h"

#include "cook/core/error.h"

namespace cook {

void Problems::add(std::string line) {
  if (lines_.size() < kShown) lines_.push_back(std::move(line));
  ++count_;
}

void Problems::throw_if_any(const std::string& where, const std::string& what) const {
  if (count_ == 0) return;
  std::string msg = what + " (" + std::to_string(count_) + (count_ == 1 ? " problem" : " problems") + "):";
  for (const auto& l : lines_) msg += "\n  " + l;
  if (count_ > lines_.size()) msg += "\n  ... and " + std::to_string(count_ - lines_.size()) + " more";
  throw Error(where, msg);
}

}  // namespace cook

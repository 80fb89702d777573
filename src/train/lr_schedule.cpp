#include "cook/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "cook/core/error.h"

namespace cook::train {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

double LrSchedule::at(int64_t step) const {
  const double k = static_cast<double>(std::max<int64_t>(step, 1));
  const double w = static_cast<double>(warmup_steps);
  switch (kind) {
    case ScheduleKind::Noam:
      // BMTrain's Noam peaks at start_lr/√W, not at start_lr; BMCook's learning rates assume this.
      if (warmup_steps > 0 && k < w) return start_lr / std::sqrt(w) * k / w;
      return start_lr / std::sqrt(k);
    case ScheduleKind::Cosine: {
      if (warmup_steps > 0 && k < w) return start_lr * k / w;
      const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
      const double progress = std::clamp((k - w) / span, 0.0, 1.0);
      return min_lr + 0.5 * (start_lr - min_lr) * (1.0 + std::cos(kPi * progress));
    }
    case ScheduleKind::Constant:
      if (warmup_steps > 0 && k < w) return start_lr * k / w;
      return start_lr;
  }
  return start_lr;
}

ScheduleKind parse_schedule_kind(const std::string& name, const std::string& where) {
  if (name == "noam") return ScheduleKind::Noam;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "constant") return ScheduleKind::Constant;
  throw Error(where, "unknown schedule '" + name + "' (allowed: noam, cosine, constant)");
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Noam: return "noam";
    case ScheduleKind::Cosine: return "cosine";
    case ScheduleKind::Constant: return "constant";
  }
  return "?";
}

}  // namespace cook::train

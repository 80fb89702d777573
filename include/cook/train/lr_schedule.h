// Learning-rate schedules, as a pure function of the optimizer step (1-based: the first step
// the optimizer takes is step 1).
#pragma once
#include <cstdint>
#include <string>

namespace cook::train {

enum class ScheduleKind {
  Noam,      // BMCook's default (BMTrain's Noam): start_lr/√W · k/W while k < W, then start_lr/√k
  Cosine,    // linear warm-up to start_lr, cosine decay to min_lr at total_steps
  Constant,  // linear warm-up to start_lr, then constant
};

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::Noam;
  double start_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;   // cosine only
  double min_lr = 0.0;       // cosine only

  double at(int64_t step) const;
};

// "noam" | "cosine" | "constant"; throws cook::Error naming `where` otherwise.
ScheduleKind parse_schedule_kind(const std::string& name, const std::string& where);
const char* schedule_kind_name(ScheduleKind kind);

}  // namespace cook::train

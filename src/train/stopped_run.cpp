#include "cook/train/stopped_run.h"

#include <csignal>

#include "cook/core/error.h"

namespace cook::train {

void throw_if_stopped(const TrainResult& result, const std::string& where, const std::string& how_to_resume) {
  const std::string at = " at step " + std::to_string(result.steps_done) + ", checkpoint saved; " + how_to_resume;
  if (result.stopped_by_signal) {
    // 0: another rank received it; the run stopped all the same, as on SIGTERM.
    const int signal_number = result.stop_signal != 0 ? result.stop_signal : SIGTERM;
    throw Stopped::by_signal(where, "stopped by signal " + std::to_string(signal_number) + at, signal_number);
  }
  if (result.stopped_by_time_limit) throw Stopped::by_time_limit(where, "stopped by the time limit" + at);
}

}  // namespace cook::train

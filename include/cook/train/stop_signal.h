// SIGINT/SIGTERM as a request to stop: the trainer polls it between steps, saves a checkpoint and
// returns. Signals are process-wide by nature; this is the one piece of process state the trainer
// reads, and a second signal while the flag is set ends the process the usual way.
#pragma once

namespace cook::train {

class StopSignal {
 public:
  // Installs the handlers (idempotent); restores the previous ones when the last guard dies.
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  int signal_number() const;  // the signal that asked to stop, 0 if none
  // For tests: behave as if the signal arrived.
  static void raise_for_test(int signal_number);
};

}  // namespace cook::train

// A training run that stopped before its end — by a signal or its time limit, its checkpoint saved
// — ends the command with cook::Stopped (core/error.h), so that `cook` exits non-zero with the code
// that says why. One rule for every front end that trains (cook train, each phase of cook compress).
#pragma once
#include <string>

#include "cook/train/trainer.h"

namespace cook::train {

// Throws Stopped when `result` was stopped; `where` names the run (its folder), `how_to_resume`
// ends the message. Returns when the run reached its end.
void throw_if_stopped(const TrainResult& result, const std::string& where, const std::string& how_to_resume);

}  // namespace cook::train

// `cook compress --dry-run`: every check of a compress run that needs no model (the config, the
// dense checkpoint's config, the token data's headers against the model, the shape-dependent
// options), then the plan of its phases with a memory estimate for each (train/memory_estimate.h).
// Nothing is allocated or written. On the CPU, a phase whose estimate exceeds the machine's memory
// is an error that gives both figures.
#pragma once
#include <ostream>

#include "cook/compress/plan/config.h"

namespace cook::compress::plan {

void dry_run(const CompressConfig& c, std::ostream& out);

}  // namespace cook::compress::plan

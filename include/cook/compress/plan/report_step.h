// The last step of `cook compress`: the dense model and the compressed one, as exported (the int8
// artefact with its int8 kernels when quantization is on, the checkpoint otherwise, with the MoE
// file's top-k experts when MoEfication is on), measured on the same validation tokens and the
// same machine, and written as <save_dir>/report/{report.md, report.json, *.png}.
#pragma once
#include <ostream>
#include <string>

#include "cook/compress/plan/config.h"
#include "cook/compress/plan/pipeline.h"
#include "cook/compress/report/report.h"

namespace cook::compress::plan {

// The compressed model as it ships: what report_compression measures, and `cook eval` would load.
model::GptJ load_exported(const CompressConfig& c, const CompressedModel& out);

report::WrittenReport report_compression(const CompressConfig& c, const std::string& dense_checkpoint,
                                         const CompressedModel& out, const RunOptions& run, std::ostream& log);

}  // namespace cook::compress::plan

// The compression report: the machine, the settings, one row per model (the dense reference
// first), written as report.json, report.md and PNG plots in one folder.
//
// report.json:
//   {"format": "cook.report", "version": 1,
//    "machine": {...MachineInfo...}, "settings": {...what the caller recorded...},
//    "rows": [{...to_json(ModelRow)...}, ...],
//    "plots": {"made": bool, "files": [...], "message": "..."}}
// report.md: a Markdown table of the rows, what each column means, the machine and the plots.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cook/compress/report/machine.h"
#include "cook/compress/report/plots.h"
#include "cook/compress/report/row.h"

namespace cook::compress::report {

struct Report {
  MachineInfo machine;
  nlohmann::json settings = nlohmann::json::object();  // data, split, seq_len, speed sizes, ...
  std::vector<ModelRow> rows;                           // the dense reference first
};

// The JSON document (without "plots" when `plots` is null).
nlohmann::json to_json(const Report& report, const PlotOutcome* plots = nullptr);
// The Markdown text: table, column explanations, machine, settings, and the plots (or why not).
std::string render_markdown(const Report& report, const PlotOutcome* plots = nullptr);

struct WriteOptions {
  bool plots = true;  // false: no plots, and the report says they were not asked for
  std::string python = "/usr/bin/python3";
  std::string plot_script = default_plot_script();
};

struct WrittenReport {
  std::string json_path;      // <dir>/report.json
  std::string markdown_path;  // <dir>/report.md
  PlotOutcome plots;
};

// Creates `dir`, writes report.json (atomically), draws the plots from it, then writes report.json
// again with the plots' outcome and report.md (both atomically). Errors name the path.
WrittenReport write_report(const Report& report, const std::string& dir, const WriteOptions& options = {});

}  // namespace cook::compress::report

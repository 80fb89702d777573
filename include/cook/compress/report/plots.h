// The report's PNG plots, drawn by scripts/plot_report.py from report.json with /usr/bin/python3
// and matplotlib. Cook does not need them: when Python or matplotlib is missing the plots are
// skipped, and the outcome says so and why (the caller prints it; nothing is skipped silently).
#pragma once
#include <string>
#include <vector>

namespace cook::compress::report {

struct PlotOutcome {
  bool made = false;
  std::vector<std::string> files;  // the PNGs written
  std::string message;             // "plots: a.png, b.png" or "plots skipped: <why>"
};

// $COOK_PLOT_SCRIPT when set, else scripts/plot_report.py of the source tree Cook was built from.
std::string default_plot_script();

// Runs `python script report_json out_dir`. The script prints the files it wrote, one a line.
// A missing interpreter, script or matplotlib gives made = false and says which; a script that
// fails gives made = false with its output.
PlotOutcome make_plots(const std::string& report_json, const std::string& out_dir,
                       const std::string& python = "/usr/bin/python3",
                       const std::string& script = default_plot_script());

}  // namespace cook::compress::report

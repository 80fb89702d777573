// report::write_report: report.json parses back with every row's figures, report.md holds the
// table and the column notes, the plots are drawn when Python and matplotlib are there and their
// absence is said, not hidden.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cook/compress/report/report.h"
#include "cook/weights/checkpoint.h"
#include "report_test_util.h"

namespace cook::compress::report {
namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool have_matplotlib() {
  return ::access("/usr/bin/python3", X_OK) == 0 &&
         std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0;
}

// A report of two rows measured for real on the micro model.
Report two_row_report(const std::string& dir) {
  model::GptJ dense = test::micro_model();
  model::GptJ other = test::micro_model(8);
  weights::save_checkpoint(dir + "/dense.safetensors", *dense, dense->config());
  weights::save_checkpoint(dir + "/other.safetensors", *other, other->config());
  test::RandomEval source;
  MeasureOptions o;
  o.eval_batches = 1;
  o.speed_options = {8, 4, {1, 2}, 1, 16, 0, 1, 1};
  Report r;
  r.machine = describe_machine();
  r.settings = {{"data", "random"}, {"seq_len", 16}};
  r.rows.push_back(measure_model("dense", "dense", dense, dense, source, {dir + "/dense.safetensors"}, o));
  r.rows.push_back(measure_model("other", "D", other, dense, source, {dir + "/other.safetensors"}, o, &r.rows[0]));
  return r;
}

TEST(ReportFiles, JsonAndMarkdownAreWrittenAndParse) {
  const std::string dir = test::temp_dir("files");
  const Report r = two_row_report(dir);
  WriteOptions w;
  w.plots = false;
  const WrittenReport written = write_report(r, dir + "/out", w);
  EXPECT_EQ(written.json_path, dir + "/out/report.json");
  EXPECT_FALSE(written.plots.made);
  EXPECT_EQ(written.plots.message, "plots skipped: not asked for");

  const nlohmann::json j = nlohmann::json::parse(read(written.json_path));
  EXPECT_EQ(j.at("format"), "cook.report");
  EXPECT_EQ(j.at("machine").at("torch_threads"), r.machine.torch_threads);
  EXPECT_EQ(j.at("settings").at("seq_len"), 16);
  ASSERT_EQ(j.at("rows").size(), 2u);
  const auto& row = j.at("rows")[1];
  EXPECT_EQ(row.at("name"), "other");
  EXPECT_EQ(row.at("passes"), "D");
  EXPECT_DOUBLE_EQ(row.at("loss").get<double>(), r.rows[1].loss);
  EXPECT_DOUBLE_EQ(row.at("relative_performance").get<double>(), r.rows[0].loss / r.rows[1].loss);
  EXPECT_EQ(row.at("artefact_bytes").get<int64_t>(), r.rows[1].artefact_bytes);
  EXPECT_EQ(row.at("nonzero_parameters").get<int64_t>(), r.rows[1].parameters.nonzero);
  ASSERT_EQ(row.at("speed").at("decode").size(), 2u);
  EXPECT_EQ(row.at("speed").at("decode")[1].at("batch"), 2);
  EXPECT_DOUBLE_EQ(row.at("speed").at("decode")[1].at("speedup").get<double>(), *r.rows[1].decode_speedup[1]);
  EXPECT_EQ(row.at("speed").at("prefill").at("seq_len"), 16);
  EXPECT_EQ(j.at("rows")[0].at("kl").get<double>(), 0.0);

  const std::string md = read(written.markdown_path);
  EXPECT_NE(md.find("| model | passes | parameters |"), std::string::npos) << md;
  EXPECT_NE(md.find("decode tok/s, batch 1 | decode tok/s, batch 2 | prefill tok/s |"), std::string::npos) << md;
  EXPECT_NE(md.find("| dense | dense |"), std::string::npos) << md;
  EXPECT_NE(md.find("| other | D |"), std::string::npos) << md;
  EXPECT_NE(md.find("**relative performance**: dense loss / this loss"), std::string::npos);
  EXPECT_NE(md.find("CPU: " + r.machine.cpu), std::string::npos);
  EXPECT_NE(md.find("(1.00×)"), std::string::npos);  // the dense row's speedups
  EXPECT_NE(md.find("Not asked for."), std::string::npos);
  // Nothing but the two reports (atomic writes leave no temporary file behind).
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/out")) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST(ReportFiles, PlotsAreDrawnOrTheReportSaysWhyNot) {
  const std::string dir = test::temp_dir("plots");
  const Report r = two_row_report(dir);
  WriteOptions missing;
  missing.python = dir + "/no-python";
  const WrittenReport skipped = write_report(r, dir + "/skipped", missing);
  EXPECT_FALSE(skipped.plots.made);
  EXPECT_EQ(skipped.plots.message, "plots skipped: " + dir + "/no-python is not there (no Python to draw them)");
  EXPECT_NE(read(skipped.markdown_path).find(skipped.plots.message), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(read(skipped.json_path)).at("plots").at("made"), false);

  if (!have_matplotlib()) GTEST_SKIP() << "no /usr/bin/python3 with matplotlib: the drawing itself is not tested";
  const WrittenReport drawn = write_report(r, dir + "/drawn");
  ASSERT_TRUE(drawn.plots.made) << drawn.plots.message;
  ASSERT_EQ(drawn.plots.files.size(), 2u);
  for (const std::string& f : drawn.plots.files) {
    EXPECT_GT(fs::file_size(f), 1000u) << f;
    EXPECT_EQ(read(f).substr(1, 3), "PNG") << f;
  }
  const std::string md = read(drawn.markdown_path);
  EXPECT_NE(md.find("![quality_vs_speedup.png](quality_vs_speedup.png)"), std::string::npos) << md;
  EXPECT_NE(md.find("![size.png](size.png)"), std::string::npos) << md;
}

}  // namespace
}  // namespace cook::compress::report

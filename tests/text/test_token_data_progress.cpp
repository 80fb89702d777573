// cook::Progress (core/progress.h), tested here beside its first user, corpus preparation.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cook/core/progress.h"

namespace cook {
namespace {

// Runs `f` with a Progress writing to a temporary file and returns what it wrote.
template <typename F>
std::string output_of(Progress::Options o, F f) {
  std::FILE* file = std::tmpfile();
  o.stream = file;
  {
    Progress p(o);
    f(p);
  }
  std::fflush(file);
  std::rewind(file);
  std::string s;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) s.append(buf, n);
  std::fclose(file);
  return s;
}

TEST(Progress, PlainLinesOnAPipe) {
  Progress::Options o;
  o.label = "prepare";
  o.total = 10'000'000;
  o.unit = Progress::Unit::bytes;
  o.mode = Progress::Mode::plain;
  o.plain_interval_s = 0.0;  // a line for every update
  const std::string s = output_of(o, [](Progress& p) {
    p.advance(2'500'000);
    p.advance(2'500'000);
    EXPECT_EQ(p.done(), 5'000'000);
    p.finish();
    p.finish();  // once only
  });
  EXPECT_EQ(s.find('\r'), std::string::npos) << s;
  EXPECT_NE(s.find("prepare:  25.0%  2.5/10.0 MB"), std::string::npos) << s;
  EXPECT_NE(s.find("prepare:  50.0%  5.0/10.0 MB"), std::string::npos) << s;
  EXPECT_NE(s.find("MB/s"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA "), std::string::npos) << s;
  EXPECT_NE(s.find("prepare: 5.0 MB in 0:00:00, "), std::string::npos) << s;
  int lines = 0;
  for (char c : s) lines += c == '\n';
  EXPECT_EQ(lines, 3);
}

TEST(Progress, BarOnATerminalAndItemUnits) {
  Progress::Options o;
  o.label = "train";
  o.total = 200;
  o.item_name = "steps";
  o.mode = Progress::Mode::terminal;
  const std::string s = output_of(o, [](Progress& p) {
    p.set(50);
    p.finish();
  });
  EXPECT_NE(s.find("\r\033[Ktrain [#####---------------]   25.0%  50 steps of 200 steps"), std::string::npos) << s;
  EXPECT_NE(s.find("\r\033[Ktrain: 50 steps in "), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  // Without finish() (an exception ended the work) the bar's line is ended, with no summary.
  const std::string early = output_of(o, [](Progress& p) { p.set(50); });
  EXPECT_EQ(early.find("in 0:"), std::string::npos) << early;
  EXPECT_EQ(early.back(), '\n');
}

TEST(Progress, OffWritesNothing) {
  Progress::Options o;
  o.label = "x";
  o.total = 10;
  o.mode = Progress::Mode::off;
  EXPECT_EQ(output_of(o, [](Progress& p) { p.advance(10); }), "");
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00:00");
  EXPECT_EQ(format_duration(3723.4), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace
}  // namespace cook

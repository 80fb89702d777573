// A small progress reporter for long work (corpus preparation, training, evaluation): a redrawn
// bar on a terminal, plain lines on a pipe or log file.
//
//   terminal:  prepare [##########----------]  51.2%  5.5/10.8 MB  12.1 MB/s  ETA 0:00:04
//   plain:     prepare: 51.2%  5.5/10.8 MB  12.1 MB/s  ETA 0:00:04
//
// The bar is redrawn at most 10 times a second; plain lines come at most every `plain_interval_s`
// seconds, plus one at finish(). advance() and set() may be called from several threads.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace cook {

class Progress {
 public:
  enum class Unit { bytes, items };               // bytes: "MB", "MB/s"; items: "12.3k tokens"
  enum class Mode { automatic, terminal, plain, off };  // automatic: terminal iff isatty(stream)

  struct Options {
    std::string label;
    int64_t total = 0;            // 0: unknown (no bar, no ETA)
    Unit unit = Unit::items;
    std::string item_name = "it";  // for Unit::items: "tokens", "steps", ...
    Mode mode = Mode::automatic;
    std::FILE* stream = stderr;
    double plain_interval_s = 10.0;
  };

  explicit Progress(Options options);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Without finish() (work that stopped early, e.g. by an exception) a drawn bar's line is ended
  // and no summary is printed.
  ~Progress();

  void advance(int64_t n);
  void set(int64_t done);
  // A short text shown after the status (e.g. "loss 3.21 lr 1.0e-03"); empty clears it.
  void set_note(std::string note);
  // Prints a line of its own (a warning, an evaluation result) without garbling the bar.
  void message(const std::string& line);
  // Prints the final line (once): done, total time and the mean rate.
  void finish();

  int64_t done() const;
  double elapsed_seconds() const;
  // The text of the current status (no bar, no control characters), e.g. for a log.
  std::string status_line() const;

 private:
  using Clock = std::chrono::steady_clock;
  void maybe_draw_locked();
  std::string status_locked(double now_s) const;
  std::string amount(double v) const;

  Options options_;
  bool terminal_ = false;
  bool finished_ = false;
  int64_t done_ = 0;
  std::string note_;
  Clock::time_point start_;
  double last_draw_s_ = -1.0;
  mutable std::mutex mutex_;
};

// "0:00:04", "1:02:03": a duration in seconds as H:MM:SS.
std::string format_duration(double seconds);

}  // namespace cook

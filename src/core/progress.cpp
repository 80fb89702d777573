#include "cook/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace cook {

namespace {

std::string printf_string(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

constexpr int kBarWidth = 20;

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

Progress::Progress(Options options) : options_(std::move(options)), start_(Clock::now()) {
  switch (options_.mode) {
    case Mode::automatic: terminal_ = options_.stream && isatty(fileno(options_.stream)); break;
    case Mode::terminal: terminal_ = true; break;
    case Mode::plain: case Mode::off: terminal_ = false; break;
  }
  if (!options_.stream) options_.mode = Mode::off;
}

Progress::~Progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  // Work that stopped early (an exception): end a drawn bar's line, claim nothing.
  if (terminal_ && last_draw_s_ >= 0 && options_.mode != Mode::off) {
    std::fprintf(options_.stream, "\n");
    std::fflush(options_.stream);
  }
}

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  maybe_draw_locked();
}

void Progress::set(int64_t done) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = done;
  maybe_draw_locked();
}

void Progress::set_note(std::string note) {
  std::lock_guard<std::mutex> lock(mutex_);
  note_ = std::move(note);
}

void Progress::message(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (options_.mode == Mode::off) return;
  if (terminal_) std::fprintf(options_.stream, "\r\033[K%s\n", line.c_str());
  else std::fprintf(options_.stream, "%s\n", line.c_str());
  std::fflush(options_.stream);
  if (terminal_ && last_draw_s_ >= 0) {  // redraw the bar below the message at once
    last_draw_s_ = -1.0;
    maybe_draw_locked();
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (options_.mode == Mode::off) return;
  const double t = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line = options_.label + ": " + amount(static_cast<double>(done_));
  line += " in " + format_duration(t) + ", ";
  line += amount(t > 0 ? static_cast<double>(done_) / t : 0.0) + "/s";
  if (terminal_) std::fprintf(options_.stream, "\r\033[K%s\n", line.c_str());
  else std::fprintf(options_.stream, "%s\n", line.c_str());
  std::fflush(options_.stream);
}

int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

std::string Progress::status_line() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_locked(elapsed_seconds());
}

std::string Progress::amount(double v) const {
  if (options_.unit == Unit::bytes) return printf_string("%.1f MB", v / 1e6);
  std::string s;
  if (v >= 1e9) s = printf_string("%.2fG", v / 1e9);
  else if (v >= 1e6) s = printf_string("%.2fM", v / 1e6);
  else if (v >= 1e4) s = printf_string("%.1fk", v / 1e3);
  else if (v < 10 && v != std::floor(v)) s = printf_string("%.2f", v);  // slow rates: 0.17 steps/s
  else s = printf_string("%.0f", v);
  return s + " " + options_.item_name;
}

std::string Progress::status_locked(double now_s) const {
  const double done = static_cast<double>(done_);
  const double total = static_cast<double>(options_.total);
  const double rate = now_s > 0 ? done / now_s : 0.0;
  std::string s;
  if (options_.total > 0) {
    s += printf_string("%5.1f%%  ", 100.0 * std::min(done / total, 1.0));
    if (options_.unit == Unit::bytes) {
      s += printf_string("%.1f", done / 1e6) + "/" + amount(total);
    } else {
      s += amount(done) + " of " + amount(total);
    }
  } else {
    s += amount(done);
  }
  s += "  " + amount(rate) + "/s";
  if (options_.total > 0 && rate > 0 && done < total) {
    s += "  ETA " + format_duration((total - done) / rate);
  }
  if (!note_.empty()) s += "  " + note_;
  return s;
}

void Progress::maybe_draw_locked() {
  if (finished_ || options_.mode == Mode::off) return;
  const double now = std::chrono::duration<double>(Clock::now() - start_).count();
  const double interval = terminal_ ? 0.1 : options_.plain_interval_s;
  if (last_draw_s_ >= 0 && now - last_draw_s_ < interval) return;
  if (!terminal_ && last_draw_s_ < 0 && now < interval) return;  // no plain line at the very start
  last_draw_s_ = now;
  if (terminal_) {
    std::string bar;
    if (options_.total > 0) {
      const double f = std::clamp(static_cast<double>(done_) / static_cast<double>(options_.total), 0.0, 1.0);
      const int filled = static_cast<int>(f * kBarWidth);
      bar = " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]";
    }
    std::fprintf(options_.stream, "\r\033[K%s%s  %s", options_.label.c_str(), bar.c_str(),
                 status_locked(now).c_str());
  } else {
    std::fprintf(options_.stream, "%s: %s\n", options_.label.c_str(), status_locked(now).c_str());
  }
  std::fflush(options_.stream);
}

}  // namespace cook

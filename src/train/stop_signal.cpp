#include "cook/train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace cook::train {

namespace {
std::atomic<int> g_signal{0};
std::atomic<int> g_guards{0};
struct sigaction g_previous_int, g_previous_term;

void on_signal(int signal_number) {
  if (g_signal.load() != 0) {  // second signal: give up waiting for a clean stop
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_signal.store(signal_number);
}
}  // namespace

StopSignal::StopSignal() {
  if (g_guards.fetch_add(1) == 0) {
    g_signal.store(0);
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &g_previous_int);
    sigaction(SIGTERM, &action, &g_previous_term);
  }
}

StopSignal::~StopSignal() {
  if (g_guards.fetch_sub(1) == 1) {
    sigaction(SIGINT, &g_previous_int, nullptr);
    sigaction(SIGTERM, &g_previous_term, nullptr);
    g_signal.store(0);
  }
}

bool StopSignal::requested() const { return g_signal.load() != 0; }
int StopSignal::signal_number() const { return g_signal.load(); }
void StopSignal::raise_for_test(int signal_number) { g_signal.store(signal_number); }

}  // namespace cook::train

// cook launch: starts N local workers of a command with the environment torchrun gives its
// workers (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), for
// machines without torchrun. Waits for all; when one fails, the others get --grace seconds to
// stop by themselves (their collectives fail within --dist-timeout) before they are terminated.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cook/cli/commands.h"
#include "cook/core/error.h"

namespace cook::cli {

namespace {

struct LaunchArgs {
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: a free port
  double grace_s = 30;
  std::vector<std::string> command;
};

volatile std::sig_atomic_t g_forward_signal = 0;
void remember_signal(int sig) { g_forward_signal = sig; }

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--master-port", "cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error("--master-port", "cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "cook";
  return std::string(buf, static_cast<size_t>(n));
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

int run_launch(const LaunchArgs& a) {
  if (a.nproc < 1) throw Error("--nproc", "must be at least 1");
  if (a.command.empty()) throw Error("launch", "give the command after '--', e.g. cook launch --nproc 2 -- cook train ...");
  if (a.grace_s < 0) throw Error("--grace", "must not be negative");
  const int port = a.master_port > 0 ? a.master_port : free_port();
  std::vector<std::string> command = a.command;
  if (command[0] == "cook") command[0] = self_executable();  // the very binary that launches

  std::signal(SIGINT, remember_signal);
  std::signal(SIGTERM, remember_signal);
  std::map<pid_t, int> ranks;  // live workers
  for (int rank = 0; rank < a.nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error("launch", "fork failed for rank " + std::to_string(rank));
    if (pid == 0) {
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("GROUP_RANK", "0", 1);
      ::setenv("WORLD_SIZE", std::to_string(a.nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(a.nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", a.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv;
      for (auto& s : command) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "cook launch: rank %d: cannot run '%s'\n", rank, argv[0]);
      std::_Exit(127);
    }
    ranks[pid] = rank;
  }

  using Clock = std::chrono::steady_clock;
  int exit_code = 0;
  bool failed = false, terminated = false, signal_forwarded = false;
  Clock::time_point deadline;
  while (!ranks.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0 && ranks.count(pid)) {
      const int rank = ranks[pid];
      ranks.erase(pid);
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && !failed) {
        failed = true;
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(a.grace_s * 1000));
        std::fprintf(stderr, "cook launch: rank %d %s; waiting up to %g s for the other %zu rank(s) to stop\n", rank,
                     describe(status).c_str(), a.grace_s, ranks.size());
      } else if (!ok) {
        std::fprintf(stderr, "cook launch: rank %d %s\n", rank, describe(status).c_str());
      }
      continue;
    }
    if (g_forward_signal != 0 && !signal_forwarded) {  // let the workers save and stop
      signal_forwarded = true;
      for (const auto& [p, r] : ranks) ::kill(p, SIGTERM);
    }
    if (failed && !terminated && Clock::now() >= deadline) {
      terminated = true;
      for (const auto& [p, r] : ranks) {
        std::fprintf(stderr, "cook launch: rank %d did not stop within %g s; terminating it\n", r, a.grace_s);
        ::kill(p, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code;
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto args = std::make_shared<LaunchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Start N local workers of a command with torchrun's environment (cook launch --nproc N -- cook train ...)");
  cmd->add_option("--nproc", args->nproc, "Worker processes (ranks) to start")->capture_default_str();
  cmd->add_option("--master-addr", args->master_addr, "Address of rank 0's rendezvous store")->capture_default_str();
  cmd->add_option("--master-port", args->master_port, "Port of the rendezvous store (0: a free one)")->capture_default_str();
  cmd->add_option("--grace", args->grace_s,
                  "Seconds the other ranks get to stop by themselves after one fails, before they are killed")
      ->capture_default_str();
  cmd->add_option("command", args->command, "The worker command, after '--' ('cook' means this binary)")->required();
  cmd->callback([args] {
    const int code = run_launch(*args);
    std::fflush(stdout);
    std::fflush(stderr);
    if (code != 0) std::exit(code);
  });
}

}  // namespace cook::cli

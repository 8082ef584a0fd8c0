// What a thread's module state holds that must end with the thread: fds and
// children tied to its Node-API environment, released at its teardown
// (worker exit, worker.terminate(), where no JS runs any more). The library
// ties from worker threads only (src/thread-ties.ts); docs/design.md,
// "forkserver" (A worker's server ends with its thread). Exports tieFd,
// untieFd, tieChild, untieChild.
//
// The program unties an fd before it closes it and a child before it
// reaps it, so the two never both close (a reused fd number) or reap (a
// recycled pid).
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common.h"
#include "pidfd.h"

namespace pp {

namespace {

// How long a tied child may take to exit after its fds were closed, before
// SIGKILL. Its server exits at EOF in a few ms; this only bounds a wedged one.
constexpr int64_t kGraceNs = 2000000000;

struct TiedChild {
  pid_t pid;
  int pidfd;     // -1 on the pipe fallback
  int sentinel;  // the pidfd itself, or the fallback pipe's read end
};

// Per environment: each export gets it as its data, the hook as its arg.
struct Ties {
  std::vector<int> fds;
  std::vector<TiedChild> children;
};

Ties* TiesOf(const Napi::CallbackInfo& info) {
  return static_cast<Ties*>(info.Data());
}

void SleepMs(long ms) {
  struct timespec pause = {0, ms * 1000000};
  nanosleep(&pause, nullptr);  // EINTR: the caller's loop looks again
}

// Waits until `c` has exited or `deadline_ns`, then SIGKILLs it if it has
// not, reaps it and closes its fds.
void EndChild(const TiedChild& c, int64_t deadline_ns) {
  bool reaped = false;
  if (c.pidfd >= 0) {
    struct pollfd pfd = {c.pidfd, POLLIN, 0};
    if (PollUntil(&pfd, 1, deadline_ns) <= 0) PidfdSendSignal(c.pidfd, SIGKILL);
  } else {
    // The fallback sentinel is not waited on: the server's own fork
    // children inherit its write end. The pid is: until reaped it is ours.
    for (;;) {
      int status;
      pid_t r = waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid || (r < 0 && errno != EINTR)) {
        reaped = true;  // or ECHILD: reaped by someone else, nothing to do
        break;
      }
      if (r == 0 && RemainingMs(deadline_ns) == 0) {
        SendSignal(c.pid, SIGKILL);  // still our unreaped child: its pid
        break;
      }
      if (r == 0) SleepMs(1);
    }
  }
  if (!reaped) ReapDiscard(c.pid, c.pidfd);
  if (c.pidfd >= 0) CloseFd(c.pidfd);
  if (c.sentinel != c.pidfd) CloseFd(c.sentinel);
}

// The environment's teardown: the tied fds first (a forkserver sees EOF on
// its socket and liveness pipe and exits), then the children, all within
// one grace period.
void EndTies(void* arg) {
  auto* ties = static_cast<Ties*>(arg);
  int saved = errno;
  for (int fd : ties->fds) CloseFd(fd);
  int64_t deadline = NowNs() + kGraceNs;
  for (const TiedChild& c : ties->children) EndChild(c, deadline);
  delete ties;
  errno = saved;
}

// tieFd(fd): closed at this environment's teardown unless untied first.
Napi::Value TieFd(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ValueInt(info.Env(), info[0], "fd", 0, INT32_MAX);
  TiesOf(info)->fds.push_back(fd);
  return info.Env().Undefined();
}

// untieFd(fd): the program closes it itself (call before closing it).
Napi::Value UntieFd(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ValueInt(info.Env(), info[0], "fd", 0, INT32_MAX);
  std::vector<int>& fds = TiesOf(info)->fds;
  fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
  return info.Env().Undefined();
}

// tieChild(pid, pidfd, sentinel): at teardown, after the tied fds are
// closed, the child is given the grace period to exit, then SIGKILLed,
// reaped, and its pidfd and sentinel closed. pidfd -1: the pipe fallback.
Napi::Value TieChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 3);
  pid_t pid = ValueInt(env, info[0], "pid", 1, INT32_MAX);
  int pidfd = ValueInt(env, info[1], "pidfd", -1, INT32_MAX);
  int sentinel = ValueInt(env, info[2], "sentinel", 0, INT32_MAX);
  TiesOf(info)->children.push_back({pid, pidfd, sentinel});
  return env.Undefined();
}

// untieChild(pid): the program reaps the child and closes its fds itself
// (call before either).
Napi::Value UntieChild(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  pid_t pid = ValueInt(info.Env(), info[0], "pid", 1, INT32_MAX);
  std::vector<TiedChild>& children = TiesOf(info)->children;
  children.erase(std::remove_if(children.begin(), children.end(),
                                [pid](const TiedChild& c) { return c.pid == pid; }),
                 children.end());
  return info.Env().Undefined();
}

}  // namespace

void InitTie(Napi::Env env, Napi::Object exports) {
  auto* ties = new Ties();
  // Cleanup hooks run last-registered first: registered before poll.cc's
  // (addon.cc's order), this one runs after the reactor's epoll set is
  // closed, so nothing polls an fd closed here.
  napi_add_env_cleanup_hook(env, EndTies, ties);
  exports.Set("tieFd", Napi::Function::New(env, TieFd, "tieFd", ties));
  exports.Set("untieFd", Napi::Function::New(env, UntieFd, "untieFd", ties));
  exports.Set("tieChild", Napi::Function::New(env, TieChild, "tieChild", ties));
  exports.Set("untieChild", Napi::Function::New(env, UntieChild, "untieChild", ties));
}

}  // namespace pp

// What a thread's module state holds that must end with the thread: fds and
// children tied to its Node-API environment, released at its teardown
// (worker exit, worker.terminate(), where no JS runs any more). The library
// ties from worker threads only (src/thread-ties.ts); docs/design.md,
// "forkserver" (A worker's server ends with its thread, A worker's own
// children at its end). Exports tieFd, untieFd, tieChild, untieChild.
//
// The program unties an fd before it closes it and a child before it
// reaps it, so the two never both close (a reused fd number) or reap (a
// recycled pid).
#include <pthread.h>
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

// What the teardown does with a tied child.
enum class Policy {
  kEnd,        // a forkserver server: grace period, then SIGKILL; reaped
  kRelease,    // the program's child: lives on, reaped once it exits
  kTerminate,  // a daemon child: SIGTERM, then as kRelease
};

struct TiedChild {
  pid_t pid;
  int pidfd;     // -1 on the pipe fallback
  int sentinel;  // the pidfd itself, or the fallback pipe's read end
  Policy policy;
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

void CloseChildFds(const TiedChild& c) {
  if (c.pidfd >= 0) CloseFd(c.pidfd);
  if (c.sentinel >= 0 && c.sentinel != c.pidfd) CloseFd(c.sentinel);
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
      if (ReapDiscardNow(c.pid, -1)) {
        reaped = true;  // or ECHILD: reaped by someone else, nothing to do
        break;
      }
      if (RemainingMs(deadline_ns) == 0) {
        SendSignal(c.pid, SIGKILL);  // still our unreaped child: its pid
        break;
      }
      SleepMs(1);
    }
  }
  if (!reaped) ReapDiscard(c.pid, c.pidfd);
  CloseChildFds(c);
}

// The reaper thread: reaps each released child as it exits, closes its
// pidfd, and ends when none is left. It touches no Node-API state (the
// environment is gone). pidfds are polled together; on the pipe fallback
// the sentinel says nothing (the child's own children may hold the write
// end), so each pid is waited for in turn with a blocking waitpid: a child
// that exits early stays a zombie until those before it are reaped.
void* ReapReleased(void* arg) {
  std::vector<TiedChild>* left = static_cast<std::vector<TiedChild>*>(arg);
  std::vector<struct pollfd> pfds;
  for (;;) {
    pfds.clear();
    for (const TiedChild& c : *left) {
      if (c.pidfd >= 0) pfds.push_back({c.pidfd, POLLIN, 0});
    }
    if (pfds.empty()) break;
    if (PollUntil(pfds.data(), pfds.size(), -1) < 0) break;  // not EINTR: cannot wait
    for (const struct pollfd& p : pfds) {
      if (p.revents == 0) continue;
      auto it = std::find_if(left->begin(), left->end(),
                             [&p](const TiedChild& c) { return c.pidfd == p.fd; });
      ReapDiscard(it->pid, it->pidfd);
      CloseChildFds(*it);
      left->erase(it);
    }
  }
  for (const TiedChild& c : *left) {
    ReapDiscard(c.pid, c.pidfd);  // no pidfd: a blocking waitpid (or ECHILD)
    CloseChildFds(c);
  }
  delete left;
  return nullptr;
}

// One detached thread for `left` (taken over), every signal blocked in it
// (they are the program's threads' to handle). False if it cannot be made.
bool StartReaper(std::vector<TiedChild>* left) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t old;
  BlockAllSignals(&old);
  pthread_t thread;
  int err = pthread_create(&thread, &attr, ReapReleased, left);
  SetSignalMask(&old);
  pthread_attr_destroy(&attr);
  return err == 0;
}

// The environment's teardown. Daemon children get SIGTERM, as at process
// exit (src/children.ts). The tied fds are closed (a forkserver sees EOF on
// its socket and liveness pipe and exits), its server given one grace
// period. The program's children are not killed: those that have exited
// are reaped now, the rest handed to one reaper thread, which keeps their
// pidfds until they exit (a fallback sentinel is closed now).
void EndTies(void* arg) {
  auto* ties = static_cast<Ties*>(arg);
  int saved = errno;
  for (const TiedChild& c : ties->children) {
    if (c.policy != Policy::kTerminate) continue;
    // Tied: not reaped by us, so the pid is still the child's.
    if (c.pidfd >= 0) PidfdSendSignal(c.pidfd, SIGTERM);
    else SendSignal(c.pid, SIGTERM);
  }
  for (int fd : ties->fds) CloseFd(fd);
  int64_t deadline = NowNs() + kGraceNs;
  auto* left = new std::vector<TiedChild>();
  for (const TiedChild& c : ties->children) {
    if (c.policy == Policy::kEnd) EndChild(c, deadline);
    else if (ReapDiscardNow(c.pid, c.pidfd)) CloseChildFds(c);
    else if (c.pidfd >= 0) left->push_back(c);
    else {
      // The reaper waits by pid: the fallback sentinel is of no use to it.
      CloseFd(c.sentinel);
      left->push_back({c.pid, -1, -1, c.policy});
    }
  }
  if (left->empty() || !StartReaper(left)) {
    // No thread (EAGAIN): the fds are closed, the children left unreaped.
    for (const TiedChild& c : *left) CloseChildFds(c);
    delete left;
  }
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

// tieChild(pid, pidfd, sentinel, policy): at teardown the child is, by
// policy, 'end': given the grace period to exit after the tied fds are
// closed, then SIGKILLed; 'release': left running; 'terminate': sent
// SIGTERM. Either way reaped (at once, or by the reaper thread once it
// exits) and its pidfd and sentinel closed. pidfd -1: the pipe fallback.
Napi::Value TieChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 4);
  pid_t pid = ValueInt(env, info[0], "pid", 1, INT32_MAX);
  int pidfd = ValueInt(env, info[1], "pidfd", -1, INT32_MAX);
  int sentinel = ValueInt(env, info[2], "sentinel", 0, INT32_MAX);
  std::string name = ValueString(env, info[3], "policy");
  Policy policy;
  if (name == "end") policy = Policy::kEnd;
  else if (name == "release") policy = Policy::kRelease;
  else if (name == "terminate") policy = Policy::kTerminate;
  else ThrowRangeError(env, "The argument 'policy' must be 'end', 'release' or 'terminate'", "ERR_INVALID_ARG_VALUE");
  TiesOf(info)->children.push_back({pid, pidfd, sentinel, policy});
  return env.Undefined();
}

// untieChild(pid, sentinel): the program reaps the child and closes its fds
// itself (call before either). The sentinel, an open fd, tells apart a
// child reaped elsewhere from a new one that got its pid.
Napi::Value UntieChild(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  pid_t pid = ValueInt(info.Env(), info[0], "pid", 1, INT32_MAX);
  int sentinel = ValueInt(info.Env(), info[1], "sentinel", 0, INT32_MAX);
  std::vector<TiedChild>& children = TiesOf(info)->children;
  children.erase(std::remove_if(children.begin(), children.end(),
                                [pid, sentinel](const TiedChild& c) {
                                  return c.pid == pid && c.sentinel == sentinel;
                                }),
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

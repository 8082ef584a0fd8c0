// Waiting: waitpid (as wait4), waitid (by pid and by pidfd), and the
// exports waitpid, waitpidTimeout, pidfdWait, pidfdExitStatus and
// decodeWaitStatus.
//
// Only children the caller names are waited for: never waitpid(-1), never a
// SIGCHLD handler (Node's child_process and other libraries reap their own).
// A child with a pidfd is waited for through it (waitid(P_PIDFD)): a pid can
// be recycled once someone else has reaped it, a pidfd cannot. A timed wait
// polls the child's pidfd with the remaining time, recomputed after EINTR;
// without pidfds a helper thread blocks in waitid(WNOWAIT) (which does not
// reap) and writes to a pipe the caller polls; the caller cancels and joins
// it before returning, so no thread or fd outlives the call.
// docs/design.md, "Sentinels, waiting and pid reuse".
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "common.h"
#include "objects.h"
#include "pidfd.h"

namespace pp {

long WaitidPidfd(int pidfd, siginfo_t* info, int options, struct rusage* ru) {
  // The kernel's struct rusage is glibc's on 64-bit targets only; elsewhere
  // the usage is not asked for.
#if defined(__LP64__)
  return syscall(SYS_waitid, P_PIDFD, pidfd, info, options, ru);
#else
  if (ru != nullptr) memset(ru, 0, sizeof(*ru));
  return syscall(SYS_waitid, P_PIDFD, pidfd, info, options, nullptr);
#endif
}

void ReapDiscard(pid_t pid, int pidfd) {
  if (pidfd >= 0) {
    siginfo_t info;
    while (WaitidPidfd(pidfd, &info, WEXITED, nullptr) < 0 && errno == EINTR) {
    }
    return;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

bool ReapDiscardNow(pid_t pid, int pidfd) {
  for (;;) {
    if (pidfd >= 0) {
      siginfo_t info;
      memset(&info, 0, sizeof info);  // si_pid stays 0 if it still runs
      if (WaitidPidfd(pidfd, &info, WEXITED | WNOHANG, nullptr) == 0) return info.si_pid != 0;
    } else {
      int status;
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r >= 0) return r == pid;
    }
    if (errno != EINTR) return true;
  }
}

namespace {

// The keys of the objects this file makes (objects.h: the table is each
// export's function data).
enum WaitKey : size_t {
  // WaitStatus, in the order JS sees its keys.
  kPid, kRaw, kExited, kExitStatus, kSignaled, kTermSignal, kCoreDumped,
  kStopped, kStopSignal, kContinued, kExitCode, kRusage,
  // ResourceUsage, likewise.
  kUserCPUTime, kSystemCPUTime, kMaxRSS, kMinorPageFault, kMajorPageFault,
  kFsRead, kFsWrite, kVoluntaryContextSwitches, kInvoluntaryContextSwitches,
  kWaitKeyCount
};
const char* const kWaitKeyNames[kWaitKeyCount] = {
    "pid", "raw", "exited", "exitStatus", "signaled", "termSignal",
    "coreDumped", "stopped", "stopSignal", "continued", "exitCode", "rusage",
    "userCPUTime", "systemCPUTime", "maxRSS", "minorPageFault",
    "majorPageFault", "fsRead", "fsWrite", "voluntaryContextSwitches",
    "involuntaryContextSwitches"};

}  // namespace

// The reaped child's resources (wait4), named as Node's
// process.resourceUsage() names them: CPU times in microseconds, maxRSS in
// KiB.
Napi::Object MakeResourceUsage(Napi::Env env, const ObjectShapes& shapes,
                               const struct rusage& ru) {
  auto micros = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec);
  };
  auto number = [env](double value) -> napi_value { return Napi::Number::New(env, value); };
  napi_value values[] = {
      number(micros(ru.ru_utime)),
      number(micros(ru.ru_stime)),
      number(static_cast<double>(ru.ru_maxrss)),
      number(static_cast<double>(ru.ru_minflt)),
      number(static_cast<double>(ru.ru_majflt)),
      number(static_cast<double>(ru.ru_inblock)),
      number(static_cast<double>(ru.ru_oublock)),
      number(static_cast<double>(ru.ru_nvcsw)),
      number(static_cast<double>(ru.ru_nivcsw)),
  };
  static_assert(sizeof(values) / sizeof(values[0]) == kWaitKeyCount - kUserCPUTime, "one value per key");
  return shapes.Make(env, kUserCPUTime, kWaitKeyCount - kUserCPUTime, values);
}

Napi::Object MakeWaitStatus(Napi::Env env, const ObjectShapes& shapes, int pid,
                            int raw, const struct rusage* ru) {
  bool exited = WIFEXITED(raw);
  bool signaled = WIFSIGNALED(raw);
  bool stopped = WIFSTOPPED(raw);
  bool continued = WIFCONTINUED(raw);
  napi_value null = env.Null();
  auto number = [env](int value) -> napi_value { return Napi::Number::New(env, value); };
  auto boolean = [env](bool value) -> napi_value { return Napi::Boolean::New(env, value); };
  napi_value code = null;
  if (exited) code = number(WEXITSTATUS(raw));
  if (signaled) code = number(-WTERMSIG(raw));
  // Only a reaped child has final resource usage to report.
  bool reaped = ru != nullptr && (exited || signaled);
  napi_value values[] = {
      number(pid),
      number(raw),
      boolean(exited),
      exited ? number(WEXITSTATUS(raw)) : null,
      boolean(signaled),
      signaled ? number(WTERMSIG(raw)) : null,
      boolean(signaled && WCOREDUMP(raw)),
      boolean(stopped),
      stopped ? number(WSTOPSIG(raw)) : null,
      boolean(continued),
      code,
      reaped ? static_cast<napi_value>(MakeResourceUsage(env, shapes, *ru)) : null,
  };
  static_assert(sizeof(values) / sizeof(values[0]) == kUserCPUTime, "one value per key");
  return shapes.Make(env, kPid, kUserCPUTime, values);
}

namespace {

// waitpid as wait4 (the same call, plus the child's rusage), EINTR
// retried. Returns the pid, 0 for WNOHANG with nothing to report, or -1
// with errno set.
pid_t WaitRetry(pid_t pid, int* status, int flags, struct rusage* ru) {
  pid_t r;
  do {
    r = wait4(pid, status, flags, ru);
  } while (r < 0 && errno == EINTR);
  return r;
}

Napi::Value StatusOrNull(Napi::Env env, const ObjectShapes& shapes, pid_t pid, int flags) {
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  pid_t r = WaitRetry(pid, &status, flags, &ru);
  if (r < 0) ThrowErrno(env, errno, "waitpid");
  if (r == 0) return env.Null();
  return MakeWaitStatus(env, shapes, r, status, &ru);
}

// The wait status waitpid would have returned, rebuilt from waitid's
// siginfo (the encoding every WIF* macro decodes).
int RawStatus(const siginfo_t& info) {
  int value = info.si_status;
  switch (info.si_code) {
    case CLD_EXITED: return (value & 0xff) << 8;
    case CLD_KILLED: return value & 0x7f;
    case CLD_DUMPED: return (value & 0x7f) | 0x80;
    case CLD_STOPPED:
    case CLD_TRAPPED: return ((value & 0xff) << 8) | 0x7f;
    case CLD_CONTINUED: return 0xffff;
    default: return 0;
  }
}

// waitpid's options as waitid flags (WEXITED always).
int WaitidFlags(int waitpid_flags) {
  int flags = WEXITED;
  if (waitpid_flags & WNOHANG) flags |= WNOHANG;
  if (waitpid_flags & WUNTRACED) flags |= WSTOPPED;
  if (waitpid_flags & WCONTINUED) flags |= WCONTINUED;
  return flags;
}

// The child `pidfd` refers to, waited for through the pidfd: never another
// process that got its pid. `flags` are waitpid's.
Napi::Value PidfdStatusOrNull(Napi::Env env, const ObjectShapes& shapes, int pidfd,
                              int flags) {
  siginfo_t info;
  memset(&info, 0, sizeof(info));  // si_pid stays 0 when WNOHANG finds nothing
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  long r;
  do {
    r = WaitidPidfd(pidfd, &info, WaitidFlags(flags), &ru);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "waitid");
  if (info.si_pid == 0) return env.Null();
  return MakeWaitStatus(env, shapes, info.si_pid, RawStatus(info), &ru);
}

// waitpid's options object: { nohang, untraced, continued } -> flags.
int WaitOptions(Napi::Env env, Napi::Value value) {
  Napi::Object o = ValueOptions(env, value);
  return (OptionalBool(env, o, "nohang", false) ? WNOHANG : 0) |
         (OptionalBool(env, o, "untraced", false) ? WUNTRACED : 0) |
         (OptionalBool(env, o, "continued", false) ? WCONTINUED : 0);
}

const ObjectShapes& ShapesOf(const Napi::CallbackInfo& info) {
  return *static_cast<const ObjectShapes*>(info.Data());
}

Napi::Value Waitpid(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  pid_t pid = ValueInt(info.Env(), info[0], "pid", 1, INT32_MAX);
  const ObjectShapes& shapes = ShapesOf(info);
  return StatusOrNull(info.Env(), shapes, pid, WaitOptions(info.Env(), info[1]));
}

// pidfdWait(pidfd, options): waitpid for the child a pidfd refers to.
// ENOSYS where pidfds are off, as pidfdOpen.
Napi::Value PidfdWait(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int pidfd = ValueInt(info.Env(), info[0], "pidfd", 0, INT32_MAX);
  const ObjectShapes& shapes = ShapesOf(info);
  int flags = WaitOptions(info.Env(), info[1]);
  if (!PidfdEnabled()) ThrowErrno(info.Env(), ENOSYS, "waitid");
  return PidfdStatusOrNull(info.Env(), shapes, pidfd, flags);
}

// pidfdExitStatus(pidfd, pid): the status of a child reaped by someone
// else, as the kernel keeps it for pidfd holders (PIDFD_INFO_EXIT, Linux
// 6.15+); null when this kernel does not keep it or the child is not
// reaped yet. No rusage: that went to whoever reaped it.
Napi::Value PidfdExitStatusExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  int pidfd = ValueInt(env, info[0], "pidfd", 0, INT32_MAX);
  pid_t pid = ValueInt(env, info[1], "pid", 1, INT32_MAX);
  int status = 0;
  int known = PidfdExitStatus(pidfd, &status);
  if (known < 0) ThrowErrno(env, errno, "ioctl");
  if (known == 0) return env.Null();
  return MakeWaitStatus(env, ShapesOf(info), pid, status, nullptr);
}

// Fallback exit notification for a pid with no pidfd: a helper thread
// blocks in waitid(WNOWAIT), which sees the exit without reaping, and
// writes a byte to `write_end`.
struct ExitWatch {
  pid_t pid;
  int write_end;
};

void* WatchExit(void* arg) {
  auto* watch = static_cast<ExitWatch*>(arg);
  siginfo_t info;
  // waitid is a cancellation point: the caller's pthread_cancel ends the
  // thread there when it stops waiting (timeout); nothing to clean up, the
  // caller owns both fds.
  while (waitid(P_PID, watch->pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
  char byte = 1;
  WriteAll(watch->write_end, &byte, 1);
  return nullptr;
}

// Blocks until `pid` has exited (not reaped) or the deadline passed: true
// when it has exited. On failure throws the failed call's system error.
// Leaves no thread and no fd behind.
bool WaitExitFallback(Napi::Env env, pid_t pid, int64_t deadline) {
  int p[2];
  if (OpenPipe(p) < 0) ThrowErrno(env, errno, "pipe");
  ExitWatch watch{pid, p[1]};
  pthread_t thread;
  int err;
  {
    // Created with every signal blocked (the thread inherits the mask):
    // handlers must run on the JS thread. Cancellation's own signal cannot
    // be blocked.
    sigset_t old;
    BlockAllSignals(&old);
    err = pthread_create(&thread, nullptr, WatchExit, &watch);
    SetSignalMask(&old);
  }
  if (err != 0) {
    CloseFd(p[0]);
    CloseFd(p[1]);
    ThrowErrno(env, err, "pthread_create");
  }
  struct pollfd pfd = {p[0], POLLIN, 0};
  int n = PollUntil(&pfd, 1, deadline);
  int poll_err = errno;
  if (n <= 0) pthread_cancel(thread);  // timed out (or poll failed): stop it
  pthread_join(thread, nullptr);
  CloseFd(p[0]);
  CloseFd(p[1]);
  if (n < 0) ThrowErrno(env, poll_err, "poll");
  return n > 0;
}

Napi::Value WaitpidTimeout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ObjectShapes& shapes = ShapesOf(info);
  CheckArgCount(info, 1);
  pid_t pid = ValueInt(env, info[0], "pid", 1, INT32_MAX);
  if (OptionalValue(info[1]).IsEmpty()) return StatusOrNull(env, shapes, pid, 0);  // no timeout: forever
  if (!info[1].IsNumber()) ThrowTypeError(env, "The \"timeout\" argument must be of type number");
  double seconds = info[1].As<Napi::Number>().DoubleValue();
  if (std::isnan(seconds)) ThrowRangeError(env, "The value of \"timeout\" must not be NaN");
  if (seconds <= 0) return StatusOrNull(env, shapes, pid, WNOHANG);
  if (seconds > 1e9) return StatusOrNull(env, shapes, pid, 0);

  int64_t deadline = NowNs() + static_cast<int64_t>(seconds * 1e9);
  Napi::Value ready = StatusOrNull(env, shapes, pid, WNOHANG);
  if (!ready.IsNull()) return ready;

  if (!PidfdEnabled()) {
    if (!WaitExitFallback(env, pid, deadline)) return env.Null();
    return StatusOrNull(env, shapes, pid, WNOHANG);
  }
  int fd = PidfdOpen(pid);
  if (fd < 0) {
    // ESRCH: no such process; let waitpid say what is wrong (ECHILD).
    if (errno == ESRCH) return StatusOrNull(env, shapes, pid, WNOHANG);
    ThrowErrno(env, errno, "pidfd_open");
  }
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = PollUntil(&pfd, 1, deadline);
    if (n <= 0) {
      int e = errno;
      CloseFd(fd);
      if (n < 0) ThrowErrno(env, e, "poll");
      return env.Null();
    }
    // Reaped through the pidfd: the process whose exit we saw, even if its
    // pid was reaped and reused meanwhile. Errors are waitid's (ECHILD).
    Napi::Value status;
    try {
      status = PidfdStatusOrNull(env, shapes, fd, WNOHANG);
    } catch (...) {
      CloseFd(fd);
      throw;
    }
    if (!status.IsNull() || RemainingMs(deadline) == 0) {
      CloseFd(fd);
      return status;
    }
    // Exited yet nothing to reap: someone else is reaping it at this very
    // moment, and ECHILD follows. Look again in a millisecond.
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, nullptr);
  }
}

Napi::Value DecodeWaitStatus(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int raw = ValueInt(info.Env(), info[0], "raw", 0, 0xffff);
  int pid = info[1].IsUndefined() ? 0 : ValueInt(info.Env(), info[1], "pid", 0, INT32_MAX);
  return MakeWaitStatus(info.Env(), ShapesOf(info), pid, raw, nullptr);
}

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  void* shapes = const_cast<ObjectShapes*>(ObjectShapes::New(env, kWaitKeyNames));
  exports.Set("waitpid", Napi::Function::New(env, Waitpid, "waitpid", shapes));
  exports.Set("waitpidTimeout",
              Napi::Function::New(env, WaitpidTimeout, "waitpidTimeout", shapes));
  exports.Set("pidfdWait", Napi::Function::New(env, PidfdWait, "pidfdWait", shapes));
  exports.Set("pidfdExitStatus",
              Napi::Function::New(env, PidfdExitStatusExport, "pidfdExitStatus", shapes));
  exports.Set("decodeWaitStatus",
              Napi::Function::New(env, DecodeWaitStatus, "decodeWaitStatus", shapes));
}

}  // namespace pp

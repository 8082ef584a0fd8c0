// waitpid, waitpidTimeout and wait-status decoding.
//
// Only pids the caller names are waited for: never waitpid(-1), never a
// SIGCHLD handler (Node's child_process and other libraries reap their own).
// A timed wait polls the child's pidfd with the remaining time, recomputed
// after EINTR; without pidfds a short-lived thread blocks in
// waitid(WNOWAIT) (which does not reap) and closes a pipe the caller polls.
#include <poll.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>

#include "common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace pp {

// The reaped child's resources (wait4), named as Node's
// process.resourceUsage() names them: CPU times in microseconds, maxRSS in
// KiB.
Napi::Object MakeResourceUsage(Napi::Env env, const struct rusage& ru) {
  Napi::Object u = Napi::Object::New(env);
  auto micros = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec);
  };
  u.Set("userCPUTime", Napi::Number::New(env, micros(ru.ru_utime)));
  u.Set("systemCPUTime", Napi::Number::New(env, micros(ru.ru_stime)));
  u.Set("maxRSS", Napi::Number::New(env, static_cast<double>(ru.ru_maxrss)));
  u.Set("minorPageFault", Napi::Number::New(env, static_cast<double>(ru.ru_minflt)));
  u.Set("majorPageFault", Napi::Number::New(env, static_cast<double>(ru.ru_majflt)));
  u.Set("fsRead", Napi::Number::New(env, static_cast<double>(ru.ru_inblock)));
  u.Set("fsWrite", Napi::Number::New(env, static_cast<double>(ru.ru_oublock)));
  u.Set("voluntaryContextSwitches", Napi::Number::New(env, static_cast<double>(ru.ru_nvcsw)));
  u.Set("involuntaryContextSwitches", Napi::Number::New(env, static_cast<double>(ru.ru_nivcsw)));
  return u;
}

Napi::Object MakeWaitStatus(Napi::Env env, int pid, int raw, const struct rusage* ru) {
  Napi::Object s = Napi::Object::New(env);
  bool exited = WIFEXITED(raw);
  bool signaled = WIFSIGNALED(raw);
  bool stopped = WIFSTOPPED(raw);
  bool continued = WIFCONTINUED(raw);
  s.Set("pid", Napi::Number::New(env, pid));
  s.Set("raw", Napi::Number::New(env, raw));
  s.Set("exited", Napi::Boolean::New(env, exited));
  s.Set("exitStatus", exited ? Napi::Number::New(env, WEXITSTATUS(raw)) : env.Null());
  s.Set("signaled", Napi::Boolean::New(env, signaled));
  s.Set("termSignal", signaled ? Napi::Number::New(env, WTERMSIG(raw)) : env.Null());
  s.Set("coreDumped", Napi::Boolean::New(env, signaled && WCOREDUMP(raw)));
  s.Set("stopped", Napi::Boolean::New(env, stopped));
  s.Set("stopSignal", stopped ? Napi::Number::New(env, WSTOPSIG(raw)) : env.Null());
  s.Set("continued", Napi::Boolean::New(env, continued));
  Napi::Value code = env.Null();
  if (exited) code = Napi::Number::New(env, WEXITSTATUS(raw));
  if (signaled) code = Napi::Number::New(env, -WTERMSIG(raw));
  s.Set("exitCode", code);
  // Only a reaped child has final resource usage to report.
  bool reaped = ru != nullptr && (exited || signaled);
  s.Set("rusage", reaped ? Napi::Value(MakeResourceUsage(env, *ru)) : env.Null());
  return s;
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

Napi::Value StatusOrNull(Napi::Env env, pid_t pid, int flags) {
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  pid_t r = WaitRetry(pid, &status, flags, &ru);
  if (r < 0) ThrowErrno(env, errno, "waitpid");
  if (r == 0) return env.Null();
  return MakeWaitStatus(env, r, status, &ru);
}

// A readable fd that becomes ready when `pid` has exited, without reaping
// it: a pidfd, or a pipe closed by a thread blocked in waitid(WNOWAIT).
// On failure: -1, with the errno and the failed call in *err, *call.
int ExitNotifier(pid_t pid, int* err, const char** call) {
  if (PidfdEnabled()) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      *err = errno;
      *call = "pidfd_open";
    }
    return fd;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    *err = errno;
    *call = "pipe";
    return -1;
  }
  int write_end = p[1];
  // std::thread reports failure by throwing std::system_error, which is not
  // a JS error: it would abort. Turn it into the errno it carries.
  try {
    std::thread([pid, write_end] {
      siginfo_t info;
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, nullptr);  // signals go to JS threads
      while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      close(write_end);
    }).detach();
  } catch (const std::system_error& e) {
    close(p[0]);
    close(p[1]);
    *err = e.code().value() > 0 ? e.code().value() : EAGAIN;
    *call = "pthread_create";
    return -1;
  }
  return p[0];
}

Napi::Value Waitpid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  pid_t pid = ArgInt(info, 0, "pid", 1, INT32_MAX);
  int flags = 0;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsObject() || info[1].IsArray() || info[1].IsFunction()) {
      ThrowTypeError(env, "The \"options\" argument must be of type object");
    }
    Napi::Object o = info[1].As<Napi::Object>();
    struct { const char* key; int flag; } known[] = {
        {"nohang", WNOHANG}, {"untraced", WUNTRACED}, {"continued", WCONTINUED}};
    for (auto& k : known) {
      Napi::Value v = o.Get(k.key);
      if (v.IsUndefined() || v.IsNull()) continue;
      if (!v.IsBoolean()) {
        ThrowTypeError(env, std::string("The \"options.") + k.key +
                                "\" property must be of type boolean");
      }
      if (v.As<Napi::Boolean>().Value()) flags |= k.flag;
    }
  }
  return StatusOrNull(env, pid, flags);
}

Napi::Value WaitpidTimeout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  pid_t pid = ArgInt(info, 0, "pid", 1, INT32_MAX);
  if (info.Length() < 2 || info[1].IsUndefined() || info[1].IsNull()) {
    return StatusOrNull(env, pid, 0);  // no timeout: wait forever
  }
  double seconds = ArgNumber(info, 1, "timeout");
  if (seconds <= 0) return StatusOrNull(env, pid, WNOHANG);
  if (seconds > 1e9) return StatusOrNull(env, pid, 0);

  int64_t deadline = NowNs() + static_cast<int64_t>(seconds * 1e9);
  Napi::Value ready = StatusOrNull(env, pid, WNOHANG);
  if (!ready.IsNull()) return ready;

  int err = 0;
  const char* call = "";
  int fd = ExitNotifier(pid, &err, &call);
  if (fd < 0) {
    // ESRCH: no such process; let waitpid say what is wrong (ECHILD).
    if (err == ESRCH) return StatusOrNull(env, pid, WNOHANG);
    ThrowErrno(env, err, call);
  }
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = poll(&pfd, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;  // remaining time recomputed
    if (n < 0) {
      int e = errno;
      close(fd);
      ThrowErrno(env, e, "poll");
    }
    if (n == 0) {
      close(fd);
      return env.Null();
    }
    close(fd);
    return StatusOrNull(env, pid, WNOHANG);
  }
}

Napi::Value DecodeWaitStatus(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int raw = ArgInt(info, 0, "raw", 0, 0xffff);
  int pid = info.Length() > 1 && !info[1].IsUndefined()
                ? ArgInt(info, 1, "pid", 0, INT32_MAX)
                : 0;
  return MakeWaitStatus(info.Env(), pid, raw, nullptr);
}

Napi::Value PidfdSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), PidfdEnabled());
}

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("waitpid", Napi::Function::New(env, Waitpid, "waitpid"));
  exports.Set("waitpidTimeout",
              Napi::Function::New(env, WaitpidTimeout, "waitpidTimeout"));
  exports.Set("decodeWaitStatus",
              Napi::Function::New(env, DecodeWaitStatus, "decodeWaitStatus"));
  exports.Set("pidfdSupported",
              Napi::Function::New(env, PidfdSupported, "pidfdSupported"));
}

}  // namespace pp

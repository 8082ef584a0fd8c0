// kill, killpg, pidfd_open, pidfd_send_signal and this platform's signals.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace pp {
namespace {

// Canonical names first: signalName() reports the first name of a number.
const struct {
  const char* name;
  int number;
} kSignals[] = {
#define SIG(name) {#name, name},
    SIG(SIGHUP) SIG(SIGINT) SIG(SIGQUIT) SIG(SIGILL) SIG(SIGTRAP) SIG(SIGABRT)
    SIG(SIGBUS) SIG(SIGFPE) SIG(SIGKILL) SIG(SIGUSR1) SIG(SIGSEGV) SIG(SIGUSR2)
    SIG(SIGPIPE) SIG(SIGALRM) SIG(SIGTERM) SIG(SIGCHLD) SIG(SIGCONT) SIG(SIGSTOP)
    SIG(SIGTSTP) SIG(SIGTTIN) SIG(SIGTTOU) SIG(SIGURG) SIG(SIGXCPU) SIG(SIGXFSZ)
    SIG(SIGVTALRM) SIG(SIGPROF) SIG(SIGWINCH) SIG(SIGIO) SIG(SIGSYS)
#ifdef SIGSTKFLT
    SIG(SIGSTKFLT)
#endif
#ifdef SIGPWR
    SIG(SIGPWR)
#endif
#ifdef SIGINFO
    SIG(SIGINFO)
#endif
#ifdef SIGEMT
    SIG(SIGEMT)
#endif
    SIG(SIGIOT)
#ifdef SIGPOLL
    SIG(SIGPOLL)
#endif
#undef SIG
};

Napi::Value Kill(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  // Groups and broadcasts (pid <= 0) go through killpg, explicitly.
  pid_t pid = ArgInt(info, 0, "pid", 1, INT32_MAX);
  int sig = ArgSignal(info, 1, true);
  if (kill(pid, sig) < 0) ThrowErrno(info.Env(), errno, "kill");
  return info.Env().Undefined();
}

Napi::Value Killpg(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  pid_t pgid = ArgInt(info, 0, "pgid", 1, INT32_MAX);
  int sig = ArgSignal(info, 1, true);
  if (killpg(pgid, sig) < 0) ThrowErrno(info.Env(), errno, "killpg");
  return info.Env().Undefined();
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  pid_t pid = ArgInt(info, 0, "pid", 1, INT32_MAX);
  if (!PidfdEnabled()) ThrowErrno(info.Env(), ENOSYS, "pidfd_open");
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  int fd = ArgInt(info, 0, "fd", 0, INT32_MAX);
  int sig = ArgSignal(info, 1, true);
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) {
    ThrowErrno(info.Env(), errno, "pidfd_send_signal");
  }
  return info.Env().Undefined();
}

Napi::Object Signals(Napi::Env env) {
  Napi::Object table = Napi::Object::New(env);
  for (const auto& s : kSignals) table.Set(s.name, Napi::Number::New(env, s.number));
  return table;
}

// Names by number: canonical names, then SIGRTMIN+n for real-time signals.
Napi::Value SignalName(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int n = ArgInt(info, 0, "signal", 1, NSIG - 1);
  for (const auto& s : kSignals) {
    if (s.number == n) return Napi::String::New(info.Env(), s.name);
  }
#ifdef SIGRTMIN
  if (n >= SIGRTMIN && n <= SIGRTMAX) {
    return Napi::String::New(info.Env(), n == SIGRTMIN
                                             ? std::string("SIGRTMIN")
                                             : "SIGRTMIN+" + std::to_string(n - SIGRTMIN));
  }
#endif
  return info.Env().Null();
}

}  // namespace

void InitSignal(Napi::Env env, Napi::Object exports) {
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("killpg", Napi::Function::New(env, Killpg, "killpg"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal",
              Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("signalName", Napi::Function::New(env, SignalName, "signalName"));
  exports.Set("signals", Signals(env));
}

}  // namespace pp

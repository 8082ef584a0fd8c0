// Signals: kill, killpg, signal masks (sigprocmask/pthread_sigmask) and
// dispositions (sigaction), and this platform's signal names. Signalling
// through a pidfd is pidfd.cc's.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace pp {

int SendSignal(pid_t pid, int sig) {
  return kill(pid, sig);
}

void BlockAllSignals(sigset_t* old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

void SetSignalMask(const sigset_t* mask) {
  pthread_sigmask(SIG_SETMASK, mask, nullptr);
}

void ResetSignalDispositions(bool all) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // Every disposition goes: no need to read it first. One call a signal
    // instead of two, in a vfork child the parent waits for
    // (docs/design.md, "Throughput: the per-child path").
    if (all) {
      sigaction(sig, &dfl, nullptr);  // EINVAL for glibc-reserved ones: skipped
      continue;
    }
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;  // glibc-reserved
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) sigaction(sig, &dfl, nullptr);
  }
}

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
  pid_t pid = ValueInt(info.Env(), info[0], "pid", 1, INT32_MAX);
  int sig = ValueInt(info.Env(), info[1], "signal", 0, NSIG - 1);
  if (SendSignal(pid, sig) < 0) ThrowErrno(info.Env(), errno, "kill");
  return info.Env().Undefined();
}

Napi::Value Killpg(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  pid_t pgid = ValueInt(info.Env(), info[0], "pgid", 1, INT32_MAX);
  int sig = ValueInt(info.Env(), info[1], "signal", 0, NSIG - 1);
  if (killpg(pgid, sig) < 0) ThrowErrno(info.Env(), errno, "killpg");
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
  int n = ValueInt(info.Env(), info[0], "signal", 1, NSIG - 1);
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
  exports.Set("signalName", Napi::Function::New(env, SignalName, "signalName"));
  exports.Set("signals", Signals(env));
}

}  // namespace pp

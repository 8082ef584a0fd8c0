// What the native files share, by the file that defines it. One file per
// family of system calls (docs/design.md, "Native sources"); a file that
// needs another family's call uses that family's helper here, so each call
// and its policy (CLOEXEC, EINTR, errno) is written once. The pidfd calls
// are in pidfd.h. Helpers marked async-signal-safe are used by the spawn
// child between clone and execve.
#pragma once

#include <napi.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pp {

// --- errors.cc: Node-shaped errors, and the argument backstop ------------
// TypeScript (src/validate.ts) checks every argument of the public API and
// words its errors; these readers only keep a wrong type or an out-of-range
// number that reaches the binding from turning into undefined behaviour:
// TypeError (ERR_INVALID_ARG_TYPE) or RangeError (ERR_OUT_OF_RANGE, or
// ERR_INVALID_ARG_VALUE for a string with a NUL byte) naming the argument.

// Throws a Node-shaped system error for `err` (a positive errno value).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const char* path = nullptr);
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const char* path = nullptr);

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message,
                                  const char* code = "ERR_OUT_OF_RANGE");

void CheckArgCount(const Napi::CallbackInfo& info, size_t min);
// An integer in [min, max].
int32_t ValueInt(Napi::Env env, Napi::Value v, const char* name, int64_t min,
                 int64_t max);
// A string without NUL bytes (a C string would end at the first).
std::string ValueString(Napi::Env env, Napi::Value v, const char* name);
std::vector<std::string> ValueStringArray(Napi::Env env, Napi::Value v,
                                          const char* name);
// undefined and null are absent: an empty Value.
Napi::Value OptionalValue(Napi::Value v);
// An options object (absent: empty), or TypeError.
Napi::Object ValueOptions(Napi::Env env, Napi::Value v);
// A boolean property of `options`, `fallback` when absent.
bool OptionalBool(Napi::Env env, Napi::Object options, const char* key,
                  bool fallback);

// --- fds.cc: pipe2, socketpair, dup/dup3, fcntl (FD_CLOEXEC), close ------
// All async-signal-safe. Each returns what the system call does (-1 and
// errno on failure).

// pipe2 / socketpair(AF_UNIX, SOCK_STREAM), always CLOEXEC; `nonblock`
// adds O_NONBLOCK.
int OpenPipe(int fds[2], bool nonblock = false);
int OpenSocketpair(int fds[2], bool nonblock = false);
// open(2), always CLOEXEC.
int OpenCloexec(const char* path, int flags);
// A CLOEXEC copy of `fd` numbered `lowest` or above (F_DUPFD_CLOEXEC).
int DupCloexec(int fd, int lowest);
// dup3(from, to, flags), retried on EINTR and EBUSY; from != to.
int DupOnto(int from, int to, int flags);
// F_GETFD: the fd's flags, or -1 (EBADF: not open).
int FdFlags(int fd);
// Sets or clears FD_CLOEXEC (clear: the fd is inherited across execve).
int SetCloexec(int fd, bool cloexec);
// close(2), never retried: Linux closes the fd even when it reports EINTR.
int CloseFd(int fd);
// Closes every fd >= lowfd (close_range, else what /proc/self/fd lists).
void CloseFrom(int lowfd);
// Writes all of [data, data+len), waiting for POLLOUT when the fd is
// non-blocking and full; false on a write error (reader gone).
bool WriteAll(int fd, const char* data, size_t len);
// A whole file (a /proc file) into `out`, reusing its capacity.
bool ReadWholeFile(const char* path, std::string* out);

// --- poll.cc: poll(2), the monotonic clock, the reactor (epoll) -----------

// CLOCK_MONOTONIC in nanoseconds.
int64_t NowNs();
// Milliseconds left until `deadline_ns` (0 when past), rounded up.
int RemainingMs(int64_t deadline_ns);
// poll(2) until an event or `deadline_ns` (< 0: no deadline), EINTR retried
// with the remaining time recomputed. Returns poll's result.
int PollUntil(struct pollfd* fds, nfds_t nfds, int64_t deadline_ns);

// --- signal.cc: kill, killpg, signal masks and dispositions ---------------

// kill(2). Async-signal-safe.
int SendSignal(pid_t pid, int sig);
// Blocks every signal in the calling thread; the previous mask in `old`.
void BlockAllSignals(sigset_t* old);
// Sets the calling thread's mask. Async-signal-safe.
void SetSignalMask(const sigset_t* mask);
// Every handler back to SIG_DFL (`all`: ignored signals too). Async-
// signal-safe; call with every signal blocked.
void ResetSignalDispositions(bool all);

// --- process.cc: execve, _exit, getpid, getppid, prctl ---------------------

// Async-signal-safe. getpid(2), asked anew (a fork child's own pid).
pid_t CurrentPid();
[[noreturn]] void ExitNow(int code);
// execve `file`, or with `candidates` (not null) each of them in turn as
// execvp does (EACCES from any wins over ENOENT). Returns only on failure,
// with errno set.
void ExecFile(const char* file, const char* const* candidates,
              char* const* argv, char* const* envp);
// PR_SET_PDEATHSIG: `sig` when the thread that created this process exits;
// if `parent` is no longer the parent, the signal is sent now, as it would
// have been. 0, or -1 with errno set.
int ArmParentDeathSignal(int sig, pid_t parent);

// --- wait.cc: waitpid (wait4), waitid and wait statuses --------------------

// waitid(P_PIDFD, pidfd, ...) through the raw system call: glibc's waitid()
// has no rusage argument, the kernel's has. `ru` may be nullptr. EINTR is
// the caller's to retry.
long WaitidPidfd(int pidfd, siginfo_t* info, int options, struct rusage* ru);

// Wait-status decoding. `shapes`: wait.cc's object shapes (objects.h; its
// exports' function data); `ru`: the reaped child's usage, or nullptr.
class ObjectShapes;
Napi::Object MakeWaitStatus(Napi::Env env, const ObjectShapes& shapes, int pid,
                            int raw, const struct rusage* ru);
// Reaps a child whose status nobody wants (a failed exec or fork): through
// its pidfd when it has one (pidfd >= 0), else by pid. EINTR retried.
void ReapDiscard(pid_t pid, int pidfd);
// The same without blocking (WNOHANG): true once the child is reaped, or
// gone (ECHILD: reaped elsewhere); false while it runs. EINTR retried.
bool ReapDiscardNow(pid_t pid, int pidfd);

// Per-file initialisers of the main addon.
void InitFds(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitSignal(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitTie(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);

}  // namespace pp

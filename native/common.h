// Shared declarations for the posix-process addon: argument checking and
// Node-shaped errors. Every export checks its own arguments and throws
// TypeError/RangeError with Node's error codes; system failures become
// Errors shaped like Node's own (`kill ESRCH`, code, negative errno, syscall).
#pragma once

#include <napi.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pp {

// Throws a Node-shaped system error for `err` (a positive errno value).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const char* path = nullptr);
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const char* path = nullptr);

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message,
                                  const char* code = "ERR_OUT_OF_RANGE");

// Argument readers: throw TypeError (ERR_INVALID_ARG_TYPE) or RangeError
// (ERR_OUT_OF_RANGE) naming the argument.
void CheckArgCount(const Napi::CallbackInfo& info, size_t min);
int32_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name,
               int64_t min, int64_t max);
int32_t ValueInt(Napi::Env env, Napi::Value v, const char* name, int64_t min,
                 int64_t max);
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i,
                      const char* name);
std::string ValueString(Napi::Env env, Napi::Value v, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name);
std::vector<std::string> ValueStringArray(Napi::Env env, Napi::Value v,
                                          const char* name);
int32_t ArgSignal(const Napi::CallbackInfo& info, size_t i, bool allow_zero);

// Whether pidfds may be used: kernel support, unless disabled with the
// environment variable POSIX_PROCESS_NO_PIDFD=1 (to exercise the fallback).
bool PidfdEnabled();

// Wait-status decoding shared by waitpid and waitpidTimeout.
// `ru`: the reaped child's usage (from wait4), or nullptr (decoding only).
Napi::Object MakeWaitStatus(Napi::Env env, int pid, int raw, const struct rusage* ru);

// Reaps a child whose status nobody wants (a failed exec): through its
// pidfd when it has one (pidfd >= 0), else by pid. EINTR retried.
void ReapDiscard(pid_t pid, int pidfd);

// Milliseconds left until `deadline_ns` on CLOCK_MONOTONIC (0 when past).
int64_t NowNs();
int RemainingMs(int64_t deadline_ns);

// Per-module initialisers.
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitSignal(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);

}  // namespace pp

// The process's own calls: execve(), _exit(), getpid(), getppid(), and
// the parent-death signal of a fork child (prctl).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>

#include <string>
#include <vector>

#include "common.h"

extern char** environ;

namespace pp {
namespace {

Napi::Value Exit(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int code = ArgInt(info, 0, "code", INT32_MIN, INT32_MAX);
  _exit(code & 0xff);
}

Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  std::string path = ArgString(info, 0, "path");
  std::vector<std::string> argv = ValueStringArray(env, info[1], "argv");
  std::vector<std::string> envs;
  bool has_env = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
  if (has_env) envs = ValueStringArray(env, info[2], "env");

  std::vector<char*> argv_ptrs, env_ptrs;
  for (auto& s : argv) argv_ptrs.push_back(s.data());
  argv_ptrs.push_back(nullptr);
  for (auto& s : envs) env_ptrs.push_back(s.data());
  env_ptrs.push_back(nullptr);

  // Node marks fds 0-2 close-on-exec at start-up; a program run by execve
  // must keep the process's stdio, as after execve(2) in any other program.
  // (Restored if execve fails, so the process is left as it was.)
  int saved[3];
  for (int fd = 0; fd < 3; fd++) {
    saved[fd] = fcntl(fd, F_GETFD);
    if (saved[fd] >= 0 && (saved[fd] & FD_CLOEXEC)) fcntl(fd, F_SETFD, saved[fd] & ~FD_CLOEXEC);
  }
  execve(path.c_str(), argv_ptrs.data(), has_env ? env_ptrs.data() : environ);
  int err = errno;
  for (int fd = 0; fd < 3; fd++) {
    if (saved[fd] >= 0) fcntl(fd, F_SETFD, saved[fd]);
  }
  ThrowErrno(env, err, "execve", path.c_str());
}

// process.pid and process.ppid are cached by Node; a fork child asks anew.
Napi::Value Getpid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getpid());
}

Napi::Value Getppid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getppid());
}

// setParentDeathSignal(signal, parentPid): this process gets `signal` when
// the thread that created it exits (PR_SET_PDEATHSIG). The parent may have
// died before the call: then it is re-parented, and the signal is sent now,
// as it would have been.
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  int sig = ArgSignal(info, 0, false);
  int parent = ArgInt(info, 1, "parentPid", 1, INT32_MAX);
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, sig) < 0) ThrowErrno(env, errno, "prctl");
  if (getppid() != parent) kill(getpid(), sig);
#else
  (void)sig;
  (void)parent;
  ThrowErrno(env, ENOSYS, "prctl");
#endif
  return env.Undefined();
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("exit", Napi::Function::New(env, Exit, "exit"));
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("getpid", Napi::Function::New(env, Getpid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, Getppid, "getppid"));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal, "setParentDeathSignal"));
}

}  // namespace pp

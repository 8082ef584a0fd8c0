// The process's own calls: execve, _exit, getpid, getppid, and the
// parent-death signal (prctl PR_SET_PDEATHSIG). The helpers are async-
// signal-safe: the spawn child (spawn.cc) execs and arms its parent-death
// signal through them.
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

pid_t CurrentPid() {
  return getpid();
}

void ExitNow(int code) {
  _exit(code);
}

void ExecFile(const char* file, const char* const* candidates, char* const* argv,
              char* const* envp) {
  if (candidates == nullptr) {
    execve(file, argv, envp);
    return;
  }
  // PATH search, like execvp: EACCES from any candidate wins over ENOENT.
  bool saw_eacces = false;
  for (const char* const* c = candidates; *c != nullptr; c++) {
    execve(*c, argv, envp);
    if (errno == EACCES) {
      saw_eacces = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      return;
    }
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

int ArmParentDeathSignal(int sig, pid_t parent) {
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, sig) < 0) return -1;
  // The parent may have died before prctl took effect. Not raise(): in a
  // CLONE_VM child glibc's raise() reads the parent thread's cached tid and
  // would signal the parent.
  if (getppid() != parent) SendSignal(getpid(), sig);
  return 0;
#else
  (void)sig;
  (void)parent;
  errno = ENOSYS;
  return -1;
#endif
}

namespace {

Napi::Value Exit(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int code = ValueInt(info.Env(), info[0], "code", INT32_MIN, INT32_MAX);
  ExitNow(code & 0xff);
}

Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  std::string path = ValueString(env, info[0], "path");
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
  bool cloexec[3];
  for (int fd = 0; fd < 3; fd++) {
    int flags = FdFlags(fd);
    cloexec[fd] = flags >= 0 && (flags & FD_CLOEXEC);
    if (cloexec[fd]) SetCloexec(fd, false);
  }
  ExecFile(path.c_str(), nullptr, argv_ptrs.data(), has_env ? env_ptrs.data() : environ);
  int err = errno;
  for (int fd = 0; fd < 3; fd++) {
    if (cloexec[fd]) SetCloexec(fd, true);
  }
  ThrowErrno(env, err, "execve", path.c_str());
}

// process.pid and process.ppid are cached by Node; a fork child asks anew.
Napi::Value Getpid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CurrentPid());
}

Napi::Value Getppid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getppid());
}

// setParentDeathSignal(signal, parentPid): ArmParentDeathSignal for this
// process (a fork child, whose parent is `parentPid`).
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  int sig = ValueInt(env, info[0], "signal", 1, NSIG - 1);
  int parent = ValueInt(env, info[1], "parentPid", 1, INT32_MAX);
  if (ArmParentDeathSignal(sig, parent) < 0) ThrowErrno(env, errno, "prctl");
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

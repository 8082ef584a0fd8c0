// fork(), exit(), execve(): the raw calls behind posix.fork() and the fork
// start method. Policy (the safety gate, at-fork hooks, what the child does
// with inherited state) lives in TypeScript; this file does the part that
// must happen around the fork(2) call itself:
//
//  - V8 marks its heap MADV_DONTFORK (flag `dc` in /proc/self/smaps), so a
//    plain child would have no heap. Those ranges are flipped to
//    MADV_DOFORK for the fork and back in the parent, only the ranges that
//    were flipped.
//  - uv_loop_fork() in the child, so it does not share the parent's epoll.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <uv.h>

#include "common.h"

extern char** environ;

namespace pp {
namespace {

struct Range {
  uintptr_t start;
  uintptr_t end;
};

bool ReadFile(const char* path, std::string* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

// The mappings that carry MADV_DONTFORK ("dc" in VmFlags).
std::vector<Range> DontForkRanges() {
  std::vector<Range> ranges;
  std::string smaps;
  if (!ReadFile("/proc/self/smaps", &smaps)) return ranges;
  Range current = {0, 0};
  size_t pos = 0;
  while (pos < smaps.size()) {
    size_t eol = smaps.find('\n', pos);
    if (eol == std::string::npos) eol = smaps.size();
    const char* line = smaps.c_str() + pos;
    size_t len = eol - pos;
    if (len > 8 && strncmp(line, "VmFlags:", 8) == 0) {
      std::string flags(line + 8, len - 8);
      flags += ' ';
      if (flags.find(" dc ") != std::string::npos && current.end > current.start) {
        ranges.push_back(current);
      }
    } else if (len > 0 && isxdigit(static_cast<unsigned char>(line[0]))) {
      // Header line: "start-end perms offset dev inode path".
      char* dash = nullptr;
      uintptr_t start = strtoull(line, &dash, 16);
      if (dash != nullptr && *dash == '-') {
        current = {start, static_cast<uintptr_t>(strtoull(dash + 1, nullptr, 16))};
      }
    }
    pos = eol + 1;
  }
  return ranges;
}

void Advise(const std::vector<Range>& ranges, int advice) {
  for (const Range& r : ranges) {
    madvise(reinterpret_cast<void*>(r.start), r.end - r.start, advice);
  }
}

Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "fork: cannot get the event loop");
  }
  std::vector<Range> ranges = DontForkRanges();
  Advise(ranges, MADV_DOFORK);

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  int err = errno;
  if (pid == 0) {
    int rc = uv_loop_fork(loop);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
      // The child cannot run its loop; leave before any JS runs.
      static const char msg[] = "posix-process: uv_loop_fork failed in child\n";
      ssize_t ignored = write(2, msg, sizeof(msg) - 1);
      (void)ignored;
      _exit(70);
    }
    return Napi::Number::New(env, 0);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  Advise(ranges, MADV_DONTFORK);
  if (pid < 0) ThrowErrno(env, err, "fork");
  return Napi::Number::New(env, pid);
}

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

  execve(path.c_str(), argv_ptrs.data(), has_env ? env_ptrs.data() : environ);
  ThrowErrno(env, errno, "execve", path.c_str());
}

// process.pid and process.ppid are cached by Node; a fork child asks anew.
Napi::Value Getpid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getpid());
}

Napi::Value Getppid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getppid());
}

}  // namespace

void InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("exit", Napi::Function::New(env, Exit, "exit"));
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("getpid", Napi::Function::New(env, Getpid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, Getppid, "getppid"));
}

}  // namespace pp

// File descriptors: pipe2, socketpair, dup (F_DUPFD_CLOEXEC), dup3, the
// FD_CLOEXEC flag, close and close_range, and whole reads and writes; the
// exports pipe, socketpair, dup and close. Every fd made here is CLOEXEC:
// only an fd a child is meant to inherit loses the flag, explicitly, in
// that child. The helpers are plain system calls, async-signal-safe.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace pp {

int OpenPipe(int fds[2], bool nonblock) {
  return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

int OpenSocketpair(int fds[2], bool nonblock) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, fds);
}

int OpenCloexec(const char* path, int flags) {
  int fd;
  do fd = open(path, flags | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  return fd;
}

int DupCloexec(int fd, int lowest) {
  return fcntl(fd, F_DUPFD_CLOEXEC, lowest);
}

int DupOnto(int from, int to, int flags) {
  int rc;
  do rc = dup3(from, to, flags);
  while (rc < 0 && (errno == EINTR || errno == EBUSY));
  return rc;
}

int FdFlags(int fd) {
  return fcntl(fd, F_GETFD);
}

int SetCloexec(int fd, bool cloexec) {
  // FD_CLOEXEC is the only fd flag: clearing needs no read first (one call
  // per inherited fd in a spawn child).
  if (!cloexec) return fcntl(fd, F_SETFD, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return -1;
  return (flags & FD_CLOEXEC) != 0 ? 0 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int CloseFd(int fd) {
  return close(fd);
}

// close_range(2) fallback: close what /proc/self/fd lists, read with
// getdents64 into a stack buffer (opendir would allocate). Never loops up to
// RLIMIT_NOFILE.
void CloseFrom(int lowfd) {
  if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0) return;
  int dir = OpenCloexec("/proc/self/fd", O_RDONLY | O_DIRECTORY);
  if (dir < 0) return;
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      int fd = 0;
      const char* p = d->d_name;
      if (*p < '0' || *p > '9') continue;
      for (; *p >= '0' && *p <= '9'; p++) fd = fd * 10 + (*p - '0');
      if (fd >= lowfd && fd != dir) close(fd);
    }
  }
  close(dir);
}

bool WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {fd, POLLOUT, 0};
      if (PollUntil(&pfd, 1, -1) < 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool ReadWholeFile(const char* path, std::string* out) {
  out->clear();
  int fd = OpenCloexec(path, O_RDONLY);
  if (fd < 0) return false;
  size_t used = 0;
  for (;;) {
    if (out->size() - used < 65536) out->resize(used + 131072);
    ssize_t n = read(fd, &(*out)[used], out->size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(used);
  return true;
}

namespace {

Napi::Value PairResult(Napi::Env env, const int fds[2]) {
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

// pipe(): [readEnd, writeEnd].
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (OpenPipe(p) < 0) ThrowErrno(info.Env(), errno, "pipe");
  return PairResult(info.Env(), p);
}

// socketpair(): a duplex Pipe().
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (OpenSocketpair(sv) < 0) ThrowErrno(info.Env(), errno, "socketpair");
  return PairResult(info.Env(), sv);
}

// dup(fd) as F_DUPFD_CLOEXEC: the copy never leaks into exec'd children.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ValueInt(info.Env(), info[0], "fd", 0, INT32_MAX);
  int copy = DupCloexec(fd, 0);
  if (copy < 0) ThrowErrno(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), copy);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ValueInt(info.Env(), info[0], "fd", 0, INT32_MAX);
  if (CloseFd(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace

void InitFds(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace pp

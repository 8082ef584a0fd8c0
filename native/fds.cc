// File descriptors: pipe2, socketpair, dup (F_DUPFD_CLOEXEC), dup3, the
// FD_CLOEXEC flag, close and close_range, whole reads and writes, and fd
// passing (sendmsg/recvmsg with SCM_RIGHTS); the exports pipe, socketpair,
// dup, dup2, close, sendFds and recvFds. Every fd made here is CLOEXEC:
// only an fd a child is meant to inherit loses the flag, explicitly, in
// that child. The helpers are plain system calls, async-signal-safe.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

// socketpair(seqpacket?, nonblock?): a duplex Pipe(); SOCK_SEQPACKET keeps
// message boundaries (the forkserver's channel, docs/design.md "forkserver").
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  bool seqpacket = info.Length() > 0 && info[0].ToBoolean().Value();
  bool nonblock = info.Length() > 1 && info[1].ToBoolean().Value();
  int rc = seqpacket
               ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, sv)
               : OpenSocketpair(sv, nonblock);
  if (rc < 0) ThrowErrno(info.Env(), errno, "socketpair");
  return PairResult(info.Env(), sv);
}

// dup2(from, to) without CLOEXEC: `to` is meant to be kept (a forkserver
// child's stdio).
Napi::Value Dup2(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  int from = ValueInt(info.Env(), info[0], "from", 0, INT32_MAX);
  int to = ValueInt(info.Env(), info[1], "to", 0, INT32_MAX);
  if (from == to) {
    if (SetCloexec(to, false) < 0) ThrowErrno(info.Env(), errno, "fcntl");
  } else if (DupOnto(from, to, 0) < 0) {
    ThrowErrno(info.Env(), errno, "dup3");
  }
  return info.Env().Undefined();
}

// SCM_MAX_FD: the kernel refuses more fds in one message.
constexpr uint32_t kMaxPassedFds = 253;

// sendFds(fd, data, fds): one sendmsg(2) of `data` with `fds` attached
// (SCM_RIGHTS); MSG_NOSIGNAL, so a gone peer is EPIPE, never SIGPIPE.
// Returns the bytes sent (a stream socket may take fewer; the fds go with
// the first byte).
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 3);
  int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "The \"data\" argument must be an instance of Buffer or Uint8Array");
  }
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  if (!info[2].IsArray()) ThrowTypeError(env, "The \"fds\" argument must be an instance of Array");
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > kMaxPassedFds) {
    ThrowRangeError(env, "The \"fds\" argument must have at most " + std::to_string(kMaxPassedFds) + " entries");
  }
  std::vector<int> fds(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) fds[i] = ValueInt(env, list.Get(i), "fds[i]", 0, INT32_MAX);
  struct iovec iov = {data.Data(), data.ByteLength()};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t sent;
  do sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowErrno(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(sent));
}

// recvFds(fd, maxBytes, maxFds): one recvmsg(2), the fds made CLOEXEC
// (MSG_CMSG_CLOEXEC). { data, fds }; end of stream is empty data and no
// fds. A message cut short (more fds than maxFds: MSG_CTRUNC; a datagram
// or record longer than maxBytes: MSG_TRUNC) is an EMSGSIZE error, after
// every fd that did arrive has been closed: nothing leaks.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 3);
  int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
  size_t max_bytes = static_cast<size_t>(ValueInt(env, info[1], "maxBytes", 0, 1 << 30));
  size_t max_fds = static_cast<size_t>(ValueInt(env, info[2], "maxFds", 0, kMaxPassedFds));
  std::vector<char> buffer(max_bytes > 0 ? max_bytes : 1);
  std::vector<char> control(CMSG_SPACE((max_fds > 0 ? max_fds : 1) * sizeof(int)), 0);
  struct iovec iov = {buffer.data(), max_bytes};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // maxFds 0: no room at all, so any fd that comes is a truncation.
  msg.msg_control = max_fds > 0 ? control.data() : nullptr;
  msg.msg_controllen = max_fds > 0 ? control.size() : 0;
  ssize_t got;
  do got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (got < 0 && errno == EINTR);
  if (got < 0) ThrowErrno(env, errno, "recvmsg");
  std::vector<int> fds;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* p = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int one;
      memcpy(&one, p + i * sizeof(int), sizeof(int));
      fds.push_back(one);
    }
  }
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
    for (int one : fds) CloseFd(one);
    Napi::Error error = ErrnoError(env, EMSGSIZE, "recvmsg");
    bool fds_cut = (msg.msg_flags & MSG_CTRUNC) != 0;
    error.Set("message", Napi::String::New(env, fds_cut
        ? "recvmsg EMSGSIZE: more file descriptors arrived than maxFds (" + std::to_string(max_fds) +
              "); the ones received were closed"
        : "recvmsg EMSGSIZE: the message was longer than maxBytes (" + std::to_string(max_bytes) +
              "); the rest was discarded and any file descriptors closed"));
    throw error;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", Napi::Buffer<char>::Copy(env, buffer.data(), static_cast<size_t>(got)));
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  result.Set("fds", list);
  return result;
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
  exports.Set("dup2", Napi::Function::New(env, Dup2, "dup2"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace pp

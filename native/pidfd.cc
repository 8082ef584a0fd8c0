// pidfd_open, pidfd_send_signal, PIDFD_GET_INFO and whether pidfds are
// used at all; the exports pidfdOpen, pidfdSendSignal and pidfdSupported.
// Compiled into both addons (the fork addon needs the same answer for its
// sentinels). Waiting through a pidfd is wait.cc's.
#include "pidfd.h"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace pp {

int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

bool PidfdEnabled() {
  static const bool enabled = [] {
    const char* off = getenv("POSIX_PROCESS_NO_PIDFD");
    if (off != nullptr && off[0] != '\0' && strcmp(off, "0") != 0) return false;
    int fd = PidfdOpen(CurrentPid());
    if (fd < 0) return false;
    // Waiting through a pidfd (P_PIDFD) came in Linux 5.4, one release after
    // pidfd_open: 5.3 answers EINVAL, later kernels ECHILD (we are not our
    // own child). Without it the pipe fallback is used throughout.
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    bool waitable = WaitidPidfd(fd, &info, WEXITED | WNOHANG, nullptr) < 0 && errno == ECHILD;
    CloseFd(fd);
    return waitable;
  }();
  return enabled;
}

namespace {

// PIDFD_GET_INFO's struct pidfd_info up to exit_code (include/uapi/linux/
// pidfd.h, PIDFD_INFO_SIZE_VER0): libc headers do not all carry it. The
// ioctl number encodes the size; the kernel accepts any size from VER0 on.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;  // the wait status, once the child has been reaped
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
constexpr uint64_t kPidfdInfoExit = 1u << 3;  // PIDFD_INFO_EXIT, Linux 6.15
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

}  // namespace

int PidfdExitStatus(int pidfd, int* status) {
  PidfdInfo pi;
  memset(&pi, 0, sizeof(pi));
  pi.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &pi) < 0) {
    // ENOTTY/EINVAL: no PIDFD_GET_INFO; ESRCH: reaped, and no exit info kept.
    if (errno == ENOTTY || errno == EINVAL || errno == ESRCH) return 0;
    return -1;
  }
  if ((pi.mask & kPidfdInfoExit) == 0) return 0;
  *status = pi.exit_code;
  return 1;
}

namespace {

// pidfdOpen(pid): ENOSYS where pidfds are off, so the fallback is the
// same everywhere.
Napi::Value PidfdOpenExport(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  pid_t pid = ValueInt(info.Env(), info[0], "pid", 1, INT32_MAX);
  if (!PidfdEnabled()) ThrowErrno(info.Env(), ENOSYS, "pidfd_open");
  int fd = PidfdOpen(pid);
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PidfdSendSignalExport(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 2);
  int fd = ValueInt(info.Env(), info[0], "fd", 0, INT32_MAX);
  int sig = ValueInt(info.Env(), info[1], "signal", 0, NSIG - 1);
  if (PidfdSendSignal(fd, sig) < 0) ThrowErrno(info.Env(), errno, "pidfd_send_signal");
  return info.Env().Undefined();
}

Napi::Value PidfdSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), PidfdEnabled());
}

}  // namespace

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpenExport, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignalExport, "pidfdSendSignal"));
  exports.Set("pidfdSupported", Napi::Function::New(env, PidfdSupported, "pidfdSupported"));
}

}  // namespace pp

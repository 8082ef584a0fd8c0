// Whether pidfds are used. Compiled into both addons (the fork addon needs
// the same answer for its sentinels).
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace pp {

bool PidfdEnabled() {
  static const bool enabled = [] {
    const char* off = getenv("POSIX_PROCESS_NO_PIDFD");
    if (off != nullptr && off[0] != '\0' && strcmp(off, "0") != 0) return false;
    int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (fd < 0) return false;
    // Waiting through a pidfd (P_PIDFD) came in Linux 5.4, one release after
    // pidfd_open: 5.3 answers EINVAL, later kernels ECHILD (we are not our
    // own child). Without it the pipe fallback is used throughout.
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    bool waitable = syscall(SYS_waitid, P_PIDFD, fd, &info, WEXITED | WNOHANG, nullptr) < 0 && errno == ECHILD;
    close(fd);
    return waitable;
  }();
  return enabled;
}

}  // namespace pp

// Whether pidfds are used. Compiled into both addons (the fork addon needs
// the same answer for its sentinels).
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace pp {

bool PidfdEnabled() {
  static const bool enabled = [] {
    const char* off = getenv("POSIX_PROCESS_NO_PIDFD");
    if (off != nullptr && off[0] != '\0' && strcmp(off, "0") != 0) return false;
    int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (fd < 0) return false;
    close(fd);
    return true;
  }();
  return enabled;
}

}  // namespace pp

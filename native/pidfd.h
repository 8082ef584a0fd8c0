// pidfds: the one definition of each pidfd system call number and flag,
// and the one switch between pidfds and the pipe fallback (docs/design.md,
// "Sentinels, waiting and pid reuse"). The calls themselves are pidfd.cc's
// (waiting through a pidfd, waitid(P_PIDFD), is wait.cc's); both addons
// compile them.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>  // before P_PIDFD: newer glibc has it in idtype_t

// Older libc headers lack them; the numbers are the same on every Linux
// architecture (the unified syscall table, 5.1+).
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace pp {

// Whether pidfds may be used: kernel support (pidfd_open and waiting
// through one), unless switched off with POSIX_PROCESS_NO_PIDFD=1 (to
// exercise the fallback). Asked once, the answer kept.
bool PidfdEnabled();

// pidfd_open(pid, 0): a CLOEXEC fd for `pid`, or -1 with errno set.
int PidfdOpen(pid_t pid);

// pidfd_send_signal(pidfd, sig, NULL, 0): 0, or -1 with errno set.
int PidfdSendSignal(int pidfd, int sig);

// The wait status of a child reaped by someone else, as the kernel keeps it
// for pidfd holders (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15+):
// 1 with `*status` set, 0 when this kernel does not keep it or the child is
// not reaped yet, -1 with errno set on any other failure.
int PidfdExitStatus(int pidfd, int* status);

}  // namespace pp

// spawn(file, argv, options): fork+exec in one native call, vfork-class.
//
// The child is created with clone(CLONE_VM | CLONE_VFORK) on a stack of its
// own, as glibc's posix_spawn does: no page tables are copied, so the cost
// does not grow with the parent's memory. The parent is suspended until the
// child calls execve or _exit. Because the memory is shared, the child
// reports a failure (errno + stage) by writing it into `ChildArgs`, which
// the parent reads when it resumes: no error pipe is needed, and an exec
// failure is thrown synchronously as the system error of the failed stage.
//
// Between clone and execve the child makes only async-signal-safe system
// calls: every buffer (argv, envp, fd map, candidate paths) is built first.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common.h"

extern char** environ;

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace pp {
namespace {

// Stages reported back by a child that failed before or in execve.
enum Stage : int {
  kStageNone = 0,
  kStageDup,
  kStageSetsid,
  kStageSetpgid,
  kStageChdir,
  kStagePrctl,
  kStageCloseRange,
  kStageExecve,
};

const char* StageSyscall(int stage) {
  switch (stage) {
    case kStageDup: return "dup2";
    case kStageSetsid: return "setsid";
    case kStageSetpgid: return "setpgid";
    case kStageChdir: return "chdir";
    case kStagePrctl: return "prctl";
    case kStageCloseRange: return "close_range";
    default: return "execve";
  }
}

struct ChildArgs {
  // Inputs, all prepared before clone.
  const char* file;                  // exec path when there is no search
  const char* const* candidates;     // PATH candidates, or nullptr
  char* const* argv;
  char* const* envp;
  const char* cwd;                   // nullptr: unchanged
  int* fds;                          // fd map: child fd i <- fds[i]; -1 closes
  int nfds;
  int sentinel_w;                    // fallback sentinel write end, or -1
  bool setsid;
  int pgid;                          // -1 unchanged, 0 own group, >0 join
  int umask_value;                   // -1 unchanged
  bool reset_signals;
  sigset_t child_mask;
  bool close_fds;
  int pdeathsig;
  pid_t parent_pid;
  // Outputs, written by a failing child.
  int err;
  int stage;
};

[[noreturn]] void ChildFail(ChildArgs* a, int stage) {
  a->err = errno;
  a->stage = stage;
  _exit(127);
}

// close_range(2) fallback: close what /proc/self/fd lists, read with
// getdents64 into a stack buffer (opendir would allocate). Never loops up to
// RLIMIT_NOFILE.
void CloseFrom(int lowfd) {
  if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0) return;
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

int ChildMain(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);

  // Signal dispositions first, while every signal is still blocked. A
  // handler must never run here: this child shares the parent's memory.
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;  // glibc-reserved
    bool is_handler = old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
    if (a->reset_signals || is_handler) {
      struct sigaction dfl;
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      sigaction(sig, &dfl, nullptr);
    }
  }

  if (a->setsid) {
    if (setsid() < 0) ChildFail(a, kStageSetsid);
  } else if (a->pgid >= 0) {
    if (setpgid(0, a->pgid) < 0) ChildFail(a, kStageSetpgid);
  }

  // Fd map. Sources that a lower dup2 would overwrite are moved above the
  // map first (CLOEXEC copies, gone at exec).
  int n = a->nfds;
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src >= 0 && src < n && src != i) {
      int moved = fcntl(src, F_DUPFD_CLOEXEC, n);
      if (moved < 0) ChildFail(a, kStageDup);
      a->fds[i] = moved;
    }
  }
  int sentinel = a->sentinel_w;
  if (sentinel >= 0 && sentinel < n) {
    sentinel = fcntl(sentinel, F_DUPFD_CLOEXEC, n);
    if (sentinel < 0) ChildFail(a, kStageDup);
  }
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src < 0) {
      close(i);
    } else if (src == i) {
      int flags = fcntl(i, F_GETFD);
      if (flags < 0 || fcntl(i, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
        ChildFail(a, kStageDup);
      }
    } else if (dup2(src, i) < 0) {
      ChildFail(a, kStageDup);
    }
  }
  int first_closed = n;
  if (sentinel >= 0) {
    if (a->close_fds) {
      // The sentinel's write end lands on the first fd after the map. It
      // may already be there (dup2 is then a no-op that keeps CLOEXEC, and
      // the sentinel would fire at exec): clear the flag explicitly.
      if (sentinel != n && dup2(sentinel, n) < 0) ChildFail(a, kStageDup);
      int flags = fcntl(n, F_GETFD);
      if (flags < 0 || fcntl(n, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
        ChildFail(a, kStageDup);
      }
      first_closed = n + 1;
    } else {
      int flags = fcntl(sentinel, F_GETFD);
      if (flags < 0 || fcntl(sentinel, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
        ChildFail(a, kStageDup);
      }
    }
  }
  if (a->close_fds) CloseFrom(first_closed);

  if (a->umask_value >= 0) umask(static_cast<mode_t>(a->umask_value));
  if (a->cwd != nullptr && chdir(a->cwd) < 0) ChildFail(a, kStageChdir);
  if (a->pdeathsig > 0) {
    if (prctl(PR_SET_PDEATHSIG, a->pdeathsig) < 0) ChildFail(a, kStagePrctl);
    // The parent may have died before prctl took effect. Not raise(): in
    // this CLONE_VM child glibc's raise() reads the parent thread's cached
    // tid and would signal the parent.
    if (getppid() != a->parent_pid) kill(getpid(), a->pdeathsig);
  }

  sigprocmask(SIG_SETMASK, &a->child_mask, nullptr);

  if (a->candidates == nullptr) {
    execve(a->file, a->argv, a->envp);
    ChildFail(a, kStageExecve);
  }
  // PATH search, like execvp: EACCES from any candidate wins over ENOENT.
  bool saw_eacces = false;
  for (const char* const* c = a->candidates; *c != nullptr; c++) {
    execve(*c, a->argv, a->envp);
    if (errno == EACCES) {
      saw_eacces = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      ChildFail(a, kStageExecve);
    }
  }
  errno = saw_eacces ? EACCES : ENOENT;
  ChildFail(a, kStageExecve);
}

// Owns a NULL-terminated char* array over strings kept alive alongside.
struct CStringArray {
  std::vector<std::string> strings;
  std::vector<char*> pointers;
  explicit CStringArray(std::vector<std::string> s) : strings(std::move(s)) {
    for (auto& str : strings) pointers.push_back(str.data());
    pointers.push_back(nullptr);
  }
  char* const* get() { return pointers.data(); }
};

struct Stack {
  static constexpr size_t kSize = 256 * 1024;
  void* base;
  Stack() {
    base = mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  }
  ~Stack() {
    if (base != MAP_FAILED) munmap(base, kSize);
  }
  void* top() { return static_cast<char*>(base) + kSize; }
};

// Restores the calling thread's signal mask when it leaves scope.
struct SignalsBlocked {
  sigset_t old;
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};

Napi::Value OptionalField(Napi::Object options, const char* key) {
  Napi::Value v = options.Get(key);
  return v.IsUndefined() || v.IsNull() ? Napi::Value() : v;
}

bool OptionalBool(Napi::Env env, Napi::Object options, const char* key,
                  bool fallback) {
  Napi::Value v = OptionalField(options, key);
  if (v.IsEmpty()) return fallback;
  if (!v.IsBoolean()) {
    ThrowTypeError(env, std::string("The \"options.") + key +
                            "\" property must be of type boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  std::string file = ArgString(info, 0, "file");
  if (file.empty()) {
    ThrowRangeError(env, "The \"file\" argument must not be empty",
                    "ERR_INVALID_ARG_VALUE");
  }
  CStringArray argv(ValueStringArray(env, info[1], "argv"));

  Napi::Object options = Napi::Object::New(env);
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsObject() || info[2].IsArray() || info[2].IsFunction()) {
      ThrowTypeError(env, "The \"options\" argument must be of type object");
    }
    options = info[2].As<Napi::Object>();
  }

  std::unique_ptr<CStringArray> envp;
  if (Napi::Value v = OptionalField(options, "env"); !v.IsEmpty()) {
    envp = std::make_unique<CStringArray>(ValueStringArray(env, v, "options.env"));
  }
  std::string cwd;
  bool has_cwd = false;
  if (Napi::Value v = OptionalField(options, "cwd"); !v.IsEmpty()) {
    cwd = ValueString(env, v, "options.cwd");
    has_cwd = true;
  }

  std::vector<int> fds = {0, 1, 2};
  if (Napi::Value v = OptionalField(options, "fds"); !v.IsEmpty()) {
    if (!v.IsArray()) {
      ThrowTypeError(env, "The \"options.fds\" property must be an array");
    }
    Napi::Array array = v.As<Napi::Array>();
    if (array.Length() > 1024) {
      ThrowRangeError(env, "The \"options.fds\" array must have at most 1024 entries");
    }
    fds.clear();
    for (uint32_t i = 0; i < array.Length(); i++) {
      Napi::Value item = array.Get(i);
      fds.push_back(item.IsNull() || item.IsUndefined()
                        ? -1
                        : ValueInt(env, item, "options.fds[i]", -1, INT32_MAX));
    }
  }

  ChildArgs args;
  memset(&args, 0, sizeof(args));
  args.setsid = OptionalBool(env, options, "setsid", false);
  args.pgid = -1;
  if (Napi::Value v = OptionalField(options, "pgid"); !v.IsEmpty()) {
    args.pgid = ValueInt(env, v, "options.pgid", 0, INT32_MAX);
  }
  args.umask_value = -1;
  if (Napi::Value v = OptionalField(options, "umask"); !v.IsEmpty()) {
    args.umask_value = ValueInt(env, v, "options.umask", 0, 0777);
  }
  args.reset_signals = OptionalBool(env, options, "resetSignals", true);
  args.close_fds = OptionalBool(env, options, "closeFds", true);
  sigemptyset(&args.child_mask);
  if (Napi::Value v = OptionalField(options, "signalMask"); !v.IsEmpty()) {
    if (!v.IsArray()) {
      ThrowTypeError(env, "The \"options.signalMask\" property must be an array");
    }
    Napi::Array array = v.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) {
      sigaddset(&args.child_mask,
                ValueInt(env, array.Get(i), "options.signalMask[i]", 1, NSIG - 1));
    }
  }
  if (Napi::Value v = OptionalField(options, "parentDeathSignal"); !v.IsEmpty()) {
    args.pdeathsig = ValueInt(env, v, "options.parentDeathSignal", 0, NSIG - 1);
  }

  // PATH search happens when asked for and the file names no directory.
  std::unique_ptr<CStringArray> candidates;
  if (Napi::Value v = OptionalField(options, "path"); !v.IsEmpty() &&
                                                      file.find('/') == std::string::npos) {
    std::vector<std::string> dirs = ValueStringArray(env, v, "options.path");
    std::vector<std::string> paths;
    for (auto& dir : dirs) {
      paths.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    }
    candidates = std::make_unique<CStringArray>(std::move(paths));
  }

  bool use_pidfd = PidfdEnabled();
  int sentinel_r = -1;
  args.sentinel_w = -1;
  if (!use_pidfd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) ThrowErrno(env, errno, "pipe");
    sentinel_r = p[0];
    args.sentinel_w = p[1];
  }

  args.file = file.c_str();
  args.candidates = candidates ? candidates->get() : nullptr;
  args.argv = argv.get();
  args.envp = envp ? envp->get() : environ;
  args.cwd = has_cwd ? cwd.c_str() : nullptr;
  args.fds = fds.data();
  args.nfds = static_cast<int>(fds.size());
  args.parent_pid = getpid();

  Stack stack;
  if (stack.base == MAP_FAILED) {
    int err = errno;
    if (sentinel_r >= 0) { close(sentinel_r); close(args.sentinel_w); }
    ThrowErrno(env, err, "mmap");
  }

  int pidfd = -1;
  pid_t pid;
  int clone_err = 0;
  {
    SignalsBlocked blocked;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid = clone(ChildMain, stack.top(), flags | (use_pidfd ? CLONE_PIDFD : 0),
                &args, &pidfd);
    if (pid < 0 && errno == EINVAL && use_pidfd) {
      // Kernel without CLONE_PIDFD: open the pidfd on the unreaped child.
      pidfd = -1;
      pid = clone(ChildMain, stack.top(), flags, &args, nullptr);
    }
    if (pid < 0) clone_err = errno;
  }
  if (args.sentinel_w >= 0) close(args.sentinel_w);
  if (pid < 0) {
    if (sentinel_r >= 0) close(sentinel_r);
    ThrowErrno(env, clone_err, "clone");
  }
  if (args.err != 0) {
    ReapDiscard(pid, pidfd);
    if (pidfd >= 0) close(pidfd);
    if (sentinel_r >= 0) close(sentinel_r);
    const char* path = args.stage == kStageChdir ? args.cwd
                       : args.stage == kStageExecve ? args.file
                                                    : nullptr;
    ThrowErrno(env, args.err, StageSyscall(args.stage), path);
  }
  if (use_pidfd && pidfd < 0) {
    pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", pidfd >= 0 ? Napi::Number::New(env, pidfd) : env.Null());
  result.Set("sentinel", Napi::Number::New(env, pidfd >= 0 ? pidfd : sentinel_r));
  return result;
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
}

}  // namespace pp

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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common.h"
#include "objects.h"
#include "pidfd.h"

extern char** environ;

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
  kStageExecve,
};

const char* StageSyscall(int stage) {
  switch (stage) {
    case kStageDup: return "dup2";
    case kStageSetsid: return "setsid";
    case kStageSetpgid: return "setpgid";
    case kStageChdir: return "chdir";
    case kStagePrctl: return "prctl";
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
  ExitNow(127);
}

// The child between clone and execve: async-signal-safe calls only (the
// helpers of fds.cc, signal.cc and process.cc are plain system calls).
int ChildMain(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);

  // Signal dispositions first, while every signal is still blocked. A
  // handler must never run here: this child shares the parent's memory.
  ResetSignalDispositions(a->reset_signals);

  if (a->setsid) {
    if (setsid() < 0) ChildFail(a, kStageSetsid);
  } else if (a->pgid >= 0) {
    if (setpgid(0, a->pgid) < 0) ChildFail(a, kStageSetpgid);
  }

  // Fd map. Sources that a lower dup would overwrite are moved above the
  // map first (CLOEXEC copies, gone at exec).
  int n = a->nfds;
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src >= 0 && src < n && src != i) {
      int moved = DupCloexec(src, n);
      if (moved < 0) ChildFail(a, kStageDup);
      a->fds[i] = moved;
    }
  }
  int sentinel = a->sentinel_w;
  if (sentinel >= 0 && sentinel < n) {
    sentinel = DupCloexec(sentinel, n);
    if (sentinel < 0) ChildFail(a, kStageDup);
  }
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src < 0) {
      CloseFd(i);
    } else if (src == i) {
      if (SetCloexec(i, false) < 0) ChildFail(a, kStageDup);
    } else if (DupOnto(src, i, 0) < 0) {
      ChildFail(a, kStageDup);
    }
  }
  int first_closed = n;
  if (sentinel >= 0) {
    if (a->close_fds) {
      // The sentinel's write end lands on the first fd after the map (it
      // may already be there, still CLOEXEC: the flag is cleared below).
      if (sentinel != n && DupOnto(sentinel, n, 0) < 0) ChildFail(a, kStageDup);
      sentinel = n;
      first_closed = n + 1;
    }
    if (SetCloexec(sentinel, false) < 0) ChildFail(a, kStageDup);
  }
  if (a->close_fds) CloseFrom(first_closed);

  if (a->umask_value >= 0) umask(static_cast<mode_t>(a->umask_value));
  if (a->cwd != nullptr && chdir(a->cwd) < 0) ChildFail(a, kStageChdir);
  if (a->pdeathsig > 0 && ArmParentDeathSignal(a->pdeathsig, a->parent_pid) < 0) {
    ChildFail(a, kStagePrctl);
  }

  SetSignalMask(&a->child_mask);
  ExecFile(a->file, a->candidates, a->argv, a->envp);
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

// The clone child's stack, one per thread, mapped on first use and kept:
// with CLONE_VFORK this thread sleeps until the child has exec'd or exited,
// so only one child ever runs on it. Reuse saves an mmap + munmap and the
// first-touch page faults of a fresh stack per child (docs/design.md,
// "Throughput: the per-child path"). Unmapped when the thread ends.
class Stack {
 public:
  static constexpr size_t kSize = 256 * 1024;
  ~Stack() {
    if (base_ != MAP_FAILED) munmap(base_, kSize);
  }
  // The stack's top, or nullptr with errno set (mmap failed; tried again next time).
  void* Top() {
    if (base_ == MAP_FAILED) {
      base_ = mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
      if (base_ == MAP_FAILED) return nullptr;
    }
    return static_cast<char*>(base_) + kSize;
  }

 private:
  void* base_ = MAP_FAILED;
};

thread_local Stack child_stack;

// Restores the calling thread's signal mask when it leaves scope.
struct SignalsBlocked {
  sigset_t old;
  SignalsBlocked() { BlockAllSignals(&old); }
  ~SignalsBlocked() { SetSignalMask(&old); }
};

// The options object, read into `args` (and the buffers it points into).
// src/posix.ts has checked and worded every option already; this is the
// backstop against a wrong type reaching the binding.
struct SpawnInputs {
  std::unique_ptr<CStringArray> envp;
  std::string cwd;
  std::vector<int> fds = {0, 1, 2};
  std::unique_ptr<CStringArray> candidates;
};

void ReadSpawnOptions(Napi::Env env, Napi::Value value, const std::string& file,
                      ChildArgs* args, SpawnInputs* in) {
  Napi::Object options = ValueOptions(env, value);
  auto field = [&options](const char* key) { return OptionalValue(options.Get(key)); };
  if (Napi::Value v = field("env"); !v.IsEmpty()) {
    in->envp = std::make_unique<CStringArray>(ValueStringArray(env, v, "options.env"));
  }
  if (Napi::Value v = field("cwd"); !v.IsEmpty()) {
    in->cwd = ValueString(env, v, "options.cwd");
    args->cwd = in->cwd.c_str();
  }
  if (Napi::Value v = field("fds"); !v.IsEmpty()) {
    if (!v.IsArray()) ThrowTypeError(env, "The \"options.fds\" property must be an array");
    Napi::Array array = v.As<Napi::Array>();
    if (array.Length() > 1024) {
      ThrowRangeError(env, "The \"options.fds\" array must have at most 1024 entries");
    }
    in->fds.clear();
    for (uint32_t i = 0; i < array.Length(); i++) {
      Napi::Value item = OptionalValue(array.Get(i));
      in->fds.push_back(item.IsEmpty() ? -1 : ValueInt(env, item, "options.fds[i]", -1, INT32_MAX));
    }
  }
  args->setsid = OptionalBool(env, options, "setsid", false);
  args->pgid = -1;
  if (Napi::Value v = field("pgid"); !v.IsEmpty()) args->pgid = ValueInt(env, v, "options.pgid", 0, INT32_MAX);
  args->umask_value = -1;
  if (Napi::Value v = field("umask"); !v.IsEmpty()) args->umask_value = ValueInt(env, v, "options.umask", 0, 0777);
  args->reset_signals = OptionalBool(env, options, "resetSignals", true);
  args->close_fds = OptionalBool(env, options, "closeFds", true);
  sigemptyset(&args->child_mask);
  if (Napi::Value v = field("signalMask"); !v.IsEmpty()) {
    if (!v.IsArray()) ThrowTypeError(env, "The \"options.signalMask\" property must be an array");
    Napi::Array array = v.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) {
      sigaddset(&args->child_mask, ValueInt(env, array.Get(i), "options.signalMask[i]", 1, NSIG - 1));
    }
  }
  if (Napi::Value v = field("parentDeathSignal"); !v.IsEmpty()) {
    args->pdeathsig = ValueInt(env, v, "options.parentDeathSignal", 0, NSIG - 1);
  }
  // PATH search happens when asked for and the file names no directory.
  if (Napi::Value v = field("path"); !v.IsEmpty() && file.find('/') == std::string::npos) {
    std::vector<std::string> paths;
    for (auto& dir : ValueStringArray(env, v, "options.path")) {
      paths.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    }
    in->candidates = std::make_unique<CStringArray>(std::move(paths));
  }
}

// The result's keys (objects.h: the table is spawn's function data).
const char* const kResultKeys[] = {"pid", "pidfd", "sentinel"};

// spawn(file, argv, options): { pid, pidfd, sentinel }; an exec failure
// throws the failed stage's system error, the child already reaped.
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  std::string file = ValueString(env, info[0], "file");
  CStringArray argv(ValueStringArray(env, info[1], "argv"));
  ChildArgs args;
  memset(&args, 0, sizeof(args));
  SpawnInputs in;
  ReadSpawnOptions(env, info[2], file, &args, &in);

  bool use_pidfd = PidfdEnabled();
  int sentinel_r = -1;
  args.sentinel_w = -1;
  if (!use_pidfd) {
    int p[2];
    if (OpenPipe(p) < 0) ThrowErrno(env, errno, "pipe");
    sentinel_r = p[0];
    args.sentinel_w = p[1];
  }

  args.file = file.c_str();
  args.candidates = in.candidates ? in.candidates->get() : nullptr;
  args.argv = argv.get();
  args.envp = in.envp ? in.envp->get() : environ;
  args.fds = in.fds.data();
  args.nfds = static_cast<int>(in.fds.size());
  // Only the parent-death check needs it: no getpid() per child otherwise.
  args.parent_pid = args.pdeathsig > 0 ? CurrentPid() : 0;

  void* stack_top = child_stack.Top();
  if (stack_top == nullptr) {
    int err = errno;
    if (sentinel_r >= 0) {
      CloseFd(sentinel_r);
      CloseFd(args.sentinel_w);
    }
    ThrowErrno(env, err, "mmap");
  }

  int pidfd = -1;
  pid_t pid;
  int clone_err = 0;
  {
    SignalsBlocked blocked;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid = clone(ChildMain, stack_top, flags | (use_pidfd ? CLONE_PIDFD : 0),
                &args, &pidfd);
    if (pid < 0 && errno == EINVAL && use_pidfd) {
      // Kernel without CLONE_PIDFD: open the pidfd on the unreaped child.
      pidfd = -1;
      pid = clone(ChildMain, stack_top, flags, &args, nullptr);
    }
    if (pid < 0) clone_err = errno;
  }
  if (args.sentinel_w >= 0) CloseFd(args.sentinel_w);
  if (pid < 0) {
    if (sentinel_r >= 0) CloseFd(sentinel_r);
    ThrowErrno(env, clone_err, "clone");
  }
  if (args.err != 0) {
    ReapDiscard(pid, pidfd);
    if (pidfd >= 0) CloseFd(pidfd);
    if (sentinel_r >= 0) CloseFd(sentinel_r);
    const char* path = args.stage == kStageChdir ? args.cwd
                       : args.stage == kStageExecve ? args.file
                                                    : nullptr;
    ThrowErrno(env, args.err, StageSyscall(args.stage), path);
  }
  if (use_pidfd && pidfd < 0) {
    pidfd = PidfdOpen(pid);
  }

  napi_value result[] = {
      Napi::Number::New(env, pid),
      pidfd >= 0 ? Napi::Number::New(env, pidfd) : env.Null(),
      Napi::Number::New(env, pidfd >= 0 ? pidfd : sentinel_r),
  };
  return static_cast<const ObjectShapes*>(info.Data())->Make(env, 0, 3, result);
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  void* shapes = const_cast<ObjectShapes*>(ObjectShapes::New(env, kResultKeys));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn", shapes));
}

}  // namespace pp

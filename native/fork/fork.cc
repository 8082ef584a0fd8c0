// fork(2) of a running Node process: the raw call behind posix.fork() and
// the fork start method. Policy (the safety gate, at-fork hooks, what the
// child does with inherited state) lives in TypeScript and forkchild.cc;
// this file does the part that must happen around the fork(2) call itself:
//
//  - V8 marks its heap MADV_DONTFORK (flag `dc` in /proc/self/smaps), so a
//    plain child would have no heap. Those ranges are flipped to
//    MADV_DOFORK for the fork and back in the parent, only the ranges that
//    were flipped.
//  - uv_loop_fork() in the child, so it does not share the parent's epoll.
//  - V8's task platform told, in the child, that it has no worker threads.
#include <dlfcn.h>
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
#include <v8.h>

#include "../common.h"

// Two of Node's exported C++ functions (node.h, whose NAPI_VERSION clashes
// with this N-API addon's).
namespace node {
class Environment;
class MultiIsolatePlatform;
__attribute__((visibility("default"))) Environment* GetCurrentEnvironment(v8::Local<v8::Context> context);
__attribute__((visibility("default"))) MultiIsolatePlatform* GetMultiIsolatePlatform(Environment* env);
}  // namespace node

namespace pp {

void DropInheritedContinuation();                          // forkchild.cc
bool DetachInotifyDispatch(uv_loop_t* loop);               // forkchild.cc
void RearmInotify(uv_loop_t* loop);                        // forkchild.cc
int ForkProcess(Napi::Env env);

namespace {

struct Range {
  uintptr_t start;
  uintptr_t end;
};

// The mappings that carry MADV_DONTFORK ("dc" in VmFlags), adjacent ones
// joined so that each run costs one madvise call.
void ParseSmaps(const std::string& smaps, std::vector<Range>* ranges) {
  ranges->clear();
  Range current = {0, 0};
  const char* p = smaps.data();
  const char* end = p + smaps.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(memchr(p, '\n', end - p));
    if (eol == nullptr) eol = end;
    size_t len = eol - p;
    if (len > 8 && memcmp(p, "VmFlags:", 8) == 0) {
      // Flags are two-letter words separated by single spaces.
      for (const char* f = p + 8; f + 2 <= eol; ++f) {
        if (f[0] == 'd' && f[1] == 'c' && f[-1] == ' ' && (f + 2 == eol || f[2] == ' ')) {
          if (current.end > current.start) {
            if (!ranges->empty() && ranges->back().end == current.start) {
              ranges->back().end = current.end;
            } else {
              ranges->push_back(current);
            }
          }
          break;
        }
      }
    } else if (len > 0 && isxdigit(static_cast<unsigned char>(p[0]))) {
      // Header line: "start-end perms offset dev inode path". A field
      // line that starts with a hex letter ("Anonymous:") has no '-'
      // after its first word and is skipped.
      char* dash = nullptr;
      uintptr_t start = strtoull(p, &dash, 16);
      if (dash != nullptr && *dash == '-') {
        current = {start, static_cast<uintptr_t>(strtoull(dash + 1, nullptr, 16))};
      }
    }
    p = eol + 1;
  }
}

// Finding the dc ranges costs a read of /proc/self/smaps, which walks the
// page tables of every mapping to count Rss/Pss: ~1 ms at 50 MB, several
// ms with a big heap. The flag itself is not in /proc/self/maps (nor in the
// PROCMAP_QUERY ioctl, which reports only r/w/x/shared), but maps is cheap
// (no page walk), and a mapping's flags only change together with its line
// there: V8 sets DONTFORK right after mmap (a new line), mprotect and
// decommits split or re-type lines. So the ranges are cached with the maps
// text they were read under, and smaps is re-read only when maps differs.
// A stale cache could at worst re-mark as DONTFORK a range V8 had marked
// so before (V8 memory either way); the child always gets every range
// that was dc, because a new dc mapping always shows in maps.
struct DontForkCache {
  std::string maps;     // /proc/self/maps when `ranges` was computed
  std::string scratch;  // this fork's maps
  std::string smaps;
  std::vector<Range> ranges;
  bool valid = false;
};

DontForkCache cache;

const std::vector<Range>& DontForkRanges() {
  if (!ReadWholeFile("/proc/self/maps", &cache.scratch)) {
    cache.valid = false;
    cache.ranges.clear();
    return cache.ranges;
  }
  if (cache.valid && cache.scratch == cache.maps) return cache.ranges;
  if (ReadWholeFile("/proc/self/smaps", &cache.smaps)) {
    ParseSmaps(cache.smaps, &cache.ranges);
    cache.maps.swap(cache.scratch);
    cache.valid = true;
  } else {
    cache.ranges.clear();
    cache.valid = false;
  }
  return cache.ranges;
}

void Advise(const std::vector<Range>& ranges, int advice) {
  for (const Range& r : ranges) {
    // Advisory: a range unmapped meanwhile (ENOMEM) is simply not there.
    madvise(reinterpret_cast<void*>(r.start), r.end - r.start, advice);
  }
}

// --- V8's worker threads, which a child does not have ----------------------
//
// Node's platform runs V8's background tasks on worker threads that wait on
// one condition variable. A child has the condition variable, with those
// waiters recorded in it, but not the threads: a task posted there is never
// run, and once glibc has to switch waiter groups, pthread_cond_signal waits
// for the missing waiters for ever. --single-threaded does not stop every
// post (V8 11.3's weak-reference clearing job in each full GC, 14.6's
// scavenger job, wasm tier-up, on all versions), and no flag does; V8's own
// single-threaded platform simply has no worker threads. So the child's
// platform object gets a copy of its vtable in which NumberOfWorkerThreads()
// is 0 (a job created then runs wholly on the thread that joins it, and
// posts nothing) and the worker-thread posts drop their task (an old job
// then just finishes on the joining thread). The slots are found in the
// parent by the addresses of NodePlatform's exported methods, whatever
// their names in this Node version; without them the fork gate refuses.
// ("Fork children that never hang" in docs/design.md.)

constexpr size_t kVtableHeader = 2;  // offset-to-top and type_info (Itanium ABI)
constexpr size_t kVtableScan = 64;   // more slots than v8::Platform has

int NoWorkerThreads(void*) {
  return 0;
}

// Replaces a post that takes the task as std::unique_ptr by value: the
// caller owns that argument and destroys it (Itanium ABI), so ignoring it
// drops the task.
void DropWorkerTask(void*) {}

// Replaces DrainTasks, which first waits until the worker threads have run
// every task posted to them. A task the parent posted and its workers had
// not finished at the fork instant stays counted in the child for ever
// (V8 14.6 posts after each scavenge a task that is usually still queued),
// so the child blocked at its first drain. Only the foreground queue is
// the child's to drain.
// NodePlatform::FlushForegroundTasks, called as the Itanium ABI calls a
// member function (`this` first); found in the parent by its symbol.
using FlushForegroundFn = bool (*)(void* self, v8::Isolate* isolate);
FlushForegroundFn flush_foreground = nullptr;

void DrainForegroundTasks(void* self, v8::Isolate* isolate) {
  while (flush_foreground(self, isolate)) {
  }
}

enum Role { kCount, kPost, kPostDelayed, kDrain, kRoles };

struct PlatformSlot {
  const char* symbol;
  Role role;
};

// V8 11 (Node 20) posts through CallOnWorkerThread; V8 12+ through
// PostTaskOnWorkerThreadImpl. Any one of each role suffices.
const PlatformSlot kPlatformSlots[] = {
    {"_ZN4node12NodePlatform21NumberOfWorkerThreadsEv", kCount},
    {"_ZN4node12NodePlatform18CallOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EE", kPost},
    {"_ZN4node12NodePlatform26PostTaskOnWorkerThreadImplEN2v812TaskPriorityESt10unique_ptrINS1_4TaskESt14default_"
     "deleteIS4_EERKNS1_14SourceLocationE",
     kPost},
    {"_ZN4node12NodePlatform25CallDelayedOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EEd",
     kPostDelayed},
    {"_ZN4node12NodePlatform33PostDelayedTaskOnWorkerThreadImplEN2v812TaskPriorityESt10unique_ptrINS1_4TaskESt14de"
     "fault_deleteIS4_EEdRKNS1_14SourceLocationE",
     kPostDelayed},
    {"_ZN4node12NodePlatform10DrainTasksEPN2v87IsolateE", kDrain},
};

struct WorkerThreadPatch {
  bool looked = false;
  const char* problem = nullptr;  // why the child's platform cannot be fixed
  void** object = nullptr;        // the platform object (its first word: the vptr)
  size_t slots = 0;               // vtable slots copied
  size_t count = 0;
  struct {
    size_t index;
    void* fn;
  } patches[sizeof(kPlatformSlots) / sizeof(kPlatformSlots[0])];
};

WorkerThreadPatch worker_patch;

// How many pointer-sized slots from `table` stay inside its mapping (the
// scan must not run off the end of the binary's read-only data). Reuses
// the maps buffer of the DONTFORK cache; this runs once.
size_t SlotsInMapping(void** table, size_t want) {
  if (!ReadWholeFile("/proc/self/maps", &cache.scratch)) return 0;
  auto addr = reinterpret_cast<uintptr_t>(table);
  const char* p = cache.scratch.c_str();
  while (*p != '\0') {
    char* dash = nullptr;
    uintptr_t start = strtoull(p, &dash, 16);
    uintptr_t end = (dash != nullptr && *dash == '-') ? strtoull(dash + 1, nullptr, 16) : 0;
    if (addr >= start + kVtableHeader * sizeof(void*) && addr < end) {
      size_t room = (end - addr) / sizeof(void*);
      return room < want ? room : want;
    }
    const char* eol = strchr(p, '\n');
    if (eol == nullptr) break;
    p = eol + 1;
  }
  return 0;
}

// In the parent, once: null when the child's platform can be fixed.
const char* LocateWorkerThreadSlots() {
  if (worker_patch.looked) return worker_patch.problem;
  worker_patch.looked = true;
  static const char* const kUnknown =
      "this Node.js process runs V8 on a task platform whose worker threads a forked child could not be told "
      "apart from";
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  node::Environment* environment =
      isolate == nullptr ? nullptr : node::GetCurrentEnvironment(isolate->GetCurrentContext());
  node::MultiIsolatePlatform* platform =
      environment == nullptr ? nullptr : node::GetMultiIsolatePlatform(environment);
  if (platform == nullptr) return worker_patch.problem = kUnknown;
  void** object = reinterpret_cast<void**>(platform);
  void** vtable = static_cast<void**>(*object);
  size_t slots = SlotsInMapping(vtable, kVtableScan);
  bool have[kRoles] = {};
  for (const PlatformSlot& slot : kPlatformSlots) {
    void* fn = dlsym(RTLD_DEFAULT, slot.symbol);
    if (fn == nullptr) continue;
    size_t found = slots;
    for (size_t i = 0; i < slots; i++) {
      if (vtable[i] != fn) continue;
      if (found != slots) return worker_patch.problem = kUnknown;  // ambiguous
      found = i;
    }
    if (found == slots) continue;
    void* replacement = slot.role == kCount   ? reinterpret_cast<void*>(&NoWorkerThreads)
                        : slot.role == kDrain ? reinterpret_cast<void*>(&DrainForegroundTasks)
                                              : reinterpret_cast<void*>(&DropWorkerTask);
    worker_patch.patches[worker_patch.count++] = {found, replacement};
    have[slot.role] = true;
  }
  flush_foreground = reinterpret_cast<FlushForegroundFn>(
      dlsym(RTLD_DEFAULT, "_ZN4node12NodePlatform20FlushForegroundTasksEPN2v87IsolateE"));
  if (!have[kCount] || !have[kPost] || !have[kPostDelayed] || !have[kDrain] || flush_foreground == nullptr) {
    return worker_patch.problem = kUnknown;
  }
  worker_patch.object = object;
  worker_patch.slots = slots;
  return nullptr;
}

// In the child, before any JS (and so any GC) runs: the platform object
// points at a patched copy of its vtable (the table itself is read-only
// data of the node binary). A grandchild inherits the copy, patched.
void ForgetWorkerThreads() {
  if (worker_patch.object == nullptr) return;
  static void* table[kVtableHeader + kVtableScan];
  void** vtable = static_cast<void**>(*worker_patch.object);
  if (vtable == table + kVtableHeader) return;
  memcpy(table, vtable - kVtableHeader, (kVtableHeader + worker_patch.slots) * sizeof(void*));
  for (size_t i = 0; i < worker_patch.count; i++) {
    table[kVtableHeader + worker_patch.patches[i].index] = worker_patch.patches[i].fn;
  }
  *worker_patch.object = table + kVtableHeader;
}

// forkPlatformProblem(): why a fork child's platform cannot be fixed, or null.
Napi::Value ForkPlatformProblem(const Napi::CallbackInfo& info) {
  const char* problem = LocateWorkerThreadSlots();
  return problem == nullptr ? info.Env().Null() : Napi::String::New(info.Env(), problem);
}

Napi::Value Fork(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ForkProcess(info.Env()));
}

}  // namespace

// fork(2) with V8's heap made inheritable; uv_loop_fork() in the child.
// Returns 0 in the child, the pid in the parent; throws on failure.
int ForkProcess(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "fork: cannot get the event loop");
  }
  // Normally done by the fork gate already (which refuses when it fails).
  LocateWorkerThreadSlots();
  const std::vector<Range>& ranges = DontForkRanges();
  Advise(ranges, MADV_DOFORK);

  // No signal handler may run in the child before uv_loop_fork has given it
  // its own signal pipe (libuv's handler would write to the parent's).
  sigset_t old;
  BlockAllSignals(&old);
  pid_t pid = fork();
  int err = errno;
  if (pid == 0) {
    // The cache describes the parent's flags: in this copy the flipped
    // ranges are plain DOFORK memory. Start afresh on our own next fork.
    cache.valid = false;
    ForgetWorkerThreads();
    bool rearm = DetachInotifyDispatch(loop);
    int rc = uv_loop_fork(loop);
    if (rc == 0 && rearm) RearmInotify(loop);
    // A threadpool thread of the parent may have held this lock at the
    // fork; no thread here would ever release it, and the child's own first
    // threadpool completion would deadlock. uv_loop_fork leaves it alone.
    uv_mutex_init(&loop->wq_mutex);
    DropInheritedContinuation();
    SetSignalMask(&old);
    if (rc != 0) {
      // The child cannot run its loop; leave before any JS runs.
      static const char msg[] = "posix-process: uv_loop_fork failed in child\n";
      WriteAll(2, msg, sizeof(msg) - 1);
      ExitNow(70);
    }
    return 0;
  }
  SetSignalMask(&old);
  // Back to V8's choice in the parent (only what we flipped), so its later
  // fork+exec children (child_process) stay cheap.
  Advise(ranges, MADV_DONTFORK);
  if (pid < 0) ThrowErrno(env, err, "fork");
  return pid;
}

void InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("forkPlatformProblem", Napi::Function::New(env, ForkPlatformProblem, "forkPlatformProblem"));
}

}  // namespace pp

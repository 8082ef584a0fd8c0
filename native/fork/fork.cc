// fork(), exit(), execve(): the raw calls behind posix.fork() and the fork
// start method. Policy (the safety gate, at-fork hooks, what the child does
// with inherited state) lives in TypeScript and forkchild.cc; this file does
// the part that must happen around the fork(2) call itself:
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

#include "../common.h"

namespace pp {

void DropInheritedContinuation();                          // forkchild.cc
int ForkProcess(Napi::Env env);

namespace {

struct Range {
  uintptr_t start;
  uintptr_t end;
};

// Reads a whole /proc file into `out` (reusing its capacity: this runs on
// every fork, and the text is tens of kilobytes).
bool ReadProcFile(const char* path, std::string* out) {
  out->clear();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
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
  if (!ReadProcFile("/proc/self/maps", &cache.scratch)) {
    cache.valid = false;
    cache.ranges.clear();
    return cache.ranges;
  }
  if (cache.valid && cache.scratch == cache.maps) return cache.ranges;
  if (ReadProcFile("/proc/self/smaps", &cache.smaps)) {
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
  const std::vector<Range>& ranges = DontForkRanges();
  Advise(ranges, MADV_DOFORK);

  // No signal handler may run in the child before uv_loop_fork has given it
  // its own signal pipe (libuv's handler would write to the parent's).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  int err = errno;
  if (pid == 0) {
    // The cache describes the parent's flags: in this copy the flipped
    // ranges are plain DOFORK memory. Start afresh on our own next fork.
    cache.valid = false;
    int rc = uv_loop_fork(loop);
    // A threadpool thread of the parent may have held this lock at the
    // fork; no thread here would ever release it, and the child's own first
    // threadpool completion would deadlock. uv_loop_fork leaves it alone.
    uv_mutex_init(&loop->wq_mutex);
    DropInheritedContinuation();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
      // The child cannot run its loop; leave before any JS runs.
      static const char msg[] = "posix-process: uv_loop_fork failed in child\n";
      ssize_t ignored = write(2, msg, sizeof(msg) - 1);
      (void)ignored;
      _exit(70);
    }
    return 0;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Back to V8's choice in the parent (only what we flipped), so its later
  // fork+exec children (child_process) stay cheap.
  Advise(ranges, MADV_DONTFORK);
  if (pid < 0) ThrowErrno(env, err, "fork");
  return pid;
}

void InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
}

}  // namespace pp

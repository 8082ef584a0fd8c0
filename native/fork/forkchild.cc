// The fork start method's native half: fork with a sentinel, and the two
// things only C can do for the child — make the parent's I/O handles inert
// and flush stdout/stderr on the way out (docs/design.md, "Forking a Node
// process" and "Fork children that never hang"). The policy around it is
// src/fork/child.ts.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <uv.h>
#include <v8.h>

#include "../common.h"
#include "../pidfd.h"

namespace pp {

int ForkProcess(Napi::Env env);  // fork.cc

// uv_version()'s encoding of release major.minor (.0), as UV_VERSION_HEX.
constexpr unsigned UvRelease(unsigned major, unsigned minor) { return major << 16 | minor << 8; }

namespace {

uv_loop_t* Loop(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "cannot get the event loop");
  }
  return loop;
}

// What the walk needs: fds to put under the parent's handles, made lazily.
// All non-blocking: should libuv still touch one (a read or write loop of
// the parent's that the child returns into), it gets EAGAIN or an error
// at once, never a read(2) or write(2) that blocks for ever.
struct Inert {
  // Read end of a pipe whose write end stays open here: never readable,
  // never writable, and pollable (epoll refuses /dev/null with EPERM, which
  // libuv answers with abort()). write(2) on it fails with EBADF.
  int dead = -1;
  // One end of a socket pair whose other end stays open here and whose send
  // buffer is full: read(2) and write(2) both say EAGAIN and poll never
  // reports it ready, so a write queued on a stream stays queued (libuv
  // waits for POLLOUT) instead of failing into the parent's JS callbacks.
  int mute = -1;
  // Read end of a pipe whose write end is closed: always at end-of-file.
  int eof = -1;
  bool stdin_handled = false;
  int count = 0;

  int Dead() {
    if (dead < 0) {
      int p[2];
      if (OpenPipe(p, true) < 0) return -1;
      dead = p[0];  // p[1] is kept open on purpose (one fd, for life).
    }
    return dead;
  }

  int Mute() {
    if (mute < 0) {
      int s[2];
      if (OpenSocketpair(s, true) < 0) return -1;
      // The smallest send buffer the kernel allows (~4.5 KB), then filled.
      int size = 1;
      setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
      static const char fill[4096] = {};
      bool full = false;
      for (int i = 0; i < 64 && !full; i++) {
        ssize_t n = send(s[0], fill, sizeof(fill), MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR) {
          full = errno == EAGAIN || errno == EWOULDBLOCK;
          if (!full) break;
        }
      }
      if (!full) {
        CloseFd(s[0]);
        CloseFd(s[1]);
        return -1;
      }
      mute = s[0];  // s[1] is kept open on purpose (one fd, for life).
    }
    return mute;
  }

  int Eof() {
    if (eof < 0) {
      int p[2];
      if (OpenPipe(p) < 0) return -1;
      CloseFd(p[1]);
      eof = p[0];
    }
    return eof;
  }
};

// Calls fn on every handle of the loop, reading the handle queue only.
// uv_walk moves each handle to a temporary queue and back, a write to every
// handle; in a fork child each is a copy-on-write fault (~50 for a usual
// parent: handles are scattered over the heap). Unlike uv_walk it also
// visits libuv's internal handles (asyncs, signals, timers: none of the
// types acted on here). fn may stop or unref a handle, never free one, so
// the next link stays valid.
template <typename Fn>
void ForEachHandle(uv_loop_t* loop, Fn fn) {
  struct uv__queue* head = &loop->handle_queue;
  for (struct uv__queue* q = head->next; q != head;) {
    struct uv__queue* next = q->next;
    fn(reinterpret_cast<uv_handle_t*>(reinterpret_cast<char*>(q) - offsetof(uv_handle_t, handle_queue)));
    q = next;
  }
}

// Unlinks a queue node from whatever list holds it (libuv's own queue
// removal; a node in no list is linked to itself and stays so).
void Unlink(struct uv__queue* q) {
  q->prev->next = q->next;
  q->next->prev = q->prev;
  q->next = q;
  q->prev = q;
}

// Takes an inherited handle's I/O watcher off the loop, as libuv's
// uv__io_stop does for every event, and off the pending queue: the
// parent's work that libuv had queued for it (write completions to
// report, a connect error) is the parent's, not the child's. With no
// watcher left for its fd, libuv itself skips any event still reported
// for it ("Fork children that never hang" in docs/design.md).
void DetachWatcher(uv_loop_t* loop, uv__io_t* w) {
  if (w->fd >= 0 && static_cast<unsigned>(w->fd) < loop->nwatchers && loop->watchers[w->fd] == w) {
    loop->watchers[w->fd] = nullptr;
    loop->nfds--;
  }
  w->pevents = 0;
  w->events = 0;
  Unlink(&w->watcher_queue);
  Unlink(&w->pending_queue);
}

// After uv_loop_fork the child's new epoll re-registers every watcher it
// inherited, so the parent's listening sockets would accept here and its
// connections would be read here. Closing the handles (uv_close) would
// leave Node's JS wrappers thinking they are open, and a later close() from
// an inherited 'exit' listener or timer would hit libuv's double-close
// assert. Instead the fd under each handle is replaced by an inert one
// (dup3), so the wrappers stay consistent, the kernel objects are no longer
// held by this process (a peer sees the parent's close as it should), and
// no event ever fires. Reading stops (public libuv calls), so a read loop
// of the parent's that the child returns into after the unwinding (libuv
// reads up to 32 times per event) ends at once, and the watcher leaves the
// loop. The handle is unref'd so it keeps nothing alive.
void NeutralizeHandle(uv_handle_t* handle, Inert* inert) {
  if (uv_is_closing(handle)) return;
  switch (handle->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
    case UV_UDP:
    case UV_TTY: {
      uv_os_fd_t fd = -1;
      if (uv_fileno(handle, &fd) != 0 || fd < 0) return;
      // stdout/stderr stay: the child prints through the same streams.
      if (fd == 1 || fd == 2) return;
      // stdin: the child must not read the parent's input; it gets EOF,
      // as CPython's children get /dev/null. A read of the parent's that is
      // on goes on, so the child sees that end-of-file ('end'), and no read
      // of it can block.
      if (fd == 0) {
        int eof = inert->Eof();
        if (eof < 0 || DupOnto(eof, 0, 0) < 0) return;
        inert->stdin_handled = true;
        uv_unref(handle);
        inert->count++;
        return;
      }
      // Other handles fall silent. A TTY may write blocking (libuv retries
      // EAGAIN at once), and a UDP socket's sends carry an address a socket
      // pair refuses: both get the dead pipe, whose errors end a write at
      // once. Other streams get the mute socket.
      int target = handle->type == UV_TTY || handle->type == UV_UDP ? inert->Dead() : inert->Mute();
      if (target < 0 || DupOnto(target, fd, O_CLOEXEC) < 0) return;
      if (handle->type == UV_UDP) {
        auto* udp = reinterpret_cast<uv_udp_t*>(handle);
        uv_udp_recv_stop(udp);
        DetachWatcher(handle->loop, &udp->io_watcher);
      } else {
        auto* stream = reinterpret_cast<uv_stream_t*>(handle);
        uv_read_stop(stream);
        DetachWatcher(handle->loop, &stream->io_watcher);
      }
      uv_unref(handle);
      inert->count++;
      return;
    }
    case UV_PROCESS:
      // The parent's children are not ours; their exit never reaches us.
      uv_unref(handle);
      return;
    case UV_FS_EVENT:
      // inotify watches were re-created by uv_loop_fork: stop them, or the
      // parent's fs.watch callbacks would run here.
      uv_fs_event_stop(reinterpret_cast<uv_fs_event_t*>(handle));
      uv_unref(handle);
      return;
    case UV_FS_POLL:
      uv_fs_poll_stop(reinterpret_cast<uv_fs_poll_t*>(handle));
      uv_unref(handle);
      return;
    default:
      // Timers, async, check/idle/prepare and signals are Node's own
      // machinery, which the child needs. Poll handles belong to addons:
      // ours (src/watch.ts) drop theirs in an at-fork hook.
      return;
  }
}

// Forked from inside an I/O callback: libuv is walking the parent's epoll
// results and goes on to the next ones after our frames unwind, for fds
// that are inert pipes here now. Its own uv__platform_invalidate_fd marks
// an entry dead with fd -1; the child does that to the whole batch. Since
// libuv 1.45 the batch is announced in a pointer at the end of the loop's
// internal fields (`inv`), whose offset moved with io_uring's ring struct
// (1.46-1.49: 472, Node 20; 1.50-1.52: 440, Node 22, 24, 26; read from
// their binaries' debug info). For another libuv nothing is cleared, and
// DetachWatcher still keeps the parent's handles out of the batch.
struct ParkedBatch {
  struct epoll_event (*prep)[256];
  struct epoll_event* events;
  int nfds;
};

void DropParentEventBatch(uv_loop_t* loop) {
  unsigned int version = uv_version();
  size_t offset;
  if (version >= UvRelease(1, 46) && version < UvRelease(1, 50)) {
    offset = 472;
  } else if (version >= UvRelease(1, 50) && version < UvRelease(1, 53)) {
    offset = 440;
  } else {
    return;
  }
  ParkedBatch* batch;
  memcpy(&batch, static_cast<char*>(loop->internal_fields) + offset, sizeof(batch));
  if (batch == nullptr) return;  // not forked from inside uv__io_poll
  // The batch lives in uv__io_poll's frame, on this stack above ours: a
  // pointer that is not there is no batch, and is left alone.
  char here;
  auto above = [&here](const void* p) {
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(&here);
    return a > b && a - b < (size_t{256} << 20);
  };
  if (!above(batch) || !above(batch->events) || batch->nfds < 0 || batch->nfds > 1024) return;
  for (int i = 0; i < batch->nfds; i++) batch->events[i].data.fd = -1;
}

// forkChild(): fork with a sentinel. Parent: { pid, pidfd, sentinel }.
// Child, with the parent's handles made inert: 0, or -(fd + 1) for the
// pipe sentinel's write end it holds.
Napi::Value ForkChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = Loop(env);
  bool use_pidfd = PidfdEnabled();
  // Pipe fallback: the child holds the only write end; the sentinel (read
  // end) reads EOF when the child and everything that inherited the write
  // end are gone. Both ends CLOEXEC: exec'd programs never hold it.
  int p[2] = {-1, -1};
  if (!use_pidfd && OpenPipe(p) < 0) ThrowErrno(env, errno, "pipe");
  int pid;
  try {
    pid = ForkProcess(env);
  } catch (...) {
    if (p[0] >= 0) CloseFd(p[0]);
    if (p[1] >= 0) CloseFd(p[1]);
    throw;
  }
  if (pid == 0) {
    if (p[0] >= 0) CloseFd(p[0]);
    // Threadpool work the parent's threads finished but the parent had not
    // yet delivered: its callbacks (an fs or crypto completion) are the
    // parent's. Work still running never completes here at all.
    loop->wq.next = &loop->wq;
    loop->wq.prev = &loop->wq;
    DropParentEventBatch(loop);
    Inert inert;
    ForEachHandle(loop, [&inert](uv_handle_t* handle) { NeutralizeHandle(handle, &inert); });
    if (!inert.stdin_handled) {
      // No handle reads stdin yet; give fd 0 end-of-file all the same, so a
      // process.stdin created later cannot read the parent's input.
      int null_fd = OpenCloexec("/dev/null", O_RDONLY);
      if (null_fd >= 0) {
        if (null_fd != 0) {
          DupOnto(null_fd, 0, 0);
          CloseFd(null_fd);
        } else {
          SetCloexec(0, false);
        }
      }
    }
    if (inert.dead >= 0) CloseFd(inert.dead);  // its dup3 copies remain
    if (inert.mute >= 0) CloseFd(inert.mute);
    if (inert.eof >= 0) CloseFd(inert.eof);
    // A plain number, not an object: a new object shape made in every child
    // means new maps and transition entries, i.e. more pages to copy.
    // 0: no pipe sentinel to hold; -(fd + 1): the write end it holds.
    return Napi::Number::New(env, p[1] >= 0 ? -(p[1] + 1) : 0);
  }
  if (p[1] >= 0) CloseFd(p[1]);
  int pidfd = -1;
  if (use_pidfd) {
    // Race-free: the child cannot be reaped (and its pid reused) before we
    // wait for it.
    pidfd = PidfdOpen(pid);
    if (pidfd < 0) {
      int err = errno;
      SendSignal(pid, SIGKILL);
      ReapDiscard(pid, -1);
      ThrowErrno(env, err, "pidfd_open");
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", pidfd >= 0 ? Napi::Number::New(env, pidfd) : env.Null());
  result.Set("sentinel", Napi::Number::New(env, pidfd >= 0 ? pidfd : p[0]));
  return result;
}

struct FlushState {
  std::vector<int> pending;  // fds 1/2 whose handle still had writes queued
};

// On the exit path the loop will not run again, so what libuv still holds
// for stdout/stderr (a pipe reader was slower than the writer) is written
// here, in order: each queued request from its current buffer on (libuv
// advances bufs/write_index as it writes partially).
void FlushHandle(uv_handle_t* handle, FlushState* state) {
  if (uv_is_closing(handle)) return;
  if (handle->type != UV_TCP && handle->type != UV_NAMED_PIPE && handle->type != UV_TTY) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(handle, &fd) != 0 || (fd != 1 && fd != 2)) return;
  uv_stream_t* stream = reinterpret_cast<uv_stream_t*>(handle);
  bool any = false;
  for (struct uv__queue* q = stream->write_queue.next; q != &stream->write_queue; q = q->next) {
    uv_write_t* req = reinterpret_cast<uv_write_t*>(reinterpret_cast<char*>(q) - offsetof(uv_write_t, queue));
    any = true;
    for (unsigned int i = req->write_index; i < req->nbufs; i++) {
      if (!WriteAll(fd, req->bufs[i].base, req->bufs[i].len)) return;
    }
  }
  // Completed requests whose JS callback has not run yet: the stream may
  // hold more data in its own buffer behind them.
  if (any || stream->write_completed_queue.next != &stream->write_completed_queue) {
    state->pending.push_back(fd);
  }
}

// forkFlushStdio(): [fds whose JS stream may still buffer data].
Napi::Value ForkFlushStdio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FlushState state;
  ForEachHandle(Loop(env), [&state](uv_handle_t* handle) { FlushHandle(handle, &state); });
  Napi::Array out = Napi::Array::New(env, state.pending.size());
  for (uint32_t i = 0; i < state.pending.size(); i++) out.Set(i, Napi::Number::New(env, state.pending[i]));
  return out;
}

// forkWriteAll(fd, buffer): blocking write of everything, even on a
// non-blocking fd; false if the reader is gone.
Napi::Value ForkWriteAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
  if (!info[1].IsBuffer()) ThrowTypeError(env, "The \"data\" argument must be an instance of Buffer");
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  return Napi::Boolean::New(env, WriteAll(fd, data.Data(), data.Length()));
}

// The child must not return into the code that called fork: the caller's
// frames (user code after `p.start()`, a promise chain in flight) belong to
// the parent's story. And the child's target needs a normal event loop with
// working promises, which a nested loop cannot give when fork was called
// from inside a microtask (V8 does not run microtasks re-entrantly).
// So the child schedules its continuation as a fresh top-level callback on
// the loop, then terminates the current JS execution: a termination unwinds
// every JS frame without running catch or finally blocks, and drops the
// pending microtasks (the parent's). Once it reaches the bottom of the
// stack V8 clears it, and the loop calls the continuation with a clean
// stack. (TerminateExecution is the one V8 API this addon uses: N-API has
// no equivalent.)
struct Continuation {
  // Whichever of the loop's idle and check phases comes first after the
  // unwinding runs the continuation. libuv runs the newest check handle
  // first, so ours runs before Node's immediates: after a fork from an I/O
  // callback the child starts before the parent's check, closing and timer
  // phases instead of after them.
  uv_idle_t idle;
  uv_check_t check;
  // Keeps the child's loop alive until it leaves through its exit path.
  // Liveness is not trustworthy in the child: the termination skipped the
  // bookkeeping of the frames it unwound (Node's timer ref count), and
  // inherited threadpool requests never complete. So the child lives until
  // childMain settles or process.exit(), like a Python target that blocks.
  uv_async_t keepalive;
  napi_env env;
  napi_ref fn;
};

// The continuation scheduled in this process and not run yet. Inherited
// callbacks of the parent (a timer, a nextTick) may run before it and fork
// again; that grandchild must not run this process's continuation too.
Continuation* pending = nullptr;
// The continuation that started this child (its keepalive is the one
// forkLetLoopEnd releases).
Continuation* started = nullptr;

void StopWatchingUnwind(v8::Isolate* isolate);

void RunContinuation(Continuation* c) {
  uv_idle_stop(&c->idle);
  uv_check_stop(&c->check);
  pending = nullptr;
  started = c;
  // No JS frame is left: the termination has done its work. V8 keeps
  // reporting it until it is cancelled, and would refuse to run JS.
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  StopWatchingUnwind(isolate);
  isolate->CancelTerminateExecution();
  napi_env env = c->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, global, result;
  napi_get_reference_value(env, c->fn, &fn);
  napi_delete_reference(env, c->fn);
  napi_get_global(env, &global);
  // make_callback: a top-level callback scope, so nextTicks and microtasks
  // run when it returns, as after any libuv callback.
  if (napi_make_callback(env, nullptr, global, fn, 0, nullptr, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
  // The continuation stays allocated: the child ends with _exit.
}

// V8 keeps a termination in force until it is cancelled, and Node, seeing
// an empty result at the bottom of the stack, may call straight back into
// JS: RunTimers retries processTimers in a loop while the call fails, so a
// termination still in force when a timer comes due spins there forever.
// So the termination is cancelled the moment the last JS frame has
// unwound, wherever that bottom is:
//  - under an API call (a libuv callback into JS, a nextTick run): V8's
//    call-completed callback, when the outermost call returns;
//  - under a microtask checkpoint that Node runs with no call in progress
//    (InternalCallbackScope::Close after an immediate, an I/O callback, a
//    timer run: `await` resumes there). Such a run is no API call, so no
//    call-completed callback ever follows; the checkpoint's own
//    microtasks-completed callback, which V8 fires on termination too, does.
// Both also fire with JS frames still below (a checkpoint run by
// processTicksAndRejections; a call made from a microtask); those frames
// must unwind too, so the cancel waits for a point with none left (a stack
// trace sees every JS frame, Node's internal ones included).
// (The continuation itself cancels again, should neither fire.)
void CancelAfterUnwind(v8::Isolate* isolate);
void CancelAfterMicrotasks(v8::Isolate* isolate, void*) {
  CancelAfterUnwind(isolate);
}

void StopWatchingUnwind(v8::Isolate* isolate) {
  isolate->RemoveCallCompletedCallback(CancelAfterUnwind);
  isolate->RemoveMicrotasksCompletedCallback(CancelAfterMicrotasks);
}

void CancelAfterUnwind(v8::Isolate* isolate) {
  if (v8::StackTrace::CurrentStackTrace(isolate, 1)->GetFrameCount() > 0) return;
  StopWatchingUnwind(isolate);
  isolate->CancelTerminateExecution();
}

// forkContinue(fn): see above. Never returns to its caller's frames.
Napi::Value ForkContinue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  if (!info[0].IsFunction()) ThrowTypeError(env, "The \"fn\" argument must be of type function");
  auto* c = new Continuation();
  c->env = env;
  napi_create_reference(env, info[0], 1, &c->fn);
  uv_loop_t* loop = Loop(env);
  uv_async_init(loop, &c->keepalive, nullptr);
  uv_idle_init(loop, &c->idle);
  uv_idle_start(&c->idle, [](uv_idle_t* idle) {
    RunContinuation(reinterpret_cast<Continuation*>(reinterpret_cast<char*>(idle) - offsetof(Continuation, idle)));
  });
  uv_check_init(loop, &c->check);
  uv_check_start(&c->check, [](uv_check_t* check) {
    RunContinuation(reinterpret_cast<Continuation*>(reinterpret_cast<char*>(check) - offsetof(Continuation, check)));
  });
  pending = c;
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  isolate->AddCallCompletedCallback(CancelAfterUnwind);
  isolate->AddMicrotasksCompletedCallback(CancelAfterMicrotasks);
  isolate->TerminateExecution();
  // The parent's pending promise jobs are not the child's: a checkpoint
  // under termination discards the whole microtask queue (V8 clears it when
  // a run is terminated). Inside a running checkpoint this is a no-op, and
  // the termination of that run discards the queue just the same.
  isolate->PerformMicrotaskCheckpoint();
  return env.Undefined();
}

}  // namespace

// Forked from inside an fs.watch callback (or a microtask it queued):
// libuv's uv__inotify_read is iterating one watcher list, and resumes in
// the child after the unwinding with a pointer to it. uv_loop_fork's
// uv__inotify_fork frees every list (to re-create them), so the resumed
// loop used freed memory (a SIGSEGV in RB_REMOVE, or a double free). Such
// a child (fork.cc calls this before uv_loop_fork) gives up the parent's
// fs.watch handles instead: on an inotify instance of its own, so that no
// watch of the parent's is removed, every fs_event handle is stopped
// (libuv frees the lists nobody iterates); the iterated list is taken out
// of the (now one-node) tree and kept alive by a node of ours in its queue,
// which the resumed loop then sees as not empty. Layout: libuv's private
// struct watcher_list (src/unix/linux.c), the same in 1.46-1.52.
// Returns whether the child must re-create its inotify instance after
// uv_loop_fork (RearmInotify).
namespace {
struct InotifyWatcherList {
  struct {  // RB_ENTRY (uv/tree.h)
    InotifyWatcherList* left;
    InotifyWatcherList* right;
    InotifyWatcherList* parent;
    int color;
  } entry;
  struct uv__queue watchers;
  int iterating;
  char* path;
  int wd;
};

bool AnyIterating(const InotifyWatcherList* w) {
  return w != nullptr && (w->iterating != 0 || AnyIterating(w->entry.left) || AnyIterating(w->entry.right));
}
}  // namespace

bool DetachInotifyDispatch(uv_loop_t* loop) {
  unsigned int version = uv_version();
  if (version < UvRelease(1, 46) || version >= UvRelease(1, 53)) return false;
  auto* root = static_cast<InotifyWatcherList*>(loop->inotify_watchers);
  if (loop->inotify_fd < 0 || !AnyIterating(root)) return false;
  int own = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (own < 0) return false;
  int replaced = DupOnto(own, loop->inotify_fd, O_CLOEXEC);
  CloseFd(own);
  if (replaced < 0) return false;
  ForEachHandle(loop, [](uv_handle_t* handle) {
    if (handle->type == UV_FS_EVENT) uv_fs_event_stop(reinterpret_cast<uv_fs_event_t*>(handle));
  });
  root = static_cast<InotifyWatcherList*>(loop->inotify_watchers);
  if (root == nullptr || root->iterating == 0 || root->entry.left != nullptr || root->entry.right != nullptr) {
    return true;
  }
  static struct uv__queue keep;
  keep.next = &root->watchers;
  keep.prev = root->watchers.prev;
  root->watchers.prev->next = &keep;
  root->watchers.prev = &keep;
  loop->inotify_watchers = nullptr;
  return true;
}

// After uv_loop_fork in such a child: the resumed uv__inotify_read reads
// loop->inotify_fd until EAGAIN (and asserts that it gets nothing else),
// but with an empty tree uv_loop_fork left it at -1. A watch started and
// stopped at once makes libuv open the child's own instance and its
// watcher, as for any later fs.watch of the child.
void RearmInotify(uv_loop_t* loop) {
  static uv_fs_event_t probe;
  if (uv_fs_event_init(loop, &probe) != 0) return;
  if (uv_fs_event_start(&probe, [](uv_fs_event_t*, const char*, int, int) {}, "/", 0) == 0) {
    uv_fs_event_stop(&probe);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
}

namespace {

// forkLetLoopEnd(): the child's loop may end when it has nothing left to
// do, as a Node script's does ('beforeExit' comes). Only for a child whose
// parent forked it from a plain I/O callback with no timer or threadpool
// request of its own in flight (the forkserver, docs/design.md
// "forkserver"): then the liveness it inherited is true.
Napi::Value ForkLetLoopEnd(const Napi::CallbackInfo& info) {
  if (started != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&started->keepalive));
  return info.Env().Undefined();
}

}  // namespace

// In every new child (fork.cc calls this right after uv_loop_fork): an
// inherited continuation is its parent's, not its own.
void DropInheritedContinuation() {
  started = nullptr;
  if (pending == nullptr) return;
  uv_idle_stop(&pending->idle);
  uv_check_stop(&pending->check);
  uv_unref(reinterpret_cast<uv_handle_t*>(&pending->keepalive));
  pending = nullptr;
}

void InitForkChild(Napi::Env env, Napi::Object exports) {
  exports.Set("forkChild", Napi::Function::New(env, ForkChild, "forkChild"));
  exports.Set("forkFlushStdio", Napi::Function::New(env, ForkFlushStdio, "forkFlushStdio"));
  exports.Set("forkContinue", Napi::Function::New(env, ForkContinue, "forkContinue"));
  exports.Set("forkWriteAll", Napi::Function::New(env, ForkWriteAll, "forkWriteAll"));
  exports.Set("forkLetLoopEnd", Napi::Function::New(env, ForkLetLoopEnd, "forkLetLoopEnd"));
}

}  // namespace pp

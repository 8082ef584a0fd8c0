// poll(2) with a deadline (and the monotonic clock it counts on), and the
// reactor: the readiness of every fd this thread watches (sentinels, pipes,
// sockets) through one epoll set, itself watched by one libuv poll handle on
// the thread's loop. Watching an fd is one epoll_ctl: no libuv handle and no
// JS object per fd. An fd watched for data is read here as well, so a
// child's captured output needs no libuv stream (docs/design.md,
// "Throughput: the per-child path"). No thread, no threadpool work.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <unordered_map>

#include <uv.h>

#include "common.h"

namespace pp {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int RemainingMs(int64_t deadline_ns) {
  int64_t left = deadline_ns - NowNs();
  if (left <= 0) return 0;
  // Round up so a wait never ends before its deadline.
  int64_t ms = (left + 999999) / 1000000;
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

int PollUntil(struct pollfd* fds, nfds_t nfds, int64_t deadline_ns) {
  for (;;) {
    int n = poll(fds, nfds, deadline_ns < 0 ? -1 : RemainingMs(deadline_ns));
    if (n >= 0 || errno != EINTR) return n;  // EINTR: remaining time recomputed
  }
}

namespace {

constexpr int kMaxEvents = 64;
constexpr size_t kReadSize = 64 * 1024;

struct Reactor;

// The uv handle lives apart from the reactor: uv_close is asynchronous.
struct PollHandle {
  uv_poll_t poll;
  Reactor* owner;
};

struct Watched {
  uint32_t generation;
  bool read;  // read here and hand over the data, else only report readiness
};

// Per-environment state, so the addon is safe in worker threads.
struct Reactor {
  napi_env env = nullptr;
  int epfd = -1;
  PollHandle* handle = nullptr;
  bool refed = false;
  uint32_t generation = 0;
  bool stale = false;  // an event came for a registration we no longer know
  napi_ref callback = nullptr;
  napi_ref receiver = nullptr;
  std::unordered_map<int, Watched> fds;
  // The batch being handed out: an fd unwatched meanwhile is struck out.
  struct epoll_event ready[kMaxEvents];
  int ready_count = 0;
  int ready_next = 0;
  char buffer[kReadSize];
};

Reactor* Data(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Reactor*>(data);
}

uint64_t Key(int fd, uint32_t generation) {
  return (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
}

int KeyFd(uint64_t key) { return static_cast<int>(static_cast<uint32_t>(key)); }
uint32_t KeyGeneration(uint64_t key) { return static_cast<uint32_t>(key >> 32); }

void OnEvent(uv_poll_t* poll, int status, int events);

void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<PollHandle*>(h); }

// Stops watching the epoll set and closes this process's fd of it.
void StopSet(Reactor* r) {
  if (r->handle != nullptr) {
    r->handle->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&r->handle->poll), FreeHandle);
    r->handle = nullptr;
  }
  if (r->epfd >= 0) CloseFd(r->epfd);
  r->epfd = -1;
}

// A new epoll set and its handle; 0 or a negative errno (syscall in `what`).
int StartSet(Reactor* r, const char** what) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *what = "epoll_create1";
    return -errno;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(r->env, &loop) != napi_ok) {
    CloseFd(epfd);
    *what = "uv_poll_init";
    return -EINVAL;
  }
  auto* handle = new PollHandle{{}, r};
  int rc = uv_poll_init(loop, &handle->poll, epfd);
  if (rc == 0) rc = uv_poll_start(&handle->poll, UV_READABLE, OnEvent);
  if (rc != 0) {
    handle->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), FreeHandle);
    CloseFd(epfd);
    *what = "uv_poll_start";
    return rc;
  }
  if (!r->refed) uv_unref(reinterpret_cast<uv_handle_t*>(&handle->poll));
  r->epfd = epfd;
  r->handle = handle;
  return 0;
}

int Register(Reactor* r, int fd, const Watched& w) {
  struct epoll_event ev = {};
  ev.events = EPOLLIN;  // level-triggered; EPOLLHUP and EPOLLERR always come
  ev.data.u64 = Key(fd, w.generation);
  return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
}

// An event for a registration we dropped without removing it: its fd was
// closed while the file stayed open elsewhere (a dup). Such an entry cannot
// be removed by number any more and, level-triggered, would come back on
// every turn: the set is rebuilt from what is watched now.
void Rebuild(Reactor* r) {
  r->stale = false;
  StopSet(r);
  r->ready_count = 0;
  const char* what = nullptr;
  if (StartSet(r, &what) != 0) return;  // the next Watch() tries again
  for (auto it = r->fds.begin(); it != r->fds.end();) {
    // An fd closed behind our back (EBADF) is forgotten.
    if (Register(r, it->first, it->second) < 0) {
      it = r->fds.erase(it);
    } else {
      ++it;
    }
  }
}

// Forgets `fd`: out of the set, out of the batch being handed out.
void Remove(Reactor* r, int fd) {
  if (r->fds.erase(fd) == 0) return;
  // EBADF/ENOENT: closed already; the kernel dropped it with its last fd.
  epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, nullptr);
  for (int i = r->ready_next; i < r->ready_count; i++) {
    if (KeyFd(r->ready[i].data.u64) == fd) r->ready[i].data.u64 = Key(-1, 0);
  }
}

// Calls the JS callback; false when no JS can run any more.
bool Call(Reactor* r, size_t argc, napi_value* argv) {
  napi_env env = r->env;
  napi_value callback;
  napi_value receiver;
  if (napi_get_reference_value(env, r->callback, &callback) != napi_ok ||
      napi_get_reference_value(env, r->receiver, &receiver) != napi_ok) {
    return false;
  }
  napi_value result;
  // The C call, not node-addon-api's throwing one: when a worker is being
  // terminated the call fails with no exception object to wrap, and
  // wrapping it would be a fatal error (the whole process aborted).
  if (napi_make_callback(env, nullptr, receiver, callback, argc, argv, &result) == napi_ok) {
    return true;
  }
  // A throwing callback is an uncaught exception, as for Node's own
  // callbacks; escaping this libuv callback would std::terminate. Nothing
  // pending: the environment is stopping and runs no JS any more.
  bool pending = false;
  napi_value error;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &error) == napi_ok) {
    napi_fatal_exception(env, error);
    return true;
  }
  return false;
}

// Hands out one batch: callback(fd) for a readiness, callback(fd, chunk)
// for an fd read here (a Buffer, null at EOF, -errno on a read error; at
// EOF and on error the fd is no longer watched). Level-triggered: what is
// left unread comes again on the next turn.
void OnEvent(uv_poll_t* poll, int status, int /*events*/) {
  Reactor* r = reinterpret_cast<PollHandle*>(poll)->owner;
  if (r == nullptr || status < 0) return;
  int n;
  do {
    n = epoll_wait(r->epfd, r->ready, kMaxEvents, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  r->ready_count = n;
  r->ready_next = 0;
  // ready_count is read anew each turn: a callback may unwatch (strike
  // out) or, in a fork child, drop the whole batch (ReactorReset).
  while (r->ready_next < r->ready_count) {
    uint64_t key = r->ready[r->ready_next].data.u64;
    bool hung_up = (r->ready[r->ready_next++].events & EPOLLHUP) != 0;
    int fd = KeyFd(key);
    if (fd < 0) continue;
    auto it = r->fds.find(fd);
    if (it == r->fds.end() || it->second.generation != KeyGeneration(key)) {
      r->stale = true;
      continue;
    }
    napi_value argv[2];
    size_t argc = 1;
    napi_create_int32(env, fd, &argv[0]);
    bool drained = false;
    if (it->second.read) {
      ssize_t got;
      do {
        got = read(fd, r->buffer, kReadSize);
      } while (got < 0 && errno == EINTR);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      argc = 2;
      if (got > 0) {
        if (napi_create_buffer_copy(env, static_cast<size_t>(got), r->buffer, nullptr, &argv[1]) !=
            napi_ok) {
          break;
        }
        // Less than asked for from a hung-up pipe: that was the last of it
        // (no writer is left to add more), so EOF follows at once, with no
        // read that returns 0 and no loop turn to get there.
        drained = hung_up && static_cast<size_t>(got) < kReadSize;
      } else {
        int err = got < 0 ? errno : 0;
        Remove(r, fd);
        if (err != 0) {
          napi_create_int32(env, -err, &argv[1]);
        } else {
          napi_get_null(env, &argv[1]);
        }
      }
    }
    if (!Call(r, argc, argv)) break;
    if (!drained) continue;
    // Unless the callback stopped reading (or a fork child dropped it all).
    auto again = r->fds.find(fd);
    if (again == r->fds.end() || again->second.generation != KeyGeneration(key)) continue;
    Remove(r, fd);
    napi_get_null(env, &argv[1]);
    if (!Call(r, argc, argv)) break;
  }
  r->ready_count = 0;
  r->ready_next = 0;
  napi_close_handle_scope(env, scope);
  if (r->stale) Rebuild(r);
}

// reactorInit(callback): the one callback of this thread's reactor, set
// once (src/watch.ts); a second call fails with EALREADY.
Napi::Value ReactorInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  if (!info[0].IsFunction()) ThrowTypeError(env, "The \"callback\" argument must be of type function");
  Reactor* r = Data(env);
  if (r->callback != nullptr) ThrowErrno(env, EALREADY, "reactorInit");
  // The set is made now, not at the first watch, so that the thread's fds
  // do not change under a program that counts them (one fd for its life).
  const char* what = nullptr;
  int rc = StartSet(r, &what);
  if (rc != 0) ThrowErrno(env, -rc, what);
  napi_create_reference(env, info[0], 1, &r->callback);
  napi_create_reference(env, Napi::Object::New(env), 1, &r->receiver);
  return env.Undefined();
}

// reactorWatch(fd, read): watches `fd` until reactorUnwatch(fd) (or, with
// `read`, its EOF or read error). `read` makes the fd non-blocking: it is
// read here. Unwatch before closing the fd.
Napi::Value ReactorWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
  bool read = info[1].ToBoolean().Value();
  Reactor* r = Data(env);
  if (r->fds.count(fd) != 0) ThrowErrno(env, EEXIST, "epoll_ctl");
  if (r->epfd < 0) {
    const char* what = nullptr;
    int rc = StartSet(r, &what);
    if (rc != 0) ThrowErrno(env, -rc, what);
  }
  if (read) {
    int on = 1;
    if (ioctl(fd, FIONBIO, &on) < 0) ThrowErrno(env, errno, "ioctl");
  }
  Watched w{++r->generation, read};
  if (Register(r, fd, w) < 0) ThrowErrno(env, errno, "epoll_ctl");
  r->fds[fd] = w;
  return env.Undefined();
}

// reactorUnwatch(fd): no longer watched; a no-op when it was not.
Napi::Value ReactorUnwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
  Reactor* r = Data(env);
  if (r->epfd >= 0) Remove(r, fd);
  return env.Undefined();
}

// reactorRef(on): whether the reactor keeps the event loop alive.
Napi::Value ReactorRef(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 1);
  Reactor* r = Data(env);
  r->refed = info[0].ToBoolean().Value();
  if (r->handle != nullptr) {
    auto* h = reinterpret_cast<uv_handle_t*>(&r->handle->poll);
    if (r->refed) {
      uv_ref(h);
    } else {
      uv_unref(h);
    }
  }
  return env.Undefined();
}

// reactorReady(): the watched fds readable right now (one epoll_wait, no
// callback; they are still handed out on the loop's next turn).
Napi::Value ReactorReady(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reactor* r = Data(env);
  Napi::Array result = Napi::Array::New(env);
  if (r->epfd < 0 || r->fds.empty()) return result;
  struct epoll_event ready[kMaxEvents];
  int n;
  do {
    n = epoll_wait(r->epfd, ready, kMaxEvents, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "epoll_wait");
  uint32_t count = 0;
  for (int i = 0; i < n; i++) {
    int fd = KeyFd(ready[i].data.u64);
    auto it = r->fds.find(fd);
    if (it == r->fds.end() || it->second.generation != KeyGeneration(ready[i].data.u64)) continue;
    result.Set(count++, Napi::Number::New(env, fd));
  }
  return result;
}

// reactorReset(): in a fork child. What the parent watched is the parent's:
// forgotten without touching the set, which the two processes share; the
// child gets a set of its own.
Napi::Value ReactorReset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reactor* r = Data(env);
  StopSet(r);  // this process's fd only: the parent's set lives on
  r->fds.clear();
  r->ready_count = 0;
  r->stale = false;
  r->refed = false;
  const char* what = nullptr;
  StartSet(r, &what);  // on failure the next watch tries again
  return env.Undefined();
}

// At environment teardown (worker exit, process exit).
void EndReactor(void* arg) {
  auto* r = static_cast<Reactor*>(arg);
  StopSet(r);
  r->fds.clear();
}

void FreeReactor(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  delete static_cast<Reactor*>(data);
}

Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckArgCount(info, 2);
  if (!info[0].IsArray()) {
    ThrowTypeError(env, "The \"entries\" argument must be an array");
  }
  Napi::Array entries = info[0].As<Napi::Array>();
  if (entries.Length() > 65536) {
    ThrowRangeError(env, "The \"entries\" array must have at most 65536 entries");
  }
  std::vector<struct pollfd> fds;
  fds.reserve(entries.Length());
  for (uint32_t i = 0; i < entries.Length(); i++) {
    Napi::Value e = entries.Get(i);
    if (!e.IsObject() || e.IsArray() || e.IsFunction()) {
      ThrowTypeError(env, "The \"entries\" argument must be an array of { fd, events }");
    }
    Napi::Object o = e.As<Napi::Object>();
    int fd = ValueInt(env, o.Get("fd"), "entries[i].fd", -1, INT32_MAX);
    int events = ValueInt(env, o.Get("events"), "entries[i].events", 0, 0xffff);
    fds.push_back({fd, static_cast<short>(events), 0});
  }
  int timeout = ValueInt(env, info[1], "timeoutMs", -1, INT32_MAX);
  int n = PollUntil(fds.data(), fds.size(), timeout < 0 ? -1 : NowNs() + int64_t{timeout} * 1000000);
  if (n < 0) ThrowErrno(env, errno, "poll");
  Napi::Array result = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) {
    result.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i].revents));
  }
  return result;
}

}  // namespace

void InitPoll(Napi::Env env, Napi::Object exports) {
  auto* reactor = new Reactor();
  reactor->env = env;
  napi_set_instance_data(env, reactor, FreeReactor, nullptr);
  napi_add_env_cleanup_hook(env, EndReactor, reactor);

  exports.Set("reactorInit", Napi::Function::New(env, ReactorInit, "reactorInit"));
  exports.Set("reactorWatch", Napi::Function::New(env, ReactorWatch, "reactorWatch"));
  exports.Set("reactorUnwatch", Napi::Function::New(env, ReactorUnwatch, "reactorUnwatch"));
  exports.Set("reactorRef", Napi::Function::New(env, ReactorRef, "reactorRef"));
  exports.Set("reactorReady", Napi::Function::New(env, ReactorReady, "reactorReady"));
  exports.Set("reactorReset", Napi::Function::New(env, ReactorReset, "reactorReset"));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("POLLIN", Napi::Number::New(env, POLLIN));
  constants.Set("POLLPRI", Napi::Number::New(env, POLLPRI));
  constants.Set("POLLOUT", Napi::Number::New(env, POLLOUT));
  constants.Set("POLLERR", Napi::Number::New(env, POLLERR));
  constants.Set("POLLHUP", Napi::Number::New(env, POLLHUP));
  constants.Set("POLLNVAL", Napi::Number::New(env, POLLNVAL));
  exports.Set("pollConstants", constants);
}

}  // namespace pp

// poll(2) with a deadline (and the monotonic clock it counts on), and
// Watcher: a libuv poll handle that calls back when an fd is readable (a
// sentinel ended, a pipe has data or EOF). One handle per watched fd, on
// the caller's own loop: no thread per child, no threadpool work.
#include <poll.h>
#include <time.h>

#include <cerrno>
#include <set>

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

class Watcher;

// Per-environment state, so the addon is safe in worker threads.
struct AddonData {
  std::set<Watcher*> watchers;
};

// The uv handle lives apart from the JS object: uv_close is asynchronous.
struct PollHandle {
  uv_poll_t poll;
  Watcher* owner;
};

AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Watcher",
                       {InstanceMethod<&Watcher::Close>("close"),
                        InstanceMethod<&Watcher::RefMethod>("ref"),
                        InstanceMethod<&Watcher::UnrefMethod>("unref")});
  }

  // new Watcher(fd, callback): callback(status, events) each time `fd` is
  // readable or hung up, until close(). Close the watcher before the fd.
  explicit Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info) {
    Napi::Env env = info.Env();
    CheckArgCount(info, 2);
    int fd = ValueInt(env, info[0], "fd", 0, INT32_MAX);
    if (!info[1].IsFunction()) {
      ThrowTypeError(env, "The \"callback\" argument must be of type function");
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      throw Napi::Error::New(env, "cannot get the event loop");
    }
    if (FdFlags(fd) < 0) ThrowErrno(env, errno, "fcntl");
    auto* handle = new PollHandle{{}, this};
    int rc = uv_poll_init(loop, &handle->poll, fd);
    if (rc != 0) {
      delete handle;
      ThrowErrno(env, -rc, "uv_poll_init");
    }
    rc = uv_poll_start(&handle->poll, UV_READABLE | UV_DISCONNECT, OnEvent);
    if (rc != 0) {
      handle->owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), Free);
      ThrowErrno(env, -rc, "uv_poll_start");
    }
    handle_ = handle;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    Ref();  // an active watcher keeps its JS object alive
    Data(env)->watchers.insert(this);
  }

  ~Watcher() override { Stop(); }

  // Closes the uv handle; safe to call more than once.
  void Stop() {
    if (handle_ == nullptr) return;
    handle_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), Free);
    handle_ = nullptr;
    if (AddonData* data = Data(Env())) data->watchers.erase(this);
    if (!callback_.IsEmpty()) callback_.Reset();
  }

 private:
  static void Free(uv_handle_t* h) { delete reinterpret_cast<PollHandle*>(h); }

  static void OnEvent(uv_poll_t* poll, int status, int events) {
    Watcher* self = reinterpret_cast<PollHandle*>(poll)->owner;
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    int readable = (events & (UV_READABLE | UV_DISCONNECT)) ? 1 : 0;
    napi_value argv[2] = {Napi::Number::New(env, status), Napi::Number::New(env, readable)};
    napi_value result;
    // The C call, not node-addon-api's throwing one: when a worker is being
    // terminated the call fails with no exception object to wrap, and
    // wrapping it would be a fatal error (the whole process aborted).
    if (napi_make_callback(env, nullptr, self->Value(), self->callback_.Value(), 2, argv,
                           &result) == napi_ok) {
      return;
    }
    // A throwing callback is an uncaught exception, as for Node's own
    // callbacks; escaping this libuv callback would std::terminate. Nothing
    // pending: the environment is stopping and runs no JS any more.
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      napi_fatal_exception(env, error);
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      Stop();
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value RefMethod(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.This();
  }

  Napi::Value UnrefMethod(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.This();
  }

  PollHandle* handle_ = nullptr;
  Napi::FunctionReference callback_;
};

// At environment teardown (worker exit, process exit) close what is left.
void CleanupWatchers(void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  std::set<Watcher*> left = data->watchers;
  for (Watcher* w : left) w->Stop();
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
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  napi_add_env_cleanup_hook(env, CleanupWatchers, data);

  exports.Set("Watcher", Watcher::Init(env));
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

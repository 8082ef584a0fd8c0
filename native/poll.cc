// poll(2), pipe(2), close(2), and Watcher: a libuv poll handle that calls
// back when an fd is readable (a sentinel ended, a pipe has data or EOF).
// One handle per watched fd, on the caller's own loop: no thread per child,
// no threadpool work.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include <uv.h>

#include "common.h"

namespace pp {
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
    int fd = ArgInt(info, 0, "fd", 0, INT32_MAX);
    if (!info[1].IsFunction()) {
      ThrowTypeError(env, "The \"callback\" argument must be of type function");
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      throw Napi::Error::New(env, "cannot get the event loop");
    }
    if (fcntl(fd, F_GETFD) < 0) ThrowErrno(env, errno, "fcntl");
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
    try {
      self->callback_.MakeCallback(
          self->Value(),
          {Napi::Number::New(env, status), Napi::Number::New(env, readable)});
    } catch (const Napi::Error& e) {
      // A throwing callback is an uncaught exception, as for Node's own
      // callbacks; escaping this libuv callback would std::terminate.
      napi_fatal_exception(env, e.Value());
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
  int timeout = ArgInt(info, 1, "timeoutMs", -1, INT32_MAX);
  int64_t deadline = timeout > 0 ? NowNs() + int64_t{timeout} * 1000000 : 0;
  int n;
  for (;;) {
    n = poll(fds.data(), fds.size(), timeout);
    if (n >= 0 || errno != EINTR) break;
    if (timeout > 0) timeout = RemainingMs(deadline);  // recompute after EINTR
  }
  if (n < 0) ThrowErrno(env, errno, "poll");
  Napi::Array result = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) {
    result.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i].revents));
  }
  return result;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) ThrowErrno(info.Env(), errno, "pipe");
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), p[0]));
  result.Set(1u, Napi::Number::New(info.Env(), p[1]));
  return result;
}

// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): a duplex Pipe().
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(info.Env(), errno, "socketpair");
  }
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  result.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return result;
}

// dup(fd) as F_DUPFD_CLOEXEC: the copy never leaks into exec'd children.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ArgInt(info, 0, "fd", 0, INT32_MAX);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) ThrowErrno(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), copy);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  CheckArgCount(info, 1);
  int fd = ArgInt(info, 0, "fd", 0, INT32_MAX);
  // Linux closes the fd even when close() reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace

void InitPoll(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  napi_add_env_cleanup_hook(env, CleanupWatchers, data);

  exports.Set("Watcher", Watcher::Init(env));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
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

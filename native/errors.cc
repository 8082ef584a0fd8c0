// errno -> Node-shaped Error, and the argument checks every export uses.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>

#include <uv.h>

#include "common.h"

namespace pp {

namespace {

// libuv's error names are Node's (`ESRCH`), and its codes are -errno. It
// does not name every errno the syscalls here return (waitpid's ECHILD):
// those get their C name, never "Unknown system error".
const char* ErrnoName(int err) {
  switch (err) {
    case ECHILD: return "ECHILD";
    case EDEADLK: return "EDEADLK";
    case EDOM: return "EDOM";
    case EIDRM: return "EIDRM";
    case ENOLCK: return "ENOLCK";
    case ENOMSG: return "ENOMSG";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case ESTALE: return "ESTALE";
#ifdef ENOKEY
    case ENOKEY: return "ENOKEY";
#endif
    default: break;
  }
  return uv_err_name(-err);
}

}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const char* path) {
  const char* code = ErrnoName(err);
  std::string message = std::string(syscall) + " " + code;
  if (path != nullptr) message += std::string(" ") + path;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) error.Set("path", Napi::String::New(env, path));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path) {
  throw ErrnoError(env, err, syscall, path);
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw error;
}

void ThrowRangeError(Napi::Env env, const std::string& message,
                     const char* code) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  throw error;
}

void CheckArgCount(const Napi::CallbackInfo& info, size_t min) {
  if (info.Length() < min) {
    ThrowTypeError(info.Env(), "expected at least " + std::to_string(min) +
                                   " argument(s), got " +
                                   std::to_string(info.Length()));
  }
}

int32_t ValueInt(Napi::Env env, Napi::Value v, const char* name, int64_t min,
                 int64_t max) {
  if (!v.IsNumber()) {
    ThrowTypeError(env, std::string("The \"") + name +
                            "\" argument must be of type number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowRangeError(env, std::string("The value of \"") + name +
                             "\" is out of range. It must be an integer >= " +
                             std::to_string(min) + " and <= " +
                             std::to_string(max));
  }
  return static_cast<int32_t>(d);
}

int32_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name,
               int64_t min, int64_t max) {
  return ValueInt(info.Env(), info[i], name, min, max);
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) {
    ThrowTypeError(info.Env(), std::string("The \"") + name +
                                   "\" argument must be of type number");
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) {
    ThrowRangeError(info.Env(),
                    std::string("The value of \"") + name + "\" must not be NaN");
  }
  return d;
}

std::string ValueString(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsString()) {
    ThrowTypeError(env, std::string("The \"") + name +
                            "\" argument must be of type string");
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    ThrowRangeError(env,
                    std::string("The \"") + name +
                        "\" argument must not contain null bytes",
                    "ERR_INVALID_ARG_VALUE");
  }
  return s;
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i,
                      const char* name) {
  return ValueString(info.Env(), info[i], name);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) {
    ThrowTypeError(info.Env(), std::string("The \"") + name +
                                   "\" argument must be of type boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<std::string> ValueStringArray(Napi::Env env, Napi::Value v,
                                          const char* name) {
  if (!v.IsArray()) {
    ThrowTypeError(env, std::string("The \"") + name +
                            "\" argument must be an array of strings");
  }
  Napi::Array array = v.As<Napi::Array>();
  std::vector<std::string> out;
  // A sparse array may claim up to 2^32-1 items: reserving that would throw
  // std::bad_alloc (an abort, not a JS error). Its first hole is a TypeError.
  out.reserve(std::min<uint32_t>(array.Length(), 4096));
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      ThrowTypeError(env, std::string("The \"") + name +
                              "\" argument must be an array of strings");
    }
    out.push_back(ValueString(env, item, name));
  }
  return out;
}

int32_t ArgSignal(const Napi::CallbackInfo& info, size_t i, bool allow_zero) {
  return ArgInt(info, i, "signal", allow_zero ? 0 : 1, NSIG - 1);
}

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

}  // namespace pp

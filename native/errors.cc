// errno -> Node-shaped Error, and the argument backstop of every export
// (TypeScript validates first and words the errors users see: src/validate.ts).
#include <algorithm>
#include <cerrno>
#include <cmath>
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

Napi::Value OptionalValue(Napi::Value v) {
  return v.IsUndefined() || v.IsNull() ? Napi::Value() : v;
}

Napi::Object ValueOptions(Napi::Env env, Napi::Value v) {
  if (OptionalValue(v).IsEmpty()) return Napi::Object::New(env);
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) {
    ThrowTypeError(env, "The \"options\" argument must be of type object");
  }
  return v.As<Napi::Object>();
}

bool OptionalBool(Napi::Env env, Napi::Object options, const char* key, bool fallback) {
  Napi::Value v = OptionalValue(options.Get(key));
  if (v.IsEmpty()) return fallback;
  if (!v.IsBoolean()) {
    ThrowTypeError(env, std::string("The \"options.") + key + "\" property must be of type boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

}  // namespace pp

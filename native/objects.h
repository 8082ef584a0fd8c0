// Plain objects of a fixed set of keys, made by JS functions compiled once
// per Node-API environment. Setting properties one by one through Node-API
// takes V8's slow path for each (the name string made and internalized
// anew, a map transition looked up and applied): ~2 us for a wait status.
// An object literal in a compiled function gets its final map at once:
// ~0.2 us, the call into JS included. docs/design.md, "Throughput: the
// per-child path".
#pragma once

#include <napi.h>

#include <cstddef>
#include <vector>

namespace pp {

class ObjectShapes {
 public:
  // `names`: plain identifiers, string literals (kept, not copied). A shape
  // is a range [first, first + count) of them. The table is the caller's
  // to pass around (its exports' function data) and is freed when the
  // environment ends.
  static const ObjectShapes* New(Napi::Env env, const char* const* names);
  ObjectShapes(const ObjectShapes&) = delete;
  ObjectShapes& operator=(const ObjectShapes&) = delete;

  // { names[first + i]: values[i] } for i < count, keys in that order: own,
  // enumerable, writable, configurable data properties, as Object::Set
  // makes them.
  Napi::Object Make(napi_env env, size_t first, size_t count,
                    const napi_value* values) const;

 private:
  struct Compiled {
    size_t first, count;
    napi_ref function;
  };
  ObjectShapes(napi_env env, const char* const* names) : env_(env), names_(names) {}
  static void Delete(void* table);
  napi_value Maker(napi_env env, size_t first, size_t count) const;

  napi_env env_;
  const char* const* names_;
  // A few per table, compiled at first use.
  mutable std::vector<Compiled> compiled_;
};

}  // namespace pp

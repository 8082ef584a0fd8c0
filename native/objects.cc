// ObjectShapes (objects.h).
#include "objects.h"

#include <string>

namespace pp {

const ObjectShapes* ObjectShapes::New(Napi::Env env, const char* const* names) {
  auto* table = new ObjectShapes(env, names);
  napi_status status = napi_add_env_cleanup_hook(env, Delete, table);
  if (status != napi_ok) {
    delete table;
    NAPI_THROW_IF_FAILED(env, status, nullptr);
  }
  return table;
}

void ObjectShapes::Delete(void* arg) {
  auto* table = static_cast<ObjectShapes*>(arg);
  for (const Compiled& c : table->compiled_) napi_delete_reference(table->env_, c.function);
  delete table;
}

// A shape's maker, function (v0, ...) { return { "a": v0, ... }; }, its
// source built from the caller's own literals, never from input.
napi_value ObjectShapes::Maker(napi_env env, size_t first, size_t count) const {
  napi_value function;
  for (const Compiled& c : compiled_) {
    if (c.first == first && c.count == count) {
      napi_status status = napi_get_reference_value(env, c.function, &function);
      NAPI_THROW_IF_FAILED(env, status, nullptr);
      return function;
    }
  }
  std::string source = "(function (";
  for (size_t i = 0; i < count; i++) {
    if (i > 0) source.append(", ");
    source.append("v").append(std::to_string(i));
  }
  source.append(") { return {");
  for (size_t i = 0; i < count; i++) {
    if (i > 0) source.append(", ");
    source.append("\"").append(names_[first + i]).append("\": v").append(std::to_string(i));
  }
  source.append("}; })");
  napi_value script;
  napi_status status = napi_create_string_utf8(env, source.data(), source.size(), &script);
  NAPI_THROW_IF_FAILED(env, status, nullptr);
  status = napi_run_script(env, script, &function);
  NAPI_THROW_IF_FAILED(env, status, nullptr);
  napi_ref ref;
  status = napi_create_reference(env, function, 1, &ref);
  NAPI_THROW_IF_FAILED(env, status, nullptr);
  compiled_.push_back({first, count, ref});
  return function;
}

Napi::Object ObjectShapes::Make(napi_env env, size_t first, size_t count,
                                const napi_value* values) const {
  napi_value function = Maker(env, first, count);
  napi_value undefined, object;
  napi_status status = napi_get_undefined(env, &undefined);
  if (status == napi_ok) status = napi_call_function(env, undefined, function, count, values, &object);
  NAPI_THROW_IF_FAILED(env, status, Napi::Object());
  return Napi::Object(env, object);
}

}  // namespace pp

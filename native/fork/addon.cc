// The fork addon: everything that forks a running Node process. It is the
// one part of the package that uses V8's C++ API (the child's unwinding)
// and libuv's private fields (the child's handle walk, the parked epoll
// batch, stdio write queues), so it is built per Node ABI and loaded at the
// first fork, never at import: a missing symbol or an unknown layout
// disables fork only (docs/design.md, "Node versions and internals").
#include <uv.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "../common.h"

// node_version.h gives NODE_MODULE_VERSION; it also defines the newest
// NAPI_VERSION, which must not replace the one this addon targets.
#pragma push_macro("NAPI_VERSION")
#undef NAPI_VERSION
#include <node_version.h>
#undef NAPI_VERSION
#pragma pop_macro("NAPI_VERSION")

namespace pp {

void InitFork(Napi::Env env, Napi::Object exports);       // fork.cc
void InitForkChild(Napi::Env env, Napi::Object exports);  // forkchild.cc

namespace {

// The private libuv fields this addon reads or writes, as laid out in the
// headers it was compiled against.
// (The epoll batch parked in the loop's internal fields is not in any
// header; forkchild.cc knows its place per libuv release, 1.46-1.52.)
struct Layout {
  size_t loop_watchers, loop_nwatchers, loop_nfds, loop_wq, loop_wq_mutex, loop_internal_fields;
  size_t stream_io_watcher, udp_io_watcher, io_pending_queue, io_watcher_queue, io_pevents, io_events, io_fd;
  size_t stream_write_queue, stream_write_completed_queue;
  size_t write_queue, write_index, write_bufs, write_nbufs;
};

constexpr Layout kCompiled = {
    offsetof(uv_loop_t, watchers),      offsetof(uv_loop_t, nwatchers),
    offsetof(uv_loop_t, nfds),          offsetof(uv_loop_t, wq),
    offsetof(uv_loop_t, wq_mutex),      offsetof(uv_loop_t, internal_fields),
    offsetof(uv_stream_t, io_watcher),  offsetof(uv_udp_t, io_watcher),
    offsetof(uv__io_t, pending_queue),  offsetof(uv__io_t, watcher_queue),
    offsetof(uv__io_t, pevents),        offsetof(uv__io_t, events),
    offsetof(uv__io_t, fd),             offsetof(uv_stream_t, write_queue),
    offsetof(uv_stream_t, write_completed_queue),
    offsetof(uv_write_t, queue),        offsetof(uv_write_t, write_index),
    offsetof(uv_write_t, bufs),         offsetof(uv_write_t, nbufs),
};

bool Same(const Layout& a, const Layout& b) {
  return memcmp(&a, &b, sizeof(Layout)) == 0;
}

// Releases of libuv whose layout of those fields was read from their headers
// (Node 20.19 ships 1.46, 22 ships 1.51, 24 and 26 ship 1.52), 64-bit Linux;
// the epoll batch parked in watchers[nwatchers] is the same in all of them.
// A libuv outside this list may have moved a field: fork is refused there
// until the list is extended after a look at its headers.
struct KnownLayout {
  unsigned minor_from, minor_to;
  Layout layout;
};

constexpr KnownLayout kKnown[] = {
    {46, 52, {104, 112, 116, 120, 136, 40, 136, 128, 8, 24, 40, 44, 48, 192, 208, 88, 104, 112, 120}},
};

std::string Hex(unsigned v) {
  return std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

// Why this addon must not touch the running libuv, or "" when it may: the
// running libuv and the one compiled against must both be releases whose
// layout is known, and equal to the compiled one.
std::string LayoutProblem() {
  if (sizeof(void*) != 8) return "the fork addon knows libuv's layout on 64-bit systems only";
  unsigned running = uv_version();
  unsigned compiled = UV_VERSION_HEX;
  auto known = [](unsigned version) -> const Layout* {
    unsigned major = (version >> 16) & 0xff, minor = (version >> 8) & 0xff;
    if (major != 1) return nullptr;
    for (const KnownLayout& k : kKnown) {
      if (minor >= k.minor_from && minor <= k.minor_to) return &k.layout;
    }
    return nullptr;
  };
  const Layout* run = known(running);
  if (run == nullptr) {
    return "this Node.js runs libuv " + Hex(running) + ", whose private layout the fork addon does not know (it knows 1.46-1.52)";
  }
  const Layout* built = known(compiled);
  if (built == nullptr || !Same(*built, kCompiled) || !Same(*run, kCompiled)) {
    return "the fork addon was compiled against libuv " + Hex(compiled) + ", whose layout differs from the running libuv " +
           Hex(running);
  }
  return "";
}

}  // namespace

Napi::Object InitForkAddon(Napi::Env env, Napi::Object exports) {
  // The Node ABI this file was compiled for: its V8 C++ calls are only valid
  // there (the loader compares it with process.versions.modules).
  exports.Set("abi", Napi::Number::New(env, NODE_MODULE_VERSION));
  std::string problem = LayoutProblem();
  exports.Set("layoutProblem", problem.empty() ? env.Null() : Napi::String::New(env, problem));
  InitFork(env, exports);
  InitForkChild(env, exports);
  return exports;
}

}  // namespace pp

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return pp::InitForkAddon(env, exports);
}
}  // namespace

NODE_API_MODULE(posix_process_fork, Init)

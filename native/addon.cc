// The Node-API addon (ABI-stable, loaded at import): each family of system
// calls registers its own exports (docs/design.md, "Native sources").
// Forking lives in its own addon (native/fork/).
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pp::InitFds(env, exports);
  pp::InitPidfd(env, exports);
  // Before InitPoll: its teardown hook must run after poll.cc's (tie.cc).
  pp::InitTie(env, exports);
  pp::InitPoll(env, exports);
  pp::InitProcess(env, exports);
  pp::InitSignal(env, exports);
  pp::InitSpawn(env, exports);
  pp::InitWait(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(posix_process, Init)

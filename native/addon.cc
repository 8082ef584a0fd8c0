// The Node-API addon (ABI-stable, loaded at import): each concern registers
// its own exports. Forking lives in its own addon (native/fork/).
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pp::InitSpawn(env, exports);
  pp::InitProcess(env, exports);
  pp::InitWait(env, exports);
  pp::InitSignal(env, exports);
  pp::InitPoll(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(posix_process, Init)

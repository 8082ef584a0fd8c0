// Module entry: each concern registers its own exports.
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pp::InitSpawn(env, exports);
  pp::InitFork(env, exports);
  pp::InitWait(env, exports);
  pp::InitSignal(env, exports);
  pp::InitPoll(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(posix_process, Init)

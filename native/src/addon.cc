// Module entry point: per-environment data and class registration.
#include "common.h"

namespace lbt {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by node-addon-api at env teardown
  InitUtil(env, exports, data);
  InitObject(env, exports, data);
  InitProgram(env, exports, data);
  InitMap(env, exports, data);
  InitLink(env, exports, data);
  InitRingBuffer(env, exports, data);
  InitSocket(env, exports, data);
  return exports;
}

}  // namespace lbt

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return lbt::Init(env, exports); }

NODE_API_MODULE(bpf_ts, InitModule)

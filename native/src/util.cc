// Argument helpers, fd classification, pinning and free functions
// (numPossibleCpus, bpffsMounted).
#include "common.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace lbt {

AddonData* GetData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

Bytes GetBytes(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray()) ThrowTypeError(env, what + " must be a Buffer or Uint8Array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array && ta.TypedArrayType() != napi_uint8_clamped_array)
    ThrowTypeError(env, what + " must be a Buffer or Uint8Array");
  Napi::Uint8Array u8 = v.As<Napi::Uint8Array>();
  Bytes b;
  b.data = u8.Data();
  b.size = u8.ByteLength();
  return b;
}

std::string GetString(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) ThrowTypeError(env, what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

uint32_t GetU32(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) ThrowTypeError(env, what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
    ThrowTypeError(env, what + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(d);
}

std::string FdKind(int fd) {
  char link[64];
  char target[128];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n <= 0) return "";
  target[n] = '\0';
  if (strcmp(target, "anon_inode:bpf-prog") == 0) return "prog";
  if (strcmp(target, "anon_inode:bpf-map") == 0) return "map";
  // bpf_link_prime() names it "bpf_link", BPF_OBJ_GET's bpf_link_new_fd() "bpf-link".
  if (strcmp(target, "anon_inode:bpf_link") == 0 || strcmp(target, "anon_inode:bpf-link") == 0) return "link";
  return "";
}

int OpenPinnedFd(Napi::Env env, const std::string& path, const char* kind) {
  LogCapture cap;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowBpfError(env, std::string("open pinned ") + kind + " '" + path + "'", ErrFromRet(fd));
  std::string got = FdKind(fd);
  if (got != kind) {
    close(fd);
    ThrowBpfError(env, std::string("open pinned ") + kind + " '" + path + "'", EINVAL,
                  "path holds a pinned " + (got.empty() ? std::string("object of unknown kind") : got) +
                      ", not a " + kind);
  }
  return fd;
}

void PinFd(Napi::Env env, int fd, const std::string& path, const std::string& what) {
  LogCapture cap;
  int r = bpf_obj_pin(fd, path.c_str());
  if (r < 0) {
    int err = ErrFromRet(r);
    std::string detail;
    if (err == EPERM || err == EINVAL) detail = "is '" + path + "' on a mounted bpffs?";
    if (err == EEXIST) detail = "'" + path + "' already exists";
    ThrowBpfError(env, "pin " + what + " at '" + path + "'", err, detail);
  }
}

void UnpinPath(Napi::Env env, const std::string& path, const std::string& what) {
  if (unlink(path.c_str()) != 0) ThrowBpfError(env, "unpin " + what + " at '" + path + "'", errno);
}

std::string ProgTypeName(uint32_t type) {
  const char* s = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
  if (s != nullptr) return s;
  switch (type) {  // newer than libbpf 1.1
    case 32: return "netfilter";
    default: return "unknown(" + std::to_string(type) + ")";
  }
}

std::string MapTypeName(uint32_t type) {
  const char* s = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type));
  if (s != nullptr) return s;
  switch (type) {  // newer than libbpf 1.1
    case 32: return "cgrp_storage";
    case 33: return "arena";
    default: return "unknown(" + std::to_string(type) + ")";
  }
}

bool IsPerCpuMapType(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

int PossibleCpus(Napi::Env env) {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) ThrowBpfError(env, "libbpf_num_possible_cpus", n < 0 ? -n : EINVAL);
  return n;
}

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), PossibleCpus(info.Env()));
}

static Napi::Value BpffsMounted(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = "/sys/fs/bpf";
  if (info.Length() > 0 && !info[0].IsUndefined()) path = GetString(env, info[0], "path");
  struct statfs st;
  if (statfs(path.c_str(), &st) != 0) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC);
}

static Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::String::New(env, ErrnoName(static_cast<int>(GetU32(env, info[0], "errno"))));
}

static Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) ThrowTypeError(env, "setErrorClass expects a constructor");
  GetData(env)->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

void InitUtil(Napi::Env env, Napi::Object exports, AddonData*) {
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus, "numPossibleCpus"));
  exports.Set("bpffsMounted", Napi::Function::New(env, BpffsMounted, "bpffsMounted"));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameJs, "errnoName"));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion, "libbpfVersion"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
}

}  // namespace lbt

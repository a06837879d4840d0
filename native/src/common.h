// Shared declarations for the libbpf-ts-bindings addon.
//
// Ownership model
// ---------------
// * A bpf_object owns the fds of its programs and maps. ObjState wraps it in a
//   shared_ptr so that NativeProgram/NativeMap wrappers handed out by an object
//   keep the libbpf object alive while JS still references them (GC safety),
//   while BpfObject.close() frees it deterministically (ObjState::Close()),
//   after which every wrapper derived from it refuses to work.
// * Wrappers created from a pin (openPinned) own their fd and close it in
//   close() or, failing that, in their finalizer.
#pragma once

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lbt {

// ---------------------------------------------------------------- errors.cc

// Per-thread capture of libbpf's print output. While a LogCapture is alive,
// everything libbpf prints on this thread is appended to text instead of
// going to stderr.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text;

 private:
  LogCapture* prev_;
};

void InstallLibbpfPrint();

// Symbolic name of an errno value ("EPERM", "ENOTSUPP", "LIBBPF_ERRNO__LOAD").
std::string ErrnoName(int err);
// Human readable description (libbpf_strerror, which also knows libbpf's own codes).
std::string ErrnoMessage(int err);

// Throws a BpfError (the JS class registered by lib/, or a plain Error with
// the same fields when none was registered). err is a positive errno.
[[noreturn]] void ThrowBpfError(Napi::Env env, const std::string& op, int err,
                                const std::string& detail = std::string(),
                                const std::string* log = nullptr);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowClosed(Napi::Env env, const std::string& what);

// libbpf 1.x convention: negative return == -errno. Falls back to errno.
inline int ErrFromRet(long ret) {
  if (ret < 0) return static_cast<int>(-ret);
  return errno ? errno : EIO;
}

// ------------------------------------------------------------- per-env data

struct AddonData {
  Napi::FunctionReference errorClass;  // BpfError from lib/errors.ts
  Napi::FunctionReference objectCtor;
  Napi::FunctionReference programCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference linkCtor;
  Napi::FunctionReference ringBufferCtor;
};

AddonData* GetData(Napi::Env env);

// ------------------------------------------------------------- object state

struct ObjState {
  bpf_object* obj = nullptr;
  std::vector<uint8_t> image;  // keeps the ELF alive for bpf_object__open_mem
  std::string name;
  bool loaded = false;
  bool closed = false;

  void Close();
  ~ObjState() { Close(); }
};
using ObjStatePtr = std::shared_ptr<ObjState>;

// ----------------------------------------------------------------- helpers

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// Accepts a Buffer or any Uint8Array. Throws TypeError otherwise.
Bytes GetBytes(Napi::Env env, const Napi::Value& v, const std::string& what);
std::string GetString(Napi::Env env, const Napi::Value& v, const std::string& what);
uint32_t GetU32(Napi::Env env, const Napi::Value& v, const std::string& what);

// What kind of bpf object an fd refers to: "prog", "map", "link", or "" if
// it is not a bpf fd (derived from /proc/self/fd/N -> anon_inode:bpf-prog...).
std::string FdKind(int fd);

// Opens a pinned object and checks it is of the expected kind ("prog",
// "map", "link"). Returns an owned fd or throws.
int OpenPinnedFd(Napi::Env env, const std::string& path, const char* kind);

// Pins fd at path (bpf_obj_pin) with a BpfError on failure.
void PinFd(Napi::Env env, int fd, const std::string& path, const std::string& what);
void UnpinPath(Napi::Env env, const std::string& path, const std::string& what);

std::string ProgTypeName(uint32_t type);
std::string MapTypeName(uint32_t type);
bool IsPerCpuMapType(uint32_t type);
int PossibleCpus(Napi::Env env);

// --------------------------------------------------------------- classes

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data);
void InitProgram(Napi::Env env, Napi::Object exports, AddonData* data);
void InitMap(Napi::Env env, Napi::Object exports, AddonData* data);
void InitLink(Napi::Env env, Napi::Object exports, AddonData* data);
void InitRingBuffer(Napi::Env env, Napi::Object exports, AddonData* data);
void InitUtil(Napi::Env env, Napi::Object exports, AddonData* data);
void InitSocket(Napi::Env env, Napi::Object exports, AddonData* data);

// Construction of wrappers from C++ (JS cannot call these constructors
// directly: the first argument must be an External carrying one of these).
struct ProgramInit {
  ObjStatePtr owner;          // set for programs of a bpf_object
  bpf_program* prog = nullptr;
  int ownedFd = -1;           // set for openPinned programs
};
struct MapInit {
  ObjStatePtr owner;
  bpf_map* map = nullptr;
  int ownedFd = -1;
};
enum class LinkKind { Xdp, Tcx, TcNetlink };
struct LinkInit {
  LinkKind kind = LinkKind::Xdp;
  int fd = -1;                // owned link fd (xdp, tcx)
  int ifindex = 0;
  std::string mode;           // "native" | "generic" | "" (xdp only)
  std::string direction;      // "ingress" | "egress" (tc kinds)
  uint32_t tcHandle = 0, tcPriority = 0;
  std::string pinPath;
};

Napi::Object NewProgram(Napi::Env env, ProgramInit init);
Napi::Object NewMap(Napi::Env env, MapInit init);
Napi::Object NewLink(Napi::Env env, LinkInit init);

// link.cc: attach a program fd, returning a NativeLink JS object.
Napi::Object AttachXdp(Napi::Env env, int progFd, const std::string& progName, uint32_t ifindex,
                       const std::string& mode);
Napi::Object AttachTc(Napi::Env env, int progFd, const std::string& progName, uint32_t ifindex,
                      const std::string& direction, uint32_t priority, const std::string& via);

// Look-ups used across files.
class NativeMap;
NativeMap* UnwrapMap(Napi::Env env, const Napi::Value& v);
int MapFdForRingBuffer(Napi::Env env, NativeMap* m, uint32_t* type);

}  // namespace lbt

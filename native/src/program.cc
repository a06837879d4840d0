// BpfProgram: metadata, pinning, BPF_PROG_TEST_RUN and the entry points of
// the attach helpers (implemented in link.cc).
#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lbt {

class NativeProgram : public Napi::ObjectWrap<NativeProgram> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProgram",
                       {
                           InstanceAccessor<&NativeProgram::Name>("name"),
                           InstanceAccessor<&NativeProgram::Fd>("fd"),
                           InstanceAccessor<&NativeProgram::Type>("type"),
                           InstanceAccessor<&NativeProgram::Section>("section"),
                           InstanceAccessor<&NativeProgram::Id>("id"),
                           InstanceAccessor<&NativeProgram::Closed>("closed"),
                           InstanceMethod<&NativeProgram::Pin>("pin"),
                           InstanceMethod<&NativeProgram::Unpin>("unpin"),
                           InstanceMethod<&NativeProgram::AttachXdpJs>("attachXdp"),
                           InstanceMethod<&NativeProgram::AttachTcJs>("attachTc"),
                           InstanceMethod<&NativeProgram::TestRun>("testRun"),
                           InstanceMethod<&NativeProgram::RunContext>("runContext"),
                           InstanceMethod<&NativeProgram::Close>("close"),
                       });
  }

  explicit NativeProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProgram>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsExternal())
      ThrowTypeError(env, "NativeProgram cannot be constructed directly");
    ProgramInit* pi = info[0].As<Napi::External<ProgramInit>>().Data();
    owner_ = pi->owner;
    prog_ = pi->prog;
    ownedFd_ = pi->ownedFd;
    if (prog_ != nullptr) {
      name_ = bpf_program__name(prog_);
      section_ = bpf_program__section_name(prog_);
      type_ = bpf_program__type(prog_);
    } else {
      bpf_prog_info pinfo;
      memset(&pinfo, 0, sizeof(pinfo));
      uint32_t len = sizeof(pinfo);
      int r = bpf_obj_get_info_by_fd(ownedFd_, &pinfo, &len);
      if (r < 0) {
        int err = ErrFromRet(r);
        close(ownedFd_);
        ownedFd_ = -1;
        ThrowBpfError(env, "bpf_obj_get_info_by_fd(prog)", err);
      }
      name_ = pinfo.name;
      type_ = pinfo.type;
      id_ = pinfo.id;
    }
  }

  ~NativeProgram() override { CloseOwned(); }

 private:
  void CloseOwned() {
    if (ownedFd_ >= 0) {
      close(ownedFd_);
      ownedFd_ = -1;
    }
    closed_ = true;
  }

  bool IsClosed() const { return closed_ || (owner_ && owner_->closed); }

  // Returns a usable fd or throws (closed: EBADF; not yet loaded: EBADF).
  int LiveFd(Napi::Env env, const std::string& op) {
    if (IsClosed()) ThrowClosed(env, op + " (program '" + name_ + "')");
    if (prog_ != nullptr) {
      int fd = bpf_program__fd(prog_);
      if (fd < 0) ThrowBpfError(env, op, EBADF, "program '" + name_ + "' is not loaded (call BpfObject.load() first)");
      return fd;
    }
    return ownedFd_;
  }

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value Section(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), section_); }
  Napi::Value Type(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ProgTypeName(type_)); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), IsClosed()); }

  Napi::Value Fd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (IsClosed()) ThrowClosed(env, "BpfProgram.fd (program '" + name_ + "')");
    if (prog_ != nullptr) {
      int fd = bpf_program__fd(prog_);  // libbpf returns -ENOENT before load
      return Napi::Number::New(env, fd < 0 ? -1 : fd);
    }
    return Napi::Number::New(env, ownedFd_);
  }

  Napi::Value Id(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "BpfProgram.id");
    bpf_prog_info pinfo;
    memset(&pinfo, 0, sizeof(pinfo));
    uint32_t len = sizeof(pinfo);
    int r = bpf_obj_get_info_by_fd(fd, &pinfo, &len);
    if (r < 0) ThrowBpfError(env, "bpf_obj_get_info_by_fd(prog '" + name_ + "')", ErrFromRet(r));
    return Napi::Number::New(env, pinfo.id);
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = GetString(env, info[0], "path");
    int fd = LiveFd(env, "pin program");
    PinFd(env, fd, path, "program '" + name_ + "'");
    return env.Undefined();
  }

  Napi::Value Unpin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = GetString(env, info[0], "path");
    UnpinPath(env, path, "program '" + name_ + "'");
    return env.Undefined();
  }

  Napi::Value AttachXdpJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ifindex = GetU32(env, info[0], "ifindex");
    std::string mode = info.Length() > 1 && !info[1].IsUndefined() ? GetString(env, info[1], "mode") : "auto";
    int fd = LiveFd(env, "attach XDP program");
    return AttachXdp(env, fd, name_, ifindex, mode);
  }

  Napi::Value AttachTcJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ifindex = GetU32(env, info[0], "ifindex");
    std::string dir = GetString(env, info[1], "direction");
    uint32_t prio = info.Length() > 2 && !info[2].IsUndefined() ? GetU32(env, info[2], "priority") : 0;
    std::string via = info.Length() > 3 && !info[3].IsUndefined() ? GetString(env, info[3], "via") : "auto";
    int fd = LiveFd(env, "attach TC program");
    return AttachTc(env, fd, name_, ifindex, dir, prio, via);
  }

  // testRun(data, repeat, ctxIn | undefined, dataSizeOut | undefined)
  Napi::Value TestRun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes data = GetBytes(env, info[0], "testRun: data");
    uint32_t repeat = info.Length() > 1 && !info[1].IsUndefined() ? GetU32(env, info[1], "testRun: repeat") : 1;
    Bytes ctx;
    bool haveCtx = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
    if (haveCtx) ctx = GetBytes(env, info[2], "testRun: ctxIn");
    // XDP programs may grow the packet (bpf_xdp_adjust_head/tail): leave
    // generous room by default.
    uint32_t outCap = static_cast<uint32_t>(data.size) + 4096;
    if (info.Length() > 3 && !info[3].IsUndefined()) outCap = GetU32(env, info[3], "testRun: dataSizeOut");
    int fd = LiveFd(env, "test run");

    std::vector<uint8_t> out(outCap > 0 ? outCap : 1);
    bpf_test_run_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    o.data_in = data.data;
    o.data_size_in = static_cast<uint32_t>(data.size);
    o.data_out = out.data();
    o.data_size_out = outCap;
    if (haveCtx) {
      o.ctx_in = ctx.data;
      o.ctx_size_in = static_cast<uint32_t>(ctx.size);
    }
    o.repeat = static_cast<int>(repeat);
    LogCapture cap;
    int r = bpf_prog_test_run_opts(fd, &o);
    if (r < 0) {
      int err = ErrFromRet(r);
      std::string detail;
      if (err == ENOSPC)
        detail = "output needs " + std::to_string(o.data_size_out) + " bytes; raise dataSizeOut";
      ThrowBpfError(env, "test run of program '" + name_ + "'", err, detail, &cap.text);
    }
    uint32_t n = o.data_size_out < outCap ? o.data_size_out : outCap;
    Napi::Object res = Napi::Object::New(env);
    res.Set("retval", Napi::Number::New(env, o.retval));
    res.Set("durationNs", Napi::Number::New(env, o.duration));
    res.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), n));
    return res;
  }

  // runContext(ctx: Buffer) -> retval. BPF_PROG_RUN of a program that takes
  // only a context (BPF_PROG_TYPE_SYSCALL): the kernel copies `ctx` in, runs
  // the program once and copies the context back into the same buffer.
  Napi::Value RunContext(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes ctx = GetBytes(env, info[0], "runContext: ctx");
    if (ctx.size == 0 || ctx.size > 0xffff) ThrowTypeError(env, "runContext: ctx must be 1..65535 bytes");
    int fd = LiveFd(env, "run");
    bpf_test_run_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    o.ctx_in = ctx.data;
    o.ctx_size_in = static_cast<uint32_t>(ctx.size);
    LogCapture cap;
    int r = bpf_prog_test_run_opts(fd, &o);
    if (r < 0) ThrowBpfError(env, "run of program '" + name_ + "'", ErrFromRet(r), "", &cap.text);
    return Napi::Number::New(env, o.retval);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseOwned();
    return info.Env().Undefined();
  }

  ObjStatePtr owner_;
  bpf_program* prog_ = nullptr;
  int ownedFd_ = -1;
  bool closed_ = false;
  std::string name_, section_;
  uint32_t type_ = 0;
  uint32_t id_ = 0;
};

Napi::Object NewProgram(Napi::Env env, ProgramInit init) {
  return GetData(env)->programCtor.New({Napi::External<ProgramInit>::New(env, &init)});
}

static Napi::Value OpenPinnedProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = GetString(env, info[0], "path");
  ProgramInit pi;
  pi.ownedFd = OpenPinnedFd(env, path, "prog");
  return NewProgram(env, pi);
}

void InitProgram(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeProgram::Define(env);
  data->programCtor = Napi::Persistent(ctor);
  exports.Set("NativeProgram", ctor);
  exports.Set("openPinnedProgram", Napi::Function::New(env, OpenPinnedProgram, "openPinnedProgram"));
}

}  // namespace lbt

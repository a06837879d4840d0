// BpfObject: bpf_object__open_file/open_mem, map reuse, load, close.
#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lbt {

void ObjState::Close() {
  if (obj != nullptr) {
    bpf_object__close(obj);
    obj = nullptr;
  }
  closed = true;
  image.clear();
  image.shrink_to_fit();
}

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeObject",
                       {
                           InstanceAccessor<&NativeObject::Name>("name"),
                           InstanceAccessor<&NativeObject::Loaded>("loaded"),
                           InstanceAccessor<&NativeObject::Closed>("closed"),
                           InstanceMethod<&NativeObject::ReuseMap>("reuseMap"),
                           InstanceMethod<&NativeObject::Load>("load"),
                           InstanceMethod<&NativeObject::Programs>("programs"),
                           InstanceMethod<&NativeObject::Maps>("maps"),
                           InstanceMethod<&NativeObject::Close>("close"),
                       });
  }

  explicit NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      ThrowTypeError(info.Env(), "NativeObject cannot be constructed directly; use openFile/openBuffer");
    state_ = *info[0].As<Napi::External<ObjStatePtr>>().Data();
  }

 private:
  ObjState* Live(Napi::Env env, const char* what) {
    if (!state_ || state_->closed || state_->obj == nullptr) ThrowClosed(env, std::string("BpfObject.") + what);
    return state_.get();
  }

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), state_->name); }
  Napi::Value Loaded(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->loaded); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->closed); }

  Napi::Value ReuseMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ObjState* st = Live(env, "reuseMap");
    std::string mapName = GetString(env, info[0], "mapName");
    std::string path = GetString(env, info[1], "pinnedPath");
    std::string op = "reuse map '" + mapName + "' from '" + path + "'";
    if (st->loaded) ThrowBpfError(env, op, EINVAL, "reuseMap() must be called before load()");
    bpf_map* map = bpf_object__find_map_by_name(st->obj, mapName.c_str());
    if (map == nullptr) ThrowBpfError(env, op, ENOENT, "object '" + st->name + "' has no map named '" + mapName + "'");

    int fd = OpenPinnedFd(env, path, "map");
    bpf_map_info mi;
    memset(&mi, 0, sizeof(mi));
    uint32_t len = sizeof(mi);
    int r = bpf_obj_get_info_by_fd(fd, &mi, &len);
    if (r < 0) {
      int err = ErrFromRet(r);
      close(fd);
      ThrowBpfError(env, op, err, "bpf_obj_get_info_by_fd failed");
    }
    // Refuse incompatible maps up front: libbpf would silently adopt the
    // pinned map's definition and the program might then fail to verify.
    std::string mismatch;
    auto cmp = [&](const char* field, uint64_t want, uint64_t got) {
      if (want != got && mismatch.empty())
        mismatch = std::string(field) + " differs (object: " + std::to_string(want) + ", pinned: " + std::to_string(got) + ")";
    };
    cmp("type", bpf_map__type(map), mi.type);
    cmp("key_size", bpf_map__key_size(map), mi.key_size);
    cmp("value_size", bpf_map__value_size(map), mi.value_size);
    cmp("max_entries", bpf_map__max_entries(map), mi.max_entries);
    cmp("map_flags", bpf_map__map_flags(map), mi.map_flags);
    if (!mismatch.empty()) {
      close(fd);
      ThrowBpfError(env, op, EINVAL, "incompatible pinned map: " + mismatch);
    }
    LogCapture cap;
    r = bpf_map__reuse_fd(map, fd);
    int err = r < 0 ? ErrFromRet(r) : 0;
    close(fd);  // bpf_map__reuse_fd dup()s it
    if (err != 0) ThrowBpfError(env, op, err, "", &cap.text);
    return env.Undefined();
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ObjState* st = Live(env, "load");
    if (st->loaded) ThrowBpfError(env, "load object '" + st->name + "'", EALREADY, "object already loaded");
    LogCapture cap;
    errno = 0;
    int r = bpf_object__load(st->obj);
    // libbpf marks the object loaded even when loading failed; so do we, so
    // that a retry reports the real state rather than a confusing error.
    st->loaded = true;
    if (r < 0) ThrowBpfError(env, "load object '" + st->name + "'", ErrFromRet(r), "", &cap.text);
    // ELF image is no longer needed after load.
    st->image.clear();
    st->image.shrink_to_fit();
    return env.Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ObjState* st = Live(env, "programs");
    Napi::Array arr = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_program* p;
    bpf_object__for_each_program(p, st->obj) {
      ProgramInit pi;
      pi.owner = state_;
      pi.prog = p;
      arr.Set(i++, NewProgram(env, pi));
    }
    return arr;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ObjState* st = Live(env, "maps");
    Napi::Array arr = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map* m;
    bpf_object__for_each_map(m, st->obj) {
      MapInit mi;
      mi.owner = state_;
      mi.map = m;
      arr.Set(i++, NewMap(env, mi));
    }
    return arr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (state_) state_->Close();
    return info.Env().Undefined();
  }

  ObjStatePtr state_;
};

static Napi::Object Wrap(Napi::Env env, ObjStatePtr st) {
  return GetData(env)->objectCtor.New({Napi::External<ObjStatePtr>::New(env, &st)});
}

static void FillOpenOpts(bpf_object_open_opts* o) {
  memset(o, 0, sizeof(*o));
  o->sz = sizeof(*o);
}

static Napi::Value OpenFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = GetString(env, info[0], "path");
  std::string pinRoot;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) pinRoot = GetString(env, info[1], "pinRoot");
  bpf_object_open_opts o;
  FillOpenOpts(&o);
  if (!pinRoot.empty()) o.pin_root_path = pinRoot.c_str();
  LogCapture cap;
  errno = 0;
  bpf_object* obj = bpf_object__open_file(path.c_str(), &o);
  if (obj == nullptr) ThrowBpfError(env, "open object file '" + path + "'", errno ? errno : EINVAL, "", &cap.text);
  auto st = std::make_shared<ObjState>();
  st->obj = obj;
  st->name = bpf_object__name(obj);
  return Wrap(env, st);
}

static Napi::Value OpenBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes b = GetBytes(env, info[0], "buf");
  std::string name = "buffer";
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) name = GetString(env, info[1], "name");
  if (b.size == 0) ThrowBpfError(env, "open object buffer '" + name + "'", EINVAL, "buffer is empty");
  auto st = std::make_shared<ObjState>();
  // libelf reads the image in place until load(): keep our own copy alive.
  st->image.assign(b.data, b.data + b.size);
  bpf_object_open_opts o;
  FillOpenOpts(&o);
  o.object_name = name.c_str();
  std::string pinRoot;
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    pinRoot = GetString(env, info[2], "pinRoot");
    o.pin_root_path = pinRoot.c_str();
  }
  LogCapture cap;
  errno = 0;
  bpf_object* obj = bpf_object__open_mem(st->image.data(), st->image.size(), &o);
  if (obj == nullptr) ThrowBpfError(env, "open object buffer '" + name + "'", errno ? errno : EINVAL, "", &cap.text);
  st->obj = obj;
  st->name = bpf_object__name(obj);
  return Wrap(env, st);
}

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeObject::Define(env);
  data->objectCtor = Napi::Persistent(ctor);
  exports.Set("NativeObject", ctor);
  exports.Set("openFile", Napi::Function::New(env, OpenFile, "openFile"));
  exports.Set("openBuffer", Napi::Function::New(env, OpenBuffer, "openBuffer"));
}

}  // namespace lbt

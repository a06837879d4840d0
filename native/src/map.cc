// BpfMap: element CRUD, iteration, batch operations (with fallbacks),
// per-CPU value packing, pinning.
//
// Per-CPU layout: the kernel exchanges round_up(value_size, 8) bytes per
// possible CPU. JS sees values packed without padding: a per-CPU value is
// numPossibleCpus() * valueSize bytes (cpu 0 first), or one Buffer per CPU
// through lookupPerCpu().
#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lbt {

static bool BatchUnsupported(int err) {
  return err == EINVAL || err == EOPNOTSUPP || err == 524 /* ENOTSUPP */ || err == ENOSYS;
}

class NativeMap : public Napi::ObjectWrap<NativeMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMap",
                       {
                           InstanceAccessor<&NativeMap::Name>("name"),
                           InstanceAccessor<&NativeMap::Fd>("fd"),
                           InstanceAccessor<&NativeMap::Type>("type"),
                           InstanceAccessor<&NativeMap::TypeId>("typeId"),
                           InstanceAccessor<&NativeMap::KeySize>("keySize"),
                           InstanceAccessor<&NativeMap::ValueSize>("valueSize"),
                           InstanceAccessor<&NativeMap::MaxEntries>("maxEntries"),
                           InstanceAccessor<&NativeMap::Flags>("flags"),
                           InstanceAccessor<&NativeMap::PerCpu>("perCpu"),
                           InstanceAccessor<&NativeMap::Closed>("closed"),
                           InstanceAccessor<&NativeMap::Id>("id"),
                           InstanceMethod<&NativeMap::Lookup>("lookup"),
                           InstanceMethod<&NativeMap::LookupPerCpu>("lookupPerCpu"),
                           InstanceMethod<&NativeMap::Update>("update"),
                           InstanceMethod<&NativeMap::Delete>("delete"),
                           InstanceMethod<&NativeMap::NextKey>("nextKey"),
                           InstanceMethod<&NativeMap::LookupBatch>("lookupBatch"),
                           InstanceMethod<&NativeMap::LookupBatchPacked>("lookupBatchPacked"),
                           InstanceMethod<&NativeMap::UpdateBatch>("updateBatch"),
                           InstanceMethod<&NativeMap::DeleteBatch>("deleteBatch"),
                           InstanceMethod<&NativeMap::UpdateBatchPacked>("updateBatchPacked"),
                           InstanceMethod<&NativeMap::DeleteBatchIf>("deleteBatchIf"),
                           InstanceMethod<&NativeMap::Pin>("pin"),
                           InstanceMethod<&NativeMap::Unpin>("unpin"),
                           InstanceMethod<&NativeMap::Close>("close"),
                       });
  }

  explicit NativeMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowTypeError(env, "NativeMap cannot be constructed directly");
    MapInit* mi = info[0].As<Napi::External<MapInit>>().Data();
    owner_ = mi->owner;
    map_ = mi->map;
    ownedFd_ = mi->ownedFd;
    if (map_ != nullptr) {
      name_ = bpf_map__name(map_);
      Refresh();
    } else {
      bpf_map_info inf;
      memset(&inf, 0, sizeof(inf));
      uint32_t len = sizeof(inf);
      int r = bpf_obj_get_info_by_fd(ownedFd_, &inf, &len);
      if (r < 0) {
        int err = ErrFromRet(r);
        close(ownedFd_);
        ownedFd_ = -1;
        ThrowBpfError(env, "bpf_obj_get_info_by_fd(map)", err);
      }
      name_ = inf.name;
      type_ = inf.type;
      keySize_ = inf.key_size;
      valueSize_ = inf.value_size;
      maxEntries_ = inf.max_entries;
      flags_ = inf.map_flags;
    }
  }

  ~NativeMap() override { CloseOwned(); }

  // Used by ringbuf.cc.
  int FdFor(Napi::Env env, const std::string& op) { return LiveFd(env, op); }
  uint32_t MapType() {
    Refresh();
    return type_;
  }
  const std::string& MapName() const { return name_; }

 private:
  // Definitions of an object's map can change before load (reuseMap).
  void Refresh() {
    if (map_ != nullptr && owner_ && !owner_->closed) {
      type_ = bpf_map__type(map_);
      keySize_ = bpf_map__key_size(map_);
      valueSize_ = bpf_map__value_size(map_);
      maxEntries_ = bpf_map__max_entries(map_);
      flags_ = bpf_map__map_flags(map_);
    }
  }

  void CloseOwned() {
    if (ownedFd_ >= 0) {
      close(ownedFd_);
      ownedFd_ = -1;
    }
    closed_ = true;
  }

  bool IsClosed() const { return closed_ || (owner_ && owner_->closed); }

  int LiveFd(Napi::Env env, const std::string& op) {
    if (IsClosed()) ThrowClosed(env, op + " (map '" + name_ + "')");
    if (map_ != nullptr) {
      Refresh();
      int fd = bpf_map__fd(map_);
      if (fd < 0) ThrowBpfError(env, op, EBADF, "map '" + name_ + "' is not created yet (call BpfObject.load() first)");
      return fd;
    }
    return ownedFd_;
  }

  std::string Desc() const { return "map '" + name_ + "' (" + MapTypeName(type_) + ")"; }

  // Validated key pointer (nullptr for key-less maps such as queue/stack).
  const void* Key(Napi::Env env, const Napi::Value& v, const char* what = "key") {
    Bytes b = GetBytes(env, v, Desc() + ": " + what);
    if (b.size != keySize_)
      ThrowTypeError(env, Desc() + ": " + what + " must be " + std::to_string(keySize_) + " bytes (key_size), got " +
                              std::to_string(b.size));
    return keySize_ == 0 ? nullptr : b.data;
  }

  bool IsPerCpu() const { return IsPerCpuMapType(type_); }
  size_t Stride() const { return (static_cast<size_t>(valueSize_) + 7) & ~static_cast<size_t>(7); }
  // Bytes the kernel exchanges for one value.
  size_t KernelValueSize(Napi::Env env) const {
    return IsPerCpu() ? Stride() * static_cast<size_t>(PossibleCpus(env)) : valueSize_;
  }

  // Converts a user value to the kernel layout, appending to out.
  void PackValue(Napi::Env env, const Napi::Value& v, std::vector<uint8_t>& out, const char* what = "value") {
    Bytes b = GetBytes(env, v, Desc() + ": " + what);
    if (!IsPerCpu()) {
      if (b.size != valueSize_)
        ThrowTypeError(env, Desc() + ": " + what + " must be " + std::to_string(valueSize_) +
                                " bytes (value_size), got " + std::to_string(b.size));
      out.insert(out.end(), b.data, b.data + b.size);
      return;
    }
    size_t ncpu = static_cast<size_t>(PossibleCpus(env));
    bool replicate = b.size == valueSize_;
    if (!replicate && b.size != ncpu * valueSize_)
      ThrowTypeError(env, Desc() + ": " + what + " must be " + std::to_string(valueSize_) +
                              " bytes (value_size, written to every CPU) or " + std::to_string(ncpu * valueSize_) +
                              " bytes (" + std::to_string(ncpu) + " CPUs x " + std::to_string(valueSize_) +
                              "), got " + std::to_string(b.size));
    size_t base = out.size();
    out.resize(base + ncpu * Stride(), 0);
    for (size_t c = 0; c < ncpu; c++)
      memcpy(out.data() + base + c * Stride(), b.data + (replicate ? 0 : c * valueSize_), valueSize_);
  }

  // Kernel layout -> packed JS Buffer.
  Napi::Buffer<uint8_t> UnpackValue(Napi::Env env, const uint8_t* kv) {
    if (!IsPerCpu()) return Napi::Buffer<uint8_t>::Copy(env, kv, valueSize_);
    size_t ncpu = static_cast<size_t>(PossibleCpus(env));
    Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(env, ncpu * valueSize_);
    for (size_t c = 0; c < ncpu; c++) memcpy(b.Data() + c * valueSize_, kv + c * Stride(), valueSize_);
    return b;
  }

  // ---------------------------------------------------------- accessors

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (IsClosed()) ThrowClosed(env, "BpfMap.fd (map '" + name_ + "')");
    int fd = map_ != nullptr ? bpf_map__fd(map_) : ownedFd_;
    return Napi::Number::New(env, fd < 0 ? -1 : fd);
  }
  Napi::Value Type(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::String::New(info.Env(), MapTypeName(type_));
  }
  Napi::Value TypeId(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Number::New(info.Env(), type_);
  }
  Napi::Value KeySize(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Number::New(info.Env(), keySize_);
  }
  Napi::Value ValueSize(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Number::New(info.Env(), valueSize_);
  }
  Napi::Value MaxEntries(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Number::New(info.Env(), maxEntries_);
  }
  Napi::Value Flags(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Number::New(info.Env(), flags_);
  }
  Napi::Value PerCpu(const Napi::CallbackInfo& info) {
    Refresh();
    return Napi::Boolean::New(info.Env(), IsPerCpu());
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), IsClosed()); }
  Napi::Value Id(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "BpfMap.id");
    bpf_map_info inf;
    memset(&inf, 0, sizeof(inf));
    uint32_t len = sizeof(inf);
    int r = bpf_obj_get_info_by_fd(fd, &inf, &len);
    if (r < 0) ThrowBpfError(env, "bpf_obj_get_info_by_fd(" + Desc() + ")", ErrFromRet(r));
    return Napi::Number::New(env, inf.id);
  }

  // ------------------------------------------------------------- CRUD

  // Returns false on ENOENT, throws on other errors.
  bool RawLookup(Napi::Env env, int fd, const void* key, std::vector<uint8_t>& kv) {
    kv.assign(KernelValueSize(env), 0);
    int r = bpf_map_lookup_elem(fd, key, kv.data());
    if (r < 0) {
      int err = ErrFromRet(r);
      if (err == ENOENT) return false;
      ThrowBpfError(env, "lookup in " + Desc(), err);
    }
    return true;
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "lookup");
    const void* key = Key(env, info[0]);
    std::vector<uint8_t> kv;
    if (!RawLookup(env, fd, key, kv)) return env.Null();
    return UnpackValue(env, kv.data());
  }

  Napi::Value LookupPerCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "lookupPerCpu");
    if (!IsPerCpu()) ThrowTypeError(env, Desc() + " is not a per-CPU map; use lookup()");
    const void* key = Key(env, info[0]);
    std::vector<uint8_t> kv;
    if (!RawLookup(env, fd, key, kv)) return env.Null();
    size_t ncpu = static_cast<size_t>(PossibleCpus(env));
    Napi::Array arr = Napi::Array::New(env, ncpu);
    for (size_t c = 0; c < ncpu; c++)
      arr.Set(static_cast<uint32_t>(c), Napi::Buffer<uint8_t>::Copy(env, kv.data() + c * Stride(), valueSize_));
    return arr;
  }

  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "update");
    const void* key = Key(env, info[0]);
    std::vector<uint8_t> kv;
    PackValue(env, info[1], kv);
    uint32_t flags = info.Length() > 2 && !info[2].IsUndefined() ? GetU32(env, info[2], "flags") : static_cast<uint32_t>(BPF_ANY);
    int r = bpf_map_update_elem(fd, key, kv.data(), flags);
    if (r < 0) {
      int err = ErrFromRet(r);
      std::string detail;
      if (err == EEXIST) detail = "key exists (flags 'noexist')";
      else if (err == ENOENT) detail = "key does not exist (flags 'exist')";
      else if (err == E2BIG) detail = "map is full (max_entries " + std::to_string(maxEntries_) + ")";
      ThrowBpfError(env, "update in " + Desc(), err, detail);
    }
    return env.Undefined();
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "delete");
    const void* key = Key(env, info[0]);
    int r = bpf_map_delete_elem(fd, key);
    if (r < 0) {
      int err = ErrFromRet(r);
      if (err == ENOENT) return Napi::Boolean::New(env, false);
      ThrowBpfError(env, "delete in " + Desc(), err);
    }
    return Napi::Boolean::New(env, true);
  }

  // nextKey(prev | null) -> Buffer | null (bpf_map_get_next_key)
  Napi::Value NextKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "iterate");
    const void* prev = nullptr;
    if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull()) prev = Key(env, info[0], "previous key");
    std::vector<uint8_t> next(keySize_ > 0 ? keySize_ : 1);
    int r = bpf_map_get_next_key(fd, prev, next.data());
    if (r < 0) {
      int err = ErrFromRet(r);
      if (err == ENOENT) return env.Null();
      ThrowBpfError(env, "get next key in " + Desc(), err);
    }
    return Napi::Buffer<uint8_t>::Copy(env, next.data(), keySize_);
  }

  // ------------------------------------------------------------ batches

  // Appends a kernel-layout value to `out` in the JS layout (per-CPU values
  // packed without padding, cpu 0 first).
  void AppendUnpacked(Napi::Env env, const uint8_t* kv, std::vector<uint8_t>& out) {
    if (!IsPerCpu()) {
      out.insert(out.end(), kv, kv + valueSize_);
      return;
    }
    size_t ncpu = static_cast<size_t>(PossibleCpus(env));
    for (size_t c = 0; c < ncpu; c++) out.insert(out.end(), kv + c * Stride(), kv + c * Stride() + valueSize_);
  }
  size_t UserValueSize(Napi::Env env) const {
    return IsPerCpu() ? static_cast<size_t>(valueSize_) * static_cast<size_t>(PossibleCpus(env)) : valueSize_;
  }

  // Key by key (bpf_map_get_next_key + lookup), for map types without batch
  // support. Bounded: a map cannot yield more than max_entries keys, but
  // concurrent updates can restart iteration; cap at a generous multiple.
  uint32_t IterateAll(Napi::Env env, int fd, std::vector<uint8_t>& keysOut, std::vector<uint8_t>& valsOut) {
    std::vector<uint8_t> cur(keySize_ > 0 ? keySize_ : 1), next(keySize_ > 0 ? keySize_ : 1), kv;
    bool first = true;
    uint32_t n = 0;
    uint64_t guard = static_cast<uint64_t>(maxEntries_) * 4 + 16;
    while (guard-- > 0) {
      int r = bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data());
      if (r < 0) {
        int err = ErrFromRet(r);
        if (err == ENOENT) break;
        ThrowBpfError(env, "get next key in " + Desc(), err);
      }
      first = false;
      cur = next;
      if (RawLookup(env, fd, cur.data(), kv)) {
        keysOut.insert(keysOut.end(), cur.data(), cur.data() + keySize_);
        AppendUnpacked(env, kv.data(), valsOut);
        n++;
      }
    }
    return n;
  }

  // Every entry, `chunk` per BPF_MAP_LOOKUP_BATCH (key by key where the map
  // type has no batch support): keys packed keySize apart, values in the JS
  // layout UserValueSize() apart. Returns how many.
  uint32_t CollectAll(Napi::Env env, int fd, uint32_t chunk, std::vector<uint8_t>& keysOut, std::vector<uint8_t>& valsOut) {
    size_t kvs = KernelValueSize(env);
    size_t tok = keySize_ > 8 ? keySize_ : 8;
    std::vector<uint8_t> inBatch(tok), outBatch(tok), keys, vals;
    uint32_t n = 0;
    bool first = true;
    bpf_map_batch_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    for (int rounds = 0;; rounds++) {
      keys.assign(static_cast<size_t>(chunk) * keySize_ + 1, 0);
      vals.assign(static_cast<size_t>(chunk) * kvs + 1, 0);
      uint32_t count = chunk;
      int r = bpf_map_lookup_batch(fd, first ? nullptr : inBatch.data(), outBatch.data(), keys.data(), vals.data(),
                                   &count, &o);
      int err = r < 0 ? ErrFromRet(r) : 0;
      if (err != 0 && err != ENOENT) {
        if (first && BatchUnsupported(err)) return IterateAll(env, fd, keysOut, valsOut);
        if (err == ENOSPC && count == 0 && chunk < (1u << 20)) {  // one hash bucket > chunk
          chunk *= 2;
          continue;
        }
        ThrowBpfError(env, "lookup batch in " + Desc(), err);
      }
      keysOut.insert(keysOut.end(), keys.data(), keys.data() + static_cast<size_t>(count) * keySize_);
      for (uint32_t i = 0; i < count; i++) AppendUnpacked(env, vals.data() + static_cast<size_t>(i) * kvs, valsOut);
      n += count;
      if (err == ENOENT) break;
      inBatch = outBatch;
      first = false;
    }
    return n;
  }

  uint32_t BatchChunk(const Napi::CallbackInfo& info) {
    uint32_t chunk = maxEntries_ < 1024 ? maxEntries_ : 1024;
    if (info.Length() > 0 && !info[0].IsUndefined()) chunk = GetU32(info.Env(), info[0], "count");
    return chunk == 0 ? 1 : chunk;
  }

  // lookupBatch(count?) -> Array<[Buffer, Buffer]>
  Napi::Value LookupBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "lookupBatch");
    std::vector<uint8_t> keys, vals;
    uint32_t n = CollectAll(env, fd, BatchChunk(info), keys, vals);
    size_t uvs = UserValueSize(env);
    Napi::Array out = Napi::Array::New(env, n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Buffer<uint8_t>::Copy(env, keys.data() + static_cast<size_t>(i) * keySize_, keySize_));
      pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, vals.data() + static_cast<size_t>(i) * uvs, uvs));
      out.Set(i, pair);
    }
    return out;
  }

  // lookupBatchPacked(count?) -> { count, keys: Buffer, values: Buffer }: the
  // same entries in two Buffers (entry i's key at i * keySize, its value at
  // i * valueSize; per-CPU: i * ncpu * valueSize), not two Buffers per entry.
  Napi::Value LookupBatchPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "lookupBatchPacked");
    std::vector<uint8_t> keys, vals;
    uint32_t n = CollectAll(env, fd, BatchChunk(info), keys, vals);
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", Napi::Number::New(env, n));
    auto buffer = [&](const std::vector<uint8_t>& v) {
      return v.empty() ? Napi::Buffer<uint8_t>::New(env, 0) : Napi::Buffer<uint8_t>::Copy(env, v.data(), v.size());
    };
    out.Set("keys", buffer(keys));
    out.Set("values", buffer(vals));
    return out;
  }

  static Napi::Array GetArray(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsArray()) ThrowTypeError(env, what + " must be an array");
    return v.As<Napi::Array>();
  }

  // updateBatch(keys: Buffer[], values: Buffer[], flags)
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "updateBatch");
    Napi::Array ka = GetArray(env, info[0], "updateBatch keys");
    Napi::Array va = GetArray(env, info[1], "updateBatch values");
    uint32_t flags = info.Length() > 2 && !info[2].IsUndefined() ? GetU32(env, info[2], "flags") : static_cast<uint32_t>(BPF_ANY);
    uint32_t n = ka.Length();
    if (va.Length() != n) ThrowTypeError(env, "updateBatch: keys and values differ in length");
    if (n == 0) return env.Undefined();
    size_t kvs = KernelValueSize(env);
    std::vector<uint8_t> keys, vals;
    keys.reserve(static_cast<size_t>(n) * keySize_);
    vals.reserve(static_cast<size_t>(n) * kvs);
    for (uint32_t i = 0; i < n; i++) {
      Bytes kb = GetBytes(env, ka.Get(i), Desc() + ": key");
      Key(env, ka.Get(i));
      keys.insert(keys.end(), kb.data, kb.data + kb.size);
      PackValue(env, va.Get(i), vals);
    }
    bpf_map_batch_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    o.elem_flags = flags;
    uint32_t count = n;
    // The kernel accepts only BPF_F_LOCK as batch elem_flags: 'noexist' and
    // 'exist' go element by element.
    bool perElement = (flags & ~static_cast<uint32_t>(BPF_F_LOCK)) != 0;
    int r = perElement ? -EINVAL : bpf_map_update_batch(fd, keys.data(), vals.data(), &count, &o);
    if (perElement) count = 0;
    if (r < 0) {
      int err = ErrFromRet(r);
      // A kernel without batch support for this map fails before touching
      // the count (libbpf then echoes our input back); a partial failure
      // reports count < n.
      if ((count == 0 || count == n) && BatchUnsupported(err)) {
        // Per-element fallback; reports the first failure like the kernel.
        for (uint32_t i = 0; i < n; i++) {
          int r2 = bpf_map_update_elem(fd, keys.data() + static_cast<size_t>(i) * keySize_,
                                       vals.data() + static_cast<size_t>(i) * kvs, flags);
          if (r2 < 0)
            ThrowBpfError(env, "update batch in " + Desc(), ErrFromRet(r2),
                          std::to_string(i) + " of " + std::to_string(n) + " entries were written");
        }
        return env.Undefined();
      }
      ThrowBpfError(env, "update batch in " + Desc(), err,
                    std::to_string(count) + " of " + std::to_string(n) + " entries were written");
    }
    return env.Undefined();
  }

  // deleteBatch(keys: Buffer[]) -> number deleted (absent keys are skipped)
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "deleteBatch");
    Napi::Array ka = GetArray(env, info[0], "deleteBatch keys");
    uint32_t n = ka.Length();
    std::vector<uint8_t> keys;
    keys.reserve(static_cast<size_t>(n) * keySize_);
    for (uint32_t i = 0; i < n; i++) {
      Bytes kb = GetBytes(env, ka.Get(i), Desc() + ": key");
      Key(env, ka.Get(i));
      keys.insert(keys.end(), kb.data, kb.data + kb.size);
    }
    bpf_map_batch_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    uint32_t deleted = 0, start = 0;
    bool first = true;
    while (start < n) {
      uint32_t count = n - start;
      int r = bpf_map_delete_batch(fd, keys.data() + static_cast<size_t>(start) * keySize_, &count, &o);
      if (r == 0) {
        deleted += count;
        break;
      }
      int err = ErrFromRet(r);
      if (err == ENOENT) {  // stopped at an absent key: skip it and go on
        deleted += count;
        start += count + 1;
        first = false;
        continue;
      }
      if (first && (count == 0 || count == n - start) && BatchUnsupported(err)) {
        for (uint32_t i = start; i < n; i++) {
          int r2 = bpf_map_delete_elem(fd, keys.data() + static_cast<size_t>(i) * keySize_);
          if (r2 == 0) {
            deleted++;
            continue;
          }
          int e2 = ErrFromRet(r2);
          if (e2 != ENOENT) ThrowBpfError(env, "delete batch in " + Desc(), e2);
        }
        break;
      }
      ThrowBpfError(env, "delete batch in " + Desc(), err,
                    std::to_string(deleted + count) + " of " + std::to_string(n) + " keys were deleted");
    }
    return Napi::Number::New(env, deleted);
  }

  // updateBatchPacked(keys: Buffer, values: Buffer, count) -> number written.
  // Entry i's key at i * keySize in `keys`, its value at i * valueSize in
  // `values` (not per-CPU maps). One BPF_MAP_UPDATE_BATCH (BPF_ANY) for all;
  // where the kernel has no batch support for the map, element by element.
  // Never throws for a failing element: it returns how many entries (from the
  // first) were written, so the caller can tell which one failed and why
  // (errno in the `errno` property of the returned object).
  Napi::Value UpdateBatchPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "updateBatchPacked");
    if (IsPerCpu()) ThrowTypeError(env, "updateBatchPacked: not for per-CPU maps");
    Bytes kb = GetBytes(env, info[0], Desc() + ": keys");
    Bytes vb = GetBytes(env, info[1], Desc() + ": values");
    uint32_t n = GetU32(env, info[2], "count");
    if (kb.size < static_cast<size_t>(n) * keySize_ || vb.size < static_cast<size_t>(n) * valueSize_)
      ThrowTypeError(env, "updateBatchPacked: keys or values shorter than count entries");
    Napi::Object res = Napi::Object::New(env);
    if (n == 0) {
      res.Set("written", 0);
      res.Set("errno", 0);
      return res;
    }
    bpf_map_batch_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    uint32_t count = n;
    int r = bpf_map_update_batch(fd, kb.data, vb.data, &count, &o);
    uint32_t written = n;
    int err = 0;
    if (r < 0) {
      err = ErrFromRet(r);
      if ((count == 0 || count == n) && BatchUnsupported(err)) {
        err = 0;
        written = n;
        for (uint32_t i = 0; i < n; i++) {
          int r2 = bpf_map_update_elem(fd, kb.data + static_cast<size_t>(i) * keySize_, vb.data + static_cast<size_t>(i) * valueSize_, BPF_ANY);
          if (r2 < 0) {
            err = ErrFromRet(r2);
            written = i;
            break;
          }
        }
      } else {
        written = count < n ? count : 0;
      }
    }
    res.Set("written", written);
    res.Set("errno", err);
    return res;
  }

  // deleteBatchIf(keys: Buffer, expect: Buffer, mask: Buffer, count) -> number
  // deleted. Deletes key i only while its current value, masked with `mask`
  // (valueSize bytes), equals expected value i masked the same (values packed
  // valueSize apart in `expect`): a compare-and-delete for each key, one
  // lookup system call each, the matching keys deleted in BPF_MAP_DELETE_BATCH
  // calls of up to 256 (one by one where the kernel has no batch delete),
  // without a JS round trip per key. Absent keys are skipped.
  Napi::Value DeleteBatchIf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "deleteBatchIf");
    if (IsPerCpu()) ThrowTypeError(env, "deleteBatchIf: not for per-CPU maps");
    Bytes kb = GetBytes(env, info[0], Desc() + ": keys");
    Bytes eb = GetBytes(env, info[1], Desc() + ": expected values");
    Bytes mb = GetBytes(env, info[2], Desc() + ": mask");
    uint32_t n = GetU32(env, info[3], "count");
    if (kb.size < static_cast<size_t>(n) * keySize_ || eb.size < static_cast<size_t>(n) * valueSize_)
      ThrowTypeError(env, "deleteBatchIf: keys or expected values shorter than count entries");
    if (mb.size != valueSize_) ThrowTypeError(env, "deleteBatchIf: mask must be valueSize bytes");
    std::vector<uint8_t> cur(valueSize_);
    // the keys that matched, deleted together (BPF_MAP_DELETE_BATCH) every
    // DEL_CHUNK matches: one system call for many deletes, while the time
    // between a key's check and its delete stays short (a chunk's look-ups)
    const uint32_t DEL_CHUNK = 256;
    std::vector<uint8_t> matched(static_cast<size_t>(DEL_CHUNK) * keySize_);
    uint32_t nm = 0;
    uint32_t deleted = 0;
    bool batchOk = true;
    auto deleteOne = [&](const uint8_t* key) {
      int r2 = bpf_map_delete_elem(fd, key);
      if (r2 == 0) {
        deleted++;
        return;
      }
      int e2 = ErrFromRet(r2);
      if (e2 != ENOENT) ThrowBpfError(env, "delete in " + Desc(), e2);
    };
    auto flushMatched = [&]() {
      uint32_t at = 0;
      while (at < nm) {
        const uint8_t* base = matched.data() + static_cast<size_t>(at) * keySize_;
        if (!batchOk) {
          deleteOne(base);
          at++;
          continue;
        }
        bpf_map_batch_opts o;
        memset(&o, 0, sizeof(o));
        o.sz = sizeof(o);
        uint32_t count = nm - at;
        int r = bpf_map_delete_batch(fd, base, &count, &o);
        if (r == 0) {
          deleted += nm - at;
          break;
        }
        int err = ErrFromRet(r);
        if (count > nm - at) count = 0;
        deleted += count;
        at += count;
        if (err == ENOENT) {
          at++;  // gone meanwhile (deleted by someone else): skip it
          continue;
        }
        if (count == 0 && BatchUnsupported(err)) {
          batchOk = false;  // one by one from here on
          continue;
        }
        ThrowBpfError(env, "delete batch in " + Desc(), err);
      }
      nm = 0;
    };
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t* key = kb.data + static_cast<size_t>(i) * keySize_;
      const uint8_t* exp = eb.data + static_cast<size_t>(i) * valueSize_;
      int r = bpf_map_lookup_elem(fd, key, cur.data());
      if (r < 0) {
        int err = ErrFromRet(r);
        if (err == ENOENT) continue;
        ThrowBpfError(env, "lookup in " + Desc(), err);
      }
      bool match = true;
      for (uint32_t b = 0; b < valueSize_; b++) {
        if ((cur[b] & mb.data[b]) != (exp[b] & mb.data[b])) {
          match = false;
          break;
        }
      }
      if (!match) continue;
      memcpy(matched.data() + static_cast<size_t>(nm) * keySize_, key, keySize_);
      if (++nm == DEL_CHUNK) flushMatched();
    }
    flushMatched();
    return Napi::Number::New(env, deleted);
  }

  // ------------------------------------------------------------ pinning

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = GetString(env, info[0], "path");
    int fd = LiveFd(env, "pin map");
    PinFd(env, fd, path, Desc());
    return env.Undefined();
  }

  Napi::Value Unpin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = GetString(env, info[0], "path");
    UnpinPath(env, path, Desc());
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseOwned();
    return info.Env().Undefined();
  }

  ObjStatePtr owner_;
  bpf_map* map_ = nullptr;
  int ownedFd_ = -1;
  bool closed_ = false;
  std::string name_;
  uint32_t type_ = 0, keySize_ = 0, valueSize_ = 0, maxEntries_ = 0, flags_ = 0;
};

Napi::Object NewMap(Napi::Env env, MapInit init) {
  return GetData(env)->mapCtor.New({Napi::External<MapInit>::New(env, &init)});
}

NativeMap* UnwrapMap(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetData(env)->mapCtor.Value()))
    ThrowTypeError(env, "expected a native map handle");
  return NativeMap::Unwrap(v.As<Napi::Object>());
}

int MapFdForRingBuffer(Napi::Env env, NativeMap* m, uint32_t* type) {
  int fd = m->FdFor(env, "RingBuffer");
  *type = m->MapType();
  if (*type != BPF_MAP_TYPE_RINGBUF)
    ThrowTypeError(env, "RingBuffer: map '" + m->MapName() + "' is a " + MapTypeName(*type) + " map, not a ringbuf");
  return fd;
}

static Napi::Value OpenPinnedMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = GetString(env, info[0], "path");
  MapInit mi;
  mi.ownedFd = OpenPinnedFd(env, path, "map");
  return NewMap(env, mi);
}

void InitMap(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeMap::Define(env);
  data->mapCtor = Napi::Persistent(ctor);
  exports.Set("NativeMap", ctor);
  exports.Set("openPinnedMap", Napi::Function::New(env, OpenPinnedMap, "openPinnedMap"));
}

}  // namespace lbt

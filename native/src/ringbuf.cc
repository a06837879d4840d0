// RingBuffer: consumes a BPF_MAP_TYPE_RINGBUF on Node's event loop.
//
// ring_buffer__epoll_fd() is watched with a uv_poll_t, so nothing blocks and
// nothing spins: when the kernel signals data, the loop calls OnPoll, which
// drains the ring with ring_buffer__consume(), copying each record into a JS
// Buffer, and hands the batch to JS in a single callback. The epoll set is
// level-triggered, so capping a wake-up at kMaxPerWakeup records simply
// yields to the loop and resumes on the next iteration.
#include "common.h"

#include <uv.h>

#include <cerrno>

namespace lbt {

static constexpr uint32_t kMaxPerWakeup = 8192;
static constexpr int kStopConsume = -ECANCELED;

class NativeRingBuffer : public Napi::ObjectWrap<NativeRingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRingBuffer",
                       {
                           InstanceMethod<&NativeRingBuffer::Close>("close"),
                           InstanceMethod<&NativeRingBuffer::RefJs>("ref"),
                           InstanceMethod<&NativeRingBuffer::UnrefJs>("unref"),
                           InstanceMethod<&NativeRingBuffer::HasRef>("hasRef"),
                           InstanceMethod<&NativeRingBuffer::ConsumeJs>("consume"),
                           InstanceAccessor<&NativeRingBuffer::EpollFd>("epollFd"),
                           InstanceAccessor<&NativeRingBuffer::Closed>("closed"),
                       });
  }

  // new NativeRingBuffer(nativeMap, onBatch: (records: Buffer[] | null, err?: Error) => void)
  explicit NativeRingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRingBuffer>(info) {
    Napi::Env env = info.Env();
    env_ = env;
    NativeMap* m = UnwrapMap(env, info[0]);
    if (!info[1].IsFunction()) ThrowTypeError(env, "RingBuffer: onRecord must be a function");
    uint32_t type = 0;
    int mapFd = MapFdForRingBuffer(env, m, &type);

    LogCapture cap;
    errno = 0;
    rb_ = ring_buffer__new(mapFd, &NativeRingBuffer::OnSample, this, nullptr);
    if (rb_ == nullptr) ThrowBpfError(env, "ring_buffer__new", errno ? errno : EINVAL, "", &cap.text);

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
      ThrowBpfError(env, "RingBuffer", EINVAL, "no libuv loop for this environment");
    }
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    if (r == 0) {
      poll_->data = this;
      r = uv_poll_start(poll_, UV_READABLE, &NativeRingBuffer::OnPoll);
      if (r != 0) uv_close(reinterpret_cast<uv_handle_t*>(poll_), &NativeRingBuffer::FreeHandle);
    } else {
      delete poll_;
    }
    if (r != 0) {
      poll_ = nullptr;
      ring_buffer__free(rb_);
      rb_ = nullptr;
      ThrowBpfError(env, "uv_poll_start", -r, uv_strerror(r));
    }

    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    mapRef_ = Napi::Persistent(info[0].As<Napi::Object>());  // keep the map fd open
    asyncCtx_ = std::make_unique<Napi::AsyncContext>(env, "libbpf-ts:RingBuffer");
    // While polling, the loop (not only JS) owns this object: a RingBuffer
    // nobody references must keep delivering, like a socket.
    Ref();
    selfRef_ = true;
    napi_add_env_cleanup_hook(env, &NativeRingBuffer::EnvCleanup, this);
    hookAdded_ = true;
  }

  ~NativeRingBuffer() override {
    StopNative();
    if (hookAdded_) {
      napi_remove_env_cleanup_hook(env_, &NativeRingBuffer::EnvCleanup, this);
      hookAdded_ = false;
    }
  }

 private:
  static void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  // Stops polling and frees libbpf state; safe without a JS scope.
  void StopNative() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);  // the fd may be closed right after this
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), &NativeRingBuffer::FreeHandle);
      poll_ = nullptr;
    }
    if (rb_ != nullptr) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
    closed_ = true;
  }

  static void EnvCleanup(void* arg) {
    auto* self = static_cast<NativeRingBuffer*>(arg);
    self->hookAdded_ = false;
    self->StopNative();
  }

  void CloseInternal() {
    if (closed_ && !selfRef_) return;
    StopNative();
    callback_.Reset();
    mapRef_.Reset();
    asyncCtx_.reset();
    if (hookAdded_) {
      napi_remove_env_cleanup_hook(env_, &NativeRingBuffer::EnvCleanup, this);
      hookAdded_ = false;
    }
    if (selfRef_) {
      selfRef_ = false;
      Unref();
    }
  }

  // Called by libbpf (C frames): must not let a C++ exception escape.
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<NativeRingBuffer*>(ctx);
    if (self->batch_ == nullptr) return kStopConsume;
    try {
      self->batch_->Set(self->batchLen_++, Napi::Buffer<uint8_t>::Copy(self->env_, static_cast<uint8_t*>(data), size));
    } catch (...) {
      // JS cannot run (e.g. a worker being terminated): stop consuming.
      self->jsFailed_ = true;
      return kStopConsume;
    }
    return self->batchLen_ >= kMaxPerWakeup ? kStopConsume : 0;
  }

  // Called by libuv (C frames): must not let a C++ exception escape.
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NativeRingBuffer*>(handle->data);
    if (self == nullptr || self->closed_) return;
    try {
      self->Drain(status);
    } catch (...) {
      // Only reachable when the environment is shutting down; stop quietly.
      self->StopNative();
    }
  }

  // Consumes what is available and delivers it; returns records delivered.
  uint32_t Drain(int status) {
    if (rb_ == nullptr) return 0;
    jsFailed_ = false;
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    Napi::Array arr = Napi::Array::New(env);
    Napi::Value error;
    if (status < 0) {
      error = Napi::Error::New(env, std::string("RingBuffer poll failed: ") + uv_strerror(status)).Value();
    } else {
      batch_ = &arr;
      batchLen_ = 0;
      int r = ring_buffer__consume(rb_);
      batch_ = nullptr;
      if (r < 0 && r != kStopConsume) {
        LogCapture cap;
        try {
          ThrowBpfError(env, "ring_buffer__consume", -r);
        } catch (const Napi::Error& e) {
          error = e.Value();
        }
      }
    }
    uint32_t n = arr.Length();
    if (n == 0 && error.IsEmpty()) return 0;
    Napi::Value errArg = error.IsEmpty() ? env.Undefined() : error;
    if (jsFailed_) {
      StopNative();
      return 0;
    }
    // Hold the callback locally: JS may call close() from inside it.
    Napi::Function cb = callback_.Value();
    napi_value argv[2] = {arr, errArg};
    napi_value result;
    napi_status st = napi_make_callback(env, static_cast<napi_async_context>(*asyncCtx_), env.Global(), cb, 2, argv, &result);
    if (st == napi_pending_exception) {
      // lib/ catches user exceptions itself; this is a last resort so that a
      // throwing callback behaves like any other uncaught exception.
      napi_value exc = nullptr;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr) {
        napi_valuetype t = napi_undefined;
        napi_typeof(env, exc, &t);
        if (t != napi_undefined) napi_fatal_exception(env, exc);
      }
    } else if (st != napi_ok) {
      StopNative();  // JS cannot run any more (environment shutting down)
      return n;
    }
    if (!error.IsEmpty() && !closed_) CloseInternal();
    return n;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseInternal();
    return info.Env().Undefined();
  }

  Napi::Value RefJs(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value UnrefJs(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value HasRef(const Napi::CallbackInfo& info) {
    bool r = poll_ != nullptr && uv_has_ref(reinterpret_cast<uv_handle_t*>(poll_)) != 0;
    return Napi::Boolean::New(info.Env(), r);
  }

  // Synchronous drain (records are delivered before this returns).
  Napi::Value ConsumeJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) ThrowClosed(env, "RingBuffer.consume");
    return Napi::Number::New(env, Drain(0));
  }

  Napi::Value EpollFd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), rb_ != nullptr ? ring_buffer__epoll_fd(rb_) : -1);
  }

  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

  napi_env env_ = nullptr;
  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference mapRef_;
  std::unique_ptr<Napi::AsyncContext> asyncCtx_;
  Napi::Array* batch_ = nullptr;
  uint32_t batchLen_ = 0;
  bool closed_ = false;
  bool jsFailed_ = false;
  bool selfRef_ = false;
  bool hookAdded_ = false;
};

void InitRingBuffer(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeRingBuffer::Define(env);
  data->ringBufferCtor = Napi::Persistent(ctor);
  exports.Set("NativeRingBuffer", ctor);
}

}  // namespace lbt

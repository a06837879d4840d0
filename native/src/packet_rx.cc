// PacketReceiver: whole Ethernet frames received on one port, read on Node's
// event loop (the P4 switch's CPU port: bmv2 sends packet-in frames out of a
// veth, the control plane reads them from its peer).
//
// The socket is AF_PACKET/SOCK_RAW, created with protocol 0 (so nothing is
// queued before it is bound), given a large receive buffer, then bound to one
// ifindex with ETH_P_ALL. The ifindex (or name) is resolved in the network
// namespace the process runs in. PACKET_IGNORE_OUTGOING keeps the frames
// this host transmits on the port (any socket's, e.g. a PacketSender's) out
// of the queue; sll_pkttype == PACKET_OUTGOING is filtered here as well, for
// kernels without that option.
//
// The non-blocking fd is watched with a uv_poll_t (libuv watchers are level
// triggered): on readable, OnPoll drains the queue with recvmmsg() in
// vectors of up to kSlots frames until it is empty or maxPerWakeup frames
// were read, copies each frame into its own Buffer and hands the batch to JS
// in ONE callback. Whatever is left is read on the next loop iteration, so a
// flood never starves timers, immediates or other I/O.
//
// VLAN tags: the receive path strips the outer 802.1Q/802.1ad tag into skb
// metadata before packet sockets see the frame; PACKET_AUXDATA reports it and
// the tag is put back (as libpcap does), so frames arrive byte-exact.
//
// Port down: the kernel sets ENETDOWN on the socket, which makes it poll as
// EPOLLERR; libuv stops a uv_poll_t on POLLERR and reports UV_EBADF. That is
// told apart from a dead fd with SO_ERROR (which also clears it), reported
// to JS as non-fatal, and the poll restarted: the kernel re-hooks the socket
// when the port comes back up.
#include "common.h"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef TP_STATUS_VLAN_VALID
#define TP_STATUS_VLAN_VALID (1 << 4)
#endif
#ifndef TP_STATUS_VLAN_TPID_VALID
#define TP_STATUS_VLAN_TPID_VALID (1 << 6)
#endif

namespace lbt {

namespace {

constexpr uint32_t kDefaultMaxPerWakeup = 256;
constexpr uint32_t kMaxMaxPerWakeup = 65536;
constexpr uint32_t kSlots = 32;           // recvmmsg() vector length
constexpr size_t kSnap = 65536;           // longest frame delivered (bytes on the wire)
constexpr uint32_t kDefaultRcvbuf = 4u << 20;
constexpr size_t kCtrlLen = CMSG_SPACE(sizeof(tpacket_auxdata));

}  // namespace

class NativePacketReceiver : public Napi::ObjectWrap<NativePacketReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativePacketReceiver",
                       {
                           InstanceMethod<&NativePacketReceiver::Close>("close"),
                           InstanceMethod<&NativePacketReceiver::Stats>("stats"),
                           InstanceMethod<&NativePacketReceiver::RefJs>("ref"),
                           InstanceMethod<&NativePacketReceiver::UnrefJs>("unref"),
                           InstanceMethod<&NativePacketReceiver::HasRef>("hasRef"),
                           InstanceAccessor<&NativePacketReceiver::Fd>("fd"),
                           InstanceAccessor<&NativePacketReceiver::Ifindex>("ifindex"),
                           InstanceAccessor<&NativePacketReceiver::Rcvbuf>("rcvbuf"),
                           InstanceAccessor<&NativePacketReceiver::Closed>("closed"),
                       });
  }

  // new NativePacketReceiver(ifindex | ifname, { maxPerWakeup?, rcvbuf? } | undefined,
  //                          onBatch: (frames: Buffer[], err: Error | undefined, fatal: boolean) => void)
  explicit NativePacketReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativePacketReceiver>(info) {
    Napi::Env env = info.Env();
    env_ = env;

    // Arguments first: nothing to clean up yet.
    uint32_t ifindex = 0;
    std::string ifname;
    if (info[0].IsString()) {
      ifname = info[0].As<Napi::String>().Utf8Value();
      if (ifname.empty() || ifname.size() >= IFNAMSIZ) ThrowTypeError(env, "PacketReceiver: bad interface name '" + ifname + "'");
    } else {
      ifindex = GetU32(env, info[0], "ifindex");
      if (ifindex == 0 || ifindex > INT32_MAX) ThrowTypeError(env, "PacketReceiver: ifindex must be a positive interface index");
    }
    uint32_t maxPer = kDefaultMaxPerWakeup;
    uint32_t rcvbuf = kDefaultRcvbuf;
    if (!info[1].IsUndefined() && !info[1].IsNull()) {
      if (!info[1].IsObject()) ThrowTypeError(env, "PacketReceiver: options must be an object");
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value v = o.Get("maxPerWakeup");
      if (!v.IsUndefined()) {
        maxPer = GetU32(env, v, "maxPerWakeup");
        if (maxPer < 1 || maxPer > kMaxMaxPerWakeup)
          ThrowTypeError(env, "PacketReceiver: maxPerWakeup must be in 1.." + std::to_string(kMaxMaxPerWakeup));
      }
      v = o.Get("rcvbuf");
      if (!v.IsUndefined()) {
        rcvbuf = GetU32(env, v, "rcvbuf");
        if (rcvbuf < 1 || rcvbuf > INT_MAX / 2) ThrowTypeError(env, "PacketReceiver: rcvbuf must be in 1.." + std::to_string(INT_MAX / 2));
      }
    }
    if (!info[2].IsFunction()) ThrowTypeError(env, "PacketReceiver: onFrames must be a function");
    if (!ifname.empty()) {
      ifindex = if_nametoindex(ifname.c_str());
      if (ifindex == 0) {
        int err = errno ? errno : ENODEV;
        ThrowBpfError(env, "if_nametoindex(" + ifname + ")", err, "no such interface in this network namespace");
      }
    }
    ifindex_ = static_cast<int>(ifindex);
    maxPerWakeup_ = maxPer;
    const std::string where = "ifindex " + std::to_string(ifindex);

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) ThrowBpfError(env, "socket(AF_PACKET)", errno);
    auto fail = [&](const std::string& op, int err, const std::string& detail = std::string()) {
      close(fd);
      ThrowBpfError(env, op, err, detail);
    };
    auto setInt = [&](int level, int name, int value, const char* what) {
      if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
        fail(std::string("setsockopt(") + what + ", " + std::to_string(value) + ")", errno);
    };

    // Beyond net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE).
    int rb = static_cast<int>(rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0) {
      if (errno != EPERM) fail("setsockopt(SO_RCVBUFFORCE, " + std::to_string(rb) + ")", errno);
      setInt(SOL_SOCKET, SO_RCVBUF, rb, "SO_RCVBUF");
    }
    setInt(SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA");
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 && errno != ENOPROTOOPT)
      fail("setsockopt(PACKET_IGNORE_OUTGOING)", errno);

    sockaddr_ll sll = {};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex_;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
      int err = errno;
      fail("bind(AF_PACKET, " + where + ")", err, err == ENODEV ? "no such interface in this network namespace" : "");
    }
    int got = 0;
    socklen_t gl = sizeof(got);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0) rcvbuf_ = got;

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
      fail("PacketReceiver", EINVAL, "no libuv loop for this environment");
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, fd);
    if (r == 0) {
      poll_->data = this;
      r = uv_poll_start(poll_, UV_READABLE, &NativePacketReceiver::OnPoll);
      if (r != 0) uv_close(reinterpret_cast<uv_handle_t*>(poll_), &NativePacketReceiver::FreeHandle);
    } else {
      delete poll_;
    }
    if (r != 0) {
      poll_ = nullptr;
      fail("uv_poll_start", -r, uv_strerror(r));
    }
    fd_ = fd;

    // Receive vectors, allocated once: a frame slot, sockaddr_ll and
    // control buffer per recvmmsg() entry.
    slots_ = std::min(kSlots, maxPerWakeup_);
    data_.resize(static_cast<size_t>(slots_) * kSnap);
    ctrl_.resize(static_cast<size_t>(slots_) * kCtrlLen);
    addrs_.resize(slots_);
    iovs_.resize(slots_);
    msgs_.resize(slots_);

    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    asyncCtx_ = std::make_unique<Napi::AsyncContext>(env, "libbpf-ts:PacketReceiver");
    // While open the loop owns this object (like a socket): a receiver
    // nobody references keeps delivering until close().
    Ref();
    selfRef_ = true;
    napi_add_env_cleanup_hook(env, &NativePacketReceiver::EnvCleanup, this);
    hookAdded_ = true;
  }

  ~NativePacketReceiver() override {
    StopNative();
    if (hookAdded_) {
      napi_remove_env_cleanup_hook(env_, &NativePacketReceiver::EnvCleanup, this);
      hookAdded_ = false;
    }
  }

 private:
  static void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  // Adds the kernel's counters (PACKET_STATISTICS reads and resets them).
  int ReadKernelStats() {
    if (fd_ < 0) return 0;
    tpacket_stats st = {};
    socklen_t len = sizeof(st);
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return errno;
    packets_ += st.tp_packets;  // includes the drops
    drops_ += st.tp_drops;
    return 0;
  }

  // Stops polling and closes the socket; safe without a JS scope (env
  // teardown, destructor). Idempotent.
  void StopNative() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), &NativePacketReceiver::FreeHandle);
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ReadKernelStats();  // keep the final counts for stats() after close
      close(fd_);
      fd_ = -1;
    }
    closed_ = true;
  }

  static void EnvCleanup(void* arg) {
    auto* self = static_cast<NativePacketReceiver*>(arg);
    self->hookAdded_ = false;
    self->StopNative();
  }

  void CloseInternal() {
    if (closed_ && !selfRef_) return;
    StopNative();
    callback_.Reset();
    asyncCtx_.reset();
    if (hookAdded_) {
      napi_remove_env_cleanup_hook(env_, &NativePacketReceiver::EnvCleanup, this);
      hookAdded_ = false;
    }
    if (selfRef_) {
      selfRef_ = false;
      Unref();
    }
  }

  // Called by libuv (C frames): no C++ exception may escape.
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NativePacketReceiver*>(handle->data);
    if (self == nullptr || self->closed_) return;
    try {
      self->Drain(status);
    } catch (...) {
      // Only reachable when JS cannot run any more (environment teardown).
      self->StopNative();
    }
  }

  void PrepareSlots(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
      iovs_[i].iov_base = data_.data() + static_cast<size_t>(i) * kSnap;
      iovs_[i].iov_len = kSnap;
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_name = &addrs_[i];
      h.msg_namelen = sizeof(sockaddr_ll);
      h.msg_iov = &iovs_[i];
      h.msg_iovlen = 1;
      h.msg_control = ctrl_.data() + static_cast<size_t>(i) * kCtrlLen;
      h.msg_controllen = kCtrlLen;
      h.msg_flags = 0;
      msgs_[i].msg_len = 0;
    }
  }

  // The outer VLAN tag the kernel took off the frame, if any (as libpcap).
  static bool AuxVlan(msghdr* h, uint16_t* tpid, uint16_t* tci) {
    for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
          c->cmsg_len < CMSG_LEN(sizeof(tpacket_auxdata)))
        continue;
      tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof(aux));
      if (aux.tp_vlan_tci == 0 && !(aux.tp_status & TP_STATUS_VLAN_VALID)) return false;
      *tci = aux.tp_vlan_tci;
      *tpid = (aux.tp_vlan_tpid != 0 || (aux.tp_status & TP_STATUS_VLAN_TPID_VALID)) ? aux.tp_vlan_tpid
                                                                                     : static_cast<uint16_t>(ETH_P_8021Q);
      return true;
    }
    return false;
  }

  // Reads up to maxPerWakeup_ frames and delivers them (and an error, if
  // any) in one callback. Returns the number of frames delivered.
  uint32_t Drain(int status) {
    if (fd_ < 0) return 0;
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    // JS may drop its last reference (and close) inside the callback.
    [[maybe_unused]] Napi::Object keepAlive = Value();
    Napi::Array arr = Napi::Array::New(env);
    uint32_t out = 0;
    int err = 0;
    bool fatal = false;
    std::string op;

    if (status < 0) {
      // libuv stops the watcher on POLLERR and says UV_EBADF: a pending
      // socket error (ENETDOWN) is not the end of the socket.
      int soerr = 0;
      socklen_t sl = sizeof(soerr);
      if (status == UV_EBADF && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
        int r = uv_poll_start(poll_, UV_READABLE, &NativePacketReceiver::OnPoll);
        if (r != 0) {
          err = -r;
          fatal = true;
          op = "uv_poll_start";
        } else if (soerr != 0) {
          err = soerr;
          fatal = soerr != ENETDOWN;
          op = "AF_PACKET socket (ifindex " + std::to_string(ifindex_) + ")";
        }
      } else {
        err = -status;
        fatal = true;
        op = "uv_poll (AF_PACKET, ifindex " + std::to_string(ifindex_) + ")";
      }
    }

    uint32_t nread = 0;
    while (!fatal && nread < maxPerWakeup_) {
      uint32_t want = std::min(slots_, maxPerWakeup_ - nread);
      PrepareSlots(want);
      int n = recvmmsg(fd_, msgs_.data(), want, MSG_DONTWAIT | MSG_TRUNC, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          err = errno;
          fatal = err != ENETDOWN;
          op = "recvmmsg(AF_PACKET, ifindex " + std::to_string(ifindex_) + ")";
        }
        break;
      }
      nread += static_cast<uint32_t>(n);
      for (int i = 0; i < n; i++) {
        msghdr* h = &msgs_[i].msg_hdr;
        if (addrs_[i].sll_pkttype == PACKET_OUTGOING) continue;
        size_t len = msgs_[i].msg_len;  // the whole frame's length (MSG_TRUNC)
        if (len > kSnap || (h->msg_flags & MSG_TRUNC)) {
          truncated_++;
          continue;
        }
        const uint8_t* src = data_.data() + static_cast<size_t>(i) * kSnap;
        uint16_t tpid = 0, tci = 0;
        bool vlan = len >= 12 && AuxVlan(h, &tpid, &tci);
        Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(env, len + (vlan ? 4 : 0));
        uint8_t* dst = b.Data();
        if (vlan) {
          memcpy(dst, src, 12);
          dst[12] = static_cast<uint8_t>(tpid >> 8);
          dst[13] = static_cast<uint8_t>(tpid);
          dst[14] = static_cast<uint8_t>(tci >> 8);
          dst[15] = static_cast<uint8_t>(tci);
          memcpy(dst + 16, src + 12, len - 12);
        } else {
          memcpy(dst, src, len);
        }
        arr.Set(out++, b);
      }
      if (static_cast<uint32_t>(n) < want) break;  // the queue is empty
    }
    delivered_ += out;
    if (out == 0 && err == 0) return 0;

    Napi::Value errArg = env.Undefined();
    if (err != 0) {
      try {
        ThrowBpfError(env, op, err, fatal ? "the receiver is closed" : "the port is down");
      } catch (const Napi::Error& e) {
        errArg = e.Value();
      }
    }
    Napi::Function cb = callback_.Value();  // JS may call close() from inside it
    napi_value argv[3] = {arr, errArg, Napi::Boolean::New(env, fatal)};
    napi_value result;
    napi_status st = napi_make_callback(env, static_cast<napi_async_context>(*asyncCtx_), env.Global(), cb, 3, argv, &result);
    if (st == napi_pending_exception) {
      // lib/ catches user exceptions itself; a last resort so that a throwing
      // callback behaves like any other uncaught exception.
      napi_value exc = nullptr;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr) {
        napi_valuetype t = napi_undefined;
        napi_typeof(env, exc, &t);
        if (t != napi_undefined) napi_fatal_exception(env, exc);
      }
    } else if (st != napi_ok) {
      StopNative();  // JS cannot run any more (environment shutting down)
      return out;
    }
    if (fatal && !closed_) CloseInternal();
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseInternal();
    return info.Env().Undefined();
  }

  // { packets, drops, delivered, truncated }: packets/drops are the kernel's
  // PACKET_STATISTICS summed since open (packets counts every frame that
  // reached the socket, dropped ones included, like libpcap's ps_recv).
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int err = ReadKernelStats();
    if (err != 0) ThrowBpfError(env, "getsockopt(PACKET_STATISTICS)", err);
    Napi::Object o = Napi::Object::New(env);
    o.Set("packets", Napi::Number::New(env, static_cast<double>(packets_)));
    o.Set("drops", Napi::Number::New(env, static_cast<double>(drops_)));
    o.Set("delivered", Napi::Number::New(env, static_cast<double>(delivered_)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_)));
    return o;
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

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value Ifindex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ifindex_); }
  Napi::Value Rcvbuf(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rcvbuf_); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

  napi_env env_ = nullptr;
  int fd_ = -1;
  int ifindex_ = 0;
  int rcvbuf_ = 0;
  uint32_t maxPerWakeup_ = kDefaultMaxPerWakeup;
  uint32_t slots_ = 0;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> data_;
  std::vector<uint8_t> ctrl_;
  std::vector<sockaddr_ll> addrs_;
  std::vector<iovec> iovs_;
  std::vector<mmsghdr> msgs_;
  uint64_t packets_ = 0, drops_ = 0, delivered_ = 0, truncated_ = 0;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> asyncCtx_;
  bool closed_ = false;
  bool selfRef_ = false;
  bool hookAdded_ = false;
};

void InitPacketReceiver(Napi::Env env, Napi::Object exports, AddonData*) {
  exports.Set("NativePacketReceiver", NativePacketReceiver::Define(env));
}

}  // namespace lbt

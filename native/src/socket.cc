// TCP sockets with the options node:net cannot set: TCP-MD5 signatures
// (RFC 2385, TCP_MD5SIG, one key per peer address) and GTSM (RFC 5082:
// IP_TTL / IPV6_UNICAST_HOPS to send with, IP_MINTTL / IPV6_MINHOPCOUNT to
// accept with). The socket is created and configured here and its fd handed
// to Node, which owns it from then on:
//
//   tcpSocket(4|6, opts)          -> fd of an unconnected socket; JS wraps it
//                                    in net.Socket({ fd }) and calls connect()
//                                    (libuv connects the fd it was given)
//   tcpListen(host, port, opts)   -> fd of a bound, listening socket for
//                                    net.Server.listen({ fd }); accepted
//                                    connections inherit keys, TTL and min TTL
//   tcpSetMd5 / ipSetTtl / ipSetMinTtl (fd, ...)  change an fd later
//   tcpSavedSynTtl(fd)            -> TTL / hop limit of the SYN that opened an
//                                    accepted connection (TCP_SAVE_SYN on the
//                                    listener), -1 if none was saved
//   closeFd(fd)                   -> for an fd never handed to Node
//   packetSocket()                -> fd of an AF_PACKET raw socket bound to no
//                                    port, for packetSend
//   packetSend(fd, ifindex, frame) send one whole Ethernet frame out of a port
//                                    (control frames the switch originates,
//                                    e.g. IGMP queries)
//
// On a dual-stack (AF_INET6) socket an IPv4 peer is keyed by its v4-mapped
// address, and both the IPv4 and IPv6 TTL options are set (IPv4 peers reach it
// as v4-mapped connections, which use the IPv4 ones).
#include "common.h"

#include <arpa/inet.h>
#include <cstring>
#include <fcntl.h>
#include <linux/if_packet.h>  // struct sockaddr_ll
#include <linux/tcp.h>  // struct tcp_md5sig, TCP_SAVE_SYN, TCP_SAVED_SYN
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif
#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73
#endif

namespace lbt {

namespace {

struct Addr {
  int family = 0;  // AF_INET / AF_INET6
  in_addr v4{};
  in6_addr v6{};
};

bool ParseAddr(const std::string& s, Addr* out) {
  if (inet_pton(AF_INET, s.c_str(), &out->v4) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), &out->v6) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

// The socket family an address needs; a v4-mapped IPv6 address counts as IPv4
// for keys on an AF_INET socket.
socklen_t FillSockaddr(const Addr& a, int sockFamily, uint16_t port, sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  if (sockFamily == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = a.v4;
    return sizeof(*sin);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  if (a.family == AF_INET6) {
    sin6->sin6_addr = a.v6;
  } else {  // ::ffff:a.b.c.d
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &a.v4, 4);
  }
  return sizeof(*sin6);
}

int SocketFamily(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -1;
  return ss.ss_family;
}

// Throws after closing fd when `owned` (a socket that never reached JS).
[[noreturn]] void Fail(Napi::Env env, int fd, bool owned, const std::string& op, int err,
                       const std::string& detail = std::string()) {
  if (owned && fd >= 0) close(fd);
  ThrowBpfError(env, op, err, detail);
}

void SetMd5(Napi::Env env, int fd, bool owned, int family, const std::string& address, const Bytes& key) {
  Addr a;
  if (!ParseAddr(address, &a)) {
    if (owned) close(fd);
    ThrowTypeError(env, "md5 address '" + address + "' is not an IP address");
  }
  if (family == AF_INET && a.family == AF_INET6) {
    Fail(env, fd, owned, "setsockopt(TCP_MD5SIG, " + address + ")", EAFNOSUPPORT,
         "an IPv6 peer needs an IPv6 socket");
  }
  if (key.size > TCP_MD5SIG_MAXKEYLEN) {
    if (owned) close(fd);
    ThrowTypeError(env, "md5 key for " + address + " is longer than " + std::to_string(TCP_MD5SIG_MAXKEYLEN) + " bytes");
  }
  tcp_md5sig sig;
  memset(&sig, 0, sizeof(sig));
  sockaddr_storage ss;
  FillSockaddr(a, family, 0, &ss);
  memcpy(&sig.tcpm_addr, &ss, sizeof(ss));
  sig.tcpm_keylen = static_cast<uint16_t>(key.size);  // 0 deletes the key
  if (key.size > 0) memcpy(sig.tcpm_key, key.data, key.size);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof(sig)) < 0) {
    int err = errno;
    // Deleting a key that is not there is not an error for us.
    if (key.size == 0 && err == ENOENT) return;
    Fail(env, fd, owned, "setsockopt(TCP_MD5SIG, " + address + ")", err,
         err == ENOPROTOOPT ? "the kernel has no CONFIG_TCP_MD5SIG" : "");
  }
}

void SetIntOpt(Napi::Env env, int fd, bool owned, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
    Fail(env, fd, owned, std::string("setsockopt(") + what + ", " + std::to_string(value) + ")", errno);
}

void SetTtl(Napi::Env env, int fd, bool owned, int family, int ttl) {
  SetIntOpt(env, fd, owned, IPPROTO_IP, IP_TTL, ttl, "IP_TTL");
  if (family == AF_INET6) SetIntOpt(env, fd, owned, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS");
}

void SetMinTtl(Napi::Env env, int fd, bool owned, int family, int minTtl) {
  SetIntOpt(env, fd, owned, IPPROTO_IP, IP_MINTTL, minTtl, "IP_MINTTL");
  if (family == AF_INET6) SetIntOpt(env, fd, owned, IPPROTO_IPV6, IPV6_MINHOPCOUNT, minTtl, "IPV6_MINHOPCOUNT");
}

int GetTtlValue(Napi::Env env, const Napi::Value& v, const std::string& what, int lo) {
  uint32_t n = GetU32(env, v, what);
  if (n < static_cast<uint32_t>(lo) || n > 255) ThrowTypeError(env, what + " must be in " + std::to_string(lo) + "..255");
  return static_cast<int>(n);
}

// opts: { md5?: { address: string, key: Uint8Array }[], ttl?: 1..255, minTtl?: 0..255, saveSyn?: boolean }
void ApplyOptions(Napi::Env env, int fd, int family, const Napi::Value& optsV) {
  if (optsV.IsUndefined() || optsV.IsNull()) return;
  if (!optsV.IsObject()) {
    close(fd);
    ThrowTypeError(env, "options must be an object");
  }
  Napi::Object opts = optsV.As<Napi::Object>();
  // Argument errors must not leak the fd either.
  try {
    Napi::Value md5 = opts.Get("md5");
    if (!md5.IsUndefined()) {
      if (!md5.IsArray()) ThrowTypeError(env, "md5 must be an array of { address, key }");
      Napi::Array arr = md5.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value e = arr.Get(i);
        if (!e.IsObject()) ThrowTypeError(env, "md5 entries must be { address, key }");
        Napi::Object o = e.As<Napi::Object>();
        std::string address = GetString(env, o.Get("address"), "md5 address");
        Bytes key = GetBytes(env, o.Get("key"), "md5 key");
        if (key.size == 0) ThrowTypeError(env, "md5 key for " + address + " is empty");
        SetMd5(env, fd, false, family, address, key);
      }
    }
    Napi::Value ttl = opts.Get("ttl");
    if (!ttl.IsUndefined()) SetTtl(env, fd, false, family, GetTtlValue(env, ttl, "ttl", 1));
    Napi::Value minTtl = opts.Get("minTtl");
    if (!minTtl.IsUndefined()) SetMinTtl(env, fd, false, family, GetTtlValue(env, minTtl, "minTtl", 0));
    Napi::Value saveSyn = opts.Get("saveSyn");
    if (saveSyn.ToBoolean().Value()) SetIntOpt(env, fd, false, IPPROTO_TCP, TCP_SAVE_SYN, 1, "TCP_SAVE_SYN");
  } catch (...) {
    close(fd);
    throw;
  }
}

int GetFamily(Napi::Env env, const Napi::Value& v) {
  uint32_t f = GetU32(env, v, "family");
  if (f == 4) return AF_INET;
  if (f == 6) return AF_INET6;
  ThrowTypeError(env, "family must be 4 or 6");
}

int GetFd(Napi::Env env, const Napi::Value& v) {
  uint32_t fd = GetU32(env, v, "fd");
  if (fd > INT32_MAX) ThrowTypeError(env, "fd out of range");
  return static_cast<int>(fd);
}

int FamilyOf(Napi::Env env, int fd, const char* op) {
  int f = SocketFamily(fd);
  if (f != AF_INET && f != AF_INET6) ThrowBpfError(env, op, f < 0 ? errno : EAFNOSUPPORT, "not an IPv4/IPv6 socket");
  return f;
}

// ------------------------------------------------------------------ exports

Napi::Value TcpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = GetFamily(env, info[0]);
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowBpfError(env, "socket()", errno);
  ApplyOptions(env, fd, family, info[1]);
  return Napi::Number::New(env, fd);
}

Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = GetString(env, info[0], "host");
  uint32_t port = GetU32(env, info[1], "port");
  if (port > 65535) ThrowTypeError(env, "port must be in 0..65535");
  Addr a;
  if (!ParseAddr(host, &a)) ThrowTypeError(env, "host '" + host + "' is not an IP address");
  uint32_t backlog = 511;
  if (info[2].IsObject()) {
    Napi::Value b = info[2].As<Napi::Object>().Get("backlog");
    if (!b.IsUndefined()) backlog = GetU32(env, b, "backlog");
  }
  int family = a.family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowBpfError(env, "socket()", errno);
  std::string where = (family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  // What libuv does for a TCP server: SO_REUSEADDR; "::" is dual-stack.
  SetIntOpt(env, fd, true, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (family == AF_INET6) SetIntOpt(env, fd, true, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
  ApplyOptions(env, fd, family, info[2]);
  sockaddr_storage ss;
  socklen_t len = FillSockaddr(a, family, static_cast<uint16_t>(port), &ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) Fail(env, fd, true, "bind " + where, errno);
  if (listen(fd, static_cast<int>(backlog)) < 0) Fail(env, fd, true, "listen " + where, errno);
  return Napi::Number::New(env, fd);
}

// tcpSetMd5(fd, address, key | null): add/replace, or delete with null.
Napi::Value TcpSetMd5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  std::string address = GetString(env, info[1], "address");
  Bytes key;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    key = GetBytes(env, info[2], "key");
    if (key.size == 0) ThrowTypeError(env, "md5 key for " + address + " is empty (pass null to delete)");
  }
  SetMd5(env, fd, false, FamilyOf(env, fd, "setsockopt(TCP_MD5SIG)"), address, key);
  return env.Undefined();
}

Napi::Value IpSetTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  int ttl = GetTtlValue(env, info[1], "ttl", 1);
  SetTtl(env, fd, false, FamilyOf(env, fd, "setsockopt(IP_TTL)"), ttl);
  return env.Undefined();
}

Napi::Value IpSetMinTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  int minTtl = GetTtlValue(env, info[1], "minTtl", 0);
  SetMinTtl(env, fd, false, FamilyOf(env, fd, "setsockopt(IP_MINTTL)"), minTtl);
  return env.Undefined();
}

// The saved SYN's network header (TCP_SAVE_SYN = 1: no MAC header): IPv4 TTL
// at offset 8, IPv6 hop limit at offset 7. The kernel frees it once read.
Napi::Value TcpSavedSynTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  uint8_t buf[512];
  socklen_t len = sizeof(buf);
  if (getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, buf, &len) < 0) {
    if (errno == ENOENT) return Napi::Number::New(env, -1);
    ThrowBpfError(env, "getsockopt(TCP_SAVED_SYN)", errno);
  }
  if (len >= 20 && (buf[0] >> 4) == 4) return Napi::Number::New(env, buf[8]);
  if (len >= 40 && (buf[0] >> 4) == 6) return Napi::Number::New(env, buf[7]);
  return Napi::Number::New(env, -1);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  if (close(fd) < 0 && errno != EINTR) ThrowBpfError(env, "close(" + std::to_string(fd) + ")", errno);
  return env.Undefined();
}

// Protocol 0: the socket receives nothing, it only sends.
Napi::Value PacketSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowBpfError(env, "socket(AF_PACKET)", errno);
  return Napi::Number::New(env, fd);
}

Napi::Value PacketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = GetFd(env, info[0]);
  uint32_t ifindex = GetU32(env, info[1], "ifindex");
  Bytes frame = GetBytes(env, info[2], "frame");
  if (frame.size < 14) ThrowTypeError(env, "frame shorter than an Ethernet header");
  sockaddr_ll to = {};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(ifindex);
  to.sll_halen = 6;
  memcpy(to.sll_addr, frame.data, 6);
  ssize_t n = sendto(fd, frame.data, frame.size, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  if (n < 0) ThrowBpfError(env, "sendto(AF_PACKET, ifindex " + std::to_string(ifindex) + ")", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace

// packet_rx.cc: PacketReceiver (AF_PACKET receive on one port).
void InitPacketReceiver(Napi::Env env, Napi::Object exports, AddonData* data);

void InitSocket(Napi::Env env, Napi::Object exports, AddonData* data) {
  exports.Set("tcpSocket", Napi::Function::New(env, TcpSocket, "tcpSocket"));
  exports.Set("tcpListen", Napi::Function::New(env, TcpListen, "tcpListen"));
  exports.Set("tcpSetMd5", Napi::Function::New(env, TcpSetMd5, "tcpSetMd5"));
  exports.Set("ipSetTtl", Napi::Function::New(env, IpSetTtl, "ipSetTtl"));
  exports.Set("ipSetMinTtl", Napi::Function::New(env, IpSetMinTtl, "ipSetMinTtl"));
  exports.Set("tcpSavedSynTtl", Napi::Function::New(env, TcpSavedSynTtl, "tcpSavedSynTtl"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("packetSocket", Napi::Function::New(env, PacketSocket, "packetSocket"));
  exports.Set("packetSend", Napi::Function::New(env, PacketSend, "packetSend"));
  InitPacketReceiver(env, exports, data);
}

}  // namespace lbt

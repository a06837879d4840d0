// TCP sockets with the options node:net has no setter for: TCP-MD5 signatures
// (RFC 2385) and GTSM (RFC 5082: the TTL we send with, the lowest TTL we
// accept). The addon creates and configures the socket; Node owns its fd from
// then on:
//
//   const s = tcpSocket(4, { md5: [{ address: peer, password }], ttl: 255, minTtl: 254 });
//   s.connect({ host: peer, port: 179 });          // libuv connects the fd it was given
//
//   const fd = tcpListenerFd("0.0.0.0", 179, { md5: [...], ttl: 255, minTtl: 254 });
//   net.createServer(onConnection).listen({ fd }); // accepted sockets inherit keys, TTL, min TTL
import { Socket, type Server } from "node:net";
import { addon } from "./native.ts";

export interface Md5Key {
  /** The peer's IPv4 or IPv6 address (on an IPv6 socket an IPv4 peer is keyed by its v4-mapped address). */
  address: string;
  /** The shared secret, 1..80 bytes (a string is taken as UTF-8). */
  password: string | Uint8Array;
}

export interface TcpSecurityOptions {
  /** TCP_MD5SIG: segments to and from each address are signed with its key (RFC 2385). */
  md5?: Md5Key[];
  /** IP_TTL (+ IPV6_UNICAST_HOPS on IPv6 sockets): the TTL of what we send, 1..255. */
  ttl?: number;
  /** IP_MINTTL (+ IPV6_MINHOPCOUNT): segments that arrive with a lower TTL are dropped, 0..255 (0 = off). */
  minTtl?: number;
}

export interface TcpListenerOptions extends TcpSecurityOptions {
  /** TCP_SAVE_SYN: keep each accepted connection's SYN for savedSynTtl(). */
  saveSyn?: boolean;
  /** listen() backlog, default 511 (libuv's). */
  backlog?: number;
}

const api = addon;

function keyBytes(p: string | Uint8Array): Uint8Array {
  return typeof p === "string" ? Buffer.from(p, "utf8") : p;
}

function nativeOpts(o: TcpListenerOptions): object {
  return {
    ...(o.md5 ? { md5: o.md5.map((k) => ({ address: k.address, key: keyBytes(k.password) })) } : {}),
    ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
    ...(o.minTtl !== undefined ? { minTtl: o.minTtl } : {}),
    ...(o.saveSyn ? { saveSyn: true } : {}),
    ...(o.backlog !== undefined ? { backlog: o.backlog } : {}),
  };
}

/** A new unconnected, non-blocking TCP socket with these options; the caller owns the fd. */
export function tcpSocketFd(family: 4 | 6, opts: TcpSecurityOptions = {}): number {
  return api.tcpSocket(family, nativeOpts(opts));
}

/**
 * An unconnected net.Socket over a socket with these options: call connect()
 * on it (the options are in place before the SYN). The fd belongs to the
 * returned Socket (destroy() closes it).
 */
export function tcpSocket(family: 4 | 6, opts: TcpSecurityOptions = {}): Socket {
  const fd = tcpSocketFd(family, opts);
  try {
    return new Socket({ fd, readable: true, writable: true });
  } catch (e) {
    api.closeFd(fd);
    throw e;
  }
}

/**
 * A bound, listening TCP socket (SO_REUSEADDR; "::" is dual-stack) with
 * these options, for `server.listen({ fd })`. Throws BpfError (code
 * EADDRINUSE, ...) when bind or listen fails.
 */
export function tcpListenerFd(host: string, port: number, opts: TcpListenerOptions = {}): number {
  return api.tcpListen(host, port, nativeOpts(opts));
}

/** Adds or replaces (password) or removes (null) the TCP-MD5 key for `address` on a socket or listener. */
export function setTcpMd5Key(fd: number, address: string, password: string | Uint8Array | null): void {
  api.tcpSetMd5(fd, address, password === null ? null : keyBytes(password));
}

/** IP_TTL (+ IPV6_UNICAST_HOPS) of an existing socket. */
export function setIpTtl(fd: number, ttl: number): void {
  api.ipSetTtl(fd, ttl);
}

/** IP_MINTTL (+ IPV6_MINHOPCOUNT) of an existing socket (0 = off). */
export function setIpMinTtl(fd: number, minTtl: number): void {
  api.ipSetMinTtl(fd, minTtl);
}

/**
 * The TTL (IPv4) or hop limit (IPv6) the SYN of an accepted connection
 * arrived with, when its listener had `saveSyn`; undefined otherwise. The
 * kernel hands the saved SYN out once.
 */
export function savedSynTtl(fd: number): number | undefined {
  const t = api.tcpSavedSynTtl(fd);
  return t < 0 ? undefined : t;
}

/** Closes an fd that was never handed to Node. */
export function closeFd(fd: number): void {
  api.closeFd(fd);
}

/** The OS fd under a net.Socket or net.Server (undefined if it has none, e.g. not yet connected/listening). */
export function socketFd(s: Socket | Server): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * A raw AF_PACKET sender for control frames the switch originates (IGMP
 * queries): whole Ethernet frames out of one port, bypassing the stack (and
 * the port's own ingress programs). It receives nothing.
 */
export class PacketSender {
  #fd: number | undefined = api.packetSocket();

  send(ifindex: number, frame: Uint8Array): void {
    if (this.#fd === undefined) throw new Error("PacketSender is closed");
    api.packetSend(this.#fd, ifindex, frame);
  }

  close(): void {
    if (this.#fd !== undefined) api.closeFd(this.#fd);
    this.#fd = undefined;
  }
}

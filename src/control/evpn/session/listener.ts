// The passive side: one TCP listener (bgp.listen, default 0.0.0.0:179) that
// hands each accepted connection to the session configured for the remote
// address. Connections from unknown addresses are closed at once (nothing is
// sent: an unconfigured peer learns nothing about us).
//
// TCP-MD5 and GTSM (listen()'s `peers`): when a neighbor has a password or
// ttl_security, the listening socket comes from the native addon (tcp.ts):
//  - TCP_MD5SIG with the key of every neighbor that has a password (keys are
//    per peer address on the listening socket; an accepted connection
//    inherits its peer's key). The kernel drops that peer's unsigned or
//    wrongly signed SYNs.
//  - IP_TTL 255 (our SYN-ACK must reach a GTSM peer with 255 - hops) and
//    TCP_SAVE_SYN. IP_MINTTL is one value per socket, so the listener gets
//    the loosest minimum of the neighbors only when every neighbor has GTSM
//    (else it would shut out those without). Each accepted connection of a
//    GTSM neighbor is checked against that neighbor's own minimum with the
//    TTL its SYN arrived with (refused, nothing sent, reason in the session's
//    lastError) and then gets IP_MINTTL itself, so no later segment below it
//    is accepted either.
// Fail closed: a connection from a neighbor whose key or TTL check is not in
// force on the listener (the addon failed to load) is refused.

import { createServer, isIPv6, type Server, type Socket } from "node:net";
import type { Logger } from "../../log.ts";
import type { BgpSession } from "./session.ts";
import { GTSM_TTL, gtsmMinTtl, loadNativeSockets, needsNativeSocket } from "./tcp.ts";

/** "::ffff:10.0.0.1" -> "10.0.0.1"; IPv6 lower-cased. */
export function normalizeAddress(a: string | undefined): string {
  if (!a) return "";
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a.toLowerCase();
}

/** A neighbor's transport security, as the listener needs it. */
export interface ListenPeer {
  address: string;
  md5Password?: string;
  /** GTSM hops. */
  ttlSecurity?: number;
}

type Native = Awaited<ReturnType<typeof loadNativeSockets>>;

export class BgpListener {
  private server?: Server;
  private native?: Native;
  /** Addresses (normalized) whose TCP-MD5 key is on the listening socket. */
  private readonly keyed = new Set<string>();
  /** Whether accepted connections can be checked for GTSM (TCP_SAVE_SYN on the listener). */
  private gtsm = false;

  constructor(
    private readonly lookup: (remote: string) => BgpSession | undefined,
    private readonly log: Logger,
  ) {}

  /** Resolves with the bound port once listening. */
  async listen(host: string, port: number, peers: readonly ListenPeer[] = []): Promise<number> {
    const srv = createServer({ noDelay: true }, (sock) => this.onConnection(sock));
    let fd: number | undefined;
    const secured = peers.filter(needsNativeSocket);
    if (secured.length) {
      try {
        this.native = await loadNativeSockets();
      } catch (e) {
        this.log.error("TCP-MD5 / GTSM unavailable: connections from these neighbors will be refused", {
          error: (e as Error).message,
          neighbors: secured.map((p) => p.address),
        });
      }
    }
    if (this.native) {
      // IPv6 neighbors cannot reach an IPv4 listener: no key for them there.
      const v6 = isIPv6(host);
      const md5 = peers.filter((p) => p.md5Password !== undefined && (v6 || !isIPv6(p.address)));
      const hops = peers.map((p) => p.ttlSecurity);
      const anyGtsm = hops.some((h) => h !== undefined);
      const allGtsm = hops.length > 0 && hops.every((h) => h !== undefined);
      fd = this.native.tcpListenerFd(host, port, {
        md5: md5.map((p) => ({ address: p.address, password: p.md5Password! })),
        ...(anyGtsm ? { ttl: GTSM_TTL, saveSyn: true } : {}),
        ...(allGtsm ? { minTtl: Math.min(...hops.map((h) => gtsmMinTtl(h!))) } : {}),
      });
      for (const p of md5) this.keyed.add(normalizeAddress(p.address));
      this.gtsm = anyGtsm;
    }
    return new Promise((ok, fail) => {
      srv.once("error", fail);
      const listening = () => {
        srv.off("error", fail);
        srv.on("error", (e) => this.log.error("listener error", { error: e.message }));
        this.server = srv;
        const addr = srv.address();
        ok(typeof addr === "object" && addr ? addr.port : port);
      };
      if (fd !== undefined) srv.listen({ fd }, listening);
      else srv.listen({ host, port, exclusive: true }, listening);
    });
  }

  private onConnection(sock: Socket): void {
    const remote = normalizeAddress(sock.remoteAddress);
    const s = this.lookup(remote);
    if (!s) {
      this.log.info("connection from an unconfigured address refused", { from: remote });
      sock.destroy();
      return;
    }
    sock.on("error", () => {}); // the session attaches its own handlers
    const why = this.secure(sock, remote, s);
    if (why) {
      s.refusedIncoming(why);
      sock.destroy();
      return;
    }
    s.acceptIncoming(sock);
  }

  /** Checks / sets TCP-MD5 and GTSM on an accepted connection; the reason to refuse it, if any. */
  private secure(sock: Socket, remote: string, s: BgpSession): string | undefined {
    const { md5Password, ttlSecurity } = s.cfg;
    if (md5Password !== undefined && !this.keyed.has(remote)) return `TCP-MD5: connection from ${remote} refused: the listener has no key for it (see the listener error)`;
    if (!this.gtsm && ttlSecurity === undefined) return undefined;
    const n = this.native;
    const fd = n?.socketFd(sock);
    if (!n || fd === undefined) return ttlSecurity !== undefined ? `GTSM: connection from ${remote} refused: its TTL cannot be checked` : undefined;
    try {
      const synTtl = n.savedSynTtl(fd); // also frees the saved SYN
      if (ttlSecurity === undefined) return undefined;
      const min = gtsmMinTtl(ttlSecurity);
      if (synTtl === undefined || synTtl < min) {
        return `GTSM: connection from ${remote} refused: its SYN arrived with TTL ${synTtl ?? "unknown"}, ttl_security ${ttlSecurity} needs >= ${min}`;
      }
      n.setIpMinTtl(fd, min);
      return undefined;
    } catch (e) {
      return `GTSM: connection from ${remote} refused: ${(e as Error).message}`;
    }
  }

  close(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    if (!srv) return Promise.resolve();
    return new Promise((ok) => srv.close(() => ok()));
  }
}

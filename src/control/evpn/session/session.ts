// One BGP-4 peer: the RFC 4271 §8 finite state machine over node:net TCP.
//
// States (RFC 4271 §8.2.2): Idle, Connect, Active, OpenSent, OpenConfirm,
// Established. A session owns up to two TCP connections at a time (the one
// it opened and one the peer opened, RFC 4271 §6.8); each connection runs
// its own OpenSent/OpenConfirm progress and the session's state is the most
// advanced of them (Connect while an outgoing connect is pending, Active
// while waiting for the retry timer or an incoming connection).
//
//   Idle --start--> Connect (or Active when passive)
//   Connect --TCP up, OPEN sent--> OpenSent     Connect --TCP fails--> Active (retry timer)
//   Active --retry timer--> Connect             Active --incoming TCP, OPEN sent--> OpenSent
//   OpenSent --valid OPEN, KEEPALIVE sent--> OpenConfirm
//   OpenConfirm --KEEPALIVE--> Established
//   any --error--> NOTIFICATION, close, Active (+ backoff) ; stop() --> Cease/Administrative Shutdown, Idle
//
// Timers: ConnectRetry = exponential backoff (base * 2^failures, capped,
// 25% jitter; reset when the session reaches Established). Hold timer: 240 s
// (RFC 4271 §8: "large value") while in OpenSent, then the negotiated
// min(ours, theirs); KEEPALIVE every hold/3; hold 0 disables both.
//
// Errors -> NOTIFICATION codes:
//   framing/header errors: 1/x from the codec (readFrame)
//   OPEN errors: 2/x (decodeOpenBody + validateOpen: peer AS, BGP ID,
//     hold time, missing MP L2VPN EVPN / 4-octet AS capability -> 2/7)
//   UPDATE errors: RFC 7606 via decodeUpdateBody: treat-as-withdraw and
//     attribute-discard keep the session; only session-reset sends 3/x
//   hold timer expiry: 4/0
//   unexpected message: 5/1 (OpenSent), 5/2 (OpenConfirm), 5/3 (Established)  (RFC 6608)
//   collision: 6/7 on the losing connection; stop(): 6/2 (RFC 9003 text),
//     or 6/9 Hard Reset wrapping it when both sides advertised the Graceful
//     Restart N bit (RFC 8538 §3.1: otherwise the peer would keep our routes)
//   cease(): any Cease (the speaker's max_prefixes: 6/1 with AFI/SAFI and the
//     limit, RFC 4486), then Idle until start() or the restart delay
//
// Collisions (RFC 4271 §6.8) are not errors: the losing connection, whether
// we close it (6/7 sent) or the peer does (6/7 received), sets no lastError,
// counts no flap and logs at info. When the peer resolves a collision against
// a connection we already took to Established while the other one is still
// opening (each side saw the race at a different moment), the session goes
// on over the other connection without a flap.
//
// Graceful restart (RFC 4724 / RFC 8538) is the speaker's business; the
// session only carries it: extra OPEN capabilities (SessionConfig.
// extraCapabilities), End-of-RIB reported to the handler, and DownInfo (both
// OPENs and the NOTIFICATION, if any) with every `down`. stop({ graceful })
// leaves the peer in helper mode: no NOTIFICATION (a plain TCP close) unless
// the N bit was negotiated, then Cease / Administrative Shutdown (not Hard
// Reset). An OPEN on a new connection from a peer whose Established session
// negotiated graceful restart replaces that session (RFC 4724 §4.2: the peer
// restarted and we did not notice yet) instead of losing the collision -- but
// a peer that connected at the same moment as we did sends the same OPEN while
// it is alive on the established connection. So the new connection waits
// (restartProbeMs, 2 s) after a KEEPALIVE on the established one: anything
// the peer sends there (a vxgate peer in the same position sends the same
// probe) makes it a collision (6/7 on the new connection); the established
// connection closing (a restarted host answers with a RST), or silence, makes
// it a restart.
//
// TCP-MD5 (RFC 2385) and GTSM (RFC 5082): SessionConfig.md5Password /
// ttlSecurity. node:net cannot set TCP_MD5SIG / IP_TTL / IP_MINTTL, so the
// outgoing socket comes from the native addon (tcp.ts) with the options set
// before connect() (the listener's side: listener.ts). The kernel drops
// unsigned, wrongly signed or low-TTL segments silently; a connect timeout's
// lastError quotes the namespace's TcpExt drop counters (tcp.ts dropHint).

import { UpdateFastPath, type FastUpdate } from "../bgp/fast-update.ts";
import { connect, isIPv6, type Socket } from "node:net";
import { type DropCounters, dropHint, GTSM_TTL, gtsmMinTtl, loadNativeSockets, nativeSockets, needsNativeSocket, tcpDropCounters } from "./tcp.ts";
import {
  AS_TRANS,
  Afi,
  type Capability,
  CeaseSubcode,
  decodeMessage,
  describeNotification,
  encodeMessage,
  encodeShutdownCommunication,
  ErrorCode,
  type EvpnRoute,
  FsmSubcode,
  isEndOfRib,
  type NotificationData,
  type OpenMessage,
  peerAsOf,
  readFrame,
  Safi,
  type UpdateMessage,
  validateOpen,
  decodeShutdownCommunication,
  gracefulRestartOf,
} from "../bgp/index.ts";
import type { Logger } from "../../log.ts";

export type SessionState = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

export interface SessionConfig {
  localAs: number;
  routerId: string;
  peerAddress: string;
  peerAs: number;
  /** The peer's TCP port (179). */
  peerPort: number;
  /** Our proposed hold time (0 or >= 3). */
  holdTime: number;
  /** Only accept connections, never connect. */
  passive: boolean;
  /** Source address for outgoing connections. */
  localAddress?: string;
  /** Reconnect backoff (ms). Defaults: 1000 .. 60000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Outgoing connect timeout (ms), default 10000. */
  connectTimeoutMs?: number;
  /** Capabilities appended to each OPEN (asked again for every OPEN, e.g. Graceful Restart). */
  extraCapabilities?: () => Capability[];
  /** TCP-MD5 (RFC 2385) password shared with the peer. */
  md5Password?: string;
  /** GTSM (RFC 5082): the peer is at most this many hops away (send TTL 255, accept >= 256 - hops). */
  ttlSecurity?: number;
  /** How long an OPEN on a new connection waits for a sign of life on the established one (ms), default 2000. */
  restartProbeMs?: number;
}

/** What ended an Established session. */
export interface DownInfo {
  /** The OPENs exchanged on the connection that went down. */
  peerOpen: OpenMessage;
  localOpen: OpenMessage;
  /** The NOTIFICATION that ended it, sent or received (code 0 = a malformed one received); absent = TCP closed. */
  notification?: { code: number; subcode: number; sent: boolean };
}

export interface SessionHandler {
  established(s: BgpSession): void;
  update(s: BgpSession, u: UpdateMessage): void;
  /**
   * Optional: the common EVPN UPDATE, decoded by the fast path
   * (bgp/fast-update.ts) to what `update` would have been given, without
   * building the message. Without it every UPDATE goes to `update`.
   */
  updateFast?(s: BgpSession, u: FastUpdate): void;
  /** false: updateFast needs only the keys of withdrawn routes (FastUpdate.withdrawn stays empty) */
  fastWithdrawnRoutes?: boolean;
  /** RFC 7606 treat-as-withdraw: these routes of the malformed UPDATE are withdrawn. */
  treatAsWithdraw(s: BgpSession, routes: EvpnRoute[], reason: string): void;
  routeRefresh(s: BgpSession): void;
  /** The Established session went down (its routes are gone, unless graceful restart keeps them). */
  down(s: BgpSession, reason: string, info: DownInfo): void;
  /** An End-of-RIB marker (RFC 4724 §2) for AFI/SAFI. */
  endOfRib?(s: BgpSession, afi: number, safi: number): void;
}

/** Did both OPENs advertise Graceful Restart with the N bit (RFC 8538 §2)? */
export function notificationGrNegotiated(local: OpenMessage, peer: OpenMessage): boolean {
  return !!gracefulRestartOf(local.capabilities)?.notification && !!gracefulRestartOf(peer.capabilities)?.notification;
}

/** Did both OPENs advertise Graceful Restart (RFC 4724 §3)? */
export function grNegotiated(local: OpenMessage, peer: OpenMessage): boolean {
  return !!gracefulRestartOf(local.capabilities) && !!gracefulRestartOf(peer.capabilities);
}

type ConnState = "Connect" | "OpenSent" | "OpenConfirm" | "Established";

const COLLISION: NotificationData = { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: Buffer.alloc(0) };

const OPENSENT_HOLD_S = 240;
const EMPTY = Buffer.alloc(0);

class Conn {
  buf: Buffer = EMPTY;
  state: ConnState;
  peerOpen?: OpenMessage;
  localOpen?: OpenMessage;
  notification?: { code: number; subcode: number; sent: boolean };
  hold = OPENSENT_HOLD_S;
  holdTimer?: NodeJS.Timeout;
  /** The hold time holdTimer was armed with (refresh() re-arms it with the same). */
  holdArmed = -1;
  kaTimer?: NodeJS.Timeout;
  closed = false;
  /** The session's message count when this connection came / when it last received one. */
  attachSeq = 0;
  rxSeq = 0;
  /** The UPDATE fast path of this connection (its attribute cache lives as long as the connection). */
  fast?: UpdateFastPath;
  /** Its OPEN waits for the restart-or-collision probe of the established connection. */
  held?: { timer: NodeJS.Timeout; keepalive: boolean };
  /** TcpExt drop counters when the connect started (for the lastError of a timeout). */
  drops?: DropCounters;
  /** GTSM: notes why the peer's OPEN does not come (its segments below the minimum TTL). */
  openWatch?: NodeJS.Timeout;
  constructor(
    readonly socket: Socket,
    readonly dir: "out" | "in",
  ) {
    this.state = dir === "out" ? "Connect" : "OpenSent";
  }
}

export interface SessionStats {
  state: SessionState;
  establishedAt?: number;
  flaps: number;
  messagesIn: number;
  messagesOut: number;
  updatesIn: number;
  updatesOut: number;
  lastError?: string;
  peerRouterId?: string;
  negotiatedHold?: number;
  /** Why the session is held down by cease() (until start(), or restartAt). */
  idleReason?: string;
  /** When a held-down session starts again by itself (ms since the epoch). */
  restartAt?: number;
}

function idNum(ip: string): number {
  return ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);
}

export class BgpSession {
  private conns: Conn[] = [];
  private running = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private loadingSockets = false;
  /** Messages received on any connection (orders events across connections). */
  private rxCount = 0;
  private est?: Conn;
  readonly stats: SessionStats = { state: "Idle", flaps: 0, messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0 };
  readonly ibgp: boolean;

  constructor(
    readonly cfg: SessionConfig,
    private readonly handler: SessionHandler,
    private readonly log: Logger,
  ) {
    this.ibgp = cfg.localAs === cfg.peerAs;
  }

  get state(): SessionState {
    return this.stats.state;
  }
  get established(): boolean {
    return this.est !== undefined;
  }
  /** The peer's OPEN of the Established connection. */
  get peerOpen(): OpenMessage | undefined {
    return this.est?.peerOpen;
  }
  /** Our OPEN on the Established connection. */
  get localOpen(): OpenMessage | undefined {
    return this.est?.localOpen;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stats.idleReason = undefined;
    this.stats.restartAt = undefined;
    if (this.cfg.passive) this.setState("Active");
    else this.connectOut();
  }

  /**
   * Cease / Administrative Shutdown on every connection; no reconnect. On an
   * Established connection that negotiated the Graceful Restart N bit it is
   * wrapped in Cease / Hard Reset (RFC 8538 §3.1) so the peer drops our
   * routes, unless `graceful`: then the peer is meant to keep them (we come
   * back): Administrative Shutdown with the N bit, a plain TCP close without it
   * (RFC 4724 §4: any NOTIFICATION would end graceful restart). `reset`: an
   * operator's reset (start() follows): Administrative Reset (RFC 4486) instead.
   */
  stop(text = "vxgate shutting down", opts: { graceful?: boolean; reset?: boolean } = {}): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stats.restartAt = undefined;
    if (!this.running) return;
    this.running = false;
    this.clearRetry();
    let comm: Buffer = EMPTY;
    try {
      comm = encodeShutdownCommunication(text);
    } catch {
      /* too long: no text */
    }
    const what = opts.reset ? "administrative reset" : "administrative shutdown";
    const shutdown = { code: ErrorCode.CEASE, subcode: opts.reset ? CeaseSubcode.ADMINISTRATIVE_RESET : CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, data: comm };
    for (const c of [...this.conns]) {
      if (c.state === "Connect") {
        this.closeConn(c, "stopped");
        continue;
      }
      const nBit = c.state === "Established" && !!c.localOpen && !!c.peerOpen && notificationGrNegotiated(c.localOpen, c.peerOpen);
      if (opts.graceful && c.state === "Established" && !nBit) {
        // RFC 4724: the session just ends; the peer keeps our routes as stale.
        this.log.info("closing without NOTIFICATION (graceful restart)");
        c.socket.end();
        const sock = c.socket;
        setTimeout(() => sock.destroy(), 1000).unref();
        this.closeConn(c, "stopped for a graceful restart", false);
      } else if (nBit && !opts.graceful) {
        const data = Buffer.concat([Buffer.from([shutdown.code, shutdown.subcode]), comm]);
        this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.HARD_RESET, data }, `${what} (hard reset)`);
      } else {
        this.fail(c, shutdown, opts.graceful ? "administrative shutdown (graceful restart)" : what);
      }
    }
    this.setState("Idle");
  }

  /**
   * Ends the session with a Cease NOTIFICATION (subcode, data) and holds it
   * down: Idle with `stats.idleReason`, no reconnect, incoming connections
   * closed, until start() (an operator's reset) or, with `restartSeconds`,
   * until that delay has passed. `hardReset`: where both sides sent the
   * Graceful Restart N bit it goes out wrapped in Cease / Hard Reset (RFC
   * 8538 §5 suggests it for Maximum Number of Prefixes Reached), so the peer
   * does not keep our routes either.
   */
  cease(subcode: number, data: Buffer, reason: string, opts: { restartSeconds?: number; hardReset?: boolean; idleReason?: string } = {}): void {
    if (!this.running) return;
    this.running = false;
    this.clearRetry();
    for (const c of [...this.conns]) {
      if (c.state === "Connect") {
        this.closeConn(c, reason);
        continue;
      }
      const nBit = !!opts.hardReset && c.state === "Established" && !!c.localOpen && !!c.peerOpen && notificationGrNegotiated(c.localOpen, c.peerOpen);
      if (nBit) {
        const wrapped = Buffer.concat([Buffer.from([ErrorCode.CEASE, subcode]), data]);
        this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.HARD_RESET, data: wrapped }, `${reason} (hard reset)`);
      } else this.fail(c, { code: ErrorCode.CEASE, subcode, data }, reason);
    }
    this.stats.idleReason = opts.idleReason ?? reason;
    const secs = opts.restartSeconds ?? 0;
    if (secs > 0) {
      this.stats.restartAt = Date.now() + secs * 1000;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.log.info("held-down session starts again", { after: `${secs} s`, reason });
        this.start();
      }, secs * 1000);
    }
    this.setState("Idle");
  }

  /** The listener refused a connection from this peer (GTSM, TCP-MD5): why, for lastError. */
  refusedIncoming(reason: string): void {
    // a peer retrying every second: warn when the reason is new
    this.log[this.stats.lastError === reason ? "debug" : "warn"]("incoming connection refused", { reason });
    this.stats.lastError = reason;
  }

  /** A connection the listener accepted from this peer's address. */
  acceptIncoming(sock: Socket): void {
    if (!this.running) {
      this.log.debug("incoming connection closed: the session is down", { ...(this.stats.idleReason ? { reason: this.stats.idleReason } : {}) });
      sock.destroy();
      return;
    }
    if (this.est && !this.estRestartable()) {
      // RFC 4271 §6.8: a collision with an Established connection closes the new one.
      const c = this.attach(sock, "in");
      this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, "collision with the established connection", false);
      return;
    }
    // (With graceful restart negotiated the new connection goes on to OpenSent:
    // its OPEN decides, in inOpenSent, whether the peer restarted.)
    const old = this.conns.find((c) => c.dir === "in" && c !== this.est);
    if (old) this.closeConn(old, "replaced by a newer incoming connection");
    this.clearRetry();
    const c = this.attach(sock, "in");
    this.log.debug("incoming connection", { from: sock.remoteAddress });
    this.sendOpen(c);
    this.refreshState();
  }

  /** Sends an UPDATE on the Established connection (false when not Established). */
  sendUpdate(u: UpdateMessage): boolean {
    const c = this.est;
    if (!c) return false;
    this.stats.updatesOut++;
    return this.send(c, encodeMessage(u));
  }

  /** Sends a ROUTE-REFRESH for L2VPN EVPN (RFC 2918). */
  requestRefresh(): boolean {
    const c = this.est;
    if (!c) return false;
    return this.send(c, encodeMessage({ type: "route-refresh", afi: Afi.L2VPN, safi: Safi.EVPN }));
  }

  // ----------------------------------------------------------------- internals

  private setState(s: SessionState): void {
    if (this.stats.state !== s) {
      this.log.debug("state", { from: this.stats.state, to: s });
      this.stats.state = s;
    }
  }

  private refreshState(): void {
    if (this.est) return this.setState("Established");
    const order: ConnState[] = ["OpenConfirm", "OpenSent", "Connect"];
    for (const st of order) {
      if (this.conns.some((c) => c.state === st)) return this.setState(st);
    }
    this.setState(this.running ? "Active" : "Idle");
  }

  private capabilities(): Capability[] {
    return [
      { type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN },
      { type: "route-refresh" },
      { type: "four-octet-as", asn: this.cfg.localAs },
      ...(this.cfg.extraCapabilities?.() ?? []),
    ];
  }

  private connectOut(): void {
    if (!this.running || this.cfg.passive) return;
    if (this.est || this.conns.some((c) => c.dir === "out")) return;
    const target = {
      host: this.cfg.peerAddress,
      port: this.cfg.peerPort,
      ...(this.cfg.localAddress ? { localAddress: this.cfg.localAddress } : {}),
    };
    const drops = tcpDropCounters();
    let sock: Socket;
    if (needsNativeSocket(this.cfg)) {
      const sockets = nativeSockets();
      if (!sockets) {
        // first use: load the addon, then connect
        if (this.loadingSockets) return;
        this.loadingSockets = true;
        loadNativeSockets().then(
          () => {
            this.loadingSockets = false;
            this.connectOut();
          },
          (e: Error) => {
            this.loadingSockets = false;
            this.connectFailed(`connect: ${e.message}`);
          },
        );
        return;
      }
      try {
        sock = sockets.tcpSocket(isIPv6(this.cfg.peerAddress) ? 6 : 4, {
          ...(this.cfg.md5Password !== undefined ? { md5: [{ address: this.cfg.peerAddress, password: this.cfg.md5Password }] } : {}),
          ...(this.cfg.ttlSecurity !== undefined ? { ttl: GTSM_TTL, minTtl: gtsmMinTtl(this.cfg.ttlSecurity) } : {}),
        });
      } catch (e) {
        this.connectFailed(`connect: cannot set up the socket: ${(e as Error).message}`);
        return;
      }
    } else sock = connect(target);
    const c = this.attach(sock, "out");
    if (drops) c.drops = drops;
    if (needsNativeSocket(this.cfg)) sock.connect(target);
    const timeoutMs = this.cfg.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => {
      if (c.state !== "Connect" || c.closed) return;
      this.stats.lastError = `connect: no answer from ${this.cfg.peerAddress}:${this.cfg.peerPort} in ${timeoutMs / 1000} s${dropHint(c.drops, tcpDropCounters(), this.cfg)}`;
      this.closeConn(c, "connect timeout");
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(this.connectTimer);
      if (c.closed) return;
      c.state = "OpenSent";
      this.log.debug("connected", { to: `${this.cfg.peerAddress}:${this.cfg.peerPort}` });
      this.sendOpen(c);
      this.refreshState();
    });
    this.refreshState();
  }

  /** An outgoing connection could not even start: lastError, then the retry backoff. */
  private connectFailed(why: string): void {
    this.stats.lastError = why;
    this.log.error("cannot connect", { reason: why });
    if (!this.running || this.conns.length > 0) return;
    this.failures++;
    this.scheduleRetry();
    this.refreshState();
  }

  private attach(sock: Socket, dir: "out" | "in"): Conn {
    const c = new Conn(sock, dir);
    c.attachSeq = this.rxCount;
    this.conns.push(c);
    sock.setNoDelay(true);
    sock.on("data", (d: Buffer) => this.onData(c, d));
    sock.on("error", (e) => {
      if (!c.closed) this.stats.lastError = `${dir === "out" && c.state === "Connect" ? "connect" : "socket"}: ${e.message}`;
    });
    sock.on("close", () => this.closeConn(c, "connection closed by peer"));
    return c;
  }

  private sendOpen(c: Conn): void {
    c.state = "OpenSent";
    const open: OpenMessage = {
      type: "open",
      version: 4,
      myAs: this.cfg.localAs > 0xffff ? AS_TRANS : this.cfg.localAs,
      holdTime: this.cfg.holdTime,
      bgpId: this.cfg.routerId,
      capabilities: this.capabilities(),
    };
    c.localOpen = open;
    this.send(c, encodeMessage(open));
    this.armHold(c, OPENSENT_HOLD_S);
    const hops = this.cfg.ttlSecurity;
    if (hops !== undefined) {
      // The handshake can pass GTSM while the peer's later segments do not
      // (GoBGP answers from a listener with TTL 255, then sends with 1): the
      // session would sit in OpenSent for its hold time without a word.
      const since = c.drops ?? tcpDropCounters();
      const ms = this.cfg.connectTimeoutMs ?? 10_000;
      c.openWatch = setTimeout(() => {
        if (c.closed || c.peerOpen) return;
        const now = tcpDropCounters();
        if (!since || !now || now.TCPMinTTLDrop <= since.TCPMinTTLDrop) return;
        this.stats.lastError = `connected, but no OPEN from the peer in ${ms / 1000} s${dropHint(since, now, { ttlSecurity: hops })}`;
        this.log.warn("no OPEN from the peer: its segments fail GTSM", { lastError: this.stats.lastError });
      }, ms);
    }
  }

  private send(c: Conn, b: Buffer): boolean {
    if (c.closed || c.socket.destroyed) return false;
    this.stats.messagesOut++;
    c.socket.write(b);
    return true;
  }

  private armHold(c: Conn, seconds: number): void {
    // the common case, once per message received: the same timer again, re-armed in place
    if (c.holdTimer && c.holdArmed === seconds) {
      c.holdTimer.refresh();
      return;
    }
    clearTimeout(c.holdTimer);
    c.holdTimer = undefined;
    c.holdArmed = seconds;
    if (seconds === 0) return;
    c.holdTimer = setTimeout(() => {
      this.fail(c, { code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0, data: EMPTY }, `hold timer expired (${seconds} s)`);
    }, seconds * 1000);
  }

  private armKeepalive(c: Conn): void {
    clearInterval(c.kaTimer);
    if (c.hold === 0) return;
    const ka = encodeMessage({ type: "keepalive" });
    c.kaTimer = setInterval(() => this.send(c, ka), Math.max(1000, Math.floor((c.hold * 1000) / 3)));
  }

  private onData(c: Conn, d: Buffer): void {
    if (c.closed) return;
    c.buf = c.buf.length === 0 ? d : Buffer.concat([c.buf, d]);
    let off = 0;
    const fastOk = this.handler.updateFast !== undefined;
    // UPDATEs taken by the fast path re-arm the hold timer once per read, not per message
    let fastTaken = false;
    while (!c.closed) {
      if (fastOk && this.fastUpdate(c, off)) {
        off += c.buf.readUInt16BE(off + 16);
        fastTaken = true;
        continue;
      }
      if (fastTaken) {
        fastTaken = false;
        this.armHold(c, c.hold);
      }
      const f = readFrame(c.buf, off);
      if (f.status === "incomplete") break;
      if (f.status === "error") {
        this.fail(c, f.error.notification!, f.error.reason);
        return;
      }
      off = f.next;
      this.stats.messagesIn++;
      try {
        this.onMessage(c, f.message);
      } catch (e) {
        // A bug in our own handling must not take the process down.
        this.log.error("internal error handling a message", { error: (e as Error).stack ?? String(e) });
        this.fail(c, { code: ErrorCode.CEASE, subcode: 0, data: EMPTY }, `internal error: ${(e as Error).message}`);
        return;
      }
    }
    if (fastTaken && !c.closed) this.armHold(c, c.hold);
    c.buf = off >= c.buf.length ? EMPTY : c.buf.subarray(off);
    if (c.buf.length > 0 && off > 0) c.buf = Buffer.from(c.buf); // don't pin the old chunk
  }

  /**
   * An UPDATE at c.buf[off..] that the fast path takes (bgp/fast-update.ts):
   * handled here as onMessage + inEstablished would, without framing objects;
   * false (nothing done) for anything else, which goes the ordinary way.
   */
  private fastUpdate(c: Conn, off: number): boolean {
    const b = c.buf;
    if (c.state !== "Established" || b.length - off < 23 || b[off + 18] !== 2) return false;
    for (let i = off; i < off + 16; i += 4) if (b.readInt32LE(i) !== -1) return false;
    const len = b.readUInt16BE(off + 16);
    if (len < 23 || len > 4096 || b.length - off < len) return false;
    // an OPEN waiting on another connection: the ordinary path resolves that collision first
    for (const h of this.conns) if (h.held) return false;
    c.fast ??= new UpdateFastPath(this.ibgp ? { ebgp: false } : { ebgp: true, peerAs: this.cfg.peerAs }, { withdrawnRoutes: this.handler.fastWithdrawnRoutes ?? true });
    const f = c.fast.decode(b, off + 19, off + len);
    if (!f) return false;
    this.stats.messagesIn++;
    c.rxSeq = ++this.rxCount;
    this.stats.updatesIn++;
    try {
      this.handler.updateFast!(this, f);
    } catch (e) {
      this.log.error("internal error handling a message", { error: (e as Error).stack ?? String(e) });
      this.fail(c, { code: ErrorCode.CEASE, subcode: 0, data: EMPTY }, `internal error: ${(e as Error).message}`);
    }
    return true;
  }

  private onMessage(c: Conn, msg: Buffer): void {
    const type = msg[18];
    c.rxSeq = ++this.rxCount;
    // Any message resets the hold timer (RFC 4271 §8.2.2 KEEPALIVE/UPDATE; harmless for the others).
    if (c.state !== "OpenSent") this.armHold(c, c.hold);
    if (type === 3) {
      const r = decodeMessage(msg);
      const n = r.ok && r.message.type === "notification" ? r.message : undefined;
      const text = n ? describeNotification(n.code, n.subcode) : "malformed NOTIFICATION";
      const comm = n && n.code === ErrorCode.CEASE && (n.subcode === 2 || n.subcode === 4) ? decodeShutdownCommunication(n.data) : undefined;
      c.notification = n ? { code: n.code, subcode: n.subcode, sent: false } : { code: 0, subcode: 0, sent: false };
      if (n && n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.CONNECTION_COLLISION_RESOLUTION) {
        // RFC 4271 §6.8: the peer resolved a collision against this connection.
        // Not an error; not a flap either when the session goes on over the
        // other connection (closeConn hands over).
        const other = this.conns.some((o) => o !== c && !o.closed && o.state !== "Connect");
        if (c !== this.est || other) {
          this.log.info("connection closed by the peer's collision resolution", { dir: c.dir, state: c.state, ...(c === this.est ? { established: true } : {}) });
          this.closeConn(c, "connection collision resolved by the peer", true, true);
          return;
        }
      }
      this.stats.lastError = `received NOTIFICATION ${text}${comm ? `: "${comm}"` : ""}`;
      this.log.warn("NOTIFICATION received", { notification: text, ...(comm ? { communication: comm } : {}) });
      this.closeConn(c, this.stats.lastError);
      return;
    }
    // The peer speaks on the established connection: it is alive there, so an
    // OPEN waiting on a new connection is a collision, not a restart.
    if (c === this.est) for (const h of [...this.conns]) if (h.held) this.fail(h, COLLISION, "collision with the established connection (the peer is alive on it)", false);
    switch (c.state) {
      case "OpenSent":
        if (c.held) {
          // the peer's OPEN is in; its KEEPALIVE (it is in OpenConfirm) waits with it
          if (type === 4) c.held.keepalive = true;
          else this.fail(c, { code: ErrorCode.FSM, subcode: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT, data: EMPTY }, `message type ${type} in OpenSent`);
          return;
        }
        return this.inOpenSent(c, msg, type!);
      case "OpenConfirm":
        if (type === 4) return this.toEstablished(c);
        return this.fail(c, { code: ErrorCode.FSM, subcode: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM, data: EMPTY }, `message type ${type} in OpenConfirm`);
      case "Established":
        return this.inEstablished(c, msg, type!);
      case "Connect":
        return; // cannot happen: no data before connect
    }
  }

  private inOpenSent(c: Conn, msg: Buffer, type: number): void {
    if (type !== 1) {
      this.fail(c, { code: ErrorCode.FSM, subcode: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT, data: EMPTY }, `message type ${type} in OpenSent`);
      return;
    }
    const r = decodeMessage(msg);
    if (!r.ok) return this.fail(c, r.error.notification!, `bad OPEN: ${r.error.reason}`);
    const open = r.message as OpenMessage;
    const bad = validateOpen(open, {
      peerAs: this.cfg.peerAs,
      localBgpId: this.cfg.routerId,
      ibgp: this.ibgp,
      minHoldTime: 3,
      requiredCapabilities: [
        { type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN },
        { type: "four-octet-as", asn: 0 },
      ],
    });
    if (bad) return this.fail(c, bad.notification!, `OPEN refused: ${bad.reason}`);
    c.peerOpen = open;
    const est = this.est;
    if (est && est !== c) {
      if (!this.estRestartable() || !gracefulRestartOf(open.capabilities)) {
        return this.fail(c, COLLISION, "collision with the established connection", false);
      }
      // RFC 4724 §4.2: an OPEN on a new connection while the session is
      // Established means the peer restarted before we noticed -- or that it
      // connected at the same moment as we did and is alive on the established
      // connection. Anything it sent there since this connection came decides
      // for the latter; otherwise ask with a KEEPALIVE and hold this OPEN.
      if (est.rxSeq > c.attachSeq) return this.fail(c, COLLISION, "collision with the established connection (the peer is alive on it)", false);
      const ms = this.cfg.restartProbeMs ?? 2000;
      this.log.debug("OPEN on a new connection while Established: probing the established one", { ms });
      c.held = {
        keepalive: false,
        timer: setTimeout(() => {
          if (c.closed || !c.held) return;
          if (this.est) {
            this.log.info("OPEN on a new connection from a graceful-restart peer, silent on the established one: the established session is replaced");
            this.closeConn(this.est, "peer restarted (OPEN on a new connection)"); // releases c
          } else this.release(c);
        }, ms),
      };
      this.send(est, encodeMessage({ type: "keepalive" }));
      return;
    }
    this.openReceived(c, open);
  }

  /** A held OPEN goes on (the established connection is gone). */
  private release(c: Conn): void {
    if (!c.held) return;
    clearTimeout(c.held.timer);
    const keepalive = c.held.keepalive;
    c.held = undefined;
    if (c.closed) return;
    this.openReceived(c, c.peerOpen!);
    if (keepalive && c.state === "OpenConfirm" && !c.closed) this.toEstablished(c);
  }

  /** A valid OPEN on `c` with no established connection in the way: collision detection, then OpenConfirm. */
  private openReceived(c: Conn, open: OpenMessage): void {
    // RFC 4271 §6.8 collision detection against the other connection.
    for (const o of this.conns) {
      if (o === c || o.closed || (o.state !== "OpenConfirm" && o.state !== "OpenSent")) continue;
      // (An OpenSent connection has not seen the peer's OPEN yet, but it is the
      // same peer, so this OPEN's BGP Identifier decides for it too.)
      const localWins = idNum(this.cfg.routerId) > idNum(open.bgpId);
      // The higher BGP Identifier keeps the connection it initiated.
      const loser = localWins ? (c.dir === "in" ? c : o) : c.dir === "out" ? c : o;
      this.log.info("connection collision", { kept: loser === c ? o.dir : c.dir, localId: this.cfg.routerId, peerId: open.bgpId });
      this.fail(loser, COLLISION, "connection collision resolution", false);
      if (loser === c) return;
    }
    c.hold = open.holdTime === 0 || this.cfg.holdTime === 0 ? 0 : Math.min(open.holdTime, this.cfg.holdTime);
    c.state = "OpenConfirm";
    this.send(c, encodeMessage({ type: "keepalive" }));
    this.armHold(c, c.hold);
    this.armKeepalive(c);
    this.refreshState();
  }

  private toEstablished(c: Conn): void {
    c.state = "Established";
    for (const o of [...this.conns]) {
      if (o !== c) this.fail(o, COLLISION, "connection collision resolution", false);
    }
    this.est = c;
    this.failures = 0;
    this.stats.establishedAt = Date.now();
    this.stats.peerRouterId = c.peerOpen!.bgpId;
    this.stats.negotiatedHold = c.hold;
    this.setState("Established");
    this.log.info("session established", { peer: this.cfg.peerAddress, peerId: c.peerOpen!.bgpId, peerAs: peerAsOf(c.peerOpen!), hold: c.hold });
    this.handler.established(this);
  }

  private inEstablished(c: Conn, msg: Buffer, type: number): void {
    switch (type) {
      case 4:
        return;
      case 1:
        return this.fail(c, { code: ErrorCode.FSM, subcode: FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED, data: EMPTY }, "OPEN in Established");
      case 5: {
        const r = decodeMessage(msg);
        if (!r.ok) return this.fail(c, r.error.notification!, r.error.reason);
        const rr = r.message;
        if (rr.type === "route-refresh" && rr.afi === Afi.L2VPN && rr.safi === Safi.EVPN && (rr.subtype ?? 0) === 0) this.handler.routeRefresh(this);
        return;
      }
      case 2: {
        this.stats.updatesIn++;
        const r = decodeMessage(msg, this.ibgp ? { ebgp: false } : { ebgp: true, peerAs: this.cfg.peerAs });
        if (!r.ok) {
          if (r.error.action === "session-reset") return this.fail(c, r.error.notification!, `UPDATE: ${r.error.reason}`);
          this.stats.lastError = `UPDATE treated as withdraw: ${r.error.reason}`;
          this.log.warn("UPDATE treated as withdraw (RFC 7606)", { reason: r.error.reason });
          this.handler.treatAsWithdraw(this, r.error.withdraw?.evpn ?? [], r.error.reason);
          return;
        }
        for (const d of r.discarded) this.log.info("attribute discarded (RFC 7606)", { reason: d.reason });
        const u = r.message as UpdateMessage;
        const eor = isEndOfRib(u);
        if (eor) {
          this.log.debug("End-of-RIB received", eor);
          this.handler.endOfRib?.(this, eor.afi, eor.safi);
          return;
        }
        this.handler.update(this, u);
        return;
      }
    }
  }

  /** Did the Established connection negotiate graceful restart (RFC 4724)? */
  private estRestartable(): boolean {
    const e = this.est;
    return !!e && !!e.localOpen && !!e.peerOpen && grNegotiated(e.localOpen, e.peerOpen);
  }

  /** Sends a NOTIFICATION (unless the socket is still connecting) and closes. */
  private fail(c: Conn, n: NotificationData, reason: string, record = true): void {
    if (c.closed) return;
    if (record) this.stats.lastError = `sent NOTIFICATION ${describeNotification(n.code, n.subcode)}: ${reason}`;
    const level = n.code === ErrorCode.CEASE ? "info" : "warn";
    this.log[level]("sending NOTIFICATION", { notification: describeNotification(n.code, n.subcode), reason });
    if (c.state !== "Connect" && !c.socket.destroyed) {
      c.notification ??= { code: n.code, subcode: n.subcode, sent: true };
      try {
        c.socket.end(encodeMessage({ type: "notification", code: n.code, subcode: n.subcode, data: n.data }));
      } catch {
        c.socket.end();
      }
      const s = c.socket;
      setTimeout(() => s.destroy(), 1000).unref();
    }
    this.closeConn(c, reason, false);
  }

  /**
   * `collision`: the peer resolved a collision against this connection; if it
   * was the established one, the session goes on over the other connection:
   * no flap, no warning (the handler still hears `down`: what came over this
   * connection goes, as for any end of a connection).
   */
  private closeConn(c: Conn, reason: string, destroy = true, collision = false): void {
    if (c.closed) return;
    c.closed = true;
    clearTimeout(c.holdTimer);
    c.holdTimer = undefined;
    clearInterval(c.kaTimer);
    if (c.held) clearTimeout(c.held.timer);
    c.held = undefined;
    clearTimeout(c.openWatch);
    if (destroy) c.socket.destroy();
    this.conns = this.conns.filter((x) => x !== c);
    if (this.est === c) {
      this.est = undefined;
      this.stats.establishedAt = undefined;
      if (collision) {
        this.log.info("established connection lost the peer's collision resolution: the session goes on over the other connection");
      } else {
        this.stats.flaps++;
        this.log.warn("session down", { reason });
      }
      const info: DownInfo = { peerOpen: c.peerOpen!, localOpen: c.localOpen!, ...(c.notification ? { notification: c.notification } : {}) };
      this.handler.down(this, reason, info);
      for (const h of [...this.conns]) if (h.held) this.release(h);
    } else if (c.dir === "out" && c.state === "Connect") {
      this.log.debug("connect failed", { reason: this.stats.lastError ?? reason });
    }
    if (this.conns.length === 0 && this.running) {
      this.failures++;
      this.scheduleRetry();
    }
    this.refreshState();
  }

  private clearRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Exponential backoff with jitter before the next outgoing connect (passive: just wait). */
  private scheduleRetry(): void {
    if (this.cfg.passive || this.retryTimer) return;
    const base = this.cfg.retryBaseMs ?? 1000;
    const max = this.cfg.retryMaxMs ?? 60_000;
    const d = Math.min(max, base * 2 ** Math.min(this.failures - 1, 20));
    const delay = Math.round(d * (0.75 + Math.random() * 0.25));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connectOut();
    }, delay);
  }

  /** For tests: the delay the next retry would use after `failures` failures (no jitter). */
  static backoffMs(failures: number, base = 1000, max = 60_000): number {
    return Math.min(max, base * 2 ** Math.min(failures - 1, 20));
  }
}

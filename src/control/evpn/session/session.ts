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
//
// Graceful restart (RFC 4724 / RFC 8538) is the speaker's business; the
// session only carries it: extra OPEN capabilities (SessionConfig.
// extraCapabilities), End-of-RIB reported to the handler, and DownInfo (both
// OPENs and the NOTIFICATION, if any) with every `down`. stop({ graceful })
// leaves the peer in helper mode: no NOTIFICATION (a plain TCP close) unless
// the N bit was negotiated, then Cease / Administrative Shutdown (not Hard
// Reset). An OPEN on a new connection from a peer whose Established session
// negotiated graceful restart replaces that session (RFC 4724 §4.2: the peer
// restarted and we did not notice yet) instead of losing the collision.
//
// TCP-MD5 and GTSM are not implemented: node:net offers no setsockopt for
// TCP_MD5SIG / IP_TTL / IP_MINTTL (the config loader refuses both settings).

import { connect, type Socket } from "node:net";
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
  kaTimer?: NodeJS.Timeout;
  closed = false;
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
    if (this.cfg.passive) this.setState("Active");
    else this.connectOut();
  }

  /**
   * Cease / Administrative Shutdown on every connection; no reconnect. On an
   * Established connection that negotiated the Graceful Restart N bit it is
   * wrapped in Cease / Hard Reset (RFC 8538 §3.1) so the peer drops our
   * routes, unless `graceful`: then the peer is meant to keep them (we come
   * back): Administrative Shutdown with the N bit, a plain TCP close without it
   * (RFC 4724 §4: any NOTIFICATION would end graceful restart).
   */
  stop(text = "vxgate shutting down", opts: { graceful?: boolean } = {}): void {
    if (!this.running) return;
    this.running = false;
    this.clearRetry();
    let comm: Buffer = EMPTY;
    try {
      comm = encodeShutdownCommunication(text);
    } catch {
      /* too long: no text */
    }
    const shutdown = { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, data: comm };
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
        this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.HARD_RESET, data }, "administrative shutdown (hard reset)");
      } else {
        this.fail(c, shutdown, opts.graceful ? "administrative shutdown (graceful restart)" : "administrative shutdown");
      }
    }
    this.setState("Idle");
  }

  /** A connection the listener accepted from this peer's address. */
  acceptIncoming(sock: Socket): void {
    if (!this.running) {
      sock.destroy();
      return;
    }
    if (this.est && !this.estRestartable()) {
      // RFC 4271 §6.8: a collision with an Established connection closes the new one.
      const c = this.attach(sock, "in");
      this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, "collision with the established connection");
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
    const sock = connect({
      host: this.cfg.peerAddress,
      port: this.cfg.peerPort,
      ...(this.cfg.localAddress ? { localAddress: this.cfg.localAddress } : {}),
    });
    const c = this.attach(sock, "out");
    this.connectTimer = setTimeout(() => {
      if (c.state === "Connect") this.closeConn(c, "connect timeout");
    }, this.cfg.connectTimeoutMs ?? 10_000);
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

  private attach(sock: Socket, dir: "out" | "in"): Conn {
    const c = new Conn(sock, dir);
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
  }

  private send(c: Conn, b: Buffer): boolean {
    if (c.closed || c.socket.destroyed) return false;
    this.stats.messagesOut++;
    c.socket.write(b);
    return true;
  }

  private armHold(c: Conn, seconds: number): void {
    clearTimeout(c.holdTimer);
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
    while (!c.closed) {
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
    c.buf = off >= c.buf.length ? EMPTY : c.buf.subarray(off);
    if (c.buf.length > 0 && off > 0) c.buf = Buffer.from(c.buf); // don't pin the old chunk
  }

  private onMessage(c: Conn, msg: Buffer): void {
    const type = msg[18];
    // Any message resets the hold timer (RFC 4271 §8.2.2 KEEPALIVE/UPDATE; harmless for the others).
    if (c.state !== "OpenSent") this.armHold(c, c.hold);
    if (type === 3) {
      const r = decodeMessage(msg);
      const n = r.ok && r.message.type === "notification" ? r.message : undefined;
      const text = n ? describeNotification(n.code, n.subcode) : "malformed NOTIFICATION";
      const comm = n && n.code === ErrorCode.CEASE && (n.subcode === 2 || n.subcode === 4) ? decodeShutdownCommunication(n.data) : undefined;
      c.notification = n ? { code: n.code, subcode: n.subcode, sent: false } : { code: 0, subcode: 0, sent: false };
      this.stats.lastError = `received NOTIFICATION ${text}${comm ? `: "${comm}"` : ""}`;
      this.log.warn("NOTIFICATION received", { notification: text, ...(comm ? { communication: comm } : {}) });
      this.closeConn(c, this.stats.lastError);
      return;
    }
    switch (c.state) {
      case "OpenSent":
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
    if (this.est && this.est !== c) {
      if (!this.estRestartable() || !gracefulRestartOf(open.capabilities)) {
        return this.fail(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, "collision with the established connection");
      }
      // RFC 4724 §4.2: an OPEN on a new connection while the session is
      // Established: the peer restarted before we noticed. The old session
      // ends as if its TCP connection had failed (its routes become stale).
      this.log.info("OPEN on a new connection from a graceful-restart peer: the established session is replaced");
      this.closeConn(this.est, "peer restarted (OPEN on a new connection)");
    }
    // RFC 4271 §6.8 collision detection against the other connection.
    for (const o of this.conns) {
      if (o === c || o.closed || (o.state !== "OpenConfirm" && o.state !== "OpenSent")) continue;
      // (An OpenSent connection has not seen the peer's OPEN yet, but it is the
      // same peer, so this OPEN's BGP Identifier decides for it too.)
      const localWins = idNum(this.cfg.routerId) > idNum(open.bgpId);
      // The higher BGP Identifier keeps the connection it initiated.
      const loser = localWins ? (c.dir === "in" ? c : o) : c.dir === "out" ? c : o;
      this.log.info("connection collision", { kept: loser === c ? o.dir : c.dir, localId: this.cfg.routerId, peerId: open.bgpId });
      this.fail(loser, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, "connection collision resolution", false);
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
      if (o !== c) this.fail(o, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, "connection collision resolution", false);
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

  private closeConn(c: Conn, reason: string, destroy = true): void {
    if (c.closed) return;
    c.closed = true;
    clearTimeout(c.holdTimer);
    clearInterval(c.kaTimer);
    if (destroy) c.socket.destroy();
    this.conns = this.conns.filter((x) => x !== c);
    if (this.est === c) {
      this.est = undefined;
      this.stats.flaps++;
      this.stats.establishedAt = undefined;
      this.log.warn("session down", { reason });
      const info: DownInfo = { peerOpen: c.peerOpen!, localOpen: c.localOpen!, ...(c.notification ? { notification: c.notification } : {}) };
      this.handler.down(this, reason, info);
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

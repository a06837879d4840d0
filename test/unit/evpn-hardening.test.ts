// BGP session security, over real loopback TCP:
//  - collisions (RFC 4271 §6.8) resolved by the peer are neither errors nor
//    flaps: a Cease / Connection Collision Resolution received on the losing
//    connection, and on a connection we already took to Established while the
//    other one was still opening
//  - max_prefixes (RFC 4486): Cease / Maximum Number of Prefixes Reached with
//    AFI/SAFI + limit (Hard Reset-wrapped with the N bit), the peer's routes
//    removed, Idle with the reason, no reconnect until a reset or the
//    restart delay
//  - TCP-MD5 (RFC 2385) and GTSM (RFC 5082) between two speakers: matching
//    passwords establish; a wrong or missing one, or a peer that does not send
//    with TTL 255, does not, and lastError says why
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  Afi,
  type BgpMessage,
  buildEvpnUpdates,
  type Capability,
  decodeMessage,
  encodeGracefulRestart,
  encodeMessage,
  ESI_ZERO,
  type EvpnRoute,
  type OpenMessage,
  type PathAttribute,
  readFrame,
  Safi,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import type { BgpNeighborConfig } from "../../src/control/evpn/config.ts";
import { BgpSession, type SessionConfig, type SessionHandler } from "../../src/control/evpn/session/session.ts";
import { EvpnSpeaker } from "../../src/control/evpn/speaker.ts";
import { renderBgpSummary } from "../../src/control/evpn/show.ts";
import { createLogger, type Logger } from "../../src/control/log.ts";
import { basePort, bgpConfig, evpnPathAttrs, RecordingPort, waitFor } from "./evpn-helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A logger that keeps its lines (JSON objects) for the assertions. */
function recordingLog(): { log: Logger; lines: { level: string; msg: string }[]; loud: () => string[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ level: "debug", json: true, sink: (l) => lines.push(JSON.parse(l)) });
  return { log, lines, loud: () => lines.filter((l) => l.level === "warn" || l.level === "error").map((l) => `${l.level}: ${l.msg}`) };
}

class RawPeer {
  readonly msgs: BgpMessage[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  constructor(readonly sock: Socket) {
    sock.setNoDelay(true);
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const f = readFrame(this.buf);
        if (f.status !== "frame") break;
        const m = decodeMessage(Buffer.from(f.message));
        if (m.ok) this.msgs.push(m.message);
        this.buf = this.buf.subarray(f.next);
      }
    });
    sock.on("close", () => (this.closed = true));
    sock.on("error", () => {});
  }
  send(m: BgpMessage): void {
    this.sock.write(encodeMessage(m));
  }
  get open(): OpenMessage | undefined {
    return this.msgs.find((m) => m.type === "open") as OpenMessage | undefined;
  }
  notification() {
    return this.msgs.find((m) => m.type === "notification") as Extract<BgpMessage, { type: "notification" }> | undefined;
  }
}

async function rawServer(host = "127.0.0.1"): Promise<{ srv: Server; port: number; peers: RawPeer[] }> {
  const peers: RawPeer[] = [];
  const srv = createServer((s) => peers.push(new RawPeer(s)));
  await new Promise<void>((r) => srv.listen(0, host, r));
  cleanups.push(() => {
    for (const p of peers) p.sock.destroy();
    srv.close();
  });
  return { srv, port: (srv.address() as { port: number }).port, peers };
}

function peerOpen(bgpId: string, extra: Capability[] = [], holdTime = 9): OpenMessage {
  return {
    type: "open",
    version: 4,
    myAs: 65000,
    holdTime,
    bgpId,
    capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "route-refresh" }, { type: "four-octet-as", asn: 65000 }, ...extra],
  };
}

const grCap = (n: boolean): Capability =>
  encodeGracefulRestart({ restarting: false, notification: n, restartTime: 30, families: [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: true }] });

// ---------------------------------------------------------------------------

describe("connection collisions are not errors", () => {
  function session(port: number, log: Logger, over: Partial<SessionConfig> = {}) {
    const ev = { established: 0, down: [] as string[] };
    const h: SessionHandler = {
      established: () => ev.established++,
      down: (_s, r) => ev.down.push(r),
      update: () => {},
      treatAsWithdraw: () => {},
      routeRefresh: () => {},
    };
    const s = new BgpSession(
      { localAs: 65000, routerId: "10.0.0.1", peerAddress: "127.0.0.1", peerAs: 65000, peerPort: port, holdTime: 9, passive: false, retryBaseMs: 100, retryMaxMs: 400, ...over },
      h,
      log,
    );
    cleanups.push(() => s.stop());
    return { s, ev };
  }

  /** Our outgoing connection (to a raw server) and the peer's incoming one (handed to the session), both with our OPEN. */
  async function bothWays(s: BgpSession, srv: { peers: RawPeer[] }) {
    s.start();
    const out = await waitFor("our connection", () => srv.peers[0]);
    await waitFor("our OPEN on it", () => out.open);
    const acceptor = createServer((sock) => s.acceptIncoming(sock));
    await new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r));
    cleanups.push(() => acceptor.close());
    const inSock = connect((acceptor.address() as { port: number }).port, "127.0.0.1");
    cleanups.push(() => inSock.destroy());
    const inPeer = new RawPeer(inSock);
    await waitFor("our OPEN on the incoming connection", () => inPeer.open);
    return { out, inPeer };
  }

  it("a Cease / Connection Collision Resolution on the losing connection sets no lastError and logs no warning", async () => {
    const srv = await rawServer();
    const { log, loud } = recordingLog();
    const { s, ev } = session(srv.port, log);
    const { out, inPeer } = await bothWays(s, srv);
    // the peer (higher BGP ID) resolved the collision before its OPEN reached
    // us on our connection: it closes ours and goes on with its own
    out.send({ type: "notification", code: 6, subcode: 7, data: Buffer.alloc(0) });
    inPeer.send(peerOpen("10.0.0.9"));
    inPeer.send({ type: "keepalive" });
    await waitFor("Established", () => s.state === "Established");
    await waitFor("our connection closed", () => out.closed);
    expect(ev).toEqual({ established: 1, down: [] });
    expect([s.stats.flaps, s.stats.lastError]).toEqual([0, undefined]);
    expect(loud()).toEqual([]);
  });

  it("the peer resolving against a connection we already took to Established: the session goes on over the other one, no flap", async () => {
    const srv = await rawServer();
    const { log, loud, lines } = recordingLog();
    const { s, ev } = session(srv.port, log, { extraCapabilities: () => [grCap(true)] });
    s.start();
    const out = await waitFor("our connection", () => srv.peers[0]);
    await waitFor("our OPEN", () => out.open);
    // Established on our connection (the peer was in OpenConfirm on it) ...
    out.send(peerOpen("10.0.0.9", [grCap(true)]));
    out.send({ type: "keepalive" });
    await waitFor("Established", () => s.state === "Established");
    // ... when the peer's own connection arrives (graceful restart: it goes on to OpenSent)
    const acceptor = createServer((sock) => s.acceptIncoming(sock));
    await new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r));
    cleanups.push(() => acceptor.close());
    const inSock = connect((acceptor.address() as { port: number }).port, "127.0.0.1");
    cleanups.push(() => inSock.destroy());
    const inPeer = new RawPeer(inSock);
    await waitFor("our OPEN on the incoming connection", () => inPeer.open);
    // the peer resolves the collision by BGP ID (it keeps the connection it opened)
    out.send({ type: "notification", code: 6, subcode: 7, data: Buffer.alloc(0) });
    await waitFor("our connection closed", () => out.closed);
    inPeer.send(peerOpen("10.0.0.9", [grCap(true)]));
    inPeer.send({ type: "keepalive" });
    await waitFor("Established again", () => s.state === "Established" && ev.established === 2);
    expect([s.stats.flaps, s.stats.lastError]).toEqual([0, undefined]);
    expect(loud()).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain("established connection lost the peer's collision resolution: the session goes on over the other connection");
    expect(inPeer.closed).toBe(false);
  });
});

// ---------------------------------------------------------------------------

const PEER_VTEP = "192.0.2.2";
const rd = { format: "ipv4" as const, ip: "10.0.0.2", value: 1 };
const attrs: PathAttribute[] = evpnPathAttrs();
const mac = (i: number) => `02:00:00:00:0a:${i.toString(16).padStart(2, "0")}`;
function macUpdates(from: number, n: number): UpdateMessage[] {
  const routes: EvpnRoute[] = Array.from({ length: n }, (_, i) => ({ type: "mac-ip", rd, esi: ESI_ZERO, ethernetTag: 0, mac: mac(from + i), label1: 100 }));
  return buildEvpnUpdates({ nextHop: PEER_VTEP, routes, attributes: attrs });
}

describe("max_prefixes (RFC 4486)", () => {
  async function fixture(n: Partial<BgpNeighborConfig>, caps: Capability[] = []) {
    const srv = await rawServer();
    const cfg = bgpConfig({
      asn: 65000,
      routerId: "10.0.0.1",
      listen: { host: "127.0.0.1", port: 0 },
      neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port: srv.port, ...n }],
    });
    const port = new RecordingPort();
    const { log, loud } = recordingLog();
    const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], port, log, { retryBaseMs: 50, retryMaxMs: 100 });
    cleanups.push(() => sp.stop());
    await sp.start();
    const establish = async (i: number) => {
      const p = await waitFor(`connection ${i}`, () => srv.peers[i], 5000);
      await waitFor("our OPEN", () => p.open);
      p.send(peerOpen("10.0.0.2", caps));
      p.send({ type: "keepalive" });
      await waitFor("Established", () => sp.summary()[0]!.state === "Established");
      return p;
    };
    return { sp, port, srv, establish, loud };
  }

  it("one route over the limit: Cease 6/1 with AFI/SAFI and the limit, routes removed, Idle until a reset", async () => {
    const f = await fixture({ maxPrefixes: 3 });
    const p = await f.establish(0);
    for (const u of macUpdates(1, 3)) p.send(u);
    await waitFor("3 MACs installed", () => f.port.remote.size === 3);
    expect(f.sp.summary()[0]).toMatchObject({ state: "Established", pfxAccepted: 3, maxPrefixes: 3 });
    // two more in one UPDATE: 5 > 3, nothing of it is applied
    for (const u of macUpdates(4, 2)) p.send(u);
    const n = await waitFor("NOTIFICATION", () => p.notification());
    expect([n.code, n.subcode, n.data.toString("hex")]).toEqual([6, 1, "0019" + "46" + "00000003"]);
    await waitFor("closed", () => p.closed);
    expect(f.port.remote.size).toBe(0);
    expect(f.port.calls.filter((c) => c.startsWith("install"))).toHaveLength(3);
    const row = f.sp.summary()[0]!;
    expect(row).toMatchObject({
      state: "Idle",
      pfxAccepted: 0,
      flaps: 1,
      idleReason: "max_prefixes 3 exceeded",
      lastError: "sent NOTIFICATION Cease / Maximum Number of Prefixes Reached: 5 EVPN routes from the peer, max_prefixes 3",
    });
    expect(row.restartInSeconds).toBeUndefined();
    expect(renderBgpSummary([row])).toContain("Idle (max_prefixes 3 exceeded; until reset)");
    expect(f.loud()).toEqual(["warn: neighbor exceeded max_prefixes: session ended, routes removed", "warn: session down"]);
    // no reconnect (retry is 50 ms), and the peer's own connections are closed at once
    await new Promise((r) => setTimeout(r, 400));
    expect(f.srv.peers).toHaveLength(1);
    const knock = new RawPeer(connect({ host: "127.0.0.1", port: f.sp.listenPort!, localAddress: "127.0.0.1" }));
    await waitFor("refused", () => knock.closed);
    expect(knock.msgs).toEqual([]);
    // an operator's reset starts it again; within the limit it stays up
    expect(f.sp.resetNeighbor("127.0.0.1")).toBe(true);
    const p2 = await f.establish(1);
    for (const u of macUpdates(1, 3)) p2.send(u);
    await waitFor("3 MACs again", () => f.port.remote.size === 3);
    expect(f.sp.summary()[0]).toMatchObject({ state: "Established", pfxAccepted: 3 });
    expect(f.sp.summary()[0]!.idleReason).toBeUndefined();
  });

  it("with the Graceful Restart N bit: Hard Reset wrapping it, the routes are not kept as stale; max_prefixes_restart starts it again", async () => {
    const f = await fixture({ maxPrefixes: 2, maxPrefixesRestart: 1 }, [grCap(true)]);
    const p = await f.establish(0);
    for (const u of macUpdates(1, 2)) p.send(u);
    await waitFor("2 MACs installed", () => f.port.remote.size === 2);
    for (const u of macUpdates(3, 1)) p.send(u);
    const n = await waitFor("NOTIFICATION", () => p.notification());
    expect([n.code, n.subcode, n.data.toString("hex")]).toEqual([6, 9, "0601" + "0019" + "46" + "00000002"]);
    await waitFor("routes removed", () => f.port.remote.size === 0);
    const row = f.sp.summary()[0]!;
    expect(row).toMatchObject({ state: "Idle", idleReason: "max_prefixes 2 exceeded", restartInSeconds: 1, gracefulRestart: "-" });
    expect(renderBgpSummary([row])).toContain("Idle (max_prefixes 2 exceeded; restart in 1 s)");
    // back by itself after the delay
    const t0 = Date.now();
    await f.establish(1);
    expect(Date.now() - t0).toBeGreaterThan(700);
    expect(f.sp.summary()[0]!.idleReason).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe("TCP-MD5 and GTSM between two speakers", () => {
  async function pair(a: Partial<BgpNeighborConfig>, b: Partial<BgpNeighborConfig>) {
    const port = basePort();
    const mk = (me: string, peer: string, n: Partial<BgpNeighborConfig>, extra: { address: string; remoteAsn: number; port: number }[] = []) => {
      const cfg = bgpConfig({ asn: 65000, routerId: me, listen: { host: me, port }, neighbors: [{ address: peer, remoteAsn: 65000, port, ...n }, ...extra] });
      const port_ = new RecordingPort();
      const sp = new EvpnSpeaker(cfg, me === "127.0.0.1" ? "192.0.2.1" : "192.0.2.2", [100], port_, createLogger({ level: "error" }), {
        retryBaseMs: 100,
        retryMaxMs: 300,
        connectTimeoutMs: 600,
      });
      cleanups.push(() => sp.stop());
      return { sp, port: port_ };
    };
    return { port, mk };
  }
  const state = (sp: EvpnSpeaker, i = 0) => sp.summary()[i]!;

  it("the same password on both sides establishes (both directions connect); the switch gets the routes", async () => {
    const { mk } = await pair({}, {});
    const A = mk("127.0.0.1", "127.0.0.2", { md5Password: "s3cret ~!" });
    const B = mk("127.0.0.2", "127.0.0.1", { md5Password: "s3cret ~!" });
    await Promise.all([A.sp.start(), B.sp.start()]);
    await waitFor("Established", () => state(A.sp).state === "Established" && state(B.sp).state === "Established");
    B.sp.localMacLearned(100, "02:00:00:00:00:bb");
    await waitFor("installed", () => A.port.remote.get("100/02:00:00:00:00:bb"));
  });

  it("a different password, or none on one side: no session, and lastError says what the kernel dropped", async () => {
    const { mk } = await pair({}, {});
    const A = mk("127.0.0.1", "127.0.0.2", { md5Password: "right" });
    const B = mk("127.0.0.2", "127.0.0.1", { md5Password: "wrong" });
    await Promise.all([A.sp.start(), B.sp.start()]);
    await waitFor("a connect timeout", () => state(A.sp).lastError?.startsWith("connect: no answer"), 5000);
    expect(state(A.sp).state).not.toBe("Established");
    expect(state(A.sp).lastError).toMatch(/^connect: no answer from 127\.0\.0\.2:\d+ in 0\.6 s; the kernel dropped meanwhile: \d+ segments? with a wrong TCP-MD5 signature \(the passwords differ\) \(TcpExt TCPMD5Failure\)/);
    await Promise.all([A.sp.stop(), B.sp.stop()]);

    const C = mk("127.0.0.1", "127.0.0.2", { md5Password: "right" });
    const D = mk("127.0.0.2", "127.0.0.1", {});
    await Promise.all([C.sp.start(), D.sp.start()]);
    await waitFor("connect timeouts", () => state(C.sp).lastError?.startsWith("connect: no answer") && state(D.sp).lastError?.startsWith("connect: no answer"), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect([state(C.sp).state, state(D.sp).state]).not.toContain("Established");
    // (the counters are the namespace's: both speakers share it here)
    expect(state(D.sp).lastError).toMatch(/TCPMD5Unexpected|TCPMD5NotFound/);
  });

  it("GTSM: a peer that does not send with TTL 255 is dropped by the kernel (listener and connecting socket); with GTSM on both it establishes", async () => {
    const { mk } = await pair({}, {});
    const A = mk("127.0.0.1", "127.0.0.2", { ttlSecurity: 1 });
    const B = mk("127.0.0.2", "127.0.0.1", {});
    await Promise.all([A.sp.start(), B.sp.start()]);
    await waitFor("connect timeouts", () => state(A.sp).lastError?.startsWith("connect: no answer") && state(B.sp).lastError?.startsWith("connect: no answer"), 5000);
    expect([state(A.sp).state, state(B.sp).state]).not.toContain("Established");
    expect(state(A.sp).lastError).toMatch(/below a GTSM minimum TTL .*\(TcpExt TCPMinTTLDrop\)/);
    await Promise.all([A.sp.stop(), B.sp.stop()]);

    // both with GTSM (loopback: TTL 255 arrives as 255), each with its own hop count
    const C = mk("127.0.0.1", "127.0.0.2", { ttlSecurity: 1 });
    const D = mk("127.0.0.2", "127.0.0.1", { ttlSecurity: 3 });
    await Promise.all([C.sp.start(), D.sp.start()]);
    await waitFor("Established", () => state(C.sp).state === "Established" && state(D.sp).state === "Established");
  });

  it("GTSM with a neighbor without it: the listener checks each connection's SYN TTL and says why it refused one", async () => {
    const { port, mk } = await pair({}, {});
    // A accepts from B only (passive) and has a second neighbor without GTSM, so its listener cannot drop by TTL itself
    const A = mk("127.0.0.1", "127.0.0.2", { ttlSecurity: 1, passive: true }, [{ address: "127.0.0.3", remoteAsn: 65000, port }]);
    const B = mk("127.0.0.2", "127.0.0.1", {});
    await Promise.all([A.sp.start(), B.sp.start()]);
    await waitFor("refused", () => state(A.sp).lastError, 5000);
    expect(state(A.sp).lastError).toBe("GTSM: connection from 127.0.0.2 refused: its SYN arrived with TTL 64, ttl_security 1 needs >= 255");
    expect(state(A.sp).state).not.toBe("Established");
    await B.sp.stop();
    const C = mk("127.0.0.2", "127.0.0.1", { ttlSecurity: 1 });
    await C.sp.start();
    await waitFor("Established", () => state(A.sp).state === "Established" && state(C.sp).state === "Established");
  });
});

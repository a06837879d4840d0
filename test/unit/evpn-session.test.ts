// The RFC 4271 FSM of BgpSession against a scripted raw BGP peer over real
// loopback TCP: OPEN checks and their NOTIFICATION codes, unexpected
// messages per state, hold timer, collision resolution, RFC 7606 outcomes,
// reconnect backoff and a clean Cease.
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  Afi,
  type BgpMessage,
  decodeMessage,
  decodeShutdownCommunication,
  encodeMessage,
  type EvpnRoute,
  type OpenMessage,
  readFrame,
  Safi,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import { BgpSession, type SessionConfig, type SessionHandler } from "../../src/control/evpn/session/session.ts";
import { quietLog, waitFor } from "./evpn-helpers.ts";

class RawPeer {
  readonly msgs: BgpMessage[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  constructor(readonly sock: Socket) {
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
  sendRaw(b: Buffer): void {
    this.sock.write(b);
  }
  notification() {
    return waitFor("a NOTIFICATION", () => this.msgs.find((m) => m.type === "notification") as Extract<BgpMessage, { type: "notification" }> | undefined);
  }
}

function open(p: Partial<OpenMessage> & { asn?: number } = {}): OpenMessage {
  const asn = p.asn ?? 65000;
  return {
    type: "open",
    version: 4,
    myAs: asn > 0xffff ? 23456 : asn,
    holdTime: p.holdTime ?? 9,
    bgpId: p.bgpId ?? "10.0.0.2",
    capabilities: p.capabilities ?? [
      { type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN },
      { type: "route-refresh" },
      { type: "four-octet-as", asn },
    ],
  };
}

interface Events {
  established: number;
  down: string[];
  updates: UpdateMessage[];
  withdrawn: EvpnRoute[][];
  refresh: number;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function rawServer(): Promise<{ srv: Server; port: number; peers: RawPeer[] }> {
  const peers: RawPeer[] = [];
  const srv = createServer((s) => peers.push(new RawPeer(s)));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const p of peers) p.sock.destroy();
    srv.close();
  });
  return { srv, port: (srv.address() as { port: number }).port, peers };
}

function session(port: number, over: Partial<SessionConfig> = {}): { s: BgpSession; ev: Events } {
  const ev: Events = { established: 0, down: [], updates: [], withdrawn: [], refresh: 0 };
  const h: SessionHandler = {
    established: () => ev.established++,
    down: (_s, r) => ev.down.push(r),
    update: (_s, u) => ev.updates.push(u),
    treatAsWithdraw: (_s, r) => ev.withdrawn.push(r),
    routeRefresh: () => ev.refresh++,
  };
  const s = new BgpSession(
    { localAs: 65000, routerId: "10.0.0.1", peerAddress: "127.0.0.1", peerAs: 65000, peerPort: port, holdTime: 9, passive: false, retryBaseMs: 100, retryMaxMs: 400, ...over },
    h,
    quietLog,
  );
  cleanups.push(() => s.stop());
  return { s, ev };
}

async function establish(over: Partial<SessionConfig> = {}) {
  const srv = await rawServer();
  const { s, ev } = session(srv.port, over);
  s.start();
  const peer = await waitFor("connection", () => srv.peers[0]);
  await waitFor("our OPEN", () => peer.msgs.find((m) => m.type === "open"));
  peer.send(open());
  peer.send({ type: "keepalive" });
  await waitFor("Established", () => s.state === "Established");
  return { s, ev, peer, srv };
}

describe("BgpSession FSM", () => {
  it("sends an OPEN with MP L2VPN EVPN, route refresh and 4-octet AS, then reaches Established", async () => {
    const { s, ev, peer } = await establish({ localAs: 4200000000, peerAs: 65000 });
    const o = peer.msgs.find((m) => m.type === "open") as OpenMessage;
    expect(o.myAs).toBe(23456);
    expect(o.capabilities).toEqual([
      { type: "multiprotocol", afi: 25, safi: 70 },
      { type: "route-refresh" },
      { type: "four-octet-as", asn: 4200000000 },
    ]);
    expect(peer.msgs.filter((m) => m.type === "keepalive").length).toBeGreaterThanOrEqual(1);
    expect(ev.established).toBe(1);
    expect(s.stats.negotiatedHold).toBe(9);
  });

  it.each([
    ["wrong peer AS -> 2/2 Bad Peer AS", open({ asn: 65099 }), 2, 2],
    ["same BGP identifier on iBGP -> 2/3", open({ bgpId: "10.0.0.1" }), 2, 3],
    ["hold time 2 -> 2/6", open({ holdTime: 2 }), 2, 6],
    ["no L2VPN EVPN capability -> 2/7", open({ capabilities: [{ type: "four-octet-as", asn: 65000 }] }), 2, 7],
  ])("refuses an OPEN: %s", async (_n, o, code, subcode) => {
    const srv = await rawServer();
    const { s } = session(srv.port);
    s.start();
    const peer = await waitFor("connection", () => srv.peers[0]);
    peer.send(o);
    const n = await peer.notification();
    expect([n.code, n.subcode]).toEqual([code, subcode]);
    if (subcode === 7) expect(n.data).toEqual(Buffer.from([1, 4, 0, 25, 0, 70]));
    await waitFor("closed", () => peer.closed);
    expect(s.state).not.toBe("Established");
  });

  it("unexpected messages: KEEPALIVE in OpenSent -> 5/1, UPDATE in OpenConfirm -> 5/2, OPEN in Established -> 5/3", async () => {
    const srv = await rawServer();
    const { s } = session(srv.port);
    s.start();
    const p1 = await waitFor("connection", () => srv.peers[0]);
    p1.send({ type: "keepalive" });
    expect(await p1.notification()).toMatchObject({ code: 5, subcode: 1 });
    const p2 = await waitFor("reconnect", () => srv.peers[1], 5000);
    p2.send(open());
    await waitFor("OpenConfirm", () => s.state === "OpenConfirm");
    p2.send({ type: "update", withdrawnRoutes: [], attributes: [], nlri: [] });
    expect(await p2.notification()).toMatchObject({ code: 5, subcode: 2 });
    const p3 = await waitFor("reconnect", () => srv.peers[2], 5000);
    p3.send(open());
    p3.send({ type: "keepalive" });
    await waitFor("Established", () => s.state === "Established");
    p3.send(open());
    expect(await p3.notification()).toMatchObject({ code: 5, subcode: 3 });
  });

  it("hold timer expiry sends 4/0, reports down, and reconnects", async () => {
    const { s, ev, peer, srv } = await establish({ holdTime: 3 });
    // The raw peer never sends another KEEPALIVE.
    const n = await waitFor("hold expiry", () => peer.msgs.find((m) => m.type === "notification"), 6000);
    expect(n).toMatchObject({ code: 4, subcode: 0 });
    expect(ev.down).toHaveLength(1);
    expect(s.stats.flaps).toBe(1);
    await waitFor("reconnect", () => srv.peers[1], 5000);
  });

  it("keeps the session on a treat-as-withdraw UPDATE and resets it on a session-reset one", async () => {
    const { s, ev, peer } = await establish();
    const route: EvpnRoute = { type: "imet", rd: { format: "ipv4", ip: "10.0.0.2", value: 1 }, ethernetTag: 0, originatorIp: "10.0.0.2" };
    // ORIGIN with a bad value (RFC 7606 §7.1: treat-as-withdraw)
    const good = encodeMessage({
      type: "update",
      withdrawnRoutes: [],
      attributes: [{ type: "mp-reach", family: "evpn", nextHop: "10.0.0.2", routes: [route] }, { type: "origin", value: 0 }, { type: "as-path", segments: [] }],
      nlri: [],
    });
    peer.sendRaw(good);
    await waitFor("update", () => ev.updates.length === 1);
    const bad = Buffer.from(good);
    const originAt = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    bad[originAt + 3] = 7;
    peer.sendRaw(bad);
    await waitFor("treat-as-withdraw", () => ev.withdrawn.length === 1);
    expect(ev.withdrawn[0]).toEqual([route]);
    expect(s.state).toBe("Established");
    // A Withdrawn Routes Length overrunning the message: session reset 3/1
    const reset = Buffer.from(encodeMessage({ type: "update", withdrawnRoutes: [], attributes: [], nlri: [] }));
    reset.writeUInt16BE(200, 19);
    peer.sendRaw(reset);
    expect(await peer.notification()).toMatchObject({ code: 3, subcode: 1 });
    await waitFor("down", () => ev.down.length === 1);
  });

  it("a bad marker is a header error 1/1", async () => {
    const { peer } = await establish();
    const ka = encodeMessage({ type: "keepalive" });
    ka[0] = 0;
    peer.sendRaw(ka);
    expect(await peer.notification()).toMatchObject({ code: 1, subcode: 1 });
  });

  it("stop() sends Cease / Administrative Shutdown with an RFC 9003 communication", async () => {
    const { s, peer } = await establish();
    s.stop("maintenance");
    const n = await peer.notification();
    expect([n.code, n.subcode]).toEqual([6, 2]);
    expect(decodeShutdownCommunication(n.data)).toBe("maintenance");
    expect(s.state).toBe("Idle");
  });

  it("answers ROUTE-REFRESH", async () => {
    const { ev, peer } = await establish();
    peer.send({ type: "route-refresh", afi: 25, safi: 70 });
    await waitFor("refresh", () => ev.refresh === 1);
  });

  it.each([
    ["peer's BGP ID is higher: the connection it opened survives", "10.0.0.9", "out"],
    ["our BGP ID is higher: the connection we opened survives", "1.0.0.1", "in"],
  ])("collision resolution: %s", async (_n, id, loserDir) => {
    const srv = await rawServer();
    const { s } = session(srv.port);
    s.start();
    const out = await waitFor("our connection", () => srv.peers[0]);
    // the peer also connects to us: hand the accepted socket to the session
    const acceptor = createServer((sock) => s.acceptIncoming(sock));
    await new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r));
    cleanups.push(() => acceptor.close());
    const inSock = connect((acceptor.address() as { port: number }).port, "127.0.0.1");
    const inPeer = new RawPeer(inSock);
    cleanups.push(() => inSock.destroy());
    await waitFor("OPEN on the incoming connection", () => inPeer.msgs.find((m) => m.type === "open"));
    out.send(open({ bgpId: id }));
    inPeer.send(open({ bgpId: id }));
    const loser = loserDir === "out" ? out : inPeer;
    const winner = loserDir === "out" ? inPeer : out;
    expect(await loser.notification()).toMatchObject({ code: 6, subcode: 7 });
    winner.send({ type: "keepalive" });
    await waitFor("Established", () => s.state === "Established");
    expect(winner.closed).toBe(false);
  });

  it("passive sessions never connect; backoff doubles up to the cap", async () => {
    const srv = await rawServer();
    const { s } = session(srv.port, { passive: true });
    s.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(srv.peers).toHaveLength(0);
    expect(s.state).toBe("Active");
    expect([1, 2, 3, 4, 5, 6, 7].map((f) => BgpSession.backoffMs(f, 1000, 30_000))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it("retries a refused connection with growing delays", async () => {
    const srv = await rawServer();
    const port = srv.port;
    srv.srv.close();
    await new Promise((r) => setTimeout(r, 50));
    const { s } = session(port, { retryBaseMs: 50, retryMaxMs: 400 });
    const attempts: number[] = [];
    const orig = (s as unknown as { connectOut: () => void }).connectOut.bind(s);
    (s as unknown as { connectOut: () => void }).connectOut = () => {
      attempts.push(Date.now());
      orig();
    };
    s.start();
    await waitFor("5 attempts", () => attempts.length >= 5, 5000);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[0]!).toBeLessThan(gaps[2]!);
    expect(s.stats.lastError).toMatch(/ECONNREFUSED/);
  });
});

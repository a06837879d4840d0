// BGP Graceful Restart (RFC 4724, N bit of RFC 8538) for L2VPN EVPN:
//  - the capability codec (typed view over the raw capability 64)
//  - the graceful_restart config section
//  - helper mode of EvpnSpeaker against a scripted raw peer over loopback
//    TCP, with fake setTimeout/Date: stale marking, refresh, End-of-RIB,
//    restart and stale timers, NOTIFICATION / Hard Reset rules, a new
//    connection replacing the established one
//  - the restarting side: R/F bits, End-of-RIB after the initial table,
//    initialSync, graceful and hard stop, EoR held by a restarting reflector
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  Afi,
  type BgpMessage,
  buildEvpnUpdates,
  type Capability,
  decodeGracefulRestart,
  decodeMessage,
  encodeGracefulRestart,
  encodeMessage,
  ESI_ZERO,
  evpnEndOfRib,
  type EvpnRoute,
  type GracefulRestartCapability,
  gracefulRestartOf,
  type OpenMessage,
  type PathAttribute,
  readFrame,
  Safi,
  TunnelEncapType,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/types.ts";
import { EvpnSpeaker, type SpeakerOptions } from "../../src/control/evpn/speaker.ts";
import { renderBgpSummary, renderEvpnRoutes } from "../../src/control/evpn/show.ts";
import { bgpConfig, quietLog, RecordingPort } from "./evpn-helpers.ts";

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ""), "hex");

// ---------------------------------------------------------------------------
// capability codec

describe("Graceful Restart capability (RFC 4724 §3, RFC 8538 §2)", () => {
  const cases: [string, GracefulRestartCapability, string][] = [
    ["helper only (no families), restart time 120", { restarting: false, notification: false, restartTime: 120, families: [] }, "40 02 | 0078"],
    [
      "R + N bits, 4095 s, L2VPN EVPN with F",
      { restarting: true, notification: true, restartTime: 4095, families: [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: true }] },
      "40 06 | cfff | 0019 46 80",
    ],
    [
      "N only, two families, F on one",
      {
        restarting: false,
        notification: true,
        restartTime: 5,
        families: [
          { afi: Afi.IPV4, safi: Safi.UNICAST, forwardingPreserved: false },
          { afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: true },
        ],
      },
      "40 0a | 4005 | 0001 01 00 | 0019 46 80",
    ],
    [
      "reserved bits kept for the round trip",
      { restarting: false, notification: false, restartTime: 0, otherFlags: 3, families: [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: false, otherFlags: 0x41 }] },
      "40 06 | 3000 | 0019 46 41",
    ],
  ];

  it.each(cases)("%s", (_n, gr, wire) => {
    const cap = encodeGracefulRestart(gr);
    expect(cap).toEqual({ type: "raw", code: 64, value: hex(wire).subarray(2) });
    expect(decodeGracefulRestart(cap)).toEqual(gr);
    // inside an OPEN: stays raw (byte-exact), the typed view reads it
    const open: OpenMessage = { type: "open", version: 4, myAs: 65000, holdTime: 9, bgpId: "10.0.0.1", capabilities: [{ type: "route-refresh" }, cap] };
    const b = encodeMessage(open);
    expect(b.subarray(b.length - hex(wire).length)).toEqual(hex(wire));
    const d = decodeMessage(b);
    expect(d.ok && d.message).toEqual(open);
    expect(gracefulRestartOf((d.ok ? (d.message as OpenMessage) : open).capabilities)).toEqual(gr);
  });

  it("malformed values and other capabilities have no typed view", () => {
    expect(decodeGracefulRestart({ type: "raw", code: 64, value: hex("00") })).toBeUndefined();
    expect(decodeGracefulRestart({ type: "raw", code: 64, value: hex("0078 0019 46") })).toBeUndefined();
    expect(decodeGracefulRestart({ type: "raw", code: 65, value: hex("0078") })).toBeUndefined();
    expect(decodeGracefulRestart({ type: "route-refresh" })).toBeUndefined();
    // the first well-formed one counts
    expect(gracefulRestartOf([{ type: "raw", code: 64, value: hex("00") }, { type: "raw", code: 64, value: hex("8010") }])?.restartTime).toBe(16);
  });

  it("refuses values the wire cannot carry", () => {
    expect(() => encodeGracefulRestart({ restarting: false, notification: false, restartTime: 4096, families: [] })).toThrow(/restart time 4096/);
    expect(() => encodeGracefulRestart({ restarting: false, notification: false, restartTime: -1, families: [] })).toThrow();
    expect(() => encodeGracefulRestart({ restarting: false, notification: false, restartTime: 1, families: [{ afi: 70000, safi: 70, forwardingPreserved: true }] })).toThrow();
  });
});

// ---------------------------------------------------------------------------
// config

describe("bgp.graceful_restart config", () => {
  const BASE = ["switch:", "  name: leaf1", "vtep:", "  source_ip: 10.0.0.1", "uplinks:", "  - name: eth0", "vnis:", "  - vni: 100", "bgp:", "  asn: 65000", "  router_id: 10.0.0.1"];
  const parse = (lines: string[]) => parseConfig([...BASE, ...lines].join("\n") + "\n", "b.yaml");
  const problems = (lines: string[]) => {
    try {
      parse(lines);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems;
    }
    throw new Error("expected a ConfigError");
  };

  it("absent: no key (the speaker applies the defaults: on, 120 s, 360 s)", () => {
    expect("gracefulRestart" in parse([]).bgp!).toBe(false);
    expect(parse(["  graceful_restart:"]).bgp!.gracefulRestart).toBeUndefined();
  });

  it("fills defaults for missing keys", () => {
    expect(parse(["  graceful_restart:", "    restart_time: 5"]).bgp!.gracefulRestart).toEqual({ enabled: true, restartTime: 5, staleTime: 360 });
    expect(parse(["  graceful_restart: { enabled: false }"]).bgp!.gracefulRestart).toEqual({ enabled: false, restartTime: 120, staleTime: 360 });
  });

  it("reports bad values at file:line:col", () => {
    expect(problems(["  graceful_restart: { enabled: maybe, restart_time: 5000, stale_time: 0, restart: 3 }"])).toEqual([
      'b.yaml:12:32: enabled must be true or false, got string "maybe"',
      "b.yaml:12:53: restart_time 5000 out of range 1..4095",
      "b.yaml:12:71: stale_time 0 out of range 1..4095",
      "b.yaml:12:74: unknown key 'restart' in bgp.graceful_restart (expected one of: enabled, restart_time, stale_time)",
    ]);
    expect(problems(["  graceful_restart: true"])).toEqual(["b.yaml:12:21: graceful_restart must be a mapping, got boolean true"]);
  });
});

// ---------------------------------------------------------------------------
// a scripted peer

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
  get updates(): UpdateMessage[] {
    return this.msgs.filter((m) => m.type === "update") as UpdateMessage[];
  }
  notification() {
    return this.msgs.find((m) => m.type === "notification") as Extract<BgpMessage, { type: "notification" }> | undefined;
  }
}

/** Polls with setImmediate (setTimeout is faked in these tests). */
async function until<T>(what: string, f: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets pending I/O and immediates run (real time, a few ms). */
async function settle(ms = 30): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) await new Promise((r) => setImmediate(r));
}

const PEER_VTEP = "192.0.2.2";
const M1 = "02:00:00:00:00:01";
const M2 = "02:00:00:00:00:02";

function grCap(o: { r?: boolean; n?: boolean; time?: number; f?: boolean; families?: boolean } = {}): Capability {
  return encodeGracefulRestart({
    restarting: o.r ?? false,
    notification: o.n ?? false,
    restartTime: o.time ?? 5,
    families: o.families === false ? [] : [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: o.f ?? true }],
  });
}

function peerOpen(bgpId: string, extra: Capability[]): OpenMessage {
  return {
    type: "open",
    version: 4,
    myAs: 65000,
    holdTime: 0,
    bgpId,
    capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "route-refresh" }, { type: "four-octet-as", asn: 65000 }, ...extra],
  };
}

const rd = (ip: string) => ({ format: "ipv4" as const, ip, value: 1 });
const ext = (vni: number): PathAttribute => ({
  type: "ext-communities",
  communities: [
    { type: "route-target", target: { format: "as2", asn: 65000, value: vni } },
    { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN },
  ],
});
const base: PathAttribute[] = [
  { type: "origin", value: 0 },
  { type: "as-path", segments: [] },
  { type: "local-pref", value: 100 },
];

function imet(originId: string, vtep: string, vni = 100): UpdateMessage[] {
  const route: EvpnRoute = { type: "imet", rd: rd(originId), ethernetTag: 0, originatorIp: vtep };
  return buildEvpnUpdates({
    nextHop: vtep,
    routes: [route],
    attributes: [...base, ext(vni), { type: "pmsi-tunnel", leafInfoRequired: false, label: vni, tunnel: { type: "ingress-replication", endpoint: vtep } }],
  });
}

function macs(originId: string, vtep: string, list: string[], vni = 100, extraAttrs: PathAttribute[] = []): UpdateMessage[] {
  const routes: EvpnRoute[] = list.map((mac) => ({ type: "mac-ip", rd: rd(originId), esi: ESI_ZERO, ethernetTag: 0, mac, label1: vni }));
  return buildEvpnUpdates({ nextHop: vtep, routes, attributes: [...base, ext(vni), ...extraAttrs] });
}

interface Fixture {
  sp: EvpnSpeaker;
  port: RecordingPort;
  srv: Server;
  conns: RawPeer[];
  /** The newest connection from the speaker. */
  peer(): RawPeer;
  /** Answers the newest connection's OPEN and waits for Established. */
  establish(caps: Capability[], bgpId?: string): Promise<RawPeer>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  vi.useRealTimers();
});

async function rawServer(host = "127.0.0.1"): Promise<{ srv: Server; port: number; conns: RawPeer[] }> {
  const conns: RawPeer[] = [];
  const srv = createServer((s) => conns.push(new RawPeer(s)));
  await new Promise<void>((r) => srv.listen(0, host, r));
  cleanups.push(() => {
    for (const p of conns) p.sock.destroy();
    srv.close();
  });
  return { srv, port: (srv.address() as { port: number }).port, conns };
}

async function fixture(o: { gr?: { enabled: boolean; restartTime: number; staleTime: number }; opts?: SpeakerOptions; window?: number; beforeStart?: (sp: EvpnSpeaker) => void } = {}): Promise<Fixture> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  const { srv, port: srvPort, conns } = await rawServer();
  const cfg = bgpConfig({
    asn: 65000,
    routerId: "10.0.0.1",
    listen: { host: "127.0.0.1", port: 0 },
    neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port: srvPort, holdTime: 0 }],
    window: o.window ?? 0,
  });
  cfg.gracefulRestart = o.gr ?? { enabled: true, restartTime: 120, staleTime: 30 };
  const port = new RecordingPort();
  const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], port, quietLog, { retryBaseMs: 100, retryMaxMs: 100, ...o.opts });
  cleanups.push(() => sp.stop());
  o.beforeStart?.(sp);
  await sp.start();
  const used = new Set<RawPeer>();
  const f: Fixture = {
    sp,
    port,
    srv,
    conns,
    peer: () => conns[conns.length - 1]!,
    async establish(caps, bgpId = "10.0.0.2") {
      const fresh = () => conns.find((c) => !used.has(c) && !c.closed);
      // the speaker reconnects after its (fake-timer) backoff
      for (let i = 0; i < 50 && !fresh(); i++) {
        await vi.advanceTimersByTimeAsync(100);
        await settle(5);
      }
      const p = await until("a new connection", fresh);
      used.add(p);
      await until("the speaker's OPEN", () => p.open);
      p.send(peerOpen(bgpId, caps));
      p.send({ type: "keepalive" });
      await until("Established", () => sp.summary()[0]!.state === "Established");
      return p;
    },
  };
  return f;
}

async function announce(p: RawPeer, ups: UpdateMessage[]): Promise<void> {
  for (const u of ups) p.send(u);
  await settle();
}

/** A peer with a flood entry and two MACs installed in the speaker's port. */
async function withRoutes(f: Fixture, caps: Capability[]): Promise<RawPeer> {
  const p = await f.establish(caps);
  await announce(p, [...imet("10.0.0.2", PEER_VTEP), ...macs("10.0.0.2", PEER_VTEP, [M1, M2])]);
  await until("installed", () => f.port.remote.size === 2 && f.port.flood.get(100)?.has(PEER_VTEP));
  f.port.calls.length = 0;
  return p;
}

const removals = (port: RecordingPort) => port.calls.filter((c) => c.startsWith("remove") || c.startsWith("flood-"));

// ---------------------------------------------------------------------------
// helper mode

describe("graceful restart helper (receiving speaker)", () => {
  it("keeps a restarting peer's routes as stale, refreshes what it re-announces, removes the rest at its End-of-RIB", async () => {
    const f = await fixture();
    const p = await withRoutes(f, [grCap({ time: 5 })]);
    p.sock.destroy(); // control plane killed: TCP closes, no NOTIFICATION
    await until("session down", () => f.sp.summary()[0]!.state !== "Established");
    expect(f.sp.summary()[0]!.gracefulRestart).toBe("peer restarting, 3 stale");
    const rows = f.sp.routes().filter((r) => r.from !== "local");
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.stale)).toBe(true);
    expect(renderEvpnRoutes(rows).split("\n")[1]).toMatch(/^S\*>/);
    expect(renderBgpSummary(f.sp.summary())).toMatch(/peer restarting, 3 stale/);

    await vi.advanceTimersByTimeAsync(4900); // within the peer's 5 s restart time
    await settle();
    expect(removals(f.port)).toEqual([]);

    // back, with R and F: the stale routes now wait for its End-of-RIB
    const p2 = await f.establish([grCap({ r: true, time: 5 })]);
    await vi.advanceTimersByTimeAsync(1000); // past the old restart timer: it was stopped
    await announce(p2, [...imet("10.0.0.2", PEER_VTEP), ...macs("10.0.0.2", PEER_VTEP, [M1])]);
    await until("refreshed", () => f.sp.summary()[0]!.gracefulRestart === "waiting for End-of-RIB, 1 stale", 3000);
    expect(f.sp.routes().filter((r) => r.stale).map((r) => r.mac)).toEqual([M2]);
    expect(f.port.calls).toEqual([]); // identical re-announcements change nothing in the switch
    // our own table and End-of-RIB went to the restarted peer
    await until("our End-of-RIB", () => p2.updates.some((u) => u.attributes.length === 1 && u.attributes[0]!.type === "mp-unreach"));

    p2.send(evpnEndOfRib());
    await until("M2 removed", () => !f.port.remote.has(`100/${M2}`));
    expect(f.port.calls).toEqual([`remove 100 ${M2} ${PEER_VTEP}`]);
    expect(f.port.remote.get(`100/${M1}`)?.vtep).toBe(PEER_VTEP);
    expect(f.sp.summary()[0]!.gracefulRestart).toBe("on");
    expect(f.sp.routes().some((r) => r.stale)).toBe(false);
    expect(f.sp.checkConsistency()).toEqual([]);
    expect(f.sp.counters.stalePurged).toBe(1);
  });

  it("purges when the restart time passes without the peer", async () => {
    const f = await fixture();
    const p = await withRoutes(f, [grCap({ time: 5 })]);
    f.srv.close(); // it does not come back: reconnects are refused
    p.sock.destroy();
    await until("down", () => f.sp.summary()[0]!.state !== "Established");
    await vi.advanceTimersByTimeAsync(4990);
    await settle();
    expect(removals(f.port)).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    await until("purged", () => f.port.remote.size === 0 && !f.port.flood.get(100)?.size);
    expect(removals(f.port).sort()).toEqual([`flood- 100 ${PEER_VTEP}`, `remove 100 ${M1} ${PEER_VTEP}`, `remove 100 ${M2} ${PEER_VTEP}`]);
    expect(f.sp.routes().filter((r) => r.from !== "local")).toEqual([]);
  });

  it("purges what was not re-announced when the stale time passes without End-of-RIB", async () => {
    const f = await fixture({ gr: { enabled: true, restartTime: 120, staleTime: 30 } });
    const p = await withRoutes(f, [grCap({ time: 5 })]);
    p.sock.destroy();
    await until("down", () => f.sp.summary()[0]!.state !== "Established");
    const p2 = await f.establish([grCap({ r: true, time: 5 })]);
    await announce(p2, macs("10.0.0.2", PEER_VTEP, [M1]));
    await vi.advanceTimersByTimeAsync(29_000);
    await settle();
    expect(removals(f.port)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1100);
    await until("purged", () => f.port.remote.size === 1);
    expect(removals(f.port).sort()).toEqual([`flood- 100 ${PEER_VTEP}`, `remove 100 ${M2} ${PEER_VTEP}`]);
  });

  it("purges at once when the peer comes back without the F bit (forwarding state lost)", async () => {
    const f = await fixture();
    const p = await withRoutes(f, [grCap({ time: 5 })]);
    p.sock.destroy();
    await until("down", () => f.sp.summary()[0]!.state !== "Established");
    expect(removals(f.port)).toEqual([]);
    await f.establish([grCap({ r: true, f: false, time: 5 })]);
    await until("purged", () => f.port.remote.size === 0);
    expect(removals(f.port)).toHaveLength(3);
  });

  it("purges at once for peers without the capability for L2VPN EVPN, or without it at all", async () => {
    for (const caps of [[grCap({ families: false })], []]) {
      const f = await fixture();
      const p = await withRoutes(f, caps);
      p.sock.destroy();
      await until("purged", () => f.port.remote.size === 0 && !f.port.flood.get(100)?.size);
      await f.sp.stop();
      vi.useRealTimers();
    }
  });

  it("a NOTIFICATION ends graceful restart unless both sent the N bit; a Hard Reset always does", async () => {
    const cases: [string, Capability[], { code: number; subcode: number; data?: Buffer }, boolean][] = [
      ["Cease without N", [grCap({ n: false })], { code: 6, subcode: 2 }, false],
      ["Cease / Administrative Shutdown with N", [grCap({ n: true })], { code: 6, subcode: 2 }, true],
      ["Hold Timer Expired with N", [grCap({ n: true })], { code: 4, subcode: 0 }, true],
      ["Cease / Hard Reset with N", [grCap({ n: true })], { code: 6, subcode: 9, data: hex("0602") }, false],
    ];
    for (const [name, caps, n, kept] of cases) {
      const f = await fixture();
      const p = await withRoutes(f, caps);
      p.send({ type: "notification", code: n.code, subcode: n.subcode, data: n.data ?? Buffer.alloc(0) });
      p.sock.end();
      await until(`${name}: down`, () => f.sp.summary()[0]!.state !== "Established");
      await settle();
      expect([name, removals(f.port).length]).toEqual([name, kept ? 0 : 3]);
      await f.sp.stop();
      vi.useRealTimers();
    }
  });

  it("an OPEN on a new connection from a graceful-restart peer replaces the established session (RFC 4724 §4.2)", async () => {
    const f = await fixture();
    const old = await withRoutes(f, [grCap({ time: 5 })]);
    // the peer restarted without its old TCP connection closing (host crash): it connects again
    const p2 = new RawPeer(connect({ host: "127.0.0.1", port: f.sp.listenPort!, localAddress: "127.0.0.1" }));
    await until("the speaker's OPEN on the new connection", () => p2.open);
    await settle();
    expect(old.closed).toBe(false); // a bare connection changes nothing
    expect(f.sp.summary()[0]!.state).toBe("Established");
    const kas = old.msgs.filter((m) => m.type === "keepalive").length;
    p2.send(peerOpen("10.0.0.2", [grCap({ r: true, time: 5 })]));
    // the OPEN waits: a KEEPALIVE asks the established connection whether the peer is still there
    await until("a KEEPALIVE on the established connection", () => old.msgs.filter((m) => m.type === "keepalive").length > kas);
    await settle();
    expect(old.closed).toBe(false);
    expect(f.sp.summary()[0]!.state).toBe("Established");
    // silence on it (a crashed host): after the probe time the peer counts as restarted
    await vi.advanceTimersByTimeAsync(2000);
    await until("old connection closed", () => old.closed);
    expect(old.notification()).toBeUndefined();
    p2.send({ type: "keepalive" });
    await until("Established again", () => f.sp.summary()[0]!.state === "Established" && f.sp.summary()[0]!.flaps === 1);
    expect(f.sp.summary()[0]!.gracefulRestart).toBe("waiting for End-of-RIB, 3 stale");
    expect(removals(f.port)).toEqual([]);
    await announce(p2, [...imet("10.0.0.2", PEER_VTEP), ...macs("10.0.0.2", PEER_VTEP, [M1, M2])]);
    p2.send(evpnEndOfRib());
    await until("End-of-RIB processed", () => f.sp.summary()[0]!.gracefulRestart === "on");
    expect(f.port.calls).toEqual([]);
  });

  it("...but a peer still talking on the established connection (it connected at the same moment) loses the collision: no flap, no error", async () => {
    const f = await fixture();
    const old = await withRoutes(f, [grCap({ time: 5 })]);
    const p2 = new RawPeer(connect({ host: "127.0.0.1", port: f.sp.listenPort!, localAddress: "127.0.0.1" }));
    await until("the speaker's OPEN on the new connection", () => p2.open);
    const kas = old.msgs.filter((m) => m.type === "keepalive").length;
    p2.send(peerOpen("10.0.0.2", [grCap({ time: 5 })]));
    p2.send({ type: "keepalive" }); // the racing peer took our OPEN on it and is in OpenConfirm
    await until("the probe KEEPALIVE", () => old.msgs.filter((m) => m.type === "keepalive").length > kas);
    old.send({ type: "keepalive" }); // alive on the established connection
    await until("collision NOTIFICATION on the new connection", () => p2.notification());
    expect([p2.notification()!.code, p2.notification()!.subcode]).toEqual([6, 7]);
    await settle();
    expect(old.closed).toBe(false);
    expect(old.notification()).toBeUndefined();
    const row = f.sp.summary()[0]!;
    expect([row.state, row.flaps, row.lastError, row.gracefulRestart]).toEqual(["Established", 0, undefined, "on"]);
    expect(removals(f.port)).toEqual([]);
  });

  it("without graceful restart a new connection still loses the collision", async () => {
    const f = await fixture();
    const old = await withRoutes(f, []);
    const p2 = new RawPeer(connect({ host: "127.0.0.1", port: f.sp.listenPort!, localAddress: "127.0.0.1" }));
    await until("collision NOTIFICATION", () => p2.notification());
    expect([p2.notification()!.code, p2.notification()!.subcode]).toEqual([6, 7]);
    expect(old.closed).toBe(false);
    expect(f.sp.summary()[0]!.state).toBe("Established");
  });

  it("stale routes are still reflected to other peers (no withdrawal)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const a = await rawServer("127.0.0.2");
    const b = await rawServer("127.0.0.3");
    const cfg = bgpConfig({
      asn: 65000,
      routerId: "10.0.0.1",
      listen: { host: "127.0.0.1", port: 0 },
      rr: true,
      neighbors: [
        { address: "127.0.0.2", remoteAsn: 65000, port: a.port, holdTime: 0, role: "rr-client" },
        { address: "127.0.0.3", remoteAsn: 65000, port: b.port, holdTime: 0, role: "rr-client" },
      ],
    });
    const port = new RecordingPort();
    const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], port, quietLog, { retryBaseMs: 100, retryMaxMs: 100 });
    cleanups.push(() => sp.stop());
    await sp.start();
    const pa = await until("A connects", () => a.conns[0]);
    const pb = await until("B connects", () => b.conns[0]);
    await until("OPENs", () => pa.open && pb.open);
    pa.send(peerOpen("10.0.0.2", [grCap({ time: 5 })]));
    pb.send(peerOpen("10.0.0.3", [grCap({ time: 5 })]));
    pa.send({ type: "keepalive" });
    pb.send({ type: "keepalive" });
    await until("both Established", () => sp.summary().every((r) => r.state === "Established"));
    await announce(pa, macs("10.0.0.2", PEER_VTEP, [M1]));
    await until("reflected to B", () => pb.updates.some((u) => u.attributes.some((x) => x.type === "mp-reach")));
    const before = pb.updates.length;
    pa.sock.destroy();
    await until("A down", () => sp.summary()[0]!.state !== "Established");
    await settle(100);
    expect(pb.updates.slice(before)).toEqual([]); // nothing withdrawn from B
    await vi.advanceTimersByTimeAsync(5100); // restart time over, A not back
    await until("withdrawn from B", () => pb.updates.slice(before).some((u) => u.attributes.some((x) => x.type === "mp-unreach" && x.family === "evpn" && x.routes.length === 1)));
  });
});

// ---------------------------------------------------------------------------
// restarting speaker

describe("graceful restart: restarting speaker", () => {
  it("forwardingPreserved: R and F bits in the first OPEN, the initial table (pre-start hosts included) then End-of-RIB; R cleared later", async () => {
    const f = await fixture({
      opts: { forwardingPreserved: true },
      window: 5, // the aggregation window must not hold hosts known at boot out of the initial table
      beforeStart: (sp) => sp.localMacLearned(100, M1),
    });
    const p = await f.establish([grCap({ time: 5, n: true })]);
    expect(gracefulRestartOf(p.open!.capabilities)).toEqual({
      restarting: true,
      notification: true,
      restartTime: 120,
      families: [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: true }],
    });
    const eorAt = await until("End-of-RIB", () => {
      const i = p.updates.findIndex((u) => u.attributes.length === 1 && u.attributes[0]!.type === "mp-unreach" && u.attributes[0]!.family === "evpn" && u.attributes[0]!.routes.length === 0);
      return i >= 0 ? i + 1 : undefined;
    });
    const before = p.updates.slice(0, eorAt - 1).flatMap((u) => u.attributes.flatMap((a) => (a.type === "mp-reach" && a.family === "evpn" ? a.routes : [])));
    expect(before.map((r) => r.type).sort()).toEqual(["imet", "mac-ip"]);

    p.sock.destroy();
    const p2 = await f.establish([grCap({ time: 5, n: true })]);
    expect(gracefulRestartOf(p2.open!.capabilities)).toMatchObject({ restarting: false, families: [{ forwardingPreserved: true }] });
  });

  it("a cold start says F=0 (forwarding not preserved) until it has been up once", async () => {
    const f = await fixture();
    const p = await f.establish([grCap()]);
    expect(gracefulRestartOf(p.open!.capabilities)).toMatchObject({ restarting: false, notification: true, families: [{ forwardingPreserved: false }] });
    p.sock.destroy();
    const p2 = await f.establish([grCap()]);
    expect(gracefulRestartOf(p2.open!.capabilities)).toMatchObject({ restarting: false, families: [{ forwardingPreserved: true }] });
  });

  it("graceful_restart.enabled: false sends no capability and keeps nothing", async () => {
    const f = await fixture({ gr: { enabled: false, restartTime: 120, staleTime: 360 } });
    const p = await withRoutes(f, [grCap()]);
    expect(gracefulRestartOf(p.open!.capabilities)).toBeUndefined();
    expect(f.sp.summary()[0]!.gracefulRestart).toBe("off");
    p.sock.destroy();
    await until("purged", () => f.port.remote.size === 0);
  });

  it("initialSync resolves at the End-of-RIB of every peer", async () => {
    const f = await fixture({ opts: { forwardingPreserved: true } });
    let done: unknown;
    void f.sp.initialSync.then((r) => (done = r));
    const p = await f.establish([grCap()]);
    await announce(p, macs("10.0.0.2", PEER_VTEP, [M1]));
    expect(done).toBeUndefined();
    p.send(evpnEndOfRib());
    await until("initialSync", () => done);
    expect(done).toMatchObject({ complete: true, reason: "end-of-rib", pending: [] });
  });

  it("initialSync resolves after its bound when a peer never sends End-of-RIB", async () => {
    const f = await fixture({ opts: { forwardingPreserved: true, initialSyncTimeoutMs: 10_000 } });
    let done: unknown;
    void f.sp.initialSync.then((r) => (done = r));
    await f.establish([grCap()]);
    await vi.advanceTimersByTimeAsync(9000);
    await settle();
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1500);
    await until("initialSync", () => done);
    expect(done).toMatchObject({ complete: false, reason: "timeout", pending: ["127.0.0.1"] });
  });

  it("initialSync resolves as stopped when stop() comes first", async () => {
    const f = await fixture({ opts: { forwardingPreserved: true } });
    await f.establish([grCap()]);
    await f.sp.stop({ graceful: true });
    expect(await f.sp.initialSync).toMatchObject({ complete: false, reason: "stopped", pending: ["127.0.0.1"] });
  });

  it.each([
    ["graceful, N negotiated: Cease / Administrative Shutdown", true, true, [6, 2]],
    ["graceful, no N: no NOTIFICATION, just TCP close", true, false, undefined],
    ["hard, N negotiated: Cease / Hard Reset wrapping Administrative Shutdown", false, true, [6, 9]],
    ["hard, no N: Cease / Administrative Shutdown", false, false, [6, 2]],
  ] as const)("stop: %s; the port is never called", async (_n, graceful, nBit, want) => {
    const f = await fixture();
    const p = await withRoutes(f, [grCap({ n: nBit })]);
    await f.sp.stop({ graceful });
    await until("closed", () => p.closed);
    const n = p.notification();
    expect(n ? [n.code, n.subcode] : undefined).toEqual(want);
    if (n && n.subcode === 9) expect(n.data.subarray(0, 3)).toEqual(Buffer.from([6, 2, "vxgate shutting down".length]));
    expect(f.port.calls).toEqual([]);
  });

  it("a restarting reflector holds its End-of-RIB until its clients' tables are in (RFC 4724 §4.1)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const a = await rawServer("127.0.0.2");
    const b = await rawServer("127.0.0.3");
    const cfg = bgpConfig({
      asn: 65000,
      routerId: "10.0.0.1",
      listen: { host: "127.0.0.1", port: 0 },
      rr: true,
      neighbors: [
        { address: "127.0.0.2", remoteAsn: 65000, port: a.port, holdTime: 0, role: "rr-client" },
        { address: "127.0.0.3", remoteAsn: 65000, port: b.port, holdTime: 0, role: "rr-client" },
      ],
    });
    const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], new RecordingPort(), quietLog, { retryBaseMs: 100, retryMaxMs: 100, forwardingPreserved: true });
    cleanups.push(() => sp.stop());
    let sync: unknown;
    void sp.initialSync.then((r) => (sync = r));
    await sp.start();
    const pa = await until("A connects", () => a.conns[0]);
    const pb = await until("B connects", () => b.conns[0]);
    await until("OPENs", () => pa.open && pb.open);
    const isEor = (u: UpdateMessage) => {
      const a = u.attributes[0];
      return u.attributes.length === 1 && a!.type === "mp-unreach" && a!.family === "evpn" && a!.routes.length === 0;
    };
    pa.send(peerOpen("10.0.0.2", [grCap()]));
    pa.send({ type: "keepalive" });
    await until("A Established", () => sp.summary()[0]!.state === "Established");
    await announce(pa, macs("10.0.0.2", PEER_VTEP, [M1]));
    pa.send(evpnEndOfRib());
    pb.send(peerOpen("10.0.0.3", [grCap()]));
    pb.send({ type: "keepalive" });
    await until("B Established", () => sp.summary()[1]!.state === "Established");
    await settle(100);
    // routes flow (A's MAC reflected to B), the End-of-RIB does not yet
    expect(pb.updates.some((u) => u.attributes.some((x) => x.type === "mp-reach" && x.family === "evpn" && x.routes.some((r) => r.type === "mac-ip" && r.mac === M1)))).toBe(true);
    expect(pa.updates.some(isEor)).toBe(false);
    expect(pb.updates.some(isEor)).toBe(false);
    expect(sync).toBeUndefined();
    pb.send(evpnEndOfRib());
    await until("End-of-RIB to both", () => pa.updates.some(isEor) && pb.updates.some(isEor));
    await until("initialSync", () => sync);
    expect(sync).toMatchObject({ complete: true, pending: [] });
  });
});

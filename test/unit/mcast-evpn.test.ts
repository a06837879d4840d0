// McastEvpn (multicast membership on type-3 routes, attribute 243) on its
// own, with received paths built and parsed by the real codec; then two
// speakers (and a reflector) over loopback TCP: EvpnSpeaker.refreshImet sends
// exactly one UPDATE per peer for one VNI's membership change.
import { afterEach, describe, expect, it } from "vitest";
import {
  buildEvpnUpdates,
  decodeMessage,
  encodeMessage,
  type EvpnRoute,
  evpnRouteKey,
  evpnRoutesOf,
  type PathAttribute,
  parseAdminValue,
  parseRd,
  prepareForPropagation,
  TunnelEncapType,
} from "../../src/control/evpn/bgp/index.ts";
import { combineExtensions } from "../../src/control/evpn/extensions.ts";
import { EvpnSpeaker, type RouteExtensions } from "../../src/control/evpn/speaker.ts";
import { createLogger, type Logger } from "../../src/control/log.ts";
import { encodeMcastMembership, MCAST_ATTR_CODE, type McastMembershipWire } from "../../src/control/mcast/attribute.ts";
import { McastEvpn } from "../../src/control/mcast/evpn.ts";
import { MirrorEvpn } from "../../src/control/mirror/evpn.ts";
import { basePort, bgpConfig, quietLog, RecordingPort, waitFor } from "./evpn-helpers.ts";

const OWN = "192.0.2.1";

/** A logger whose lines the test can read. */
function recordingLog(): { log: Logger; lines: { level: string; msg: string; [k: string]: unknown }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { log: createLogger({ level: "debug", json: true, sink: (l) => lines.push(JSON.parse(l)) }), lines };
}

function setup(own: Record<number, McastMembershipWire | undefined> = {}) {
  const changed: number[] = [];
  const { log, lines } = recordingLog();
  const m = new McastEvpn(OWN, { own: (vni) => own[vni], remoteChanged: (vni) => changed.push(vni) }, log);
  return { m, changed, lines, own };
}

/**
 * A type-3 route of `vtep` for `vni` as a receiver sees it: built by the
 * speaker's UPDATE builder, encoded, decoded, and (reflected) passed through a
 * reflector's propagation rules (Partial bit on unknown transitive attributes).
 */
function imetPath(vtep: string, vni: number, opts: { membership?: McastMembershipWire; extra?: PathAttribute[]; reflected?: boolean; rd?: string } = {}) {
  const route: EvpnRoute = { type: "imet", rd: parseRd(opts.rd ?? `${vtep}:${vni}`), ethernetTag: 0, originatorIp: vtep };
  let attrs: PathAttribute[] = [
    { type: "origin", value: 0 },
    { type: "as-path", segments: [] },
    { type: "ext-communities", communities: [{ type: "route-target", target: parseAdminValue(`65000:${vni}`)! }, { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN }] },
    { type: "pmsi-tunnel", leafInfoRequired: false, label: vni, tunnel: { type: "ingress-replication", endpoint: vtep } },
    ...(opts.membership ? [encodeMcastMembership(opts.membership)] : []),
    ...(opts.extra ?? []),
  ];
  if (opts.reflected) attrs = prepareForPropagation(attrs);
  const [u] = buildEvpnUpdates({ nextHop: vtep, routes: [route], attributes: attrs });
  const d = decodeMessage(encodeMessage(u!));
  if (!d.ok || d.message.type !== "update") throw new Error("the UPDATE did not decode");
  const { announced, nextHop } = evpnRoutesOf(d.message);
  const received = announced[0]!;
  return {
    key: evpnRouteKey(received),
    route: received,
    best: { attrs: d.message.attributes.filter((a) => a.type !== "mp-reach" && a.type !== "mp-unreach"), nextHop: nextHop! },
  };
}

const members = (m: McastEvpn, vni: number) => Object.fromEntries([...m.remoteMembers(vni)].map(([k, v]) => [k, [...v].sort()]));

describe("McastEvpn: our type-3 routes", () => {
  it("carries the attribute when we have members or are the replicator, nothing otherwise", () => {
    const { m } = setup({
      100: { entries: [{ source: "10.1.1.1", group: "239.1.1.1" }, { source: "*", group: "232.0.0.1" }] },
      200: { replicator: "192.0.2.1", entries: [] },
      300: { entries: [] },
    });
    expect(m.imet(100)).toEqual([encodeMcastMembership({ entries: [{ source: "*", group: "232.0.0.1" }, { source: "10.1.1.1", group: "239.1.1.1" }] })]);
    expect(m.imet(100)[0]).toMatchObject({ type: "unknown", code: MCAST_ATTR_CODE, flags: 0xc0 });
    expect(m.imet(200)).toEqual([encodeMcastMembership({ replicator: "192.0.2.1", entries: [] })]);
    expect(m.imet(300)).toEqual([]);
    expect(m.imet(400)).toEqual([]);
  });

  it("too many groups: the first 400 are advertised and the rest is logged and counted", () => {
    const entries = Array.from({ length: 410 }, (_, i) => ({ source: "*", group: `239.1.${i >> 8}.${i & 0xff}` }));
    const { m, lines } = setup({ 100: { entries } });
    const [a] = m.imet(100);
    expect(a).toEqual(encodeMcastMembership({ entries: entries.slice(0, 400) }));
    expect(m.counters.truncated).toBe(1);
    expect(lines.find((l) => l.level === "error")).toMatchObject({ msg: expect.stringMatching(/does not fit/), vni: 100, entries: 410, advertised: 400, omitted: 10 });
  });

  it("an entry the wire cannot carry is left out and logged; the rest goes out", () => {
    const { m, lines } = setup({ 100: { entries: [{ source: "*", group: "10.0.0.1" }, { source: "*", group: "239.1.1.1" }] } });
    expect(m.imet(100)).toEqual([encodeMcastMembership({ entries: [{ source: "*", group: "239.1.1.1" }] })]);
    expect(m.counters.invalidOwn).toBe(1);
    expect(lines.find((l) => l.level === "error")).toMatchObject({ vni: 100, group: "10.0.0.1" });
  });
});

describe("McastEvpn: others' type-3 routes", () => {
  it("learns a remote VTEP's (S,G) / (*,G) and replicator role from its best path", () => {
    const { m, changed } = setup();
    const p = imetPath("192.0.2.2", 100, { membership: { replicator: "192.0.2.22", entries: [{ source: "*", group: "239.1.1.1" }, { source: "10.1.1.1", group: "239.1.1.2" }] } });
    m.received(p.key, p.route, p.best);
    expect(changed).toEqual([100]);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"], "10.1.1.1|239.1.1.2": ["192.0.2.2"] });
    expect(m.replicators(100)).toEqual([{ vtep: "192.0.2.2", address: "192.0.2.22" }]);
    expect(m.remoteMembers(200).size).toBe(0);
    expect(m.replicators(200)).toEqual([]);
  });

  it("several VTEPs and VNIs: members merged per group, rows for show mcast sorted", () => {
    const { m, changed } = setup();
    for (const p of [
      imetPath("192.0.2.3", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] } }),
      imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }, { source: "*", group: "224.0.1.1" }] }, reflected: true }),
      imetPath("192.0.2.2", 200, { membership: { entries: [{ source: "10.0.0.5", group: "232.1.1.1" }] } }),
    ])
      m.received(p.key, p.route, p.best);
    expect(changed).toEqual([100, 100, 200]);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2", "192.0.2.3"], "*|224.0.1.1": ["192.0.2.2"] });
    expect(m.rows()).toEqual([
      { vni: 100, source: "*", group: "224.0.1.1", remotes: [{ vtep: "192.0.2.2", origin: "bgp" }] },
      {
        vni: 100,
        source: "*",
        group: "239.1.1.1",
        remotes: [
          { vtep: "192.0.2.2", origin: "bgp" },
          { vtep: "192.0.2.3", origin: "bgp" },
        ],
      },
      { vni: 200, source: "10.0.0.5", group: "232.1.1.1", remotes: [{ vtep: "192.0.2.2", origin: "bgp" }] },
    ]);
  });

  it("withdrawal (best undefined) forgets the VTEP", () => {
    const { m, changed } = setup();
    const p = imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] } });
    m.received(p.key, p.route, p.best);
    m.received(p.key, p.route, undefined);
    expect(changed).toEqual([100, 100]);
    expect(m.remoteMembers(100).size).toBe(0);
    expect(m.rows()).toEqual([]);
    // a second withdrawal, or one of a route we never learned anything from: nothing
    m.received(p.key, p.route, undefined);
    const q = imetPath("192.0.2.9", 100);
    m.received(q.key, q.route, undefined);
    expect(changed).toEqual([100, 100]);
  });

  it("a best path without the attribute: that VTEP has no members", () => {
    const { m, changed } = setup();
    const p = imetPath("192.0.2.2", 100, { membership: { replicator: "192.0.2.2", entries: [{ source: "*", group: "239.1.1.1" }] } });
    m.received(p.key, p.route, p.best);
    const bare = imetPath("192.0.2.2", 100);
    expect(bare.key).toBe(p.key);
    m.received(bare.key, bare.route, bare.best);
    expect(changed).toEqual([100, 100]);
    expect(m.remoteMembers(100).size).toBe(0);
    expect(m.replicators(100)).toEqual([]);
    // and a VTEP that never had any: no call at all
    const other = imetPath("192.0.2.3", 100, { extra: [{ type: "unknown", code: 245, flags: 0xc0, value: Buffer.from([1]) }] });
    m.received(other.key, other.route, other.best);
    expect(changed).toEqual([100, 100]);
  });

  it("an empty list without the replicator flag is the same as no attribute", () => {
    const { m, changed } = setup();
    const p = imetPath("192.0.2.2", 100, { membership: { entries: [] } });
    m.received(p.key, p.route, p.best);
    expect(changed).toEqual([]);
    expect(m.remoteMembers(100).size).toBe(0);
  });

  it("a malformed attribute is treated as absent, counted and logged; the route and later updates are fine", () => {
    const { m, changed, lines } = setup();
    const good = imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] } });
    m.received(good.key, good.route, good.best);
    // count 2, one entry
    const bad = imetPath("192.0.2.2", 100, { extra: [{ type: "unknown", code: MCAST_ATTR_CODE, flags: 0xc0, value: Buffer.from("0100000000000002 00000000ef010101".replace(/ /g, ""), "hex") }] });
    expect(() => m.received(bad.key, bad.route, bad.best)).not.toThrow();
    expect(m.counters.malformed).toBe(1);
    expect(lines.find((l) => l.level === "warn")).toMatchObject({ msg: "malformed multicast membership attribute ignored", vtep: "192.0.2.2", reason: expect.stringMatching(/count 2 needs 16 octets/) });
    expect(m.remoteMembers(100).size).toBe(0);
    expect(changed).toEqual([100, 100]);
    m.received(good.key, good.route, good.best);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
  });

  it("our own routes are ignored (reflected back, or the speaker's local best)", () => {
    const { m, changed } = setup();
    const p = imetPath(OWN, 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] }, reflected: true });
    m.received(p.key, p.route, p.best);
    m.received(p.key, p.route, undefined);
    expect(changed).toEqual([]);
    expect(m.remoteMembers(100).size).toBe(0);
  });

  it("type-2 routes are not looked at", () => {
    const { m, changed } = setup();
    const p = imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] } });
    const mac: EvpnRoute = { type: "mac-ip", rd: parseRd("192.0.2.2:100"), esi: "00:00:00:00:00:00:00:00:00:00", ethernetTag: 0, mac: "02:00:00:00:00:01", label1: 100 };
    m.received(evpnRouteKey(mac), mac, p.best);
    expect(changed).toEqual([]);
  });

  it("remoteChanged exactly when the VNI's remote membership changed", () => {
    const { m, changed } = setup();
    const g1 = { source: "*", group: "239.1.1.1" };
    const g2 = { source: "10.0.0.1", group: "239.1.1.2" };
    const v2 = (w: McastMembershipWire, o: { reflected?: boolean; rd?: string } = {}) => imetPath("192.0.2.2", 100, { membership: w, ...o });
    const feed = (p: ReturnType<typeof imetPath>) => m.received(p.key, p.route, p.best);

    feed(v2({ entries: [g1, g2] }));
    expect(changed).toEqual([100]);
    // identical re-advertisement; the same list in another order; reflected (Partial bit); with a duplicate entry
    feed(v2({ entries: [g1, g2] }));
    feed(v2({ entries: [g2, g1] }));
    feed(v2({ entries: [g1, g2] }, { reflected: true }));
    const dup = imetPath("192.0.2.2", 100, { extra: [{ type: "unknown", code: MCAST_ATTR_CODE, flags: 0xc0, value: Buffer.from("0100000000000003 00000000ef010101 00000000ef010101 0a000001ef010102".replace(/ /g, ""), "hex") }] });
    feed(dup);
    expect(changed).toEqual([100]);
    // a group more, a group less, the replicator role: each a change
    feed(v2({ entries: [g1] }));
    feed(v2({ replicator: "192.0.2.2", entries: [g1] }));
    feed(v2({ replicator: "192.0.2.99", entries: [g1] }));
    expect(changed).toEqual([100, 100, 100, 100]);

    // the same VTEP's second route for the VNI (an RD change in progress) saying the same: no change
    const other = v2({ replicator: "192.0.2.99", entries: [g1] }, { rd: "10.9.9.9:7" });
    expect(other.key).not.toBe(v2({ entries: [] }).key);
    feed(other);
    expect(changed).toEqual([100, 100, 100, 100]);
    // ... and its old route going away leaves the VNI's view as it was: no change
    const old = v2({ entries: [] });
    m.received(old.key, old.route, undefined);
    expect(changed).toEqual([100, 100, 100, 100]);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
    expect(m.replicators(100)).toEqual([{ vtep: "192.0.2.2", address: "192.0.2.99" }]);
  });

  it("a route whose VNI changes (PMSI label) changes both VNIs", () => {
    const { m, changed } = setup();
    const a = imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] }, rd: "10.0.0.2:1" });
    const b = imetPath("192.0.2.2", 200, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] }, rd: "10.0.0.2:1" });
    expect(a.key).toBe(b.key);
    m.received(a.key, a.route, a.best);
    m.received(b.key, b.route, b.best);
    expect(changed).toEqual([100, 100, 200]);
    expect(m.remoteMembers(100).size).toBe(0);
    expect(members(m, 200)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
  });
});

// ---------------------------------------------------------------- speakers

const running: EvpnSpeaker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

interface Switch {
  s: EvpnSpeaker;
  mc: McastEvpn;
  own: Record<number, McastMembershipWire | undefined>;
  changed: number[];
  port: RecordingPort;
}

function mkSwitch(routerId: string, vtep: string, vnis: number[], listen: { host: string; port: number }, neighbors: string[], extra?: RouteExtensions): Switch {
  const own: Record<number, McastMembershipWire | undefined> = {};
  const changed: number[] = [];
  const mc = new McastEvpn(vtep, { own: (vni) => own[vni], remoteChanged: (vni) => changed.push(vni) }, quietLog);
  const port = new RecordingPort();
  const cfg = bgpConfig({ asn: 65000, routerId, listen, neighbors: neighbors.map((address) => ({ address, remoteAsn: 65000, port: listen.port })) });
  const s = new EvpnSpeaker(cfg, vtep, vnis, port, quietLog.child({ sw: routerId }), { retryBaseMs: 100, retryMaxMs: 500, extensions: combineExtensions(extra, mc) });
  running.push(s);
  return { s, mc, own, changed, port };
}

const updatesOut = (sw: Switch, peer: string) => sw.s.session(peer)!.stats.updatesOut;
const updatesIn = (sw: Switch, peer: string) => sw.s.session(peer)!.stats.updatesIn;
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe("EvpnSpeaker.refreshImet with McastEvpn", () => {
  async function pair() {
    const port = basePort();
    const a = mkSwitch("10.0.0.1", "192.0.2.1", [100, 200, 300], { host: "127.0.0.1", port }, ["127.0.0.2"]);
    const b = mkSwitch("10.0.0.2", "192.0.2.2", [100, 200, 300], { host: "127.0.0.2", port }, ["127.0.0.1"]);
    a.own[100] = { entries: [{ source: "*", group: "239.1.1.1" }] }; // in a's initial table
    await Promise.all([a.s.start(), b.s.start()]);
    await Promise.all([a.s.initialSync, b.s.initialSync]);
    await waitFor("flood lists", () => [100, 200, 300].every((v) => b.port.flood.get(v)?.has("192.0.2.1") && a.port.flood.get(v)?.has("192.0.2.2")));
    await waitFor("b knows a's initial groups", () => b.mc.remoteMembers(100).get("*|239.1.1.1")?.has("192.0.2.1"));
    await settle();
    return { a, b };
  }

  it("one membership change in one VNI costs exactly one UPDATE to the peer; unchanged costs none", async () => {
    const { a, b } = await pair();
    expect(b.changed).toEqual([100]);
    const out0 = updatesOut(a, "127.0.0.2");
    const in0 = updatesIn(b, "127.0.0.1");

    a.own[200] = { entries: [{ source: "10.0.0.7", group: "232.1.1.1" }] };
    a.s.refreshImet(200);
    await waitFor("b learned 200", () => b.mc.remoteMembers(200).get("10.0.0.7|232.1.1.1")?.has("192.0.2.1"));
    await settle();
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 1);
    expect(updatesIn(b, "127.0.0.1")).toBe(in0 + 1);
    expect(b.changed).toEqual([100, 200]);

    // nothing changed: nothing sent
    a.s.refreshImet(200);
    a.s.refreshImet(100);
    await settle(300);
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 1);

    // several calls in one turn of the event loop: still one UPDATE
    a.own[200] = { replicator: "192.0.2.1", entries: [{ source: "10.0.0.7", group: "232.1.1.1" }, { source: "*", group: "232.9.9.9" }] };
    a.s.refreshImet(200);
    a.s.refreshImet(200);
    a.s.refreshImet(200);
    await waitFor("b sees the replicator", () => b.mc.replicators(200).length === 1);
    await settle();
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 2);
    expect(b.mc.replicators(200)).toEqual([{ vtep: "192.0.2.1", address: "192.0.2.1" }]);
    expect(b.changed).toEqual([100, 200, 200]);

    // the last group leaves: the route stays (flooding goes on), without the attribute
    a.own[100] = undefined;
    a.s.refreshImet(100);
    await waitFor("b forgot 100", () => b.mc.remoteMembers(100).size === 0);
    await settle();
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 3);
    expect(b.port.flood.get(100)).toEqual(new Set(["192.0.2.1"]));
    expect(b.s.routes().find((r) => r.type === 3 && r.vni === 100 && r.nextHop === "192.0.2.1")!.unknownAttrs).toBeUndefined();

    // a VNI without EVPN: ignored
    a.s.refreshImet(999);
    await settle();
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 3);
    // our own routes never show up as remote members at a
    expect(a.mc.rows()).toEqual([]);
  });

  it("a route whose UPDATE cannot be encoded (over 4096 octets) holds back only itself, not the rest of the flush", async () => {
    const port = basePort();
    // another feature's attribute on VNI 100's type-3 route, too big for any UPDATE while `huge`
    let huge = false;
    const big: RouteExtensions = { imet: (vni) => (vni === 100 && huge ? [{ type: "unknown", code: 250, flags: 0xc0, value: Buffer.alloc(5000) }] : []) };
    const a = mkSwitch("10.0.0.1", "192.0.2.1", [100, 200], { host: "127.0.0.1", port }, ["127.0.0.2"], big);
    const b = mkSwitch("10.0.0.2", "192.0.2.2", [100, 200], { host: "127.0.0.2", port }, ["127.0.0.1"]);
    await Promise.all([a.s.start(), b.s.start()]);
    await Promise.all([a.s.initialSync, b.s.initialSync]);
    await waitFor("flood lists", () => [100, 200].every((v) => b.port.flood.get(v)?.has("192.0.2.1")));
    // one flush: VNI 100 cannot be encoded, VNI 200 changes too
    huge = true;
    a.own[200] = { entries: [{ source: "*", group: "239.2.2.2" }] };
    a.s.refreshImets();
    await waitFor("b learned 200", () => b.mc.remoteMembers(200).get("*|239.2.2.2")?.has("192.0.2.1"));
    // VNI 100 went nowhere, and is sent once it can be
    huge = false;
    a.own[100] = { entries: [{ source: "*", group: "239.1.1.1" }] };
    a.s.refreshImet(100);
    await waitFor("b learned 100", () => b.mc.remoteMembers(100).get("*|239.1.1.1")?.has("192.0.2.1"));
    expect(b.s.session("127.0.0.1")!.state).toBe("Established");
  });

  it("refreshImets() (all VNIs) for comparison: one UPDATE per changed VNI", async () => {
    const { a, b } = await pair();
    const out0 = updatesOut(a, "127.0.0.2");
    a.own[200] = { entries: [{ source: "*", group: "239.2.2.2" }] };
    a.own[300] = { entries: [{ source: "*", group: "239.3.3.3" }] };
    a.s.refreshImets();
    await waitFor("b learned both", () => b.mc.remoteMembers(200).size === 1 && b.mc.remoteMembers(300).size === 1);
    await settle();
    expect(updatesOut(a, "127.0.0.2")).toBe(out0 + 2);
  });

  it("through a vxgate reflector, next to the mirror attribute on the same route", async () => {
    const port = basePort();
    const rrCfg = bgpConfig({
      asn: 65000,
      routerId: "10.0.0.100",
      listen: { host: "127.0.0.100", port },
      rr: true,
      neighbors: [
        { address: "127.0.0.1", remoteAsn: 65000, port, role: "rr-client" },
        { address: "127.0.0.2", remoteAsn: 65000, port, role: "rr-client" },
      ],
    });
    const rr = new EvpnSpeaker(rrCfg, "192.0.2.100", [], new RecordingPort(), quietLog.child({ sw: "rr" }), { retryBaseMs: 100, retryMaxMs: 500 });
    running.push(rr);
    const mirror = new MirrorEvpn(
      "192.0.2.1",
      100,
      {
        own: () => [
          {
            name: "tap1",
            host: { mac: "02:00:00:00:00:0a", vni: 100 },
            server: { mac: "02:00:00:00:00:fe", vni: 100 },
            hostId: 7,
            direction: "both",
            match: "mac",
          },
        ],
        learnedChanged: () => {},
      },
      quietLog,
    );
    const a = mkSwitch("10.0.0.1", "192.0.2.1", [100, 200], { host: "127.0.0.1", port }, ["127.0.0.100"], mirror);
    const b = mkSwitch("10.0.0.2", "192.0.2.2", [100, 200], { host: "127.0.0.2", port }, ["127.0.0.100"]);
    a.own[100] = { replicator: "192.0.2.1", entries: [{ source: "*", group: "239.1.1.1" }] };
    await Promise.all([rr.start(), a.s.start(), b.s.start()]);
    await waitFor("b learned a's groups via the reflector", () => b.mc.remoteMembers(100).get("*|239.1.1.1")?.has("192.0.2.1"));
    expect(b.mc.replicators(100)).toEqual([{ vtep: "192.0.2.1", address: "192.0.2.1" }]);
    const route = b.s.routes().find((r) => r.type === 3 && r.vni === 100 && r.nextHop === "192.0.2.1")!;
    expect(route).toMatchObject({ originator: "10.0.0.1", clusterList: "10.0.0.100" });
    // both vxgate attributes arrive, Partial bit set by the reflector (0xe0)
    expect(route.unknownAttrs!.map((x) => x.split("/").slice(0, 2).join("/"))).toEqual(["243/e0", "245/e0"]);

    const inB = updatesIn(b, "127.0.0.100");
    a.own[200] = { entries: [{ source: "*", group: "239.2.2.2" }] };
    a.s.refreshImet(200);
    await waitFor("b learned 200", () => b.mc.remoteMembers(200).size === 1);
    await settle();
    expect(updatesIn(b, "127.0.0.100")).toBe(inB + 1);
  });
});

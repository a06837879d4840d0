// The standard multicast carriers, only to neighbors configured `smet: true`:
// RFC 9251 type-6 (SMET) routes, the Multicast Flags extended community and
// the RFC 9574 assisted-replication signalling (T field, Replicator-AR route).
// First McastEvpn on its own (type-6 routes as a second input next to
// attribute 243), then speakers over loopback TCP: one switch with a capable
// and a non-capable neighbor (the latter a raw BGP peer that records every
// UPDATE on the wire), a vxgate reflector with both kinds of clients, and a
// malformed type-6 route that must cost neither the session nor the rest of
// its UPDATE.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  Afi,
  buildEvpnUpdates,
  decodeMessage,
  encodeMessage,
  type EvpnRoute,
  evpnRouteKey,
  evpnRoutesOf,
  findAttribute,
  type PathAttribute,
  parseAdminValue,
  parseRd,
  type PmsiTunnelAttr,
  readFrame,
  Safi,
  type SmetFlags,
  TunnelEncapType,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import type { BgpNeighborConfig } from "../../src/control/evpn/config.ts";
import { combineExtensions } from "../../src/control/evpn/extensions.ts";
import { needsMulticastCapability, withoutMulticastSignalling } from "../../src/control/evpn/rib.ts";
import { EvpnSpeaker, type RouteExtensions } from "../../src/control/evpn/speaker.ts";
import { encodeMcastMembership, MCAST_ATTR_CODE, type McastMembershipWire } from "../../src/control/mcast/attribute.ts";
import { McastEvpn } from "../../src/control/mcast/evpn.ts";
import { basePort, bgpConfig, quietLog, RecordingPort, waitFor } from "./evpn-helpers.ts";

const OWN = "192.0.2.1";
const rt = (vni: number) => ({ type: "route-target" as const, target: parseAdminValue(`65000:${vni}`)! });
const encap = { type: "encapsulation" as const, tunnelType: TunnelEncapType.VXLAN };

/** A route as a receiver sees it: built by the UPDATE builder, encoded and decoded. */
function received(route: EvpnRoute, nextHop: string, attrs: PathAttribute[], vnis?: number[]) {
  const [u] = buildEvpnUpdates({ nextHop, routes: [route], attributes: attrs });
  const d = decodeMessage(encodeMessage(u!));
  if (!d.ok || d.message.type !== "update") throw new Error("the UPDATE did not decode");
  const r = evpnRoutesOf(d.message);
  return {
    key: evpnRouteKey(r.announced[0]!),
    route: r.announced[0]!,
    best: { attrs: d.message.attributes.filter((a) => a.type !== "mp-reach" && a.type !== "mp-unreach"), nextHop: r.nextHop!, ...(vnis ? { vnis } : {}) },
  };
}
const common = (vni: number): PathAttribute[] => [
  { type: "origin", value: 0 },
  { type: "as-path", segments: [] },
  { type: "ext-communities", communities: [rt(vni), encap] },
];
function smetPath(vtep: string, vnis: number[], group: string | undefined, source?: string, flags: SmetFlags = { igmpV1: false, igmpV2: false, igmpV3: true, exclude: false }) {
  const route: EvpnRoute = { type: "smet", rd: parseRd(`${vtep}:${vnis[0] ?? 1}`), ethernetTag: 0, ...(source ? { source } : {}), ...(group ? { group } : {}), originatorIp: vtep, flags };
  return received(route, vtep, common(vnis[0] ?? 1), vnis);
}
function imetPath(vtep: string, vni: number, opts: { membership?: McastMembershipWire; pmsi?: PmsiTunnelAttr; originator?: string } = {}) {
  const route: EvpnRoute = { type: "imet", rd: parseRd(`${vtep}:${vni}`), ethernetTag: 0, originatorIp: opts.originator ?? vtep };
  const attrs: PathAttribute[] = [
    ...common(vni),
    opts.pmsi ?? { type: "pmsi-tunnel", leafInfoRequired: false, label: vni, tunnel: { type: "ingress-replication", endpoint: vtep } },
    ...(opts.membership ? [encodeMcastMembership(opts.membership)] : []),
  ];
  return received(route, opts.originator ?? vtep, attrs);
}

function setup(own: Record<number, McastMembershipWire | undefined> = {}) {
  const changed: number[] = [];
  const m = new McastEvpn(OWN, { own: (vni) => own[vni], remoteChanged: (vni) => changed.push(vni) }, quietLog);
  const feed = (p: { key: string; route: EvpnRoute; best: Parameters<McastEvpn["received"]>[2] }) => m.received(p.key, p.route, p.best);
  const gone = (p: { key: string; route: EvpnRoute }) => m.received(p.key, p.route, undefined);
  return { m, changed, feed, gone };
}
const members = (m: McastEvpn, vni: number) => Object.fromEntries([...m.remoteMembers(vni)].map(([k, v]) => [k, [...v].sort()]));

describe("McastEvpn: type-6 routes next to the attribute", () => {
  it("a type-6 route is one (S,G) of its originator in each VNI that imports it", () => {
    const { m, changed, feed } = setup();
    feed(smetPath("192.0.2.2", [100], "239.1.1.1"));
    feed(smetPath("192.0.2.2", [100], "239.1.1.2", "10.1.1.1"));
    feed(smetPath("192.0.2.3", [100, 200], "239.1.1.1"));
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2", "192.0.2.3"], "10.1.1.1|239.1.1.2": ["192.0.2.2"] });
    expect(members(m, 200)).toEqual({ "*|239.1.1.1": ["192.0.2.3"] });
    expect(changed).toEqual([100, 100, 100, 200]);
    expect(m.rows().map((r) => `${r.vni} ${r.source} ${r.group} ${r.remotes.map((x) => x.vtep).join(",")}`)).toEqual([
      "100 * 239.1.1.1 192.0.2.2,192.0.2.3",
      "100 10.1.1.1 239.1.1.2 192.0.2.2",
      "200 * 239.1.1.1 192.0.2.3",
    ]);
  });

  it("a VTEP's membership is the union of its attribute and its type-6 routes; a withdrawn type 6 removes only its (S,G)", () => {
    const { m, changed, feed, gone } = setup();
    const attr = imetPath("192.0.2.2", 100, { membership: { entries: [{ source: "*", group: "239.1.1.1" }] } });
    feed(attr);
    const g1 = smetPath("192.0.2.2", [100], "239.1.1.1"); // says the same as the attribute
    const g2 = smetPath("192.0.2.2", [100], "239.1.1.2", "10.1.1.1");
    feed(g1);
    expect(changed).toEqual([100]); // nothing new
    feed(g2);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"], "10.1.1.1|239.1.1.2": ["192.0.2.2"] });
    gone(g2);
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
    // the attribute goes (same type-3 route without it): the type-6 route still holds G1
    feed(imetPath("192.0.2.2", 100));
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
    gone(g1);
    expect(m.remoteMembers(100).size).toBe(0);
    expect(changed).toEqual([100, 100, 100, 100]);
  });

  it("re-advertised unchanged (flags differ only): no change; a withdrawal of something never learned: nothing", () => {
    const { changed, feed, gone } = setup();
    feed(smetPath("192.0.2.2", [100], "239.1.1.1", undefined, { igmpV1: false, igmpV2: true, igmpV3: false, exclude: false }));
    feed(smetPath("192.0.2.2", [100], "239.1.1.1", undefined, { igmpV1: false, igmpV2: true, igmpV3: true, exclude: true }));
    gone(smetPath("192.0.2.9", [100], "239.1.1.1"));
    expect(changed).toEqual([100]);
  });

  it("IGMPv3 exclude (S,G) counts as (*,G); IPv6, wildcard groups, unicast groups and no local VNI are ignored", () => {
    const { m, changed, feed } = setup();
    feed(smetPath("192.0.2.2", [100], "239.1.1.1", "10.1.1.1", { igmpV1: false, igmpV2: false, igmpV3: true, exclude: true }));
    expect(members(m, 100)).toEqual({ "*|239.1.1.1": ["192.0.2.2"] });
    feed(smetPath("192.0.2.3", [100], "ff0e::1"));
    feed(smetPath("192.0.2.4", [100], undefined));
    feed(smetPath("192.0.2.5", [100], "10.0.0.1"));
    feed(smetPath("192.0.2.6", [100], "239.1.1.1", "239.0.0.1"));
    feed(smetPath("192.0.2.7", [], "239.1.1.1"));
    expect(m.counters.smetIgnored).toBe(4);
    expect(changed).toEqual([100]);
    // our own, reflected back: ignored
    feed(smetPath(OWN, [100], "239.9.9.9"));
    expect(changed).toEqual([100]);
  });

  it("an RFC 9574 Replicator-AR route names a replicator unless the attribute already names that address", () => {
    const { m, changed, feed, gone } = setup();
    const arPmsi = (vni: number, address: string, flags = 0x08): PmsiTunnelAttr => ({ type: "pmsi-tunnel", leafInfoRequired: false, otherFlags: flags, label: vni, tunnel: { type: "assisted-replication", endpoint: address } });
    const ar = imetPath("192.0.2.2", 100, { originator: "192.0.2.102", pmsi: arPmsi(100, "192.0.2.102") });
    feed(ar);
    expect(m.replicators(100)).toEqual([{ vtep: "192.0.2.102", address: "192.0.2.102" }]);
    expect(m.remoteMembers(100).size).toBe(0);
    // the same switch's attribute names the address with its VTEP: one replicator, the attribute's
    feed(imetPath("192.0.2.2", 100, { membership: { replicator: "192.0.2.102", entries: [] } }));
    expect(m.replicators(100)).toEqual([{ vtep: "192.0.2.2", address: "192.0.2.102" }]);
    gone(ar);
    expect(m.replicators(100)).toEqual([{ vtep: "192.0.2.2", address: "192.0.2.102" }]);
    expect(changed).toEqual([100, 100]);
    // T other than AR-REPLICATOR: not a replicator
    feed(imetPath("192.0.2.3", 200, { originator: "192.0.2.103", pmsi: arPmsi(200, "192.0.2.103", 0x10) }));
    expect(m.replicators(200)).toEqual([]);
  });

  it("multicast(vni): what the speaker originates for capable peers (entries the wire cannot carry left out)", () => {
    const { m } = setup({
      100: { entries: [{ source: "*", group: "239.1.1.1" }, { source: "*", group: "10.0.0.1" }, { source: "10.1.1.1", group: "239.1.1.2" }] },
      200: { replicator: "192.0.2.101", entries: [] },
    });
    expect(m.multicast(100)).toEqual({ entries: [{ source: "*", group: "239.1.1.1" }, { source: "10.1.1.1", group: "239.1.1.2" }] });
    expect(m.multicast(200)).toEqual({ replicator: "192.0.2.101", entries: [] });
    expect(m.multicast(300)).toBeUndefined();
  });
});

describe("export rules for neighbors that are not multicast-capable", () => {
  const rd = parseRd("10.0.0.9:1");
  const pmsi = (tunnel: PmsiTunnelAttr["tunnel"], otherFlags?: number): PmsiTunnelAttr => ({ type: "pmsi-tunnel", leafInfoRequired: false, label: 100, tunnel, ...(otherFlags ? { otherFlags } : {}) });
  const imet: EvpnRoute = { type: "imet", rd, ethernetTag: 0, originatorIp: "192.0.2.9" };

  it("types 6..11 and type-3 routes with a PMSI tunnel type above 7 need the capability; the rest does not", () => {
    const raw = (routeType: number): EvpnRoute => ({ type: "raw", routeType, value: Buffer.alloc(4) });
    for (const t of [6, 7, 8, 9, 10, 11]) expect(needsMulticastCapability({ route: raw(t), attrs: [] }), `type ${t}`).toBe(true);
    for (const t of [1, 4, 5]) expect(needsMulticastCapability({ route: raw(t), attrs: [] }), `type ${t}`).toBe(false);
    expect(needsMulticastCapability({ route: smetPath("192.0.2.9", [100], "239.1.1.1").route, attrs: [] })).toBe(true);
    expect(needsMulticastCapability({ route: imet, attrs: [pmsi({ type: "ingress-replication", endpoint: "192.0.2.9" }, 0x10)] })).toBe(false);
    expect(needsMulticastCapability({ route: imet, attrs: [pmsi({ type: "assisted-replication", endpoint: "192.0.2.9" }, 0x08)] })).toBe(true);
    expect(needsMulticastCapability({ route: imet, attrs: [pmsi({ type: "raw", tunnelType: 11, id: Buffer.alloc(4) })] })).toBe(true);
    expect(needsMulticastCapability({ route: imet, attrs: [pmsi({ type: "raw", tunnelType: 3, id: Buffer.alloc(8) })] })).toBe(false);
    expect(needsMulticastCapability({ route: imet, attrs: [] })).toBe(false);
  });

  it("the Multicast Flags EC (typed or raw) and the PMSI T/BM/U bits are taken out, the rest kept", () => {
    const attrs: PathAttribute[] = [
      { type: "ext-communities", communities: [rt(100), { type: "multicast-flags", igmpProxy: true, mldProxy: false }, { type: "raw", bytes: Buffer.from("0609000400000000", "hex") }, encap] },
      pmsi({ type: "ingress-replication", endpoint: "192.0.2.9" }, 0x80 | 0x10 | 0x04 | 0x02),
    ];
    expect(withoutMulticastSignalling(attrs)).toEqual([{ type: "ext-communities", communities: [rt(100), encap] }, pmsi({ type: "ingress-replication", endpoint: "192.0.2.9" }, 0x80)]);
    const only: PathAttribute[] = [{ type: "ext-communities", communities: [{ type: "multicast-flags", igmpProxy: true, mldProxy: true }] }];
    expect(withoutMulticastSignalling(only)).toEqual([]);
    const plain = common(100);
    expect(withoutMulticastSignalling(plain)).toBe(plain);
  });
});

// ---------------------------------------------------------------- speakers

const running: EvpnSpeaker[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

interface Switch {
  s: EvpnSpeaker;
  mc: McastEvpn;
  own: Record<number, McastMembershipWire | undefined>;
  port: RecordingPort;
  /** the best path of every received route key, as the speaker passed it on */
  seen: Map<string, { route: EvpnRoute; attrs: readonly PathAttribute[]; nextHop: string } | undefined>;
}

type Nb = Partial<BgpNeighborConfig> & { address: string };

function mkSwitch(routerId: string, vtep: string, vnis: number[], listen: { host: string; port: number }, neighbors: Nb[], opts: { noAttribute?: boolean; rr?: boolean } = {}): Switch {
  const own: Record<number, McastMembershipWire | undefined> = {};
  const mc = new McastEvpn(vtep, { own: (vni) => own[vni], remoteChanged: () => {} }, quietLog);
  const seen: Switch["seen"] = new Map();
  const recorder: RouteExtensions = { received: (key, route, best) => seen.set(key, best ? { route, attrs: best.attrs, nextHop: best.nextHop } : undefined) };
  // noAttribute: a switch whose membership goes out as type 6 only (no attribute 243)
  const ext: RouteExtensions = opts.noAttribute ? { multicast: (v) => mc.multicast(v), received: (k, r, b) => mc.received(k, r, b) } : mc;
  const port = new RecordingPort();
  const cfg = bgpConfig({ asn: 65000, routerId, listen, rr: opts.rr, neighbors: neighbors.map((n) => ({ remoteAsn: 65000, port: listen.port, ...n })) });
  const s = new EvpnSpeaker(cfg, vtep, vnis, port, quietLog.child({ sw: routerId }), { retryBaseMs: 100, retryMaxMs: 500, extensions: combineExtensions(ext, recorder) });
  running.push(s);
  return { s, mc, own, port, seen };
}

/** A plain BGP peer on a raw socket (not capable): connects to `host:port` from `local`, records every UPDATE. */
async function rawPeer(sp: EvpnSpeaker, host: string, port: number, local: string, bgpId: string) {
  const updates: UpdateMessage[] = [];
  const notifications: Buffer[] = [];
  const sock = connect({ host, port, localAddress: local });
  sockets.push(sock);
  sock.on("error", () => {});
  let buf = Buffer.alloc(0);
  sock.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const f = readFrame(buf);
      if (f.status !== "frame") break;
      const m = decodeMessage(Buffer.from(f.message));
      if (m.ok && m.message.type === "update") updates.push(m.message);
      if (f.message[18] === 3) notifications.push(Buffer.from(f.message));
      buf = buf.subarray(f.next);
    }
  });
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write(encodeMessage({ type: "open", version: 4, myAs: 65000, holdTime: 90, bgpId, capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "four-octet-as", asn: 65000 }] }));
  sock.write(encodeMessage({ type: "keepalive" }));
  await waitFor("raw peer Established", () => sp.summary().find((r) => r.neighbor === local)?.state === "Established");
  const announced = () => updates.flatMap((u) => evpnRoutesOf(u).announced.map((route) => ({ route, attrs: u.attributes })));
  return { sock, updates, notifications, announced, send: (u: UpdateMessage) => sock.write(encodeMessage(u)) };
}

const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));
const type6 = (sw: Switch, from: string) => sw.s.routes().filter((r) => r.type === 6 && r.from === from);
const G = (group: string, source = "*") => ({ source, group });

describe("EvpnSpeaker: type 6 and the RFC 9574 signalling go to capable neighbors only", () => {
  it("one switch, a capable and a non-capable neighbor: type 6, the Multicast Flags EC and the AR route reach only the capable one", async () => {
    const port = basePort();
    const a = mkSwitch("10.0.0.1", OWN, [100, 200], { host: "127.0.0.1", port }, [
      { address: "127.0.0.2", smet: true },
      { address: "127.0.0.3", passive: true },
    ]);
    const c = mkSwitch("10.0.0.2", "192.0.2.2", [100, 200], { host: "127.0.0.2", port }, [{ address: "127.0.0.1", smet: true }]);
    a.own[100] = { entries: [G("239.1.1.1"), G("239.1.1.2", "10.1.1.1")] };
    a.own[200] = { replicator: "192.0.2.101", entries: [G("239.2.2.2")] };
    await Promise.all([a.s.start(), c.s.start()]);
    const n = await rawPeer(a.s, "127.0.0.1", port, "127.0.0.3", "10.0.0.3");

    // the capable neighbor: one type-6 route per (VNI, S/*, G), imported into its VNI
    await waitFor("c has a's three type-6 routes", () => type6(c, "127.0.0.1").length === 3);
    expect(type6(c, "127.0.0.1").map((r) => `${r.vni} ${r.route}`).sort()).toEqual([
      "100 [6]:[0]:[*]:[239.1.1.1]:[192.0.2.1] rd 10.0.0.1:1 flags v1=0 v2=1 v3=1 exclude",
      "100 [6]:[0]:[10.1.1.1]:[239.1.1.2]:[192.0.2.1] rd 10.0.0.1:1 flags v1=0 v2=0 v3=1 include",
      "200 [6]:[0]:[*]:[239.2.2.2]:[192.0.2.1] rd 10.0.0.1:2 flags v1=0 v2=1 v3=1 exclude",
    ]);
    expect(members(c.mc, 100)).toEqual({ "*|239.1.1.1": [OWN], "10.1.1.1|239.1.1.2": [OWN] });
    // a's type-3 routes to it: Multicast Flags EC (IGMP proxy), T = AR-LEAF in 100, RNVE on the replicator's own route in 200
    const imet = (sw: Switch, originator: string, vni: number) =>
      [...sw.seen.values()].find((b) => b?.route.type === "imet" && b.route.originatorIp === originator && findAttribute(b.attrs, "pmsi-tunnel")?.label === vni);
    await waitFor("c has a's type-3 routes and the AR route", () => imet(c, OWN, 100) && imet(c, OWN, 200) && imet(c, "192.0.2.101", 200));
    for (const vni of [100, 200]) {
      expect(findAttribute(imet(c, OWN, vni)!.attrs, "ext-communities")!.communities).toContainEqual({ type: "multicast-flags", igmpProxy: true, mldProxy: false });
    }
    expect(findAttribute(imet(c, OWN, 100)!.attrs, "pmsi-tunnel")).toMatchObject({ otherFlags: 0x10, tunnel: { type: "ingress-replication", endpoint: OWN } });
    expect(findAttribute(imet(c, OWN, 200)!.attrs, "pmsi-tunnel")!.otherFlags).toBeUndefined();
    // the Replicator-AR route: type 3 from the AR-IP, tunnel type 0x0A, T = AR-REPLICATOR, next hop the AR-IP
    const ar = imet(c, "192.0.2.101", 200)!;
    expect(ar.nextHop).toBe("192.0.2.101");
    expect(findAttribute(ar.attrs, "pmsi-tunnel")).toMatchObject({ otherFlags: 0x08, label: 200, tunnel: { type: "assisted-replication", endpoint: "192.0.2.101" } });
    expect(c.mc.replicators(200)).toEqual([{ vtep: OWN, address: "192.0.2.101" }]);
    expect(c.port.flood.get(200)).toEqual(new Set([OWN])); // the AR route is no flood destination
    expect(c.s.summary()[0]).toMatchObject({ state: "Established", smet: true });

    // the non-capable neighbor, on the wire: types 2/3 only, a's own type-3 routes as before (attribute 243, no EC, no T)
    await waitFor("n has a's type-3 routes", () => n.announced().filter((x) => x.route.type === "imet").length === 2);
    await settle();
    const toN = n.announced();
    expect(toN.filter((x) => x.route.type !== "imet" && x.route.type !== "mac-ip")).toEqual([]);
    for (const { route, attrs } of toN) {
      expect(route.type === "imet" && route.originatorIp).toBe(OWN);
      expect(findAttribute(attrs, "ext-communities")!.communities.some((x) => x.type === "multicast-flags")).toBe(false);
      expect(findAttribute(attrs, "pmsi-tunnel")).toMatchObject({ leafInfoRequired: false, tunnel: { type: "ingress-replication" } });
      expect(findAttribute(attrs, "pmsi-tunnel")!.otherFlags).toBeUndefined();
      expect(attrs.some((x) => x.type === "unknown" && x.code === MCAST_ATTR_CODE)).toBe(true);
    }
    expect(a.s.summary().find((r) => r.neighbor === "127.0.0.3")).not.toHaveProperty("smet");

    // a group leaves VNI 100: its type-6 route is withdrawn at c; n gets the type-3 update alone, one UPDATE
    const nBefore = n.updates.length;
    a.own[100] = { entries: [G("239.1.1.1")] };
    a.s.refreshImet(100);
    await waitFor("c lost 10.1.1.1/239.1.1.2", () => type6(c, "127.0.0.1").length === 2 && !c.mc.remoteMembers(100).has("10.1.1.1|239.1.1.2"));
    await settle();
    expect(members(c.mc, 100)).toEqual({ "*|239.1.1.1": [OWN] });
    expect(n.updates.length - nBefore).toBe(1);
    expect(n.updates.slice(nBefore).flatMap((u) => [...evpnRoutesOf(u).announced, ...evpnRoutesOf(u).withdrawn]).map((r) => r.type)).toEqual(["imet"]);
    expect(n.notifications).toEqual([]);
  });

  it("membership carried by type 6 alone (a switch without the attribute) reaches the receiver; each (S,G) comes and goes by itself", async () => {
    const port = basePort();
    const a = mkSwitch("10.0.0.1", OWN, [100], { host: "127.0.0.1", port }, [{ address: "127.0.0.2", smet: true }], { noAttribute: true });
    const c = mkSwitch("10.0.0.2", "192.0.2.2", [100], { host: "127.0.0.2", port }, [{ address: "127.0.0.1", smet: true }]);
    a.own[100] = { entries: [G("239.1.1.1"), G("239.1.1.2", "10.1.1.1")] };
    await Promise.all([a.s.start(), c.s.start()]);
    await waitFor("c learned both groups", () => c.mc.remoteMembers(100).size === 2);
    expect(c.s.routes().find((r) => r.type === 3 && r.from === "127.0.0.1")!.unknownAttrs).toBeUndefined(); // no attribute 243
    a.own[100] = { entries: [G("239.1.1.2", "10.1.1.1")] };
    a.s.refreshImet(100);
    await waitFor("c forgot (*,239.1.1.1) only", () => c.mc.remoteMembers(100).size === 1);
    expect(members(c.mc, 100)).toEqual({ "10.1.1.1|239.1.1.2": [OWN] });
    a.own[100] = undefined;
    a.s.refreshImet(100);
    await waitFor("c forgot everything", () => c.mc.remoteMembers(100).size === 0 && type6(c, "127.0.0.1").length === 0);
    // without multicast in the VNI, the type-3 route to the capable neighbor is the plain one again
    await settle();
    const t3 = [...c.seen.values()].find((b) => b?.route.type === "imet");
    expect(findAttribute(t3!.attrs, "ext-communities")!.communities.some((x) => x.type === "multicast-flags")).toBe(false);
    expect(findAttribute(t3!.attrs, "pmsi-tunnel")!.otherFlags).toBeUndefined();
  });

  it("a vxgate reflector passes type 6 and the AR route to capable clients only, and type 3 to the others without the EC and T field", async () => {
    const port = basePort();
    const rr = mkSwitch("10.0.0.100", "192.0.2.100", [], { host: "127.0.0.100", port }, [
      { address: "127.0.0.1", role: "rr-client", smet: true },
      { address: "127.0.0.2", role: "rr-client", smet: true },
      { address: "127.0.0.3", role: "rr-client", passive: true },
    ], { rr: true });
    const a = mkSwitch("10.0.0.1", OWN, [100], { host: "127.0.0.1", port }, [{ address: "127.0.0.100", smet: true }]);
    const c = mkSwitch("10.0.0.2", "192.0.2.2", [100], { host: "127.0.0.2", port }, [{ address: "127.0.0.100", smet: true }]);
    a.own[100] = { replicator: "192.0.2.101", entries: [G("239.1.1.1")] };
    c.own[100] = { entries: [G("239.4.4.4")] }; // an AR-LEAF: T = 10 and the EC on its type-3 route to the reflector
    await Promise.all([rr.s.start(), a.s.start(), c.s.start()]);
    const n = await rawPeer(rr.s, "127.0.0.100", port, "127.0.0.3", "10.0.0.3");
    await waitFor("c has a's type-6 route through the reflector", () => type6(c, "127.0.0.100").length === 1);
    expect(type6(c, "127.0.0.100")[0]).toMatchObject({ vni: 100, originator: "10.0.0.1", clusterList: "10.0.0.100" });
    await waitFor("c has the AR route", () => c.mc.replicators(100).length === 1);
    await waitFor("n has a's and c's type-3 routes", () => n.announced().filter((x) => x.route.type === "imet").length >= 2);
    await settle(300);
    // the reflector holds a's type-6 and AR routes, but n never got them
    expect(rr.s.routes().filter((r) => r.type === 6 && r.from === "127.0.0.1")).toHaveLength(1);
    expect(rr.s.routes().filter((r) => r.type === 3 && r.from === "127.0.0.1")).toHaveLength(2);
    const toN = n.announced();
    expect(toN.some((x) => x.route.type === "smet" || (x.route.type === "raw" && x.route.routeType >= 6))).toBe(false);
    expect(toN.filter((x) => x.route.type === "imet").map((x) => (x.route as { originatorIp: string }).originatorIp).sort()).toEqual([OWN, "192.0.2.2"]);
    expect(toN.some((x) => findAttribute(x.attrs, "pmsi-tunnel")?.tunnel.type === "assisted-replication")).toBe(false);
    // the reflector got c's type 3 with the EC and T = AR-LEAF; n gets it as a non-capable switch sends it
    const fromC = [...rr.seen.values()].find((b) => b?.route.type === "imet" && b.route.originatorIp === "192.0.2.2")!;
    expect(findAttribute(fromC.attrs, "pmsi-tunnel")!.otherFlags).toBe(0x10);
    expect(findAttribute(fromC.attrs, "ext-communities")!.communities).toContainEqual({ type: "multicast-flags", igmpProxy: true, mldProxy: false });
    for (const { route, attrs } of toN.filter((x) => x.route.type === "imet")) {
      expect(findAttribute(attrs, "ext-communities")!.communities.map((x) => x.type), JSON.stringify(route)).toEqual(["route-target", "encapsulation"]);
      expect(findAttribute(attrs, "pmsi-tunnel")!.otherFlags).toBeUndefined();
      expect(attrs.some((x) => x.type === "unknown" && x.code === MCAST_ATTR_CODE)).toBe(true);
    }
    expect(n.notifications).toEqual([]);
    expect(rr.s.summary().map((r) => [r.neighbor, r.state, r.smet ?? false])).toEqual([
      ["127.0.0.1", "Established", true],
      ["127.0.0.2", "Established", true],
      ["127.0.0.3", "Established", false],
    ]);
  });

  it("type 6 from a non-capable peer still counts; a malformed type 6 is dropped alone, the session and the rest of its UPDATE stay", async () => {
    const port = basePort();
    const a = mkSwitch("10.0.0.1", OWN, [100], { host: "127.0.0.1", port }, [{ address: "127.0.0.3", passive: true }]);
    await a.s.start();
    const n = await rawPeer(a.s, "127.0.0.1", port, "127.0.0.3", "10.0.0.3");
    const rd = parseRd("10.0.0.3:1");
    const smet: EvpnRoute = { type: "smet", rd, ethernetTag: 0, group: "239.3.3.3", originatorIp: "192.0.2.3", flags: { igmpV1: false, igmpV2: true, igmpV3: false, exclude: false } };
    const mac: EvpnRoute = { type: "mac-ip", rd, esi: "00:00:00:00:00:00:00:00:00:00", ethernetTag: 0, mac: "02:00:00:00:03:01", label1: 100 };
    // group length 8 bits: framed by its Length octet, not parsable
    const bad: EvpnRoute = { type: "raw", routeType: 6, value: Buffer.concat([Buffer.from("0001" + "0a000003" + "0001", "hex"), Buffer.from("00000000" + "00" + "08ef" + "20c0000203" + "02", "hex")]) };
    const attrs = [...common(100)];
    n.send({ type: "update", withdrawnRoutes: [], nlri: [], attributes: [{ type: "mp-reach", family: "evpn", nextHop: "192.0.2.3", routes: [smet, bad, mac] }, ...attrs] });
    await waitFor("the good routes are in", () => a.port.remote.has("100/02:00:00:00:03:01") && a.mc.remoteMembers(100).has("*|239.3.3.3"));
    expect(a.s.counters.malformedRoutes).toBe(1);
    expect(a.s.summary()[0]).toMatchObject({ state: "Established", flaps: 0, pfxAccepted: 2 });
    expect(a.s.routes().filter((r) => r.from === "127.0.0.3").map((r) => r.type)).toEqual([2, 6]);
    // withdrawn (with a malformed one beside it): gone, still up
    n.send({ type: "update", withdrawnRoutes: [], nlri: [], attributes: [{ type: "mp-unreach", family: "evpn", routes: [bad, smet] }] });
    await waitFor("the type-6 route is withdrawn", () => a.mc.remoteMembers(100).size === 0);
    await settle();
    expect(a.s.summary()[0]).toMatchObject({ state: "Established", flaps: 0 });
    expect(n.notifications).toEqual([]);
    expect(a.s.checkConsistency()).toEqual([]);
  });
});

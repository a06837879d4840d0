// The UPDATE receive fast path (src/control/evpn/bgp/fast-update.ts) against
// decodeUpdateBody, the reference: for every UPDATE it takes, the same routes,
// route keys, next hop and attributes; every UPDATE it does not take (errors,
// discards, IPv4 routes, End-of-RIB) is left to decodeUpdateBody, so RFC 7606
// handling stays what it was.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  buildEvpnUpdates,
  buildEvpnWithdrawals,
  decodeUpdateBody,
  encodeMessage,
  ESI_ZERO,
  evpnEndOfRib,
  evpnRouteKey,
  evpnRoutesOf,
  type EvpnRoute,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import { UpdateFastPath } from "../../src/control/evpn/bgp/fast-update.ts";
import { evpnPathAttrs } from "./evpn-helpers.ts";

const body = (u: UpdateMessage) => encodeMessage(u).subarray(19);

const attrs = evpnPathAttrs;

const rd = { format: "ipv4" as const, ip: "10.0.0.2", value: 1 };
const mac = (i: number) => `02:10:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
const macRoute = (i: number, extra: Partial<Extract<EvpnRoute, { type: "mac-ip" }>> = {}): EvpnRoute => ({ type: "mac-ip", rd, esi: ESI_ZERO, ethernetTag: 0, mac: mac(i), label1: 100, ...extra });

/** The reference: what the speaker took from decodeUpdateBody. */
function reference(b: Buffer) {
  const r = decodeUpdateBody(b);
  if (!r.ok) return r;
  const { announced, withdrawn, nextHop } = evpnRoutesOf(r.update);
  return { announced, withdrawn, nextHop, attrs: r.update.attributes.filter((a) => a.type !== "mp-reach" && a.type !== "mp-unreach") };
}

function expectSame(fp: UpdateFastPath, b: Buffer) {
  const f = fp.decode(b);
  expect(f).toBeDefined();
  const ref = reference(b) as Exclude<ReturnType<typeof reference>, { ok: false }>;
  expect(f!.announced).toEqual(ref.announced);
  expect(f!.withdrawn).toEqual(ref.withdrawn);
  expect(f!.nextHop).toEqual(ref.nextHop);
  expect(f!.attrs).toEqual(ref.attrs);
  expect(f!.announcedKeys).toEqual(ref.announced.map(evpnRouteKey));
  expect(f!.withdrawnKeys).toEqual(ref.withdrawn.map(evpnRouteKey));
  return f!;
}

describe("UpdateFastPath", () => {
  it("one NLRI per UPDATE and many: same routes, keys, next hop and attributes as decodeUpdateBody", () => {
    const fp = new UpdateFastPath();
    for (let i = 0; i < 20; i++) expectSame(fp, body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(i)], attributes: attrs() })[0]!));
    const many = buildEvpnUpdates({ nextHop: "198.18.0.2", routes: Array.from({ length: 300 }, (_, i) => macRoute(i)), attributes: attrs(3) });
    expect(many.length).toBeGreaterThan(1);
    for (const u of many) expectSame(fp, body(u));
    expect(fp.stats.slow).toBe(0);
  });

  it("every shape of type 2 (IP 0/4/16, label2, ESI, RD formats, tags), types 3 and 6 among them, and IPv6 next hops", () => {
    const rds = [rd, { format: "as2" as const, asn: 65000, value: 7 }, { format: "as4" as const, asn: 4200000000, value: 9 }, { format: "raw" as const, bytes: Buffer.from("0003000000000001", "hex") }];
    const arb = fc.record({
      rd: fc.constantFrom(...rds),
      esi: fc.constantFrom(ESI_ZERO, "00:11:22:33:44:55:66:77:88:99"),
      ethernetTag: fc.constantFrom(0, 1, 0xffffffff),
      mac: fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Buffer.from(b).toString("hex").match(/../g)!.join(":")),
      ip: fc.constantFrom(undefined, "10.1.2.3", "2001:db8::1"),
      label1: fc.integer({ min: 0, max: 0xffffff }),
      label2: fc.constantFrom(undefined, 5000),
    });
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 12 }), fc.constantFrom("198.18.0.2", "2001:db8::2"), fc.boolean(), (specs, nh, withOthers) => {
        const routes: EvpnRoute[] = specs.map((s) => {
          const r: EvpnRoute = { type: "mac-ip", rd: s.rd, esi: s.esi, ethernetTag: s.ethernetTag, mac: s.mac, label1: s.label1 };
          if (s.ip !== undefined) r.ip = s.ip;
          if (s.label2 !== undefined) r.label2 = s.label2;
          return r;
        });
        if (withOthers) {
          routes.splice(1, 0, { type: "imet", rd, ethernetTag: 0, originatorIp: "198.18.0.2" });
          routes.push({ type: "smet", rd, ethernetTag: 0, group: "239.1.1.1", originatorIp: "198.18.0.2", flags: { igmpV1: false, igmpV2: true, igmpV3: true, exclude: true } });
        }
        const fp = new UpdateFastPath();
        for (const u of buildEvpnUpdates({ nextHop: nh, routes, attributes: attrs() })) expectSame(fp, body(u));
        for (const u of buildEvpnWithdrawals(routes)) expectSame(fp, body(u));
      }),
      { numRuns: 200 },
    );
  });

  it("routes with the same attribute octets share one attribute array; another sequence number is another", () => {
    const fp = new UpdateFastPath();
    const a = fp.decode(body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(1)], attributes: attrs() })[0]!))!.attrs;
    const b = fp.decode(body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(2)], attributes: attrs() })[0]!))!.attrs;
    const c = fp.decode(body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(3)], attributes: attrs(1) })[0]!))!.attrs;
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(c).toEqual(attrs(1));
    // a body inside a bigger buffer (the session's read buffer): the same
    const u = body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(4)], attributes: attrs() })[0]!);
    const big = Buffer.concat([Buffer.alloc(7, 0xee), u, Buffer.alloc(5, 0xee)]);
    const f = fp.decode(big, 7, 7 + u.length)!;
    expect(f.attrs).toBe(a);
    expect(f.announced).toEqual([macRoute(4)]);
  });

  it("attribute sets in turn (the last one is compared in place): each UPDATE gets its own set's array", () => {
    const fp = new UpdateFastPath();
    const u = (i: number, seq?: number) => body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(i)], attributes: attrs(seq) })[0]!);
    const a = expectSame(fp, u(1)).attrs;
    const c = expectSame(fp, u(2, 7)).attrs;
    expect(c).not.toBe(a);
    expect(expectSame(fp, u(3)).attrs).toBe(a);
    expect(expectSame(fp, u(4)).attrs).toBe(a);
    expect(expectSame(fp, u(5, 7)).attrs).toBe(c);
    const d = expectSame(fp, u(6, 8)).attrs;
    expect(d).toEqual(attrs(8));
    // the same octets differing in one byte only (sequence 8 -> 9): not the same set
    expect(expectSame(fp, u(7, 9)).attrs).toEqual(attrs(9));
    // withdrawal-only (no other attributes), then an announcement without any
    // attributes: not the withdrawal's (empty) set; decodeUpdateBody decides,
    // as for a fresh decoder
    expectSame(fp, body(buildEvpnWithdrawals([macRoute(1)])[0]!));
    const bare = body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(8)], attributes: [] })[0]!);
    const fresh = new UpdateFastPath().decode(bare);
    const again = fp.decode(bare);
    expect(again === undefined).toBe(fresh === undefined);
    if (again) expect(again.attrs).toEqual(fresh!.attrs);
  });

  it("attributes in code order, MP_REACH_NLRI between them (as GoBGP sends): compared run by run, each set its own", () => {
    const fp = new UpdateFastPath();
    // the same UPDATE with MP_REACH_NLRI moved after LOCAL_PREF: three runs around it
    const gobgpOrder = (i: number, seq?: number) => {
      const u = buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(i)], attributes: attrs(seq) })[0]!;
      const mp = u.attributes.find((a) => a.type === "mp-reach")!;
      const rest = u.attributes.filter((a) => a !== mp);
      const at = rest.findIndex((a) => a.type === "ext-communities");
      const b = body({ ...u, attributes: [...rest.slice(0, at), mp, ...rest.slice(at)] });
      // really in the middle: ORIGIN first, MP_REACH_NLRI (14) before EXTENDED COMMUNITIES (16)
      expect(b[4 + 1]).toBe(1);
      return b;
    };
    const a = expectSame(fp, gobgpOrder(1)).attrs;
    expect(expectSame(fp, gobgpOrder(2)).attrs).toBe(a);
    const c = expectSame(fp, gobgpOrder(3, 5)).attrs;
    expect(c).not.toBe(a);
    expect(c).toEqual(attrs(5));
    // one octet after MP_REACH_NLRI differs (sequence 5 -> 6): another set
    expect(expectSame(fp, gobgpOrder(4, 6)).attrs).toEqual(attrs(6));
    expect(expectSame(fp, gobgpOrder(5)).attrs).toBe(a);
    // the same attributes with MP_REACH_NLRI first: the same set
    expect(expectSame(fp, body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(6)], attributes: attrs() })[0]!)).attrs).toEqual(a);
    expect(fp.stats.slow).toBe(0);
  });

  it("the result's arrays are written in place: each UPDATE gets exactly its own routes, whatever came before, a refused one included", () => {
    const fp = new UpdateFastPath();
    const up = (ids: number[], nextHop = "198.18.0.2") => body(buildEvpnUpdates({ nextHop, routes: ids.map((i) => macRoute(i)), attributes: attrs() })[0]!);
    const mixed = (ann: number[], wd: number[]) =>
      body({ type: "update", withdrawnRoutes: [], nlri: [], attributes: [{ type: "mp-unreach", family: "evpn", routes: wd.map((i) => macRoute(i)) }, ...buildEvpnUpdates({ nextHop: "198.18.0.2", routes: ann.map((i) => macRoute(i)), attributes: attrs() })[0]!.attributes] });
    expectSame(fp, up([1, 2, 3, 4, 5]));
    expectSame(fp, mixed([6, 7], [1, 2, 3]));
    // fewer of each than the UPDATE before: nothing of it left over
    expect(expectSame(fp, up([8])).withdrawnKeys).toEqual([]);
    expectSame(fp, mixed([9], [4]));
    // refused half way (the third route's MAC length): the next one is whole
    const bad = Buffer.from(up([10, 11, 12]));
    const at = bad.lastIndexOf(Buffer.from([0x30, 0x02, 0x10, 0x00, 0x00, 0x00, 12]));
    bad[at] = 47;
    expect(fp.decode(bad)).toBeUndefined();
    expect(expectSame(fp, up([13])).announcedKeys).toEqual([evpnRouteKey(macRoute(13))]);
    // next hops in turn (the last one is compared in place)
    for (const nh of ["198.18.0.2", "198.18.0.3", "198.18.0.2", "10.255.0.1"]) expect(expectSame(fp, up([14], nh)).nextHop).toBe(nh);
    expect(fp.stats.slow).toBe(1); // the refused one
  });

  it("withdrawal-only UPDATEs are taken; End-of-RIB is left to the session", () => {
    const fp = new UpdateFastPath();
    const f = expectSame(fp, body(buildEvpnWithdrawals([macRoute(1), macRoute(2)])[0]!));
    expect(f.attrs).toEqual([]);
    expect(fp.decode(body(evpnEndOfRib()))).toBeUndefined();
  });

  it("withdrawals by key only (withdrawnRoutes: false): the same keys, no route objects, and the same refusals", () => {
    const fp = new UpdateFastPath({}, { withdrawnRoutes: false });
    const routes = [macRoute(1), macRoute(2, { ip: "198.51.100.2" }), macRoute(3, { ip: "2001:db8::3", label2: 5 }), macRoute(4, { ethernetTag: 7 })];
    const w = body(buildEvpnWithdrawals(routes)[0]!);
    const f = fp.decode(w)!;
    expect(f.withdrawn).toEqual([]);
    expect(f.withdrawnKeys).toEqual(routes.map(evpnRouteKey));
    // the next withdrawal has its own keys only, not the last one's as well
    expect(fp.decode(body(buildEvpnWithdrawals([macRoute(9)])[0]!))!.withdrawnKeys).toEqual([evpnRouteKey(macRoute(9))]);
    // announcements still come with their routes
    const a = fp.decode(body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(5)], attributes: attrs() })[0]!))!;
    expect(a.announced).toEqual([macRoute(5)]);
    // a withdrawal whose NLRI does not parse (MAC length 47) is still left to decodeUpdateBody
    const bad = Buffer.from(w);
    const macLen = bad.indexOf(Buffer.from([0x30, 0x02, 0x10, 0x00, 0x00, 0x00, 0x01]));
    expect(macLen).toBeGreaterThan(0);
    bad[macLen] = 47;
    expect(fp.decode(bad)).toBeUndefined();
    expect(new UpdateFastPath().decode(bad)).toBeUndefined();
  });

  it("a malformed NLRI in the middle of an UPDATE: left to decodeUpdateBody, which resets the session as before", () => {
    const fp = new UpdateFastPath();
    // a good UPDATE first: its attributes are cached
    expectSame(fp, body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(9)], attributes: attrs() })[0]!));
    const u = body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(1), macRoute(2), macRoute(3)], attributes: attrs() })[0]!);
    // the second route's MAC Length octet (route 1 starts after the MP_REACH header: 3 (hdr) + 5 + 4 (next hop))
    const b = Buffer.from(u);
    const mpAt = 4; // MP_REACH is the first attribute
    const hdr = b[mpAt]! & 0x10 ? 4 : 3;
    const nlri = mpAt + hdr + 5 + 4;
    const second = nlri + 2 + b[nlri + 1]!;
    expect(b[second + 2 + 22]).toBe(48);
    b[second + 2 + 22] = 47;
    expect(fp.decode(b)).toBeUndefined();
    const r = decodeUpdateBody(b);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.action).toBe("session-reset");
    expect(!r.ok && r.error.reason).toMatch(/MAC length 47/);
    // a Length that overruns the NLRI: the same
    const c = Buffer.from(u);
    c[second + 1] = 200;
    expect(fp.decode(c)).toBeUndefined();
    expect(decodeUpdateBody(c).ok).toBe(false);
  });

  it("attribute errors and discards are never cached: treat-as-withdraw and RFC 7606 discards come from decodeUpdateBody", () => {
    const fp = new UpdateFastPath();
    const good = body(buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [macRoute(1)], attributes: attrs() })[0]!);
    expectSame(fp, good);
    // ORIGIN value 7 (malformed: treat-as-withdraw), same length as the good one
    const bad = Buffer.from(good);
    const originAt = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    expect(originAt).toBeGreaterThan(0);
    bad[originAt + 3] = 7;
    for (let i = 0; i < 2; i++) {
      expect(fp.decode(bad)).toBeUndefined();
      const r = decodeUpdateBody(bad);
      expect(!r.ok && r.error.action).toBe("treat-as-withdraw");
      expect(!r.ok && r.error.withdraw?.evpn).toEqual([macRoute(1)]);
    }
    // a repeated LOCAL_PREF: decodeUpdateBody discards the repeat, so the fast path does not take it
    const lp = Buffer.from([0x40, 0x05, 0x04, 0, 0, 0, 200]);
    const rep = Buffer.concat([good, lp]);
    rep.writeUInt16BE(rep.readUInt16BE(2) + lp.length, 2);
    expect(fp.decode(rep)).toBeUndefined();
    const r = decodeUpdateBody(rep);
    expect(r.ok && r.discarded.length).toBe(1);
    // MP_REACH with the wrong flags: treat-as-withdraw, from decodeUpdateBody
    const flags = Buffer.from(good);
    flags[4] = flags[4]! | 0x40;
    expect(fp.decode(flags)).toBeUndefined();
    const rf = decodeUpdateBody(flags);
    expect(!rf.ok && rf.error.action).toBe("treat-as-withdraw");
    // and the good one is still taken
    expectSame(fp, good);
  });

  it("IPv4 unicast routes and other families go the ordinary way", () => {
    const fp = new UpdateFastPath();
    const v4: UpdateMessage = { type: "update", withdrawnRoutes: ["10.0.0.0/8"], attributes: [], nlri: [] };
    expect(fp.decode(body(v4))).toBeUndefined();
    const other: UpdateMessage = { type: "update", withdrawnRoutes: [], attributes: [{ type: "mp-unreach", family: "raw", afi: 1, safi: 128, withdrawn: Buffer.alloc(0) }], nlri: [] };
    expect(fp.decode(body(other))).toBeUndefined();
  });
});

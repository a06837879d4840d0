// Loc-RIB best path, receive-side loop checks and the export / reflection
// rules (RFC 4271 §9, RFC 4456).
import { describe, expect, it } from "vitest";
import type { EvpnRoute, PathAttribute } from "../../src/control/evpn/bgp/index.ts";
import { comparePaths, exportAttributes, LocRib, mayAdvertise, rejectReason, type Path, type PeerRef } from "../../src/control/evpn/rib.ts";

const route: EvpnRoute = { type: "mac-ip", rd: { format: "ipv4", ip: "10.0.0.9", value: 1 }, esi: "00:00:00:00:00:00:00:00:00:00", ethernetTag: 0, mac: "02:00:00:00:00:01", label1: 100 };
const KEY = "k";

const peer = (id: string, o: Partial<PeerRef> = {}): PeerRef => ({ id, routerId: id, asn: 65000, ibgp: true, rrClient: false, ...o });
const path = (from: PeerRef | undefined, attrs: PathAttribute[] = []): Path => ({
  key: KEY,
  route,
  nextHop: "192.0.2.9",
  attrs: [{ type: "origin", value: 0 }, { type: "as-path", segments: [] }, ...attrs],
  ...(from ? { from } : {}),
});
const me = { asn: 65000, routerId: "10.0.0.1" };
const rr = { ...me, clusterId: "10.0.0.100" };

describe("best path", () => {
  const a = peer("10.0.0.2");
  const b = peer("10.0.0.3");
  it.each<[string, Path, Path]>([
    ["local beats received", path(undefined), path(a, [{ type: "local-pref", value: 500 }])],
    ["higher LOCAL_PREF", path(b, [{ type: "local-pref", value: 200 }]), path(a)],
    ["shorter AS_PATH", path(b), { ...path(a), attrs: [{ type: "origin", value: 0 }, { type: "as-path", segments: [{ type: "sequence", asns: [1] }] }] }],
    ["lower ORIGIN", path(b), { ...path(a), attrs: [{ type: "origin", value: 2 }, { type: "as-path", segments: [] }] }],
    ["lower MED (same neighbor AS)", path(b, [{ type: "med", value: 1 }]), path(a, [{ type: "med", value: 5 }])],
    ["eBGP over iBGP", path(peer("10.0.0.5", { ibgp: false })), path(a)],
    ["lower originator id", path(b, [{ type: "originator-id", id: "10.0.0.7" }]), path(a, [{ type: "originator-id", id: "10.0.0.8" }])],
    ["shorter CLUSTER_LIST", path(b, [{ type: "cluster-list", ids: ["1.1.1.1"] }]), path(peer("10.0.0.2", { routerId: "10.0.0.3" }), [{ type: "cluster-list", ids: ["1.1.1.1", "2.2.2.2"] }])],
    ["lower peer address", path(peer("10.0.0.2", { routerId: "9.9.9.9" })), path(peer("10.0.0.10", { routerId: "9.9.9.9" }))],
  ])("%s", (_n, better, worse) => {
    expect(comparePaths(better, worse)).toBeLessThan(0);
    expect(comparePaths(worse, better)).toBeGreaterThan(0);
  });

  it("reselects on upsert/remove and reports changes", () => {
    const rib = new LocRib();
    const pa = path(a);
    const pb = path(b, [{ type: "local-pref", value: 200 }]);
    expect(rib.upsert(pa)).toEqual({ key: KEY, best: pa });
    expect(rib.upsert(pb)).toEqual({ key: KEY, old: pa, best: pb });
    expect(rib.upsert(path(a))).toBeUndefined(); // replacing a non-best path changes nothing
    expect(rib.remove(KEY, b.id)?.best?.from?.id).toBe(a.id);
    expect(rib.remove(KEY, a.id)?.best).toBeUndefined();
    expect(rib.size).toBe(0);
  });

  it("a key goes from one path to several and back, best and paths kept right", () => {
    const rib = new LocRib();
    const pa = path(a);
    // one path: replaced by the same source, its own best
    expect(rib.upsert(pa)).toEqual({ key: KEY, best: pa });
    const pa2 = path(a, [{ type: "med", value: 3 }]);
    expect(rib.upsert(pa2)).toEqual({ key: KEY, old: pa, best: pa2 });
    expect(rib.upsert(pa2)).toBeUndefined(); // the same object again: nothing changed
    expect(rib.paths(KEY)).toEqual([pa2]);
    expect(rib.remove(KEY, b.id)).toBeUndefined(); // not a source of the key
    // a worse second path: no change of best, both listed
    const pb = path(b, [{ type: "local-pref", value: 50 }]);
    expect(rib.upsert(pb)).toBeUndefined();
    expect(rib.paths(KEY)).toEqual([pa2, pb]);
    expect(rib.best(KEY)).toBe(pa2);
    expect([...rib.bestPaths()]).toEqual([pa2]);
    // the best goes: the other one is best, alone again
    expect(rib.remove(KEY, a.id)).toEqual({ key: KEY, old: pa2, best: pb });
    expect(rib.paths(KEY)).toEqual([pb]);
    // a better one from a third source, then replaced by a worse one from it
    const c = peer("10.0.0.4");
    const pc = path(c, [{ type: "local-pref", value: 300 }]);
    expect(rib.upsert(pc)).toEqual({ key: KEY, old: pb, best: pc });
    const pc2 = path(c, [{ type: "local-pref", value: 10 }]);
    expect(rib.upsert(pc2)).toEqual({ key: KEY, old: pc, best: pb });
    expect(rib.remove(KEY, b.id)).toEqual({ key: KEY, old: pb, best: pc2 });
    expect(rib.remove(KEY, c.id)).toEqual({ key: KEY, old: pc2 });
    expect(rib.size).toBe(0);
    expect(rib.best(KEY)).toBeUndefined();
    expect(rib.paths(KEY)).toEqual([]);
    // a local path (no from) is one source too
    const pl = path(undefined);
    expect(rib.upsert(pl)).toEqual({ key: KEY, best: pl });
    expect(rib.remove(KEY, a.id)).toBeUndefined();
    expect(rib.remove(KEY, undefined)).toEqual({ key: KEY, old: pl });
  });
});

describe("loop checks", () => {
  it("drops our own ORIGINATOR_ID, our cluster id in CLUSTER_LIST, our AS on eBGP", () => {
    expect(rejectReason(path(peer("10.0.0.2"), [{ type: "originator-id", id: "10.0.0.1" }]), me)).toMatch(/ORIGINATOR_ID/);
    expect(rejectReason(path(peer("10.0.0.2"), [{ type: "cluster-list", ids: ["10.0.0.100"] }]), rr)).toMatch(/CLUSTER_LIST/);
    expect(rejectReason(path(peer("10.0.0.2"), [{ type: "cluster-list", ids: ["10.0.0.100"] }]), me)).toBeUndefined();
    const eb = peer("10.0.0.5", { ibgp: false, asn: 65005 });
    expect(rejectReason({ ...path(eb), attrs: [{ type: "as-path", segments: [{ type: "sequence", asns: [65005, 65000] }] }] }, me)).toMatch(/AS_PATH/);
    expect(rejectReason(path(peer("10.0.0.2")), me)).toBeUndefined();
  });
});

describe("export rules (RFC 4456 §6)", () => {
  const client1 = peer("10.0.0.11", { rrClient: true });
  const client2 = peer("10.0.0.12", { rrClient: true });
  const nonClient = peer("10.0.0.21");
  const nonClient2 = peer("10.0.0.22");
  const ebgp = peer("10.0.0.31", { ibgp: false, asn: 65031 });

  it.each<[string, PeerRef, PeerRef, boolean, boolean]>([
    // src, dst, as a reflector, as a plain iBGP speaker
    ["client -> client", client1, client2, true, false],
    ["client -> non-client", client1, nonClient, true, false],
    ["non-client -> client", nonClient, client1, true, false],
    ["non-client -> non-client", nonClient, nonClient2, false, false],
    ["iBGP -> eBGP", nonClient, ebgp, true, true],
    ["eBGP -> iBGP", ebgp, nonClient, true, true],
    ["never back to the sender", client1, client1, false, false],
  ])("%s", (_n, src, dst, asRr, asPlain) => {
    expect(mayAdvertise(path(src), dst, rr)).toBe(asRr);
    expect(mayAdvertise(path(src), dst, me)).toBe(asPlain);
  });

  it("does not reflect a route back to its originator", () => {
    expect(mayAdvertise(path(client1, [{ type: "originator-id", id: client2.routerId }]), client2, rr)).toBe(false);
  });

  it("reflection adds ORIGINATOR_ID and prepends the cluster id; keeps unknown transitive attributes with Partial", () => {
    const unknownT: PathAttribute = { type: "unknown", code: 200, flags: 0xc0, value: Buffer.from([1, 2]) };
    const unknownNT: PathAttribute = { type: "unknown", code: 201, flags: 0x80, value: Buffer.from([3]) };
    const ours: PathAttribute = { type: "unknown", code: 244, flags: 0xc0, value: Buffer.from([1]) };
    const out = exportAttributes(path(client1, [{ type: "cluster-list", ids: ["9.9.9.9"] }, unknownT, unknownNT, ours]), client2, rr);
    expect(out.find((a) => a.type === "originator-id")).toEqual({ type: "originator-id", id: client1.routerId });
    expect(out.find((a) => a.type === "cluster-list")).toEqual({ type: "cluster-list", ids: ["10.0.0.100", "9.9.9.9"] });
    expect(out.find((a) => a.type === "local-pref")).toEqual({ type: "local-pref", value: 100 });
    expect(out.find((a) => a.type === "unknown" && a.code === 200)).toMatchObject({ flags: 0xe0 });
    expect(out.find((a) => a.type === "unknown" && a.code === 201)).toBeUndefined();
    expect(out.find((a) => a.type === "unknown" && a.code === 244)).toMatchObject({ flags: 0xc0 });
  });

  it("eBGP export prepends our AS and strips LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST", () => {
    const out = exportAttributes(
      path(client1, [{ type: "local-pref", value: 300 }, { type: "originator-id", id: "1.1.1.1" }, { type: "cluster-list", ids: ["2.2.2.2"] }]),
      ebgp,
      rr,
    );
    expect(out.map((a) => a.type)).toEqual(["origin", "as-path"]);
    expect(out.find((a) => a.type === "as-path")).toEqual({ type: "as-path", segments: [{ type: "sequence", asns: [65000] }] });
  });
});

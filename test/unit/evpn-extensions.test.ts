// combineExtensions: several features' RouteExtensions as one for the speaker.
import { describe, expect, it } from "vitest";
import { type EvpnRoute, type PathAttribute, parseRd } from "../../src/control/evpn/bgp/index.ts";
import { combineExtensions } from "../../src/control/evpn/extensions.ts";
import type { RouteExtensions } from "../../src/control/evpn/speaker.ts";

const attr = (code: number, v: number): PathAttribute => ({ type: "unknown", code, flags: 0xc0, value: Buffer.from([v]) });
const route: EvpnRoute = { type: "imet", rd: parseRd("10.0.0.2:1"), ethernetTag: 0, originatorIp: "192.0.2.2" };
const best = { attrs: [attr(243, 1)], nextHop: "192.0.2.2" };

/** An extension that records its calls and adds one attribute of its code per route. */
class Recorder implements RouteExtensions {
  readonly calls: string[] = [];
  constructor(
    readonly code: number,
    readonly log: string[],
  ) {}
  imet(vni: number): PathAttribute[] {
    this.log.push(`${this.code} imet ${vni}`);
    return [attr(this.code, vni & 0xff)];
  }
  mac(mac: string, vnis: readonly number[]): PathAttribute[] {
    this.log.push(`${this.code} mac ${mac} ${vnis.join(",")}`);
    return vnis.length > 1 ? [attr(this.code, vnis.length)] : [];
  }
  received(key: string, _route: EvpnRoute, b: { attrs: readonly PathAttribute[]; nextHop: string } | undefined): void {
    // `this` must be the extension itself (features keep their state on it)
    this.calls.push(`${key} ${b ? b.nextHop : "withdrawn"}`);
    this.log.push(`${this.code} received`);
  }
}

describe("combineExtensions", () => {
  it("nothing given, or only undefined: undefined (the speaker then has no extensions)", () => {
    expect(combineExtensions()).toBeUndefined();
    expect(combineExtensions(undefined, undefined)).toBeUndefined();
  });

  it("one given: that one itself", () => {
    const r = new Recorder(245, []);
    expect(combineExtensions(undefined, r, undefined)).toBe(r);
  });

  it("imet and mac: every extension's attributes, concatenated in argument order", () => {
    const log: string[] = [];
    const a = new Recorder(245, log);
    const b = new Recorder(243, log);
    const c = combineExtensions(a, undefined, b)!;
    expect(c.imet!(100)).toEqual([attr(245, 100), attr(243, 100)]);
    expect(c.mac!("02:00:00:00:00:01", [100, 200])).toEqual([attr(245, 2), attr(243, 2)]);
    expect(c.mac!("02:00:00:00:00:01", [100])).toEqual([]);
    expect(log).toEqual(["245 imet 100", "243 imet 100", "245 mac 02:00:00:00:00:01 100,200", "243 mac 02:00:00:00:00:01 100,200", "245 mac 02:00:00:00:00:01 100", "243 mac 02:00:00:00:00:01 100"]);
  });

  it("received: passed to each, with the same arguments, in order", () => {
    const log: string[] = [];
    const a = new Recorder(245, log);
    const b = new Recorder(243, log);
    const c = combineExtensions(a, b)!;
    c.received!("3:k", route, best);
    c.received!("3:k", route, undefined);
    expect(a.calls).toEqual(["3:k 192.0.2.2", "3:k withdrawn"]);
    expect(b.calls).toEqual(a.calls);
    expect(log).toEqual(["245 received", "243 received", "245 received", "243 received"]);
  });

  it("extensions that implement only some methods: the others are skipped", () => {
    const seen: string[] = [];
    const onlyImet: RouteExtensions = { imet: (vni) => [attr(245, vni)] };
    const onlyReceived: RouteExtensions = { received: (key) => void seen.push(key) };
    const c = combineExtensions(onlyImet, onlyReceived)!;
    expect(c.imet!(7)).toEqual([attr(245, 7)]);
    expect(c.mac).toBeUndefined();
    c.received!("3:x", route, best);
    expect(seen).toEqual(["3:x"]);
    // none of them has received: the combination has none either
    expect(combineExtensions(onlyImet, { mac: () => [] })!.received).toBeUndefined();
  });

  it("received: one extension throwing does not keep the others from hearing of the change; the error is rethrown after", () => {
    const log: string[] = [];
    const boom: RouteExtensions = {
      received: () => {
        throw new Error("boom");
      },
    };
    const a = new Recorder(245, log);
    const c = combineExtensions(boom, a)!;
    expect(() => c.received!("3:k", route, best)).toThrow("boom");
    expect(a.calls).toEqual(["3:k 192.0.2.2"]);
  });

  it("multicast: the first extension that answers for the VNI; absent when none has the hook", () => {
    const none: RouteExtensions = { multicast: () => undefined };
    const mc: RouteExtensions = { multicast: (vni) => (vni === 100 ? { entries: [{ source: "*", group: "239.1.1.1" }] } : undefined) };
    const later: RouteExtensions = { multicast: () => ({ replicator: "192.0.2.9", entries: [] }) };
    const c = combineExtensions(new Recorder(245, []), none, mc, later)!;
    expect(c.multicast!(100)).toEqual({ entries: [{ source: "*", group: "239.1.1.1" }] });
    expect(c.multicast!(200)).toEqual({ replicator: "192.0.2.9", entries: [] });
    expect(combineExtensions(new Recorder(245, []), none)!.multicast!(100)).toBeUndefined();
    expect(combineExtensions(new Recorder(245, []), { imet: () => [] })!.multicast).toBeUndefined();
  });
});

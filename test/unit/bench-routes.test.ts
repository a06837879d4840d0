// The routes bench's own logic, without a kernel: the blaster's pre-encoded
// streams read back by vxgate's decoder (an independent encoder against an
// independent decoder; FRR is the referee in the bench itself), and the
// report rules: a failed round gives no figure, a failed baseline no ratio.
import { describe, expect, it } from "vitest";
import { decodeMessage, evpnRoutesOf, isEndOfRib, type EvpnMacIpRoute, type UpdateMessage } from "../../src/control/evpn/bgp/index.ts";
import { announceStream, MAX_REACH_PER_UPDATE, parseRd, withdrawStream, type BlastMode, type Stream } from "../../bench/bgp-blaster.ts";
import type { RoutesRound } from "../../bench/evpn-routes.ts";
import { failureLines, summarizeRoutes, summaryRoutes } from "../../bench/routes-report.ts";

const spec = { asn: 65000, vni: 100, rd: parseRd("198.18.0.2:1"), nextHop: "198.18.0.2" };

function messages(st: Stream): UpdateMessage[] {
  const all = Buffer.concat(st.chunks);
  expect(all.length).toBe(st.bytes);
  const out: UpdateMessage[] = [];
  for (let p = 0; p < all.length; ) {
    const len = all.readUInt16BE(p + 16);
    expect(len).toBeLessThanOrEqual(4096);
    const r = decodeMessage(all.subarray(p, p + len));
    if (!r.ok) throw new Error(`message ${out.length}: ${JSON.stringify(r.error)}`);
    expect(r.discarded).toEqual([]);
    out.push(r.message as UpdateMessage);
    p += len;
  }
  // chunks hold whole messages only (a KEEPALIVE may go between two)
  let q = 0;
  for (const c of st.chunks) {
    expect(all.readUInt16BE(q + 16)).toBeGreaterThanOrEqual(19);
    q += c.length;
  }
  return out;
}

describe("bgp-blaster streams, read by vxgate's decoder", () => {
  for (const mode of ["one", "many"] as BlastMode[]) {
    it(`${mode}: announce 1000 routes + type-3 + End-of-RIB, then withdraw them`, () => {
      const st = announceStream(spec, mode, 5000, 1000, true, 4096);
      const msgs = messages(st);
      expect(msgs.length).toBe(st.messages);
      expect(msgs.length).toBe(mode === "one" ? 1002 : 2 + Math.ceil(1000 / MAX_REACH_PER_UPDATE));
      const first = evpnRoutesOf(msgs[0]!);
      expect(first.announced).toEqual([{ type: "imet", rd: expect.anything(), ethernetTag: 0, originatorIp: "198.18.0.2" }]);
      expect(isEndOfRib(msgs.at(-1)!)).toEqual({ afi: 25, safi: 70 });
      const routes = msgs.slice(1, -1).flatMap((m) => {
        const r = evpnRoutesOf(m);
        expect(r.nextHop).toBe("198.18.0.2");
        const types = m.attributes.map((a) => a.type);
        expect(types).toEqual(expect.arrayContaining(["origin", "as-path", "local-pref", "mp-reach", "ext-communities"]));
        return r.announced as EvpnMacIpRoute[];
      });
      expect(routes.length).toBe(1000);
      expect(routes[0]).toMatchObject({ type: "mac-ip", mac: "02:10:00:00:13:88", label1: 100, ethernetTag: 0 });
      expect(routes[999]!.mac).toBe("02:10:00:00:17:6f");
      expect(routes.every((r) => r.ip === undefined)).toBe(true);

      const wd = messages(withdrawStream(spec, mode, 5000, 1000, true, 4096));
      const gone = wd.flatMap((m) => evpnRoutesOf(m).withdrawn);
      expect(gone.length).toBe(1001);
      expect(gone.filter((r) => r.type === "mac-ip").map((r) => (r as EvpnMacIpRoute).mac)).toEqual(routes.map((r) => r.mac));
      expect(gone.at(-1)!.type).toBe("imet");
    });
  }
});

const round = (o: Partial<RoutesRound>): RoutesRound => ({
  phase: "small",
  round: 1,
  receiver: "vxgate",
  routes: 1000,
  injector: "blaster",
  mode: "one",
  installMs: 100,
  resolutionMs: 1,
  routesPerS: 10_000,
  complete: true,
  sentUpdates: 1001,
  pollMs: 0,
  samples: [],
  ...o,
});

describe("routes report", () => {
  it("a failed FRR baseline gives no ratio, says why, and never a figure", () => {
    const rounds = [
      round({ receiver: "sink", routesPerS: 1e6, withdrawRoutesPerS: 2e6 }),
      round({ receiver: "vxgate", routesPerS: 30_000, withdrawRoutesPerS: 40_000, flushRoutesPerS: 50_000 }),
      round({ receiver: "frr", complete: false, routesPerS: NaN, installMs: NaN, failed: "frr: zebra or bgpd died" }),
    ];
    const [g] = summarizeRoutes(rounds);
    expect(g!.ratio).toBeUndefined();
    expect(g!.by.frr.ok).toBe(0);
    expect(Number.isNaN(g!.by.frr.routesPerS)).toBe(true);
    expect(failureLines(g!)).toEqual(["FRR baseline FAILED: frr: zebra or bgpd died — no ratio"]);
    const s = summaryRoutes({ vxgateCommit: "x", injector: "blaster", modes: ["one"], sessions: 1, routes: 1000, small: 1000, loads: [], rounds, checks: [] });
    expect(s).toHaveLength(1);
    expect(s[0]).toContain("FRR baseline FAILED: frr: zebra or bgpd died — no ratio");
    expect(s[0]).not.toMatch(/= [0-9.]+ x/);
  });

  it("a failed round is left out of the medians; ratios from the rest", () => {
    const rounds = [
      round({ receiver: "sink", routesPerS: 1e6 }),
      round({ receiver: "vxgate", routesPerS: 30_000 }),
      round({ receiver: "frr", routesPerS: 10_000 }),
      round({ round: 2, receiver: "frr", complete: false, routesPerS: NaN, failed: "timeout" }),
      round({ round: 2, receiver: "vxgate", routesPerS: 30_000 }),
    ];
    const [g] = summarizeRoutes(rounds);
    expect(g!.ratio!.install).toBeCloseTo(3);
    expect(g!.by.frr.failed).toEqual(["timeout"]);
    expect(failureLines(g!)).toEqual(["FRR baseline FAILED in 1 of 2 rounds: timeout"]);
  });

  it("modes are kept apart; an injector under 2x the fastest receiver makes the figures lower bounds", () => {
    const rounds = [
      round({ receiver: "sink", routesPerS: 50_000 }),
      round({ receiver: "vxgate", routesPerS: 30_000 }),
      round({ receiver: "frr", routesPerS: 20_000 }),
      round({ mode: "many", receiver: "sink", routesPerS: 1e6 }),
      round({ mode: "many", receiver: "vxgate", routesPerS: 90_000 }),
      round({ mode: "many", receiver: "frr", routesPerS: 60_000 }),
    ];
    const gs = summarizeRoutes(rounds);
    expect(gs.map((g) => [g.mode, g.injector.verdict])).toEqual([
      ["one", "lower-bound"],
      ["many", "well-above"],
    ]);
    expect(gs[0]!.injector.line).toContain("lower bounds");
    expect(gs[1]!.ratio!.install).toBeCloseTo(1.5);
  });
});

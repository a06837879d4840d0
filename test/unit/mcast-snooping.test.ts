// IGMP snooping per VNI, in virtual time: membership, leaves and last-member
// queries, v3 records, host compatibility, group limits, querier election,
// mrouter ports. Hook calls are asserted by exact count: one membersChanged per
// actual change of a port set is what upstream relies on.

import { describe, expect, it } from "vitest";
import type { IgmpGroupRecord, IgmpMessage } from "../../src/control/mcast/igmp.ts";
import { RFC3376_TIMERS, type Scheduler, type SnoopTimers, SnoopingVni, type SnoopVniOptions } from "../../src/control/mcast/snooping.ts";

/** Virtual time: a timer list ordered by due time then creation, run by advance(). */
class FakeClock implements Scheduler {
  t = 0;
  private seq = 0;
  private q: { at: number; id: number; f: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(f: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.q.push({ at: this.t + Math.max(0, ms), id, f });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.q = this.q.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.q.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.q[0];
      if (!next || next.at > end) break;
      this.q.shift();
      this.t = next.at;
      next.f();
    }
    this.t = end;
  }
  /** advance to an absolute time */
  to(t: number): void {
    this.advance(t - this.t);
  }
  get pending(): number {
    return this.q.length;
  }
}

const T = RFC3376_TIMERS;
const GMI = T.robustness * T.queryIntervalMs + T.queryResponseIntervalMs; // 260 s
const OQPI = T.robustness * T.queryIntervalMs + T.queryResponseIntervalMs / 2; // 255 s
const LMQT = T.lastMemberQueryCount * T.lastMemberQueryIntervalMs; // 2 s
const G = "239.1.1.1";
const G2 = "239.1.1.2";
const G3 = "239.1.1.3";
const S1 = "10.9.0.1";
const S2 = "10.9.0.2";

function setup(opts: Partial<SnoopVniOptions> = {}, timers: SnoopTimers = T, start = true) {
  const clock = new FakeClock();
  const members: { t: number; source: string; group: string; ports: string[] }[] = [];
  const queries: { t: number; port: string | undefined; message: IgmpMessage & { type: "query" } }[] = [];
  const mrouters: { t: number; ports: string[] }[] = [];
  const s = new SnoopingVni(
    { vni: 100, querier: false, querierAddress: "10.0.0.5", maxGroupsPerPort: 100, ...opts },
    timers,
    {
      membersChanged: (vni, source, group, ports) => {
        expect(vni).toBe(100);
        members.push({ t: clock.now(), source, group, ports: [...ports].sort() });
      },
      sendQuery: (vni, port, message) => {
        expect(vni).toBe(100);
        queries.push({ t: clock.now(), port, message });
      },
      mrouterChanged: (vni, ports) => {
        expect(vni).toBe(100);
        mrouters.push({ t: clock.now(), ports: [...ports].sort() });
      },
    },
    clock,
  );
  if (start) s.start();
  const v2 = (port: string, group: string, from = "192.168.0.1") => s.receive(port, from, group, { type: "report", version: 2, group });
  const v1 = (port: string, group: string, from = "192.168.0.1") => s.receive(port, from, group, { type: "report", version: 1, group });
  const leave = (port: string, group: string, from = "192.168.0.1") => s.receive(port, from, "224.0.0.2", { type: "leave", group });
  const v3 = (port: string, records: IgmpGroupRecord[], from = "192.168.0.1") => s.receive(port, from, "224.0.0.22", { type: "v3report", records });
  const query = (port: string, from: string, group = "0.0.0.0") =>
    s.receive(port, from, group === "0.0.0.0" ? "224.0.0.1" : group, { type: "query", version: 3, group, maxRespMs: 10000, sFlag: false, qrv: 2, qqicS: 125, sources: [] });
  const portsOf = (source: string, group: string) =>
    s
      .groups()
      .find((r) => r.source === source && r.group === group)
      ?.ports.map((p) => p.port) ?? [];
  return { s, clock, members, queries, mrouters, v1, v2, leave, v3, query, portsOf };
}

const rec = (type: IgmpGroupRecord["type"], group: string, sources: string[] = []): IgmpGroupRecord => ({ type, group, sources });
const IS_IN = 1, IS_EX = 2, TO_IN = 3, TO_EX = 4, ALLOW = 5, BLOCK = 6;

describe("v1/v2 membership", () => {
  it("a report joins (*,G) on the port with one callback", () => {
    const h = setup();
    h.v2("eth1", G, "192.168.0.7");
    expect(h.members).toEqual([{ t: 0, source: "*", group: G, ports: ["eth1"] }]);
    expect(h.s.groups()).toEqual([
      { source: "*", group: G, ports: [{ port: "eth1", mode: "exclude", version: 2, expiresInMs: GMI, lastReporter: "192.168.0.7", leaving: false }] },
    ]);
    expect(h.s.stats.reports).toBe(1);
  });

  it("a refresh rearms the timer without a callback", () => {
    const h = setup();
    h.v2("eth1", G);
    h.clock.to(100_000);
    h.v2("eth1", G, "192.168.0.8");
    expect(h.members).toHaveLength(1);
    expect(h.s.groups()[0]!.ports[0]).toMatchObject({ expiresInMs: GMI, lastReporter: "192.168.0.8" });
    h.clock.to(GMI + 50_000); // past the first report's GMI
    expect(h.members).toHaveLength(1);
    h.clock.to(100_000 + GMI);
    expect(h.members).toEqual([
      { t: 0, source: "*", group: G, ports: ["eth1"] },
      { t: 100_000 + GMI, source: "*", group: G, ports: [] },
    ]);
  });

  it("a second port joining calls back with both ports", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v2("eth2", G);
    h.v2("eth2", G); // refresh
    expect(h.members.map((m) => m.ports)).toEqual([["eth1"], ["eth1", "eth2"]]);
  });

  it("a silent member expires at exactly the group membership interval", () => {
    const h = setup();
    h.v2("eth1", G);
    h.clock.to(GMI - 1);
    expect(h.members).toHaveLength(1);
    expect(h.s.groups()[0]!.ports[0]!.expiresInMs).toBe(1);
    h.clock.to(GMI);
    expect(h.members).toHaveLength(2);
    expect(h.members[1]).toEqual({ t: GMI, source: "*", group: G, ports: [] });
    expect(h.s.stats.expiries).toBe(1);
    expect(h.s.groups()).toEqual([]);
    expect(h.s.ports()[0]!.groups).toBe(0);
  });

  it("GMI follows the configured timers (robustness * QI + QRI)", () => {
    const h = setup({}, { ...T, robustness: 3, queryIntervalMs: 60_000, queryResponseIntervalMs: 5_000 });
    h.v2("eth1", G);
    h.clock.to(184_999);
    expect(h.members).toHaveLength(1);
    h.clock.to(185_000);
    expect(h.members).toHaveLength(2);
  });

  it("link-local groups never create state", () => {
    const h = setup();
    h.v2("eth1", "224.0.0.251");
    h.leave("eth1", "224.0.0.251");
    h.v3("eth1", [rec(IS_EX, "224.0.0.252"), rec(IS_EX, G)]);
    expect(h.members).toEqual([{ t: 0, source: "*", group: G, ports: ["eth1"] }]);
    expect(h.s.groups().map((r) => r.group)).toEqual([G]);
    expect(h.s.stats.ignored).toBe(3);
  });

  it("non-multicast groups are guarded against even though the codec refuses them", () => {
    const h = setup();
    h.v2("eth1", "10.0.0.1");
    h.v3("eth1", [rec(IS_EX, "10.0.0.2")]);
    expect(h.members).toEqual([]);
    expect(h.s.stats.ignored).toBe(2);
  });

  it("input before start() is ignored", () => {
    const h = setup({}, T, false);
    h.v2("eth1", G);
    expect(h.members).toEqual([]);
    expect(h.s.stats.ignored).toBe(1);
  });
});

describe("leaves", () => {
  it("listening snooper: the leaving port's timer drops to LMQC*LMQI, no queries", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v2("eth2", G);
    h.clock.to(10_000);
    h.leave("eth1", G);
    expect(h.queries).toEqual([]);
    expect(h.members).toHaveLength(2);
    expect(h.s.groups()[0]!.ports.find((p) => p.port === "eth1")!.expiresInMs).toBe(LMQT);
    h.clock.to(10_000 + LMQT - 1);
    expect(h.members).toHaveLength(2);
    h.clock.to(10_000 + LMQT);
    expect(h.members).toHaveLength(3);
    expect(h.members[2]).toEqual({ t: 10_000 + LMQT, source: "*", group: G, ports: ["eth2"] });
    expect(h.s.stats.leaves).toBe(1);
    expect(h.s.stats.expiries).toBe(1);
  });

  it("an answer before the last-member query time keeps the port", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v2("eth2", G);
    h.leave("eth1", G);
    h.clock.to(1_500);
    h.v2("eth1", G, "192.168.0.9"); // another host behind eth1 answers
    h.clock.to(LMQT + 10_000);
    expect(h.members.map((m) => m.ports)).toEqual([["eth1"], ["eth1", "eth2"]]);
    expect(h.s.groups()[0]!.ports.find((p) => p.port === "eth1")!.expiresInMs).toBe(1_500 + GMI - h.clock.now());
  });

  it("a leave never raises a timer that is already lower", () => {
    const h = setup();
    h.v2("eth1", G);
    h.leave("eth1", G);
    h.clock.to(1_500);
    h.leave("eth1", G);
    h.clock.to(LMQT);
    expect(h.members.at(-1)).toEqual({ t: LMQT, source: "*", group: G, ports: [] });
  });

  it("a leave from a port that is no member changes nothing", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    const sent = h.queries.length;
    h.leave("eth2", G);
    h.clock.to(LMQT);
    expect(h.queries).toHaveLength(sent);
    expect(h.members).toHaveLength(1);
  });

  it("querier, last member: LMQC group-specific queries LMQI apart out of that port, then the empty set", () => {
    const h = setup({ querier: true });
    h.clock.to(1_000);
    h.v2("eth1", G);
    h.clock.to(5_000);
    const before = h.queries.length; // the startup general query
    h.leave("eth1", G);
    h.clock.to(5_000 + LMQT);
    const lmq = h.queries.slice(before);
    expect(lmq).toEqual([
      { t: 5_000, port: "eth1", message: { type: "query", version: 3, group: G, maxRespMs: 1_000, sFlag: false, qrv: 2, qqicS: 125, sources: [] } },
      { t: 6_000, port: "eth1", message: { type: "query", version: 3, group: G, maxRespMs: 1_000, sFlag: false, qrv: 2, qqicS: 125, sources: [] } },
    ]);
    expect(h.members).toEqual([
      { t: 1_000, source: "*", group: G, ports: ["eth1"] },
      { t: 7_000, source: "*", group: G, ports: [] },
    ]);
    expect(h.s.stats.queriesSent).toBe(before + 2);
  });

  it("querier, non-last member: queries only the leaving port; the others are unaffected", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    h.v2("eth2", G);
    const before = h.queries.length;
    h.leave("eth1", G);
    h.clock.to(LMQT);
    expect(h.queries.slice(before).map((q) => [q.t, q.port])).toEqual([
      [0, "eth1"],
      [1_000, "eth1"],
    ]);
    expect(h.members.map((m) => m.ports)).toEqual([["eth1"], ["eth1", "eth2"], ["eth2"]]);
  });

  it("querier: an answer ends the series and keeps the membership", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    const before = h.queries.length;
    h.leave("eth1", G);
    expect(h.s.groups()[0]!.ports[0]!.leaving).toBe(true);
    h.clock.to(300);
    h.v2("eth1", G);
    expect(h.s.groups()[0]!.ports[0]!.leaving).toBe(false);
    h.clock.to(10_000);
    expect(h.queries.slice(before)).toHaveLength(1);
    expect(h.members).toHaveLength(1);
  });

  it("a leave while v1 hosts are present on the port is ignored (RFC 2236 5)", () => {
    const h = setup();
    h.v1("eth1", G);
    expect(h.s.groups()[0]!.ports[0]!.version).toBe(1);
    h.leave("eth1", G);
    h.clock.to(LMQT + 1);
    expect(h.members).toHaveLength(1);
    expect(h.s.stats.ignored).toBe(1);
    // A v3 host keeps the group alive; once the v1 host timer runs out, leaves count again.
    h.clock.to(200_000);
    h.v3("eth1", [rec(IS_EX, G)]);
    h.clock.to(GMI);
    expect(h.s.groups()[0]!.ports[0]!.version).toBe(3);
    h.leave("eth1", G);
    h.clock.to(GMI + LMQT);
    expect(h.members.at(-1)).toEqual({ t: GMI + LMQT, source: "*", group: G, ports: [] });
  });
});

describe("v3 records", () => {
  it("IS_EX and TO_EX (whatever the sources) join (*,G)", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_EX, G, [S1]), rec(TO_EX, G2)]);
    expect(h.members).toEqual([
      { t: 0, source: "*", group: G, ports: ["eth1"] },
      { t: 0, source: "*", group: G2, ports: ["eth1"] },
    ]);
    expect(h.s.groups().every((r) => r.source === "*")).toBe(true);
    expect(h.s.groups()[0]!.ports[0]).toMatchObject({ mode: "exclude", version: 3 });
  });

  it("IS_IN / ALLOW join (S,G) per source, each with its own timer", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_IN, G, [S1, S2])]);
    expect(h.members).toEqual([
      { t: 0, source: S1, group: G, ports: ["eth1"] },
      { t: 0, source: S2, group: G, ports: ["eth1"] },
    ]);
    expect(h.s.groups()[0]!.ports[0]!.mode).toBe("include");
    h.clock.to(100_000);
    h.v3("eth1", [rec(ALLOW, G, [S1])]);
    expect(h.members).toHaveLength(2);
    h.clock.to(GMI);
    expect(h.members[2]).toEqual({ t: GMI, source: S2, group: G, ports: [] });
    expect(h.portsOf(S1, G)).toEqual(["eth1"]);
    h.clock.to(100_000 + GMI);
    expect(h.members[3]).toEqual({ t: 100_000 + GMI, source: S1, group: G, ports: [] });
  });

  it("(S,G) and (*,G) sets stay separate", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v3("eth2", [rec(IS_IN, G, [S1])]);
    expect(h.portsOf("*", G)).toEqual(["eth1"]);
    expect(h.portsOf(S1, G)).toEqual(["eth2"]);
  });

  it("IS_IN {} and ALLOW {} change nothing", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_IN, G), rec(ALLOW, G2)]);
    expect(h.members).toEqual([]);
    expect(h.s.groups()).toEqual([]);
  });

  it("TO_IN {} is a leave of (*,G)", () => {
    const h = setup({ querier: true });
    h.v3("eth1", [rec(IS_EX, G)]);
    const before = h.queries.length;
    h.v3("eth1", [rec(TO_IN, G)]);
    h.clock.to(LMQT);
    expect(h.queries.slice(before).map((q) => [q.t, q.port, q.message.group, q.message.sources])).toEqual([
      [0, "eth1", G, []],
      [1_000, "eth1", G, []],
    ]);
    expect(h.members.at(-1)).toEqual({ t: LMQT, source: "*", group: G, ports: [] });
  });

  it("TO_IN {S} joins (S,G) and lets (*,G) go unless someone answers", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_EX, G)]);
    h.v3("eth1", [rec(TO_IN, G, [S1])]);
    expect(h.portsOf(S1, G)).toEqual(["eth1"]);
    h.clock.to(LMQT);
    expect(h.portsOf("*", G)).toEqual([]);
    expect(h.portsOf(S1, G)).toEqual(["eth1"]);
  });

  it("BLOCK lowers those sources only; the querier asks with a group-and-source query", () => {
    const h = setup({ querier: true });
    h.v3("eth1", [rec(IS_IN, G, [S1, S2])]);
    const before = h.queries.length;
    h.v3("eth1", [rec(BLOCK, G, [S1, "10.9.0.99"])]);
    h.clock.to(LMQT);
    expect(h.queries.slice(before).map((q) => [q.t, q.port, q.message.group, q.message.sources])).toEqual([
      [0, "eth1", G, [S1]],
      [1_000, "eth1", G, [S1]],
    ]);
    expect(h.members.slice(2)).toEqual([{ t: LMQT, source: S1, group: G, ports: [] }]);
    expect(h.portsOf(S2, G)).toEqual(["eth1"]);
  });

  it("BLOCK is ignored while v2 hosts are present for the group on the port (RFC 3376 7.3.2)", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v3("eth1", [rec(IS_IN, G, [S1])]);
    expect(h.s.groups().find((r) => r.source === S1)!.ports[0]!.version).toBe(2);
    h.v3("eth1", [rec(BLOCK, G, [S1])]);
    h.clock.to(LMQT + 1);
    expect(h.portsOf(S1, G)).toEqual(["eth1"]);
    expect(h.s.stats.ignored).toBe(1);
  });

  it("a report that omits a group removes nothing", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_EX, G), rec(IS_IN, G2, [S1])]);
    h.clock.to(100_000);
    h.v3("eth1", [rec(IS_EX, G)]);
    expect(h.members).toHaveLength(2);
    expect(h.portsOf(S1, G2)).toEqual(["eth1"]);
    h.clock.to(GMI); // only its own timer removes it
    expect(h.members.at(-1)).toEqual({ t: GMI, source: S1, group: G2, ports: [] });
    expect(h.portsOf("*", G)).toEqual(["eth1"]);
  });

  it("one callback per changed (source, group) per message, not per record", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_EX, G), rec(TO_EX, G, [S2]), rec(ALLOW, G, [S1]), rec(IS_IN, G, [S1])]);
    expect(h.members).toEqual([
      { t: 0, source: "*", group: G, ports: ["eth1"] },
      { t: 0, source: S1, group: G, ports: ["eth1"] },
    ]);
  });

  it("no callback when one message joins and another port's set is unchanged", () => {
    const h = setup();
    h.v3("eth1", [rec(IS_EX, G)]);
    h.v3("eth2", [rec(IS_EX, G), rec(IS_EX, G2)]);
    h.v3("eth2", [rec(IS_EX, G), rec(IS_EX, G2)]);
    expect(h.members.map((m) => [m.group, m.ports])).toEqual([
      [G, ["eth1"]],
      [G, ["eth1", "eth2"]],
      [G2, ["eth2"]],
    ]);
  });
});

describe("per-port group limit", () => {
  it("refuses a join past the limit, counts it, and keeps refreshing existing groups", () => {
    const h = setup({ maxGroupsPerPort: 2 });
    h.v2("eth1", G);
    h.v3("eth1", [rec(IS_IN, G2, [S1])]);
    h.v2("eth1", G3);
    h.v3("eth1", [rec(IS_EX, G3), rec(ALLOW, "239.1.1.4", [S1, S2])]);
    expect(h.s.stats.groupLimitDrops).toBe(3);
    expect(h.s.ports()[0]!.counters.groupLimitDrops).toBe(3);
    expect(h.s.groups().map((r) => [r.source, r.group])).toEqual([
      ["*", G],
      [S1, G2],
    ]);
    // Existing groups keep refreshing, and another source of a held group is no new group.
    h.clock.to(100_000);
    h.v2("eth1", G);
    h.v3("eth1", [rec(ALLOW, G2, [S2]), rec(IS_EX, G2)]);
    expect(h.s.stats.groupLimitDrops).toBe(3);
    expect(h.s.groups()).toHaveLength(4);
    // The limit is per port.
    h.v2("eth2", G3);
    expect(h.portsOf("*", G3)).toEqual(["eth2"]);
    // Once a group is gone there is room again.
    h.leave("eth1", G);
    h.clock.advance(LMQT);
    h.v2("eth1", G3);
    expect(h.portsOf("*", G3)).toEqual(["eth1", "eth2"]);
  });
});

describe("querier", () => {
  it("startup queries at the startup interval, then every query interval", () => {
    const h = setup({ querier: true });
    h.clock.to(500_000);
    const general = { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 10_000, sFlag: false, qrv: 2, qqicS: 125, sources: [] };
    expect(h.queries.map((q) => q.t)).toEqual([0, 31_250, 156_250, 281_250, 406_250]);
    expect(h.queries.every((q) => q.port === undefined)).toBe(true);
    expect(h.queries[0]!.message).toEqual(general);
    expect(h.s.stats.queriesSent).toBe(5);
    expect(h.s.querier()).toEqual({ enabled: true, address: "10.0.0.5", self: true, nextGeneralQueryInMs: 531_250 - 500_000 });
  });

  it("a non-querier snooper never queries", () => {
    const h = setup({ querier: false });
    h.clock.to(1_000_000);
    expect(h.queries).toEqual([]);
    expect(h.s.querier()).toEqual({ enabled: false, self: false });
  });

  it("a query from a lower address wins; we take over when the other querier falls silent", () => {
    const h = setup({ querier: true, querierAddress: "10.0.0.5" });
    h.clock.to(40_000); // two startup queries sent
    h.query("eth9", "10.0.0.3");
    expect(h.s.querier()).toEqual({ enabled: true, address: "10.0.0.3", self: false, otherQuerierExpiresInMs: OQPI });
    h.clock.to(140_000);
    h.query("eth9", "10.0.0.3"); // still present
    h.clock.to(140_000 + OQPI - 1);
    expect(h.queries.map((q) => q.t)).toEqual([0, 31_250]);
    h.clock.to(140_000 + OQPI);
    expect(h.queries.map((q) => q.t)).toEqual([0, 31_250, 140_000 + OQPI]);
    expect(h.s.querier()).toMatchObject({ address: "10.0.0.5", self: true, nextGeneralQueryInMs: T.queryIntervalMs });
    h.clock.to(140_000 + OQPI + T.queryIntervalMs);
    expect(h.queries).toHaveLength(4);
    expect(h.s.stats.queriesReceived).toBe(2);
  });

  it("a query from a higher address is ignored for the election", () => {
    const h = setup({ querier: true, querierAddress: "10.0.0.5" });
    h.query("eth9", "10.0.0.9");
    h.clock.to(156_250);
    expect(h.queries.map((q) => q.t)).toEqual([0, 31_250, 156_250]);
    expect(h.s.querier()).toMatchObject({ address: "10.0.0.5", self: true });
    expect(h.s.querier().otherQuerierExpiresInMs).toBeUndefined();
  });

  it("our own address does not beat us", () => {
    const h = setup({ querier: true, querierAddress: "10.0.0.5" });
    h.query("eth9", "10.0.0.5");
    expect(h.s.querier()).toMatchObject({ self: true });
  });

  it("querier address 0.0.0.0 loses to any real address, and a 0.0.0.0 query never wins", () => {
    const zero = setup({ querier: true, querierAddress: "0.0.0.0" });
    zero.query("eth9", "10.200.0.1");
    expect(zero.s.querier()).toMatchObject({ address: "10.200.0.1", self: false });
    const real = setup({ querier: true, querierAddress: "10.0.0.5" });
    real.query("eth9", "0.0.0.0");
    expect(real.s.querier()).toMatchObject({ address: "10.0.0.5", self: true });
  });

  it("among other queriers the lowest is elected; a non-querier snooper tracks it", () => {
    const h = setup({ querier: false });
    h.query("eth9", "10.0.0.7");
    h.query("eth8", "10.0.0.8");
    expect(h.s.querier()).toMatchObject({ address: "10.0.0.7", self: false });
    h.query("eth8", "10.0.0.2");
    expect(h.s.querier()).toMatchObject({ address: "10.0.0.2", self: false });
    h.clock.to(OQPI);
    expect(h.s.querier()).toEqual({ enabled: false, self: false });
    expect(h.queries).toEqual([]);
  });

  it("losing the election stops a running last-member series; the lowered timer stays", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    const before = h.queries.length;
    h.leave("eth1", G);
    h.query("eth9", "10.0.0.1");
    h.clock.to(LMQT);
    expect(h.queries.slice(before)).toHaveLength(1);
    expect(h.members.at(-1)).toEqual({ t: LMQT, source: "*", group: G, ports: [] });
  });
});

describe("mrouter ports", () => {
  it("the port a query arrives on is an mrouter port until the other-querier-present interval passes", () => {
    const h = setup();
    h.query("eth9", "10.0.0.1");
    expect(h.mrouters).toEqual([{ t: 0, ports: ["eth9"] }]);
    h.clock.to(100_000);
    h.query("eth9", "10.0.0.1"); // refresh, no callback
    h.query("eth8", "10.0.0.99"); // loses the election, still an mrouter port
    expect(h.mrouters).toEqual([
      { t: 0, ports: ["eth9"] },
      { t: 100_000, ports: ["eth8", "eth9"] },
    ]);
    expect(h.s.ports().map((p) => [p.port, p.mrouter, p.mrouterExpiresInMs])).toEqual([
      ["eth8", true, OQPI],
      ["eth9", true, OQPI],
    ]);
    h.clock.to(100_000 + OQPI - 1);
    expect(h.mrouters).toHaveLength(2);
    h.clock.to(100_000 + OQPI);
    // eth9's refreshed timer was armed before eth8's: same due time, fires first.
    expect(h.mrouters.slice(2)).toEqual([
      { t: 100_000 + OQPI, ports: ["eth8"] },
      { t: 100_000 + OQPI, ports: [] },
    ]);
    expect(h.s.ports().every((p) => !p.mrouter)).toBe(true);
  });

  it("routerSeen (a PIM hello) marks a port the same way", () => {
    const h = setup();
    h.s.routerSeen("eth7");
    expect(h.mrouters).toEqual([{ t: 0, ports: ["eth7"] }]);
    h.clock.to(OQPI);
    expect(h.mrouters.at(-1)).toEqual({ t: OQPI, ports: [] });
  });
});

describe("port down and stop", () => {
  it("portDown forgets the port's memberships and mrouter state", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v2("eth2", G);
    h.v3("eth1", [rec(IS_IN, G2, [S1])]);
    h.query("eth1", "10.0.0.1");
    h.clock.to(1_000);
    h.s.portDown("eth1");
    expect(h.members.slice(3)).toEqual([
      { t: 1_000, source: "*", group: G, ports: ["eth2"] },
      { t: 1_000, source: S1, group: G2, ports: [] },
    ]);
    expect(h.mrouters.at(-1)).toEqual({ t: 1_000, ports: [] });
    expect(h.s.ports().find((p) => p.port === "eth1")).toMatchObject({ groups: 0, mrouter: false, counters: { reports: 2, queries: 1 } });
    h.clock.to(GMI);
    expect(h.members).toHaveLength(6); // only eth2's expiry follows
    expect(h.members.at(-1)).toEqual({ t: GMI, source: "*", group: G, ports: [] });
    h.s.portDown("eth3"); // unknown port: nothing
    expect(h.members).toHaveLength(6);
  });

  it("portDown during a last-member series stops it", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    const before = h.queries.length;
    h.leave("eth1", G);
    h.s.portDown("eth1");
    h.clock.to(LMQT);
    expect(h.queries.slice(before)).toHaveLength(1);
    expect(h.members).toHaveLength(2);
  });

  it("stop() clears every timer and ignores later input; start() begins afresh", () => {
    const h = setup({ querier: true });
    h.v2("eth1", G);
    h.v3("eth2", [rec(IS_IN, G, [S1])]);
    h.leave("eth1", G);
    h.query("eth9", "10.0.0.9");
    h.s.routerSeen("eth8");
    expect(h.clock.pending).toBeGreaterThan(0);
    h.s.stop();
    expect(h.clock.pending).toBe(0);
    const calls = [h.members.length, h.queries.length, h.mrouters.length];
    h.v2("eth1", G2);
    h.clock.to(10 * GMI);
    expect([h.members.length, h.queries.length, h.mrouters.length]).toEqual(calls);
    expect(h.s.groups()).toEqual([]);
    h.s.start();
    expect(h.queries.length).toBe(calls[1]! + 1);
    h.s.stop();
    expect(h.clock.pending).toBe(0);
  });
});

describe("show rows", () => {
  it("ports() counts per port", () => {
    const h = setup();
    h.v2("eth1", G);
    h.v3("eth1", [rec(IS_IN, G, [S1, S2]), rec(IS_EX, G2)]);
    h.leave("eth1", G);
    h.query("eth2", "10.0.0.1");
    expect(h.s.ports()).toEqual([
      { port: "eth1", groups: 2, mrouter: false, counters: { reports: 2, leaves: 1, queries: 0, groupLimitDrops: 0 } },
      { port: "eth2", groups: 0, mrouter: true, mrouterExpiresInMs: OQPI, counters: { reports: 0, leaves: 0, queries: 1, groupLimitDrops: 0 } },
    ]);
    expect(h.s.stats).toEqual({ reports: 2, leaves: 1, queriesReceived: 1, queriesSent: 0, expiries: 0, groupLimitDrops: 0, ignored: 0 });
  });

  it("groups() is ordered by group, then (*,G) before (S,G) by source", () => {
    const h = setup();
    h.v3("eth2", [rec(IS_IN, G2, [S2, S1]), rec(IS_EX, G2), rec(IS_EX, G)]);
    h.v2("eth1", G);
    expect(h.s.groups().map((r) => [r.group, r.source, r.ports.map((p) => p.port)])).toEqual([
      [G, "*", ["eth1", "eth2"]],
      [G2, "*", ["eth2"]],
      [G2, S1, ["eth2"]],
      [G2, S2, ["eth2"]],
    ]);
  });

  it("rejects a querier address that is not IPv4", () => {
    expect(() => setup({ querierAddress: "nope" })).toThrow(RangeError);
  });
});

// GET /metrics, the exposition itself: every fast-path counter (packets and
// bytes), table occupancy, BGP sessions, learning and mirror counters, with
// HELP and TYPE, read by an independent text-format parser. (The kernel test
// test/kernel/operations.test.ts scrapes a running switch.)
import { describe, expect, it } from "vitest";
import { counterNames, type CounterName } from "../../src/codegen/tables.ts";
import { BGP_STATES, SwitchMetrics, type MetricsSource } from "../../src/control/metrics.ts";
import type { SummaryRow } from "../../src/control/evpn/speaker.ts";
import type { MirrorRow } from "../../src/control/mirror/feature.ts";
import type { CounterValue, TableOccupancy } from "../../src/control/targets/target.ts";
import { Scrape } from "../harness/prometheus.ts";

function peer(neighbor: string, state: SummaryRow["state"], extra: Partial<SummaryRow> = {}): SummaryRow {
  return { neighbor, remoteAs: 65000, type: "iBGP", role: "peer", state, pfxRcvd: 0, pfxAccepted: 0, pfxSent: 0, msgRcvd: 0, msgSent: 0, updatesRcvd: 0, updatesSent: 0, flaps: 0, aggregation: true, gracefulRestart: "off", ...extra };
}

function mirrorRow(name: string, c: Partial<MirrorRow["counters"]> = {}): MirrorRow {
  return {
    name,
    origin: "api",
    hostId: 7,
    direction: "both",
    match: "mac",
    host: "02:00:00:00:01:05 vni 100",
    hostAt: "local h1",
    server: "02:00:00:00:09:01 vni 100",
    serverAt: "remote 10.0.0.2",
    roles: ["source", "destination"],
    counters: { copiesLocal: 0n, copiesRemote: 0n, terminated: 0n, dropNoServer: 0n, dropOversize: 0n, dropOther: 0n, bytes: 0n, ...c },
  };
}

function fakeSource() {
  const counters = Object.fromEntries(counterNames.map((n, i) => [n, { packets: BigInt(i * 10 + 1), bytes: BigInt(i * 1000 + 64) }])) as Record<CounterName, CounterValue>;
  const state = {
    counters,
    tables: [
      { table: "fdb", maxEntries: 1048576, entries: 1000003 },
      { table: "vnis", maxEntries: 4096, entries: 2 },
      { table: "vteps", maxEntries: 4096 },
    ] as TableOccupancy[],
    bgp: { summary: [peer("10.0.0.254", "Established", { pfxRcvd: 12, pfxAccepted: 11, pfxSent: 5, msgRcvd: 40, msgSent: 30, flaps: 2, upSeconds: 99 }), peer("10.0.0.253", "Active")], counters: { rejected: 1, treatAsWithdraw: 0, unknownRouteTypes: 3, multiVniMalformed: 0, staleKept: 0, stalePurged: 0 } } as ReturnType<MetricsSource["bgp"]>,
    mirror: [mirrorRow("watch-web1", { copiesLocal: 5n, copiesRemote: 6n, terminated: 7n, dropNoServer: 1n, dropOversize: 2n, dropOther: 3n, bytes: 1234n })],
  };
  const src: MetricsSource = {
    switchName: "leaf1",
    vtep: "10.0.0.1",
    startedAt: new Date(1_700_000_000_000),
    counters: () => state.counters,
    tables: () => state.tables,
    l2: () => ({ stats: { learnEvents: 10, moveEvents: 2, evpnMoves: 1, aged: 4, noNeighEvents: 0 }, resyncs: { sweeps: 1, recovered: 9, lastMs: 250 } }),
    staticMacs: () => ({ config: 3, api: 1 }),
    bgp: () => state.bgp,
    mirror: () => state.mirror,
  };
  return { src, state };
}

describe("metrics exposition", () => {
  it("has every fast-path counter, packets and bytes, as counters with HELP and TYPE", async () => {
    const { src } = fakeSource();
    const m = new SwitchMetrics(src, { processMetrics: false });
    const s = new Scrape(await m.scrape());
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of ["vxgate_fastpath_packets_total", "vxgate_fastpath_bytes_total"]) {
      expect(s.text).toContain(`# TYPE ${name} counter`);
      expect(s.family(name).type).toBe("COUNTER");
      expect(s.family(name).help.length).toBeGreaterThan(10);
      expect(s.samples(name).map(([l]) => l.counter).sort()).toEqual([...counterNames].sort());
    }
    counterNames.forEach((n, i) => {
      expect(s.value("vxgate_fastpath_packets_total", { counter: n })).toBe(i * 10 + 1);
      expect(s.value("vxgate_fastpath_bytes_total", { counter: n })).toBe(i * 1000 + 64);
    });
    // every family carries its HELP and TYPE
    for (const f of s.families.values()) {
      expect(f.help, f.name).not.toBe("");
      expect(s.text).toContain(`# HELP ${f.name} `);
      expect(s.text).toContain(`# TYPE ${f.name} `);
    }
  });

  it("reports table occupancy, leaving out counts the target cannot read", async () => {
    const s = new Scrape(await new SwitchMetrics(fakeSource().src, { processMetrics: false }).scrape());
    expect(s.family("vxgate_table_entries").type).toBe("GAUGE");
    expect(s.value("vxgate_table_entries", { table: "fdb" })).toBe(1000003);
    expect(s.value("vxgate_table_max_entries", { table: "fdb" })).toBe(1048576);
    expect(s.value("vxgate_table_entries", { table: "vnis" })).toBe(2);
    expect(s.value("vxgate_table_entries", { table: "vteps" })).toBeUndefined();
    expect(s.value("vxgate_table_max_entries", { table: "vteps" })).toBe(4096);
  });

  it("reports each BGP session's state as a state set, and its prefixes", async () => {
    const s = new Scrape(await new SwitchMetrics(fakeSource().src, { processMetrics: false }).scrape());
    for (const st of BGP_STATES) {
      expect(s.value("vxgate_bgp_session_state", { neighbor: "10.0.0.254", state: st })).toBe(st === "Established" ? 1 : 0);
      expect(s.value("vxgate_bgp_session_state", { neighbor: "10.0.0.253", state: st })).toBe(st === "Active" ? 1 : 0);
    }
    expect(s.value("vxgate_bgp_prefixes_received", { neighbor: "10.0.0.254" })).toBe(12);
    expect(s.value("vxgate_bgp_prefixes_accepted", { neighbor: "10.0.0.254" })).toBe(11);
    expect(s.value("vxgate_bgp_prefixes_sent", { neighbor: "10.0.0.254" })).toBe(5);
    expect(s.value("vxgate_bgp_session_flaps_total", { neighbor: "10.0.0.254" })).toBe(2);
    expect(s.value("vxgate_bgp_session_uptime_seconds", { neighbor: "10.0.0.253" })).toBe(0);
    expect(s.value("vxgate_evpn_route_events_total", { event: "unknown_route_type" })).toBe(3);
  });

  it("has learning, ageing, resync and mirror counters", async () => {
    const s = new Scrape(await new SwitchMetrics(fakeSource().src, { processMetrics: false }).scrape());
    expect(s.value("vxgate_l2_learned_total")).toBe(10);
    expect(s.value("vxgate_l2_moved_total", { cause: "data-path" })).toBe(2);
    expect(s.value("vxgate_l2_moved_total", { cause: "evpn" })).toBe(1);
    expect(s.value("vxgate_l2_aged_total")).toBe(4);
    expect(s.value("vxgate_l2_resyncs_total")).toBe(1);
    expect(s.value("vxgate_l2_resync_recovered_total")).toBe(9);
    expect(s.value("vxgate_l2_resync_last_duration_seconds")).toBe(0.25);
    expect(s.value("vxgate_static_macs", { origin: "api" })).toBe(1);
    expect(s.value("vxgate_mirror_copies_total", { session: "watch-web1", to: "remote" })).toBe(6);
    expect(s.value("vxgate_mirror_dropped_total", { session: "watch-web1", reason: "oversize" })).toBe(2);
    expect(s.value("vxgate_mirror_bytes_total", { session: "watch-web1" })).toBe(1234);
    expect(s.value("vxgate_mirror_session_info", { session: "watch-web1", host_id: "7", roles: "source,destination" })).toBe(1);
    expect(s.value("vxgate_info", { switch: "leaf1", vtep: "10.0.0.1" })).toBe(1);
  });

  it("drops series that went away (a removed session, no bgp section) and serves concurrent scrapes", async () => {
    const { src, state } = fakeSource();
    const m = new SwitchMetrics(src, { processMetrics: false });
    await m.scrape();
    state.mirror = [];
    state.bgp = undefined;
    const [a, b] = await Promise.all([m.scrape(), m.scrape()]);
    expect(a).toBe(b);
    const s = new Scrape(a);
    expect(s.samples("vxgate_mirror_copies_total")).toEqual([]);
    expect(s.samples("vxgate_bgp_session_state")).toEqual([]);
    expect(s.samples("vxgate_evpn_route_events_total")).toEqual([]);
  });

  it("adds the control plane's process metrics by default", async () => {
    const s = new Scrape(await new SwitchMetrics(fakeSource().src).scrape());
    expect(s.families.has("process_resident_memory_bytes")).toBe(true);
    expect(s.families.has("nodejs_eventloop_lag_seconds")).toBe(true);
  });
});

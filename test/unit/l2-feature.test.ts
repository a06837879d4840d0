// The l2 feature's logging and move list, over a fake target: per-MAC lines
// only at debug, one "l2 activity" summary per interval at info; every move
// recorded once with where it came from and why (data path or EVPN route),
// including the moves the EVPN port makes.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { constants, counterNames, type CounterName } from "../../src/codegen/tables.ts";
import type { DataPathEvent, TableKey, TableValue } from "../../src/control/codec.ts";
import { ACTIVITY_INTERVAL_MS, L2Feature, MOVES_KEPT, type L2Hooks } from "../../src/control/l2/feature.ts";
import { FastPathEvpnPort } from "../../src/control/evpn/port.ts";
import { createLogger, type Level } from "../../src/control/log.ts";
import type { SwitchConfig } from "../../src/config/types.ts";
import type { CounterValue, Target } from "../../src/control/targets/target.ts";

type FdbKey = TableKey<"fdb">;
type FdbValue = TableValue<"fdb">;

/** Just enough of a Target: an FDB in a Map and settable counters. */
function fakeTarget() {
  const fdb = new Map<string, [FdbKey, FdbValue]>();
  const k = (key: FdbKey) => `${key.vni}/${key.mac}`;
  const counters = Object.fromEntries(counterNames.map((n) => [n, { packets: 0n, bytes: 0n }])) as Record<CounterName, CounterValue>;
  const fdbHandle = {
    get: (key: FdbKey) => fdb.get(k(key))?.[1],
    set: (key: FdbKey, v: FdbValue) => void fdb.set(k(key), [key, v]),
    delete: (key: FdbKey) => fdb.delete(k(key)),
    entries: () => [...fdb.values()],
    forEach: (f: (k: FdbKey, v: FdbValue) => void) => {
      for (const [key, v] of fdb.values()) f(key, v);
    },
  };
  const target = {
    kind: "fake",
    adopted: false,
    table: (name: string) => {
      if (name !== "fdb") throw new Error(`fake target has no ${name}`);
      return fdbHandle;
    },
    counters: () => counters,
    ports: () => [],
  } as unknown as Target;
  return { target, fdb: fdbHandle, counters };
}

const CONFIG = { vnis: [{ vni: 100, learning: true, ageingSeconds: 300, flood: [], staticMacs: [] }], ports: [] } as unknown as SwitchConfig;
const PORTS: Record<number, string> = { 7: "h1", 8: "h2" };

function logged(level: Level) {
  const lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  const log = createLogger({ level, json: true, sink: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

function l2(level: Level, routeVtep: L2Hooks["routeVtep"] = () => undefined) {
  const t = fakeTarget();
  const { log, lines } = logged(level);
  const hooks: L2Hooks = { localLearned() {}, localGone() {}, remoteSeen() {}, noNeighbour() {}, fdbChanged() {}, routeVtep };
  const f = new L2Feature(CONFIG, t.target, log, (i) => PORTS[i] ?? `if${i}`, hooks);
  return { f, lines, ...t };
}

const mac = (i: number) => `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
const learn = (m: string, ifindex = 7) => ({ kind: constants.EVT_LEARN, vni: 100, mac: m, vlan: 0, ifindex, remote: "0.0.0.0" }) as DataPathEvent;
const move = (m: string, to: { ifindex: number } | { remote: string }) =>
  ({ kind: constants.EVT_MOVE, vni: 100, mac: m, vlan: 0, ifindex: "ifindex" in to ? to.ifindex : 0, remote: "remote" in to ? to.remote : "0.0.0.0" }) as DataPathEvent;

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("l2 logging at scale", () => {
  it("at info: 2000 learned MACs are one summary line per interval, none per MAC", () => {
    const { f, lines } = l2("info");
    f.start();
    for (let i = 0; i < 2000; i++) f.onEvent(learn(mac(i)));
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(ACTIVITY_INTERVAL_MS);
    expect(lines).toEqual([expect.objectContaining({ level: "info", msg: "l2 activity", learned: 2000, moved: 0, aged: 0, lostEvents: 0 })]);
    // nothing happened since: nothing more is said
    vi.advanceTimersByTime(5 * ACTIVITY_INTERVAL_MS);
    expect(lines).toHaveLength(1);
    f.stop();
  });

  it("at debug: one line per learned MAC", () => {
    const { f, lines } = l2("debug");
    f.start();
    for (let i = 0; i < 2000; i++) f.onEvent(learn(mac(i)));
    expect(lines.filter((l) => l.msg === "mac learned")).toHaveLength(2000);
    expect(lines[0]).toMatchObject({ level: "debug", vni: 100, mac: mac(0), port: "h1" });
    f.stop();
  });

  it("counts moves and aged entries in the summary, and says it once more on stop", () => {
    const { f, lines, fdb } = l2("info");
    f.start();
    f.onEvent(learn(mac(1)));
    f.onEvent(move(mac(1), { ifindex: 8 }));
    // an idle learned entry, ageing 300 s
    fdb.set({ vni: 100, mac: mac(2) }, { kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex: 7, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n });
    expect(f.ageOnce(301n * 1_000_000_000n)).toBe(1);
    expect(lines).toEqual([]);
    f.stop(); // the last interval's activity is not lost on exit
    expect(lines).toEqual([expect.objectContaining({ level: "info", msg: "l2 activity", learned: 1, moved: 1, aged: 1, lostEvents: 0 })]);
  });

  it("warns with the events the data path could not queue", () => {
    const { f, lines, counters } = l2("info");
    counters.err_event_ring_full.packets = 5n; // before this control plane started: not ours to report
    f.start();
    counters.err_event_ring_full.packets = 17n;
    vi.advanceTimersByTime(ACTIVITY_INTERVAL_MS);
    expect(lines).toEqual([expect.objectContaining({ level: "warn", msg: "l2 activity", learned: 0, lostEvents: 12 })]);
    f.stop();
  });
});

describe("the move list", () => {
  it("records a data-path move with where the MAC was", () => {
    const { f } = l2("info");
    f.start();
    f.onEvent(learn(mac(1), 7));
    f.onEvent(move(mac(1), { ifindex: 8 }));
    f.onEvent(move(mac(1), { remote: "198.18.0.2" }));
    expect(f.moves).toEqual([
      { vni: 100, mac: mac(1), from: "h1", to: "h2", cause: "data-path", at: expect.any(String) },
      { vni: 100, mac: mac(1), from: "h2", to: "198.18.0.2", cause: "data-path", at: expect.any(String) },
    ]);
    f.stop();
  });

  it("knows where entries learned before a restart were", () => {
    const { f, fdb } = l2("info");
    fdb.set({ vni: 100, mac: mac(3) }, { kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex: 7, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n });
    f.start();
    f.onEvent(move(mac(3), { ifindex: 8 }));
    expect(f.moves).toEqual([expect.objectContaining({ from: "h1", to: "h2", cause: "data-path" })]);
    f.stop();
  });

  it("a host leaving a route's entry for a local port moves from that route's VTEP", () => {
    const { f } = l2("info", (vni, m) => (vni === 100 && m === mac(4) ? "198.18.0.3" : undefined));
    f.start();
    f.onEvent(move(mac(4), { ifindex: 7 }));
    expect(f.moves).toEqual([expect.objectContaining({ mac: mac(4), from: "198.18.0.3", to: "h1", cause: "data-path" })]);
    f.stop();
  });

  it("lists route moves beside the data path's, counted in the summary, and keeps the latest only", () => {
    const { f, lines } = l2("info");
    f.start();
    f.onEvent(learn(mac(5), 7));
    f.routeMoved(100, mac(5), "h1", "198.18.0.2");
    expect(f.moves).toEqual([{ vni: 100, mac: mac(5), from: "h1", to: "198.18.0.2", cause: "evpn", at: expect.any(String) }]);
    expect(f.stats.evpnMoves).toBe(1);
    vi.advanceTimersByTime(ACTIVITY_INTERVAL_MS);
    expect(lines).toEqual([expect.objectContaining({ msg: "l2 activity", learned: 1, moved: 1 })]);
    for (let i = 0; i < MOVES_KEPT + 10; i++) f.routeMoved(100, mac(6), "198.18.0.2", "198.18.0.3");
    expect(f.moves).toHaveLength(MOVES_KEPT);
    f.stop();
  });
});

describe("the EVPN port's move hook", () => {
  function port() {
    const t = fakeTarget();
    const { log, lines } = logged("info");
    const p = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: () => false, fdbChanged() {}, portUp: () => true }, log);
    const moves: unknown[] = [];
    p.onMove((vni, m, from, to) => moves.push({ vni, mac: m, from, to }));
    return { p, moves, lines, ...t };
  }

  it("a remote route that wins over a local entry: one move from the local port to the VTEP", () => {
    const { p, moves, lines, fdb } = port();
    fdb.set({ vni: 100, mac: mac(1) }, { kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex: 7, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n });
    // what macs.ts does when the host turned up behind another switch
    p.deleteLocalMac(100, mac(1));
    p.installRemoteMac(100, mac(1), "198.18.0.2", { seq: 1, sticky: false });
    expect(moves).toEqual([{ vni: 100, mac: mac(1), from: { ifindex: 7 }, to: "198.18.0.2" }]);
    expect(lines).toEqual([]); // per-MAC lines are debug
  });

  it("a route moving a remote MAC to another VTEP is a move; a refreshed route is not", () => {
    const { p, moves } = port();
    // the caller (the speaker's MAC table) says what it installed before, and answers installedVtep
    const installed = new Map<string, string>();
    p.bindInstalled((_vni, m) => installed.get(m));
    const install = (vtep: string, seq: number, sticky: boolean) => {
      if (p.installRemoteMac(100, mac(2), vtep, { seq, sticky }, installed.get(mac(2)))) installed.set(mac(2), vtep);
    };
    install("198.18.0.2", 0, false);
    install("198.18.0.2", 0, true);
    expect(moves).toEqual([]);
    install("198.18.0.3", 1, false);
    expect(moves).toEqual([{ vni: 100, mac: mac(2), from: { vtep: "198.18.0.2" }, to: "198.18.0.3" }]);
    expect(p.installedVtep(100, mac(2))).toBe("198.18.0.3");
  });

  it("a route installed after a removal is not a move", () => {
    const { p, moves } = port();
    p.installRemoteMac(100, mac(3), "198.18.0.2", { seq: 0, sticky: false });
    p.removeRemoteMac(100, mac(3), "198.18.0.2");
    p.installRemoteMac(100, mac(3), "198.18.0.3", { seq: 0, sticky: false });
    expect(moves).toEqual([]);
  });
});

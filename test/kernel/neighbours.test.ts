// Remote VTEPs' outer next hops get kernel-managed neighbour entries, asked
// about in batches: a few hundred VTEPs behind two gateways take three `ip`
// runs and leave two managed entries; VTEPs checked lately are not asked
// about again until the recheck interval passes, unless the data path says
// the next hop is unresolved (then a deleted entry comes back).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../harness/netns.ts";
import { createLogger } from "../../src/control/log.ts";
import { NeighbourKeeper } from "../../src/control/neighbours.ts";

let lab: Lab;
let ns: string;
const said: Record<string, unknown>[] = [];
const log = createLogger({ level: "info", json: true, sink: (line) => void said.push(JSON.parse(line)) });

beforeAll(() => {
  lab = new Lab("nbr");
  ns = lab.ns("sw");
  const gw1 = lab.ns("gw1");
  const gw2 = lab.ns("gw2");
  lab.veth(ns, "u0", gw1, "u1");
  lab.veth(ns, "w0", gw2, "w1");
  lab.addr(ns, "u0", "192.0.2.2/30");
  lab.addr(gw1, "u1", "192.0.2.1/30");
  lab.addr(ns, "w0", "192.0.2.6/30");
  lab.addr(gw2, "w1", "192.0.2.5/30");
  lab.route(ns, "198.18.0.0/16", { via: "192.0.2.1" });
  lab.route(ns, "198.19.0.0/16", { via: "192.0.2.5" });
});

afterAll(async () => {
  await lab?.dispose();
});

/** the namespace's neighbour entries with the managed flag: "ip dev" */
function managedNeighbours(): string[] {
  const list = JSON.parse(lab.exec(ns, "ip", ["-j", "neigh", "show"]) || "[]") as { dst: string; dev: string; managed?: unknown }[];
  return list.filter((n) => "managed" in n).map((n) => `${n.dst} ${n.dev}`).sort();
}

const vtepsA = Array.from({ length: 300 }, (_, i) => `198.18.${1 + (i >> 7)}.${1 + (i & 0x7f)}`);
const vtepsB = ["198.19.0.1", "198.19.0.2"];

describe("outer next hops of remote VTEPs", () => {
  let clock = 1_000_000;
  const keeper = () => new NeighbourKeeper(log, { netns: ns, now: () => clock });
  let k: NeighbourKeeper;

  it("a few hundred VTEPs behind two gateways: one batch of three ip runs, one managed entry per next hop; an unrouted VTEP is reported", async () => {
    k = keeper();
    await Promise.all([...vtepsA, ...vtepsB, "203.0.113.9"].map((v) => k.ensure(v)));
    expect(k.stats).toEqual({ ipRuns: 3, batches: 1, vtepsChecked: 303 });
    expect(managedNeighbours()).toEqual(["192.0.2.1 u0", "192.0.2.5 w0"]);
    const managed = said.filter((s) => s.msg === "neighbour managed").map((s) => [s.nexthop, s.count]);
    expect(managed.sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([["192.0.2.1", 300], ["192.0.2.5", 2]]);
    expect(said.find((s) => s.msg === "neighbour for remote VTEP not installed")).toMatchObject({ vteps: ["203.0.113.9"], count: 1 });
  });

  it("VTEPs checked lately (the unrouted one too) are not asked about again; after the recheck interval, once, and nothing is reinstalled", async () => {
    await Promise.all([...vtepsA, "203.0.113.9"].map((v) => k.ensure(v)));
    expect(k.stats.ipRuns).toBe(3);
    clock += 11_000;
    await Promise.all(vtepsA.map((v) => k.ensure(v)));
    // route get and the neighbour table: both next hops are in place and ours
    expect(k.stats).toMatchObject({ ipRuns: 5, batches: 2 });
  });

  it("the data path reports a next hop unresolved: checked at once, and its deleted entry is back", async () => {
    lab.exec(ns, "ip", ["neigh", "del", "192.0.2.1", "dev", "u0"]);
    expect(managedNeighbours()).toEqual(["192.0.2.5 w0"]);
    await k.ensure(vtepsA[7]!, { force: true });
    expect(k.stats).toMatchObject({ ipRuns: 8, batches: 3 });
    expect(managedNeighbours()).toEqual(["192.0.2.1 u0", "192.0.2.5 w0"]);
  });

  it("asked for while a batch runs: the next batch takes it", async () => {
    const fresh = keeper();
    const first = fresh.ensure(vtepsB[0]!);
    while (fresh.stats.batches === 0) await new Promise((r) => setImmediate(r)); // the first batch has started
    const second = fresh.ensure(vtepsA[0]!);
    await Promise.all([first, second]);
    expect(fresh.stats).toMatchObject({ batches: 2, vtepsChecked: 2 });
  });
});

// Operations on an EVPN fabric (two vxgate switches, FRR as route reflector):
// the BGP series of GET /metrics against `show bgp summary`; `vxgate bgp
// reset` hard (the session restarts, FRR sees it) and --soft (our routes go
// out again, the session stays up); a static MAC added at run time is
// advertised as sticky; the same static MAC on both switches is a duplicate
// (frozen in the FDB) that `vxgate evpn clear-duplicate` lifts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import { CLI, Fabric, Lab } from "../../lab/fabric.ts";
import { renamedLabSwitches } from "../../lab/topology.ts";
import { runAsync } from "../harness/proc.ts";
import { Scrape } from "../harness/prometheus.ts";
import type { SummaryRow } from "../../src/control/evpn/speaker.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const RR = "192.0.2.1";
const DUP = "02:00:00:00:7d:01";

let lab: Lab;
let fabric: Fabric;
let sw1: string;
let sw2: string;

beforeAll(async () => {
  lab = new Lab("evpn-ops");
  const renamed = renamedLabSwitches(lab, `op${(process.pid % 100000).toString(36)}`);
  fabric = new Fabric(lab, renamed.specs.slice(0, 2), { reflector: "frr" });
  [sw1, sw2] = ["lab-sw1", "lab-sw2"].map(renamed.rename) as [string, string];
  // sw2's spare port (the lab's mobility step cables it to a host of sw3, which is not here)
  lab.veth(lab.ns("b3"), "eth0", fabric.switchNs(sw2), "h3", { txChecksum: false });
  for (const sw of fabric.switchNames) await fabric.start(sw);
  await fabric.waitEstablished();
}, 120_000);

afterAll(async () => {
  await fabric?.shutdown();
  await lab?.dispose();
});

function metrics(sw: string): Promise<Scrape> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath: fabric.config(sw).management.socket, path: "/metrics", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? ok(new Scrape(body)) : fail(new Error(body))));
    });
    req.on("error", fail);
    req.end();
  });
}

const vxgate = (sw: string, ...args: string[]) =>
  runAsync(null, "nsenter", [`--net=${lab.netnsPath(fabric.switchNs(sw))}`, process.execPath, "--import", "tsx", CLI, ...args, "--config", fabric.config(sw).file], { timeoutMs: 60_000 });
const summary = async (sw: string) => (await fabric.api<SummaryRow[]>(sw, "bgp/summary"))[0]!;
const fdbRow = async (sw: string, mac: string) => (await fabric.api<FdbRow[]>(sw, "fdb")).find((r) => r.vni === 100 && r.mac === mac);
const logSince = (sw: string, from: number) =>
  fabric
    .logOf(sw)
    .slice(from)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: string; msg: string; [k: string]: unknown });

describe("BGP metrics", () => {
  it("report each session's state and prefixes as show bgp summary does", async () => {
    // the other switch's type-3 routes are in
    await expect.poll(async () => (await summary(sw1)).pfxAccepted, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const s = await metrics(sw1);
    const row = await summary(sw1);
    expect(s.value("vxgate_bgp_session_state", { neighbor: RR, state: "Established" })).toBe(1);
    expect(s.value("vxgate_bgp_session_state", { neighbor: RR, state: "Active" })).toBe(0);
    expect(s.value("vxgate_bgp_prefixes_received", { neighbor: RR })).toBe(row.pfxRcvd);
    expect(s.value("vxgate_bgp_prefixes_accepted", { neighbor: RR })).toBe(row.pfxAccepted);
    expect(s.value("vxgate_bgp_prefixes_sent", { neighbor: RR })).toBe(row.pfxSent);
    expect(s.value("vxgate_bgp_session_flaps_total", { neighbor: RR })).toBe(row.flaps);
    expect(s.value("vxgate_bgp_neighbor_info", { neighbor: RR, remote_as: "65000", type: "iBGP" })).toBe(1);
  });
});

describe("vxgate bgp reset", () => {
  it("hard: restarts the session (Cease to the reflector), which comes back with the routes", async () => {
    const before = await summary(sw1);
    const from = fabric.logOf(sw1).length;
    const r = await vxgate(sw1, "bgp", "reset", RR);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${RR}: session reset\n`);
    expect(logSince(sw1, from).find((l) => l.msg === "BGP neighbor reset: session restarted")).toMatchObject({ level: "info", neighbor: RR, soft: false, by: { via: "unix socket" } });
    await expect.poll(async () => (await summary(sw1)).flaps, { timeout: 10_000 }).toBe(before.flaps + 1);
    // Cease / Administrative Reset (wrapped in a Hard Reset where both sides do the graceful-restart N bit)
    expect(logSince(sw1, from).find((l) => l.msg === "sending NOTIFICATION")).toMatchObject({ notification: expect.stringMatching(/^Cease \/ (Administrative Reset|Hard Reset)$/), reason: expect.stringMatching(/^administrative reset/) });
    await fabric.waitEstablished(30_000);
    await expect.poll(async () => (await summary(sw1)).pfxAccepted, { timeout: 15_000 }).toBe(before.pfxAccepted);
    expect((await metrics(sw1)).value("vxgate_bgp_session_flaps_total", { neighbor: RR })).toBe(before.flaps + 1);
  }, 60_000);

  it("soft: sends our routes again and keeps the session", async () => {
    const before = await summary(sw1);
    const r = await vxgate(sw1, "bgp", "reset", RR, "--soft");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${RR}: our routes sent again (soft reset)\n`);
    // every route we advertise goes out again (the two VNIs' type-3 routes differ in their
    // route targets: two UPDATEs at least), then End-of-RIB; a keepalive is due every 30 s only
    await expect.poll(async () => (await summary(sw1)).msgSent, { timeout: 2_000 }).toBeGreaterThanOrEqual(before.msgSent + 3);
    const after = await summary(sw1);
    expect(after).toMatchObject({ state: "Established", flaps: before.flaps, pfxSent: before.pfxSent });
  });

  it("refuses a neighbor it does not have, naming it", async () => {
    const r = await vxgate(sw1, "bgp", "reset", "192.0.2.99");
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vxgate: neighbor: 192.0.2.99 is not a BGP neighbor of this switch (neighbors: ${RR})\n`);
  });
});

describe("static MACs and duplicates over EVPN", () => {
  it("advertises a static MAC added at run time as sticky", async () => {
    expect((await vxgate(sw1, "mac", "add", "--vni", "100", "--mac", DUP, "--port", "h1")).status).toBe(0);
    // sw2 installs it from the route, sticky (a static entry there too)
    await expect.poll(() => fdbRow(sw2, DUP), { timeout: 10_000 }).toMatchObject({ type: "remote", source: "evpn", remote: "198.18.0.1", static: true });
  });

  it("the same static MAC on both switches is frozen as a duplicate; clear-duplicate lifts it", async () => {
    expect((await vxgate(sw2, "mac", "add", "--vni", "100", "--mac", DUP, "--port", "h1")).status).toBe(0);
    await expect.poll(() => fdbRow(sw1, DUP), { timeout: 10_000 }).toMatchObject({ type: "local", port: "h1", static: true, frozen: true });
    expect((await fabric.api<{ vni: number; mac: string }[]>(sw1, "evpn/duplicates")).map((d) => `${d.vni}/${d.mac}`)).toContain(`100/${DUP}`);
    // the other switch gives it up; the operator clears the freeze here
    expect((await vxgate(sw2, "mac", "del", "--vni", "100", "--mac", DUP)).status).toBe(0);
    const from = fabric.logOf(sw1).length;
    const r = await vxgate(sw1, "evpn", "clear-duplicate", "--vni", "100", "--mac", DUP);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`duplicate cleared: ${DUP} in vni 100 may move again\n`);
    const row = await fdbRow(sw1, DUP);
    expect(row).toMatchObject({ type: "local", port: "h1", static: true });
    expect(row!.frozen).toBeUndefined();
    expect((await fabric.api<{ vni: number; mac: string }[]>(sw1, "evpn/duplicates")).filter((d) => d.mac === DUP)).toEqual([]);
    expect(logSince(sw1, from).find((l) => l.msg === "duplicate MAC cleared")).toMatchObject({ level: "info", vni: 100, mac: DUP, fdbFrozen: true, by: { via: "unix socket" } });
    // nothing frozen any more: a second clear says so, naming the MAC
    const again = await vxgate(sw1, "evpn", "clear-duplicate", "--vni", "100", "--mac", DUP);
    expect(again.stderr).toBe(`vxgate: mac ${DUP} in vni 100 is not frozen: no duplicate to clear\n`);
    const bad = await vxgate(sw1, "evpn", "clear-duplicate", "--vni", "100", "--mac", "nope");
    expect(bad.stderr).toBe('vxgate: mac: "nope" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)\n');
  }, 60_000);
});

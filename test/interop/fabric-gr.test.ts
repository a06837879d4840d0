// A switch's control plane restarts while traffic flows both ways through a
// GoBGP route reflector that does graceful restart (RFC 4724) for EVPN: the
// restarting switch's fast path keeps forwarding from its pins, the reflector
// keeps its routes while it is away, so the other switches keep sending to it;
// nothing is lost in either direction, and after its End-of-RIB exchange the
// switch holds exactly the entries it held before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fabric, Lab } from "../../lab/fabric.ts";
import { MOVE, cableStandby, renamedLabSwitches } from "../../lab/topology.ts";
import { udpExchange } from "../harness/index.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

let lab: Lab;
let fabric: Fabric;
let sw1: string;

beforeAll(async () => {
  lab = new Lab("evpn-gr-fabric");
  const renamed = renamedLabSwitches(lab, `gr${(process.pid % 100000).toString(36)}`);
  sw1 = renamed.rename("lab-sw1");
  fabric = new Fabric(lab, renamed.specs, { reflector: "gobgp" });
  cableStandby(fabric, renamed.rename(MOVE.toSwitch)); // sw2's spare port must exist
  for (const sw of fabric.switchNames) await fabric.start(sw);
  await fabric.waitEstablished();
}, 120_000);

afterAll(async () => {
  await fabric?.shutdown();
  await lab?.dispose();
});

const evpnEntries = async (sw: string) =>
  (await fabric.api<FdbRow[]>(sw, "fdb"))
    .filter((r) => r.source === "evpn")
    .map((r) => `${r.vni} ${r.mac} ${r.remote}`)
    .sort();

describe("graceful restart through a GoBGP route reflector", () => {
  it("loses nothing in either direction while a switch's control plane restarts", async () => {
    // learn both hosts everywhere first
    const warm = await udpExchange(lab, { from: fabric.hostNs("c1"), to: fabric.hostNs("a1"), dst: "198.51.100.1", port: 9200, count: 20, intervalMs: 10 });
    expect(warm.received).toBe(20);
    await expect.poll(() => evpnEntries(sw1), { timeout: 10_000 }).toContain("100 02:00:00:00:03:01 198.18.0.3");
    const before = await evpnEntries(sw1);

    // 4 s of traffic each way; sw1's control plane is killed (no goodbye) and restarted in the middle
    const out = udpExchange(lab, { from: fabric.hostNs("a1"), to: fabric.hostNs("c1"), dst: "198.51.100.3", port: 9201, count: 800, intervalMs: 5, waitMs: 1500 });
    const back = udpExchange(lab, { from: fabric.hostNs("c1"), to: fabric.hostNs("a1"), dst: "198.51.100.1", port: 9202, count: 800, intervalMs: 5, waitMs: 1500 });
    await new Promise((r) => setTimeout(r, 800));
    await fabric.kill(sw1, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1000));
    await fabric.start(sw1);
    const [o, b] = await Promise.all([out, back]);
    expect(o.received).toBe(o.sent);
    expect(b.received).toBe(b.sent);

    // the restarted switch said it kept forwarding (R/F bits), got everyone's End-of-RIB, and ended with what it had
    await fabric.waitEstablished(60_000);
    await expect.poll(() => fabric.logOf(sw1), { timeout: 60_000, interval: 500 }).toMatch(/"msg":"EVPN initial sync done".*"reason":"end-of-rib"/);
    expect(await evpnEntries(sw1)).toEqual(before);
  }, 120_000);
});

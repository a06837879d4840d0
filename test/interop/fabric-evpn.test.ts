// Three real vxgate switches (the lab's configs, renamed so they cannot collide
// with `npm run lab`) peering through FRR as route reflector: flood lists and
// forwarding entries come from EVPN routes, traffic crosses, and a host that
// moves from one switch to another converges everywhere with a higher MAC
// mobility sequence while the old switch drops its own entry.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fabric, Lab } from "../../lab/fabric.ts";
import { MOVE, cableStandby, renamedLabSwitches } from "../../lab/topology.ts";
import { moveHost } from "../../lab/mobility.ts";
import { ping, udpExchange } from "../harness/index.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

let lab: Lab;
let fabric: Fabric;
let rename: (labName: string) => string;


beforeAll(async () => {
  lab = new Lab("evpn-fabric");
  const renamed = renamedLabSwitches(lab, `ev${(process.pid % 100000).toString(36)}`);
  rename = renamed.rename;
  fabric = new Fabric(lab, renamed.specs, { reflector: "frr" });
  cableStandby(fabric, rename(MOVE.toSwitch));
  for (const sw of fabric.switchNames) await fabric.start(sw);
  await fabric.waitEstablished();
}, 120_000);

afterAll(async () => {
  await fabric?.shutdown();
  await lab?.dispose();
});

describe("EVPN fabric through an FRR route reflector", () => {
  it("builds every VNI's flood list from type-3 routes", async () => {
    const sw1 = rename("lab-sw1");
    await expect
      .poll(async () => (await fabric.api<{ vni: number; type: string; target: string }[]>(sw1, "flood")).filter((f) => f.vni === 100 && f.type === "remote").map((f) => f.target).sort(), { timeout: 10_000 })
      .toEqual(["198.18.0.2", "198.18.0.3"]);
  });

  it("carries traffic between hosts on different switches, and installs the remote MACs from type-2 routes", async () => {
    const r = await ping(lab, fabric.hostNs("a1"), "198.51.100.3", { count: 3, timeoutS: 2 });
    expect(r.received).toBe(3);
    const sw1 = rename("lab-sw1");
    await expect
      .poll(async () => (await fabric.api<FdbRow[]>(sw1, "fdb")).find((x) => x.vni === 100 && x.mac === MOVE.mac), { timeout: 10_000 })
      .toMatchObject({ type: "remote", source: "evpn", remote: "198.18.0.3" });
    // the same MAC in two VNIs on sw1 is known on sw3 in both
    await ping(lab, fabric.hostNs("a2"), "203.0.113.3", { count: 1, timeoutS: 2 });
    const sw3 = rename("lab-sw3");
    await expect
      .poll(async () => (await fabric.api<FdbRow[]>(sw3, "fdb")).filter((x) => x.mac === "02:00:00:00:01:01").map((x) => [x.vni, x.remote]), { timeout: 10_000 })
      .toEqual([
        [100, "198.18.0.1"],
        [200, "198.18.0.1"],
      ]);
  });

  it("keeps forwarding from a switch whose control plane restarts, and re-adopts its EVPN entries", async () => {
    const sw1 = rename("lab-sw1");
    const floodBefore = await fabric.api<{ vni: number; type: string; target: string }[]>(sw1, "flood");
    // a steady stream from a1 (behind sw1) to c1 (behind sw3) while sw1's control plane is down and back
    const stream = udpExchange(lab, { from: fabric.hostNs("a1"), to: fabric.hostNs("c1"), dst: "198.51.100.3", port: 9100, count: 600, intervalMs: 5, waitMs: 1500 });
    await new Promise((r) => setTimeout(r, 500));
    await fabric.kill(sw1, "SIGKILL");
    await new Promise((r) => setTimeout(r, 700));
    await fabric.start(sw1);
    // FRR 8.4 does no graceful restart for EVPN (it withdraws the restarting
    // switch's routes at once), so traffic towards sw1 may pause here; the
    // lossless case is fabric-gr.test.ts, through a GoBGP reflector
    await stream;
    expect(fabric.logOf(sw1)).toMatch(/adopted EVPN state from the fast path/);
    await fabric.waitEstablished();
    // the flood list it adopted is the one the routes rebuild: nothing lost, nothing left over
    const floodSet = (rows: { vni: number; type: string; target: string }[]) => rows.map((f) => `${f.vni} ${f.type} ${f.target}`).sort();
    await expect
      .poll(async () => floodSet(await fabric.api(sw1, "flood")), { timeout: 15_000 })
      .toEqual(floodSet(floodBefore));
    const back = await ping(lab, fabric.hostNs("c1"), "198.51.100.1", { count: 3, timeoutS: 2 });
    expect(back.received).toBe(3);
  });

  it("converges on every switch when a host moves, with a higher mobility sequence, and the old switch drops its entry", async () => {
    const [sw1, sw2, sw3] = ["lab-sw1", "lab-sw2", "lab-sw3"].map(rename) as [string, string, string];
    const seqBefore = (await fabric.api<{ vni: number; mac: string; seq: number }[]>(sw1, "evpn/mac")).find((r) => r.vni === 100 && r.mac === MOVE.mac)?.seq ?? 0;
    const moved = await moveHost(fabric, { ...MOVE, toSwitch: sw2 });
    console.log(`mobility convergence: ${moved.convergenceMs.toFixed(1)} ms (${JSON.stringify(moved.perSwitchMs)})`);
    expect(Object.keys(moved.perSwitchMs).sort()).toEqual([sw1, sw2, sw3].sort());
    for (const sw of [sw1, sw3]) {
      const row = (await fabric.api<{ vni: number; mac: string; type: string; vtep: string; seq: number }[]>(sw, "evpn/mac")).find((r) => r.vni === 100 && r.mac === MOVE.mac);
      expect(row).toMatchObject({ type: "remote", vtep: "198.18.0.2" });
      expect(row!.seq).toBeGreaterThan(seqBefore);
    }
    const old = (await fabric.api<FdbRow[]>(sw3, "fdb")).find((r) => r.vni === 100 && r.mac === MOVE.mac);
    expect(old).toMatchObject({ type: "remote", remote: "198.18.0.2" });
    const r = await ping(lab, fabric.hostNs("a1"), MOVE.ip, { count: 3, timeoutS: 2 });
    expect(r.received).toBe(3);
  });
});


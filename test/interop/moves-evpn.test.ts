// `vxgate show moves` in an EVPN fabric (three vxgate switches, FRR route
// reflector): a host moves from sw3 to sw2 and every switch lists the move
// once, with where the MAC was, where it is now and what moved it. The old
// switch (a route beat its local entry) and a third switch (the route moved
// from one VTEP to another) say "evpn"; the new switch, whose data path took
// the MAC over from a route's entry, says "data-path".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, Fabric, Lab } from "../../lab/fabric.ts";
import { MOVE, cableStandby, renamedLabSwitches } from "../../lab/topology.ts";
import { moveHost } from "../../lab/mobility.ts";
import { ping } from "../harness/index.ts";
import { runAsync } from "../harness/proc.ts";
import type { MoveRecord } from "../../src/control/runtime.ts";

let lab: Lab;
let fabric: Fabric;
let rename: (labName: string) => string;

beforeAll(async () => {
  lab = new Lab("evpn-moves");
  const renamed = renamedLabSwitches(lab, `mv${(process.pid % 100000).toString(36)}`);
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

const showMoves = async (sw: string, json: boolean) => {
  const r = await runAsync(null, process.execPath, ["--import", "tsx", CLI, "show", "moves", ...(json ? ["--json"] : []), "--socket", fabric.config(sw).management.socket]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};
const movesOf = async (sw: string) => (JSON.parse(await showMoves(sw, true)) as MoveRecord[]).filter((m) => m.vni === MOVE.vni && m.mac === MOVE.mac);

describe("show moves with BGP EVPN", () => {
  it("lists a host's move to another switch on every switch, once, with its cause", async () => {
    const [sw1, sw2, sw3] = ["lab-sw1", "lab-sw2", "lab-sw3"].map(rename) as [string, string, string];
    const [vtep2, vtep3] = [fabric.config(sw2).vtep.sourceIp, fabric.config(sw3).vtep.sourceIp];
    // c1 speaks (behind sw3): every switch has its MAC, local on sw3, from sw3's route elsewhere
    expect((await ping(lab, fabric.hostNs("a1"), MOVE.ip, { count: 2, timeoutS: 2 })).received).toBe(2);
    await expect.poll(async () => (await fabric.api<{ vni: number; mac: string; remote?: string }[]>(sw2, "fdb")).find((r) => r.vni === MOVE.vni && r.mac === MOVE.mac)?.remote, { timeout: 10_000 }).toBe(vtep3);
    for (const sw of [sw1, sw2, sw3]) expect(await movesOf(sw)).toEqual([]);

    await moveHost(fabric, { ...MOVE, toSwitch: sw2 });

    // the old switch: the new route beat its local entry
    await expect.poll(() => movesOf(sw3), { timeout: 10_000 }).toEqual([expect.objectContaining({ from: "h1", to: vtep2, cause: "evpn" })]);
    // a third switch: the route moved the MAC from one VTEP to another
    await expect.poll(() => movesOf(sw1), { timeout: 10_000 }).toEqual([expect.objectContaining({ from: vtep3, to: vtep2, cause: "evpn" })]);
    // the new switch: its data path took the MAC over from the route's entry
    await expect.poll(() => movesOf(sw2), { timeout: 10_000 }).toEqual([expect.objectContaining({ from: vtep3, to: MOVE.toPort, cause: "data-path" })]);
    for (const m of await movesOf(sw1)) expect(new Date(m.at).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // once: nothing that follows (our withdrawal, the reflector's updates, more frames) adds another
    expect((await ping(lab, fabric.hostNs("a1"), MOVE.ip, { count: 2, timeoutS: 2 })).received).toBe(2);
    await new Promise((r) => setTimeout(r, 1500));
    for (const sw of [sw1, sw2, sw3]) expect(await movesOf(sw), sw).toHaveLength(1);

    // the human table has the same columns
    const table = (await showMoves(sw3, false)).split("\n");
    expect(table[0]).toMatch(/^AT\s+VNI\s+MAC\s+FROM\s+TO\s+CAUSE$/);
    expect(table.find((l) => l.includes(MOVE.mac))).toMatch(new RegExp(`\\s${MOVE.vni}\\s+${MOVE.mac}\\s+h1\\s+${vtep2.replace(/\./g, "\\.")}\\s+evpn$`));
  }, 60_000);
});

// Mirror sessions over BGP EVPN through standard route reflectors (FRR bgpd,
// then GoBGP): a session added through the API of one switch (its owner,
// where neither the host nor the server lives) reaches every switch on the
// owner's type-3 route; the host's switch puts it on the host's type-2 route;
// the attribute crosses the reflector byte for byte; copies flow end to end;
// when the host moves, its new switch re-originates it; removing the session
// at its owner removes it everywhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fabric, Lab } from "../../lab/fabric.ts";
import { MOVE, cableStandby, renamedLabSwitches } from "../../lab/topology.ts";
import { moveHost } from "../../lab/mobility.ts";
import { apiRequest, sendFrames, startCapture, udpFrame, type DecodedPacket } from "../harness/index.ts";
import type { MirrorRow } from "../../src/control/mirror/feature.ts";
import { MIRROR_ATTR_CODE } from "../../src/control/mirror/attribute.ts";

const A1 = { mac: "02:00:00:00:01:01", ip: "198.51.100.1" }; // on sw1
const B1 = { mac: "02:00:00:00:02:01", ip: "198.51.100.2" }; // on sw2: the monitoring server
const C1 = { mac: MOVE.mac, ip: MOVE.ip }; // on sw3: the monitored host (moves to sw2)
const VTEP = { sw1: "198.18.0.1", sw2: "198.18.0.2", sw3: "198.18.0.3" };
const SESSION = { name: "watch-c1", host: { mac: C1.mac, vni: 100 }, server: { mac: B1.mac, vni: 100 }, host_id: 21 };

const api = (fabric: Fabric, sw: string, method: "POST" | "DELETE", path: string, body?: unknown) => apiRequest(fabric.config(sw).management.socket, method, path, body);

const udp = (from: { mac: string; ip: string }, to: { mac: string; ip: string }, payload: string) =>
  udpFrame({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip, srcPort: 40000, dstPort: 9, payload: Buffer.from(payload) });

for (const reflector of ["frr", "gobgp"] as const) {
  describe(`mirror sessions through a ${reflector === "frr" ? "FRR" : "GoBGP"} route reflector`, () => {
    let lab: Lab;
    let fabric: Fabric;
    let sw1: string, sw2: string, sw3: string;
    const session = (sw: string) => fabric.api<MirrorRow[]>(sw, "mirror").then((rows) => rows.find((r) => r.name === SESSION.name));

    beforeAll(async () => {
      lab = new Lab(`mirror-${reflector}`);
      const renamed = renamedLabSwitches(lab, `mv${reflector[0]}${(process.pid % 10000).toString(36)}`);
      [sw1, sw2, sw3] = ["lab-sw1", "lab-sw2", "lab-sw3"].map(renamed.rename) as [string, string, string];
      fabric = new Fabric(lab, renamed.specs, { reflector });
      cableStandby(fabric, sw2);
      for (const sw of fabric.switchNames) await fabric.start(sw);
      await fabric.waitEstablished();
      // quiet kernels: static neighbours, so only the test's frames are about
      for (const [h, peers] of [["a1", [B1, C1]], ["b1", [A1, C1]], ["c1", [A1, B1]]] as const)
        for (const p of peers) lab.exec(fabric.hostNs(h), "ip", ["neigh", "replace", p.ip, "lladdr", p.mac, "dev", "eth0", "nud", "permanent"]);
      // every host speaks once, so every switch learns or is told where it is
      for (const [h, from, to] of [["a1", A1, B1], ["b1", B1, A1], ["c1", C1, A1]] as const) await sendFrames(fabric.hostNs(h), "eth0", [udp(from, to, "hello")]);
    }, 180_000);

    afterAll(async () => {
      await fabric?.shutdown();
      await lab?.dispose();
    });

    it("a session added at one switch reaches every switch, each in its own role", async () => {
      const add = await api(fabric, sw1, "POST", "/v1/mirror/sessions", SESSION);
      expect(add.status).toBe(201);
      await expect.poll(() => session(sw3), { timeout: 10_000 }).toMatchObject({ origin: "bgp", owner: VTEP.sw1, hostAt: "local h1", serverAt: `remote ${VTEP.sw2}`, roles: ["source", "destination"] });
      await expect.poll(() => session(sw2), { timeout: 10_000 }).toMatchObject({ origin: "bgp", owner: VTEP.sw1, serverAt: "local h1", roles: ["destination", "termination"] });
      expect(await session(sw1)).toMatchObject({ origin: "api", roles: ["destination"] });
    });

    it("the session attribute crosses the reflector byte for byte, on the owner's type-3 and on the host's type-2 route", async () => {
      type Row = { type: number; from: string; originator?: string; nextHop: string; mac?: string; vni?: number; unknownAttrs?: string[] };
      const attrOf = (r: Row | undefined) => r?.unknownAttrs?.find((a) => a.startsWith(`${MIRROR_ATTR_CODE}/`))?.split("/")[2];
      // what sw1 sends on its type-3 route is what sw2 and sw3 receive
      const sent = attrOf((await fabric.api<Row[]>(sw1, "evpn/routes")).find((r) => r.type === 3 && r.from === "local" && r.vni === 100));
      expect(sent).toBeDefined();
      for (const sw of [sw2, sw3]) {
        await expect
          .poll(async () => attrOf((await fabric.api<Row[]>(sw, "evpn/routes")).find((r) => r.type === 3 && r.nextHop === VTEP.sw1 && r.vni === 100)), { timeout: 10_000 })
          .toBe(sent);
      }
      // sw3 attaches it to c1's own type-2 route; sw1 and sw2 receive it unchanged
      await expect
        .poll(async () => attrOf((await fabric.api<Row[]>(sw3, "evpn/routes")).find((r) => r.type === 2 && r.from === "local" && r.mac === C1.mac)), { timeout: 10_000 })
        .toBeDefined();
      const onType2 = attrOf((await fabric.api<Row[]>(sw3, "evpn/routes")).find((r) => r.type === 2 && r.from === "local" && r.mac === C1.mac));
      for (const sw of [sw1, sw2]) {
        await expect
          .poll(async () => attrOf((await fabric.api<Row[]>(sw, "evpn/routes")).find((r) => r.type === 2 && r.mac === C1.mac && r.nextHop === VTEP.sw3)), { timeout: 10_000 })
          .toBe(onType2);
      }
    });

    async function copiesAtServer(send: () => Promise<unknown>, f: Buffer): Promise<DecodedPacket[]> {
      const cap = await startCapture(fabric.hostNs("b1"), "eth0", { lab, filter: "udp dst port 9", direction: "in", timeoutMs: 30_000 });
      await send();
      await cap.waitFor(1, 5000).catch(() => {});
      await new Promise((r) => setTimeout(r, 400));
      return (await cap.stop()).filter((p) => p.raw.equals(f));
    }

    it("copies reach the server from the host's switch and from a switch a frame to the host entered", async () => {
      const toHost = udp(A1, C1, "a1 to c1");
      expect(await copiesAtServer(() => sendFrames(fabric.hostNs("a1"), "eth0", [toHost]), toHost)).toHaveLength(1);
      const fromHost = udp(C1, A1, "c1 to a1");
      expect(await copiesAtServer(() => sendFrames(fabric.hostNs("c1"), "eth0", [fromHost]), fromHost)).toHaveLength(1);
    });

    it("when the host moves, its new switch re-originates the session on the host's route and copies follow", async () => {
      const t0 = performance.now();
      const moved = await moveHost(fabric, { ...MOVE, toSwitch: sw2 });
      await expect.poll(() => session(sw2), { timeout: 10_000, interval: 5 }).toMatchObject({ hostAt: "local h3", roles: ["source", "destination", "termination"] });
      await expect.poll(() => session(sw3), { timeout: 10_000, interval: 5 }).toMatchObject({ hostAt: `remote ${VTEP.sw2}`, roles: ["destination"] });
      await expect.poll(() => session(sw1), { timeout: 10_000, interval: 5 }).toMatchObject({ hostAt: `remote ${VTEP.sw2}` });
      console.log(`mirror through ${reflector}: entries followed the host on every switch ${(performance.now() - t0).toFixed(0)} ms after the gratuitous ARP (FDB ${moved.convergenceMs.toFixed(0)} ms)`);
      const fromHost = udp(C1, A1, "c1 moved");
      expect(await copiesAtServer(() => sendFrames(fabric.hostNs("c1"), MOVE.toIf, [fromHost]), fromHost)).toHaveLength(1);
    });

    it("removing the session at its owner removes it everywhere within a second", async () => {
      const t0 = performance.now();
      expect((await api(fabric, sw1, "DELETE", `/v1/mirror/sessions/${SESSION.name}`)).status).toBe(200);
      const goneAt: Record<string, number> = {};
      while (Object.keys(goneAt).length < 3 && performance.now() - t0 < 5000) {
        for (const sw of [sw1, sw2, sw3]) if (goneAt[sw] === undefined && !(await session(sw))) goneAt[sw] = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log(`mirror session removal through ${reflector}: ${JSON.stringify(Object.fromEntries(Object.entries(goneAt).map(([k, v]) => [k, Math.round(v)])))} ms`);
      expect(Object.keys(goneAt).sort()).toEqual([sw1, sw2, sw3].sort());
      expect(Math.max(...Object.values(goneAt))).toBeLessThan(1000);
      // and the sessions to the reflector never went down over it
      for (const sw of [sw1, sw2, sw3]) expect((await fabric.api<{ state: string; flaps: number }[]>(sw, "bgp/summary"))[0]).toMatchObject({ state: "Established", flaps: 0 });
    });
  });
}

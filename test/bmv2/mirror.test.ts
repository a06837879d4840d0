// Match-mirror-encap on bmv2: sw1 runs the P4 program, sw2 the eBPF one, the
// same sessions in both configs. watch-a: a (sw1) to the server sv1 on sw1 —
// a's own frames are copied locally by bmv2, frames to a entering at sw2 come
// as Group Policy VXLAN that bmv2 terminates to sv1. watch-b: b (sw1) to sv2
// behind sw2 — bmv2 encapsulates the copies with G, D and HOST ID 8, sw2
// terminates them. tshark checks exact counts, the HOST ID on the wire and
// byte-identical inner frames.
import { afterAll, beforeAll, describe, expect, it } from "vitest";


import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { ping, startCapture, type Capture } from "../harness/index.ts";
import type { MirrorRow } from "../../src/control/mirror/feature.ts";
import type { FdbRow } from "../../src/control/runtime.ts";
import { skipWithoutBmv2 } from "./tools.ts";
import { PAIR_VTEPS, startPair, type Pair } from "./pair.ts";

const VTEPS = PAIR_VTEPS;
const SUBNET = "198.51.100";
const HOSTS: Record<string, HostSpec & { sw: number; ip: string }> = {
  a: { sw: 0, name: "a", port: "h1", mac: "02:00:00:0d:00:01", ip: `${SUBNET}.1`, cidr: `${SUBNET}.1/24` },
  b: { sw: 0, name: "b", port: "h2", mac: "02:00:00:0d:00:02", ip: `${SUBNET}.2`, cidr: `${SUBNET}.2/24` },
  sv1: { sw: 0, name: "sv1", port: "h3", mac: "02:00:00:0d:00:11", ip: `${SUBNET}.11`, cidr: `${SUBNET}.11/24` },
  c: { sw: 1, name: "c", port: "h1", mac: "02:00:00:0d:00:03", ip: `${SUBNET}.3`, cidr: `${SUBNET}.3/24` },
  sv2: { sw: 1, name: "sv2", port: "h2", mac: "02:00:00:0d:00:12", ip: `${SUBNET}.12`, cidr: `${SUBNET}.12/24` },
};
const SESSIONS = `mirror:
  sessions:
    - name: watch-a
      host: { mac: "${HOSTS.a!.mac}", vni: 100 }
      server: { mac: "${HOSTS.sv1!.mac}", vni: 100 }
      host_id: 7
    - name: watch-b
      host: { mac: "${HOSTS.b!.mac}", vni: 100 }
      server: { mac: "${HOSTS.sv2!.mac}", vni: 100 }
      host_id: 8
`;

const skip = skipWithoutBmv2();
let lab: Lab;
let fabric: Fabric;
let names: string[] = [];
let pair: Pair | undefined;

describe.skipIf(skip)("bmv2 target: match-mirror-encap beside an eBPF switch", () => {
  beforeAll(async () => {
    pair = await startPair("bmv2-mr", "br", HOSTS, { extra: () => SESSIONS });
    ({ lab, fabric, names } = pair);
    // the servers make themselves known (learned where they are), then every host
    expect((await ping(lab, fabric.hostNs("sv1"), HOSTS.sv2!.ip, { count: 2, timeoutS: 3 })).received).toBeGreaterThan(0);
    for (const h of ["a", "b"]) expect((await ping(lab, fabric.hostNs(h), HOSTS.c!.ip, { count: 2, timeoutS: 3 })).received).toBeGreaterThan(0);
    // both switches know both servers before the counted traffic
    for (const i of [0, 1]) {
      for (let n = 0; n < 50; n++) {
        const rows = await fabric.api<FdbRow[]>(names[i]!, "fdb");
        if (rows.some((r) => r.mac === HOSTS.sv1!.mac) && rows.some((r) => r.mac === HOSTS.sv2!.mac)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 1500)); // mirror entries follow the FDB (sweep 1 s)
  }, 180_000);

  afterAll(async () => {
    await pair?.stop();
  });

  const icmp = (host: string) => `icmp and ether host ${HOSTS[host]!.mac}`;
  const collect = async (c: Capture, n: number) => {
    await c.waitFor(n, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    return c.stop();
  };

  it("watch-a: sv1 gets a copy of every frame from a (local copy) and to a (terminated from sw2), nobody else does", async () => {
    const atSv1 = await startCapture(fabric.hostNs("sv1"), "eth0", { lab, filter: icmp("a"), direction: "in", timeoutMs: 30_000 });
    const atSv2 = await startCapture(fabric.hostNs("sv2"), "eth0", { lab, filter: icmp("a"), direction: "in", timeoutMs: 30_000 });
    const r = await ping(lab, fabric.hostNs("a"), HOSTS.c!.ip, { count: 5, timeoutS: 3 });
    expect(r.received).toBe(5);
    const copies = await collect(atSv1, 10);
    expect(copies.filter((p) => p.icmp?.type === 8 && p.eth?.src === HOSTS.a!.mac).length).toBe(5);
    expect(copies.filter((p) => p.icmp?.type === 0 && p.eth?.dst === HOSTS.a!.mac).length).toBe(5);
    expect(copies.length).toBe(10);
    expect(await atSv2.stop()).toEqual([]);
  });

  it("watch-b: bmv2 sends b's frames to sv2's switch as VXLAN with G, D and HOST ID 8, sw2 delivers them", async () => {
    const wire = await startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 30_000 });
    const atSv2 = await startCapture(fabric.hostNs("sv2"), "eth0", { lab, filter: icmp("b"), direction: "in", timeoutMs: 30_000 });
    const r = await ping(lab, fabric.hostNs("b"), HOSTS.c!.ip, { count: 5, timeoutS: 3 });
    expect(r.received).toBe(5);
    const delivered = await collect(atSv2, 10);
    expect(delivered.filter((p) => p.icmp?.type === 8 && p.eth?.src === HOSTS.b!.mac).length).toBe(5);
    // (an ARP probe of b's may be copied too: every frame from b is)
    const gbp = (await wire.stop()).filter((p) => p.vxlan?.gFlag && p.inner?.icmp);
    expect(gbp.length).toBe(5);
    for (const p of gbp) {
      expect(p.vxlan).toMatchObject({ gFlag: true, dFlag: true, gbp: 8, vni: 100 });
      expect(p.ip).toMatchObject({ src: VTEPS[0], dst: VTEPS[1] });
      expect(p.inner!.eth).toMatchObject({ src: HOSTS.b!.mac, dst: HOSTS.c!.mac });
    }
    // the copy is the frame b sent, byte for byte
    const sent = delivered.filter((p) => p.icmp?.type === 8).map((p) => p.raw.toString("hex")).sort();
    const inner = gbp.map((p) => p.raw.subarray(50).toString("hex")).sort();
    expect(inner).toEqual(sent);
  });

  it("counts each session's copies and terminations on bmv2", async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const rows = await fabric.api<MirrorRow[]>(names[0]!, "mirror");
    const a = rows.find((r) => r.name === "watch-a")!;
    const b = rows.find((r) => r.name === "watch-b")!;
    expect(Number(a.counters.copiesLocal)).toBeGreaterThanOrEqual(5);
    expect(Number(a.counters.terminated)).toBeGreaterThanOrEqual(5);
    expect(Number(b.counters.copiesRemote)).toBeGreaterThanOrEqual(5);
    expect(fabric.logOf(names[0]!)).not.toMatch(/bmv2 write failed|counter read failed|bmv2 flush failed/);
  });
});

// Per-group replication on bmv2: sw1 runs the P4 program with IGMP snooping
// (querier) beside an eBPF switch sw2. Kernel hosts join with sockets; their
// IGMP reaches sw1's control plane as packet-in through the CPU port; group
// traffic goes to member ports and one VXLAN copy per member VTEP (a PRE
// group per group), to nobody else; reports go to mrouter ports only; a leave
// stops the copies; link-local groups are flooded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { FAST_IGMP_TIMERS, Joiners, groupDatagram, sendFrames, startCapture } from "../harness/index.ts";
import type { McastRow } from "../../src/control/mcast/feature.ts";
import { skipWithoutBmv2 } from "./tools.ts";
import { PAIR_VTEPS, startPair, type Pair } from "./pair.ts";

const VTEPS = PAIR_VTEPS;
const SUBNET = "198.51.100";
const GROUP = "239.1.1.1";
const HOSTS: Record<string, HostSpec & { sw: number; ip: string }> = {
  a: { sw: 0, name: "a", port: "h1", mac: "02:00:00:0c:00:01", ip: `${SUBNET}.1`, cidr: `${SUBNET}.1/24` },
  b: { sw: 0, name: "b", port: "h2", mac: "02:00:00:0c:00:02", ip: `${SUBNET}.2`, cidr: `${SUBNET}.2/24` },
  d: { sw: 0, name: "d", port: "h3", mac: "02:00:00:0c:00:04", ip: `${SUBNET}.4`, cidr: `${SUBNET}.4/24` },
  c: { sw: 1, name: "c", port: "h1", mac: "02:00:00:0c:00:03", ip: `${SUBNET}.3`, cidr: `${SUBNET}.3/24` },
};

const skip = skipWithoutBmv2();
let lab: Lab;
let fabric: Fabric;
let joiners: Joiners;
let names: string[] = [];
let pair: Pair | undefined;

describe.skipIf(skip)("bmv2 target: per-group replication with IGMP snooping", () => {
  beforeAll(async () => {
    pair = await startPair("bmv2-mc", "bm", HOSTS, {
      // sw1 sends the group's traffic to sw2 as a static remote member
      extra: (i) => `multicast:
  enabled: true
${FAST_IGMP_TIMERS}
  vnis:
    - vni: 100
      querier: ${i === 0}${i === 0 ? `\n      querier_address: ${SUBNET}.251\n      groups: [{ group: ${GROUP}, remotes: [${VTEPS[1]}] }]` : ""}
`,
    });
    ({ lab, fabric, names } = pair);
    joiners = new Joiners(lab);
  }, 180_000);

  afterAll(async () => {
    joiners?.killAll();
    await pair?.stop();
  });

  const groupRow = async () => (await fabric.api<McastRow[]>(names[0]!, "mcast")).find((r) => r.vni === 100 && r.group === GROUP);
  const until = async (what: string, ok: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const send = (from: string, group: string, n: number) =>
    sendFrames(fabric.hostNs(from), "eth0", Array.from({ length: n }, (_, i) => groupDatagram(HOSTS[from]!, group, 5000, i)));

  it("b's join reaches the control plane through the CPU port, and its report reaches no other host", async () => {
    const atD = await startCapture(fabric.hostNs("d"), "eth0", { lab, filter: "igmp and igmp[0] != 0x11", direction: "in", timeoutMs: 20_000 });
    await joiners.join("b", fabric.hostNs("b"), GROUP, HOSTS.b!.ip);
    await until("b is a member on h2", async () => (await groupRow())?.localPorts.includes("h2") ?? false);
    await new Promise((r) => setTimeout(r, 500));
    expect(await atD.stop()).toEqual([]);
  });

  it("a's group traffic goes to b and one VXLAN copy to sw2, none to d", async () => {
    const filter = "udp port 5000";
    const atB = await startCapture(fabric.hostNs("b"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    const atD = await startCapture(fabric.hostNs("d"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    const overlay = await startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 20_000 });
    await send("a", GROUP, 10);
    expect(await atB.waitFor(10, 10_000)).toBe(10);
    await new Promise((r) => setTimeout(r, 500));
    expect(await atD.stop()).toEqual([]);
    const copies = (await overlay.stop()).filter((p) => p.inner?.ip?.dst === GROUP);
    expect(copies.length).toBe(10);
    for (const p of copies) expect(p.ip).toMatchObject({ src: VTEPS[0], dst: VTEPS[1] });
    expect((await atB.stop()).length).toBe(10);
  });

  it("counts the group's frames and copies, and the switch's", async () => {
    await new Promise((r) => setTimeout(r, 1500)); // counters are read once a second
    const row = (await groupRow())!;
    expect(Number(row.counters.frames)).toBeGreaterThanOrEqual(10);
    expect(Number(row.counters.copiesLocal)).toBeGreaterThanOrEqual(10);
    expect(Number(row.counters.copiesRemote)).toBeGreaterThanOrEqual(10);
    const c = await fabric.api<Record<string, { packets: string }>>(names[0]!, "counters");
    for (const n of ["igmp_to_cpu", "mcast_group_hit", "mcast_local_copy", "mcast_remote_copy"]) expect(BigInt(c[n]?.packets ?? "0"), n).toBeGreaterThan(0n);
    expect(fabric.logOf(names[0]!)).not.toMatch(/bmv2 write failed|counter read failed|bmv2 flush failed/);
  });

  it("b's leave stops its copies (the static remote keeps its own)", async () => {
    await joiners.leave("b");
    await until("b has left", async () => !((await groupRow())?.localPorts.includes("h2") ?? false));
    const atB = await startCapture(fabric.hostNs("b"), "eth0", { lab, filter: "udp port 5000", direction: "in", timeoutMs: 20_000 });
    const overlay = await startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 20_000 });
    await send("a", GROUP, 10);
    expect(await overlay.waitFor(10, 10_000)).toBe(10);
    await new Promise((r) => setTimeout(r, 500));
    expect(await atB.stop()).toEqual([]);
    await overlay.stop();
  });

  it("link-local groups are never snooped: flooded to every port", async () => {
    const filter = "udp port 5000";
    const atB = await startCapture(fabric.hostNs("b"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    const atD = await startCapture(fabric.hostNs("d"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    await send("a", "224.0.0.251", 5);
    expect(await atB.waitFor(5, 10_000)).toBe(5);
    expect(await atD.waitFor(5, 10_000)).toBe(5);
    await atB.stop();
    await atD.stop();
  });
});

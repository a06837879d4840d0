// The same switch on bmv2: sw1 runs `vxgate run --target bmv2` (the P4
// program generated from its config, on simple_switch), sw2 the eBPF target,
// with static flood lists to each other (flood-and-learn). Hosts ping across
// the overlay and inside sw1; tshark checks what sw1 puts on the wire; sw1
// learns through packet-in; split horizon holds; a restarted control plane
// adopts the running simple_switch while it forwards; `vxgate stop` removes it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { ping, sendFrames, startCapture, udpFrame } from "../harness/index.ts";
import type { FdbRow } from "../../src/control/runtime.ts";
import { skipWithoutBmv2 } from "./tools.ts";
import { PAIR_VTEPS, startPair, type Pair } from "./pair.ts";

const VTEPS = PAIR_VTEPS;
const SUBNET = "198.51.100";
const SUBNET2 = "203.0.113";
const HOSTS: Record<string, HostSpec & { sw: number; ip: string }> = {
  a: { sw: 0, name: "a", port: "h1", mac: "02:00:00:0b:00:01", ip: `${SUBNET}.1`, cidr: `${SUBNET}.1/24` },
  b: { sw: 0, name: "b", port: "h2", mac: "02:00:00:0b:00:02", ip: `${SUBNET}.2`, cidr: `${SUBNET}.2/24` },
  c: { sw: 1, name: "c", port: "h1", mac: "02:00:00:0b:00:03", ip: `${SUBNET}.3`, cidr: `${SUBNET}.3/24` },
  // VNI 300 ages learned MACs after 3 s
  e: { sw: 0, name: "e", port: "h3", mac: "02:00:00:0b:00:05", ip: `${SUBNET2}.5`, cidr: `${SUBNET2}.5/24` },
  e2: { sw: 0, name: "e2", port: "h4", mac: "02:00:00:0b:00:07", ip: `${SUBNET2}.7`, cidr: `${SUBNET2}.7/24` },
  f: { sw: 1, name: "f", port: "h2", mac: "02:00:00:0b:00:06", ip: `${SUBNET2}.6`, cidr: `${SUBNET2}.6/24` },
  // port h5 holds at most 4 learned MACs
  g: { sw: 0, name: "g", port: "h5", mac: "02:00:00:0b:00:08", ip: `${SUBNET}.8`, cidr: `${SUBNET}.8/24` },
};
const vniOf = (h: HostSpec) => (h.cidr.startsWith(SUBNET2) ? 300 : 100);

const skip = skipWithoutBmv2();
let lab: Lab;
let fabric: Fabric;
let names: string[] = [];
let pair: Pair | undefined;
const RUN_ROOT = "/run/vxgate";

describe.skipIf(skip)("bmv2 target: a VTEP on simple_switch beside an eBPF one", () => {
  beforeAll(async () => {
    pair = await startPair("bmv2", "b2", HOSTS, {
      port: (h) => `{ name: ${h.port}, vni: ${vniOf(h)}${h.name === "g" ? ", max_macs: 4" : ""} }`,
      vnis: (other) => `  - vni: 100\n    flood: [${other}]\n  - vni: 300\n    ageing: 3\n    flood: [${other}]`,
    });
    ({ lab, fabric, names } = pair);
  }, 180_000);

  afterAll(async () => {
    await pair?.stop();
  });

  const fdb = (i: number) => fabric.api<FdbRow[]>(names[i]!, "fdb");
  const counters = async (i: number) => {
    const c = await fabric.api<Record<string, { packets: string }>>(names[i]!, "counters");
    return (n: string) => BigInt(c[n]?.packets ?? "0");
  };

  it("boots the generated P4 program on simple_switch, one bmv2 port per switch port", async () => {
    const ports = await fabric.api<{ name: string; fastPath: string; replication: string }[]>(names[0]!, "ports");
    expect(ports.map((p) => p.name).sort()).toEqual(["eth0", "h1", "h2", "h3", "h4", "h5"]);
    for (const p of ports) {
      expect(p.fastPath).toMatch(/^bmv2 port \d+$/);
      expect(p.replication).toBe("bmv2 PRE");
    }
    const status = await fabric.api<{ adopted: boolean }>(names[0]!, "status");
    expect(status.adopted).toBe(false);
  });

  it("a pings c across the overlay (ARP flooded through the PRE, unicast encapsulated and decapsulated)", async () => {
    const r = await ping(lab, fabric.hostNs("a"), HOSTS.c!.ip, { count: 5, timeoutS: 3 });
    expect(r.received).toBeGreaterThanOrEqual(4);
  });

  it("learns through packet-in: a is local on h1, c remote behind sw2's VTEP", async () => {
    let rows: FdbRow[] = [];
    for (let i = 0; i < 30; i++) {
      rows = await fdb(0);
      if (rows.some((r) => r.mac === HOSTS.a!.mac) && rows.some((r) => r.mac === HOSTS.c!.mac)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const a = rows.find((r) => r.mac === HOSTS.a!.mac);
    const c = rows.find((r) => r.mac === HOSTS.c!.mac);
    expect(a).toMatchObject({ vni: 100, port: "h1" });
    expect(c).toMatchObject({ vni: 100, remote: VTEPS[1] });
    // and the eBPF switch learned a behind the bmv2 switch's VTEP
    expect((await fdb(1)).find((r) => r.mac === HOSTS.a!.mac)).toMatchObject({ vni: 100, remote: VTEPS[0] });
  });

  it("ages what went quiet (bmv2's time since the source lookup last hit) and keeps what talks", async () => {
    // e and e2 both talk to f; then only e keeps talking
    for (const h of ["e", "e2"]) expect((await ping(lab, fabric.hostNs(h), HOSTS.f!.ip, { count: 2, timeoutS: 3 })).received).toBeGreaterThan(0);
    const has = async (mac: string) => (await fdb(0)).some((r) => r.vni === 300 && r.mac === mac);
    expect(await has(HOSTS.e!.mac)).toBe(true);
    expect(await has(HOSTS.e2!.mac)).toBe(true);
    const talking = ping(lab, fabric.hostNs("e"), HOSTS.f!.ip, { count: 40, intervalS: 0.2, timeoutS: 2 });
    const start = Date.now();
    while ((await has(HOSTS.e2!.mac)) && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 250));
    const gone = Date.now() - start;
    expect(await has(HOSTS.e2!.mac)).toBe(false);
    expect(await has(HOSTS.e!.mac)).toBe(true);
    console.log(`bmv2: a MAC quiet for its 3 s ageing time left the FDB ${gone} ms after the last check found it`);
    await talking;
    expect(await has(HOSTS.e!.mac)).toBe(true);
  });

  it("a port holds at most its max_macs; frames from further new sources are dropped and counted", async () => {
    const frameFrom = (i: number) => udpFrame({ srcMac: `02:00:00:0b:1${Math.floor(i / 10)}:0${i % 10}`, dstMac: "ff:ff:ff:ff:ff:ff", srcIp: HOSTS.g!.ip, dstIp: `${SUBNET}.255`, srcPort: 4100, dstPort: 4101, payload: Buffer.from(`limit ${i}`) });
    const onH5 = async () => (await fdb(0)).filter((r) => r.port === "h5").length;
    await sendFrames(fabric.hostNs("g"), "eth0", [0, 1, 2, 3, 4, 5].map(frameFrom));
    for (let i = 0; i < 30 && (await onH5()) < 4; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    expect(await onH5()).toBe(4);
    const before = (await counters(0))("drop_mac_limit");
    // the data path knows the port is full now: new sources go nowhere
    const atA = await startCapture(fabric.hostNs("a"), "eth0", { lab, filter: "udp port 4101", direction: "in", timeoutMs: 20_000 });
    await sendFrames(fabric.hostNs("g"), "eth0", [10, 11, 12, 13, 14, 15].map(frameFrom));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await atA.stop()).toEqual([]);
    expect(await onH5()).toBe(4);
    expect((await counters(0))("drop_mac_limit") - before).toBe(6n);
  });

  it("switches locally: a pings b on the same bmv2 switch", async () => {
    const r = await ping(lab, fabric.hostNs("a"), HOSTS.b!.ip, { count: 5, timeoutS: 3 });
    expect(r.received).toBeGreaterThanOrEqual(4);
  });

  it("puts RFC 7348 VXLAN on the wire: our VTEP as source, VNI 100, port 4789, dynamic source port, valid IPv4 checksum", async () => {
    const cap = await startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 20_000 });
    await ping(lab, fabric.hostNs("a"), HOSTS.c!.ip, { count: 3, timeoutS: 2 });
    await cap.waitFor(3, 10_000);
    const pkts = await cap.stop();
    const requests = pkts.filter((p) => p.inner?.icmp?.type === 8);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const p of requests) {
      expect(p.ip).toMatchObject({ src: VTEPS[0], dst: VTEPS[1], ttl: 64 });
      expect(p.ip!.checksumStatus).not.toBe("bad");
      expect(p.udp!.dstPort).toBe(4789);
      expect(p.udp!.srcPort).toBeGreaterThanOrEqual(49152);
      expect(p.vxlan).toMatchObject({ vni: 100, iFlag: true });
      expect(p.inner!.eth).toMatchObject({ src: HOSTS.a!.mac, dst: HOSTS.c!.mac });
      expect(p.inner!.vlans).toEqual([]);
      // the outer lengths say exactly what follows
      expect(p.ip!.len).toBe(p.len - 14);
      expect(p.udp!.length).toBe(p.len - 34);
    }
  });

  it("counts what it did in the same counters the eBPF program keeps", async () => {
    await new Promise((r) => setTimeout(r, 1500)); // the counter cache refreshes every second
    const c = await counters(0);
    expect(c("access_rx")).toBeGreaterThan(0n);
    expect(c("encap_fwd")).toBeGreaterThan(0n);
    expect(c("decap_fwd")).toBeGreaterThan(0n);
    expect(c("local_fwd")).toBeGreaterThan(0n);
    expect(c("flood_remote_copy")).toBeGreaterThan(0n);
    // every table write and counter read went through
    expect(fabric.logOf(names[0]!)).not.toMatch(/bmv2 write failed|counter read failed|bmv2 flush failed/);
  });

  it("split horizon: a broadcast from the overlay reaches a and b once each and never goes back into the overlay", async () => {
    const frame = udpFrame({ srcMac: HOSTS.c!.mac, dstMac: "ff:ff:ff:ff:ff:ff", srcIp: HOSTS.c!.ip, dstIp: `${SUBNET}.255`, srcPort: 4000, dstPort: 4001, payload: Buffer.from("bmv2-split-horizon") });
    const filter = "udp port 4001";
    const atA = await startCapture(fabric.hostNs("a"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    const atB = await startCapture(fabric.hostNs("b"), "eth0", { lab, filter, direction: "in", timeoutMs: 20_000 });
    const back = await startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 20_000 });
    await sendFrames(fabric.hostNs("c"), "eth0", [frame, frame, frame]);
    expect(await atA.waitFor(3, 10_000)).toBe(3);
    expect(await atB.waitFor(3, 10_000)).toBe(3);
    await new Promise((r) => setTimeout(r, 500));
    const fromSw1 = (await back.stop()).filter((p) => p.inner?.udp?.dstPort === 4001);
    expect(fromSw1).toEqual([]);
    expect((await atA.stop()).length).toBe(3);
    expect((await atB.stop()).length).toBe(3);
  });

  it("a restarted control plane adopts the running simple_switch; forwarding never stops", async () => {
    const pinger = ping(lab, fabric.hostNs("a"), HOSTS.c!.ip, { count: 40, intervalS: 0.1, timeoutS: 2 });
    await new Promise((r) => setTimeout(r, 500));
    await fabric.kill(names[0]!);
    await new Promise((r) => setTimeout(r, 500));
    await fabric.start(names[0]!, ["--target", "bmv2"]);
    const r = await pinger;
    expect(r.received).toBeGreaterThanOrEqual(38);
    const status = await fabric.api<{ adopted: boolean }>(names[0]!, "status");
    expect(status.adopted).toBe(true);
    expect((await fdb(0)).find((x) => x.mac === HOSTS.a!.mac)).toMatchObject({ port: "h1" });
  });

  it("`vxgate stop` removes simple_switch", async () => {
    const state = JSON.parse(readFileSync(join(RUN_ROOT, names[0]!, "bmv2.json"), "utf8")) as { pid: number };
    await fabric.kill(names[0]!);
    fabric.stopAndRemove(names[0]!);
    expect(existsSync(`/proc/${state.pid}`)).toBe(false);
    expect(existsSync(join(RUN_ROOT, names[0]!))).toBe(false);
  });
});

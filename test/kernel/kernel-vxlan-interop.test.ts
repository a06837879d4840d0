// Interoperability with the Linux kernel's own VXLAN implementation: one
// vxgate switch (a real `vxgate run`, via Fabric) and one "kernel VTEP"
// namespace routed through the same spine, where a vxlan device (VNI 100,
// dstport 4789, flood-and-learn), a bridge and a veth to a host make a
// software VTEP. Each side lists the other for BUM (vxgate: `flood:`; kernel:
// an all-zeros `bridge fdb append` entry), so ARP crosses as head-end
// replicated broadcast, then unicast is learned on both sides.
//
//   a1 --h1-- [vxgate 198.18.0.1] --eth0/s1-- spine --s9/eth0-- [kvtep 198.18.0.2: vx100+br0] --hb-- b1
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fabric, Lab } from "../../lab/fabric.ts";
import { addKernelVtep, ping, startCapture, udpExchange, type Capture, type DecodedPacket } from "../harness/index.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const VXGATE_VTEP = "198.18.0.1";
const KERNEL_VTEP = "198.18.0.2";
const A1 = "02:00:00:00:a1:01"; // host behind vxgate
const B1 = "02:00:00:00:b1:01"; // host behind the kernel VTEP
const A1_IP = "198.51.100.1";
const B1_IP = "198.51.100.2";

let lab: Lab;
let fabric: Fabric;
let name: string;
let kv: string;
let b1: string; // host namespace behind the kernel VTEP
let capOurs: Capture;
let capKernel: Capture;
let ours: DecodedPacket[] = [];
let theirs: DecodedPacket[] = [];


beforeAll(async () => {
  lab = new Lab("kvx-interop");
  name = `kt-kvx-${process.pid.toString(36)}`;
  const configPath = join(lab.tmpdir, "vxgate.yaml");
  writeFileSync(
    configPath,
    `switch:
  name: ${name}
vtep:
  source_ip: ${VXGATE_VTEP}
uplinks:
  - name: eth0
ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
    flood: [${KERNEL_VTEP}]
management:
  socket: ${join(lab.tmpdir, "mgmt.sock")}
`,
  );
  fabric = new Fabric(lab, [{ configPath, hosts: [{ name: "a1", port: "h1", mac: A1, cidr: `${A1_IP}/24` }] }]);

  // the kernel VTEP: one more leaf on the spine (s9, 192.0.2.100/30); its BUM
  // goes to vxgate (head-end replication list of one)
  ({ kv, host: b1 } = addKernelVtep(lab, {
    spine: fabric.spine,
    spinePort: "s9",
    addr: "192.0.2.102/30",
    spineAddr: "192.0.2.101/30",
    vtep: KERNEL_VTEP,
    vni: 100,
    flood: [VXGATE_VTEP],
    host: { ns: "b1", mac: B1, cidr: `${B1_IP}/24` },
  }));

  await fabric.start(name);
  const swNs = fabric.switchNs(name);
  // the runtime installs a managed neighbour for the outer next hop; wait until it is usable
  await pollUntil(() => /REACHABLE|STALE|DELAY|PROBE/.test(lab.exec(swNs, "ip", ["neigh", "show", "192.0.2.1"])), 5000, "next hop of the vxgate uplink");
  // both VTEPs as they emit: vxgate's on s1, the kernel's on s9 (before the spine decrements the TTL)
  [capOurs, capKernel] = await Promise.all([
    startCapture(fabric.spine, "s1", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 60_000 }),
    startCapture(fabric.spine, "s9", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 60_000 }),
  ]);
});

afterAll(async () => {
  capOurs?.kill();
  capKernel?.kill();
  await fabric?.shutdown().catch(() => {});
  await lab?.dispose();
});

async function pollUntil(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const api = <T>(view: string) => fabric.api<T>(name, view);

interface KernelFdb {
  mac: string;
  master?: string;
  dst?: string;
  state?: string;
  flags?: string[];
}
const kernelFdb = () => JSON.parse(lab.exec(kv, "bridge", ["-j", "fdb", "show", "dev", "vx100"])) as KernelFdb[];

describe("vxgate <-> Linux VXLAN (VNI 100)", () => {
  it("ping kernel side -> vxgate side: ARP crosses as BUM, replies come back unicast", async () => {
    const r = await ping(lab, b1, A1_IP, { count: 5, intervalS: 0.2, timeoutS: 2 });
    expect(r.received, r.output).toBe(r.sent);
  });

  it("ping vxgate side -> kernel side, with both ARP caches flushed first", async () => {
    lab.ip(fabric.hostNs("a1"), "neigh", "flush", "all");
    lab.ip(b1, "neigh", "flush", "all");
    const r = await ping(lab, fabric.hostNs("a1"), B1_IP, { count: 5, intervalS: 0.2, timeoutS: 2 });
    expect(r.received, r.output).toBe(r.sent);
  });

  it("UDP both ways, nothing lost", async () => {
    const ab = await udpExchange(lab, { from: fabric.hostNs("a1"), to: b1, dst: B1_IP, port: 9000, count: 300, payload: Buffer.alloc(600, 0xab) });
    expect(ab.received).toBe(ab.sent);
    const ba = await udpExchange(lab, { from: b1, to: fabric.hostNs("a1"), dst: A1_IP, port: 9001, count: 300, payload: Buffer.alloc(600, 0xba) });
    expect(ba.received).toBe(ba.sent);
  });

  it("vxgate learned the kernel-side host against the kernel VTEP, and its own host on h1", async () => {
    const fdb = await api<FdbRow[]>("fdb");
    expect(fdb).toContainEqual(expect.objectContaining({ vni: 100, mac: B1, type: "remote", remote: KERNEL_VTEP }));
    expect(fdb).toContainEqual(expect.objectContaining({ vni: 100, mac: A1, type: "local", port: "h1" }));
    const c = await api<Record<string, { packets: string }>>("counters");
    for (const k of ["encap_fwd", "decap_fwd", "flood_remote_copy", "flood_local_copy"]) expect(BigInt(c[k]!.packets), k).toBeGreaterThan(0n);
  });

  it("the kernel VTEP learned vxgate's host against vxgate's VTEP", () => {
    const fdb = kernelFdb();
    // the vxlan device's own table (flag "self") maps the MAC to a remote VTEP;
    // the bridge's entry (master br0) only points at the vx100 port
    const learned = fdb.find((e) => e.mac === A1 && (e.flags ?? []).includes("self"));
    expect(learned, JSON.stringify(fdb)).toBeDefined();
    expect(learned!.dst).toBe(VXGATE_VTEP);
    expect(fdb).toContainEqual(expect.objectContaining({ mac: A1, master: "br0" }));
    // learned by the data path, not configured
    expect(learned!.state ?? "").not.toBe("permanent");
    expect(fdb).toContainEqual(expect.objectContaining({ mac: "00:00:00:00:00:00", dst: VXGATE_VTEP }));
  });

  it("tshark decodes vxgate's encapsulation and the kernel's identically", async () => {
    [ours, theirs] = await Promise.all([capOurs.stop({ settleMs: 200 }), capKernel.stop({ settleMs: 200 })]);
    expect(ours.length).toBeGreaterThan(300);
    expect(theirs.length).toBeGreaterThan(300);
    // each VTEP sent only its own VXLAN, to the other one
    expect(new Set(ours.map((p) => `${p.ip?.src}>${p.ip?.dst}`))).toEqual(new Set([`${VXGATE_VTEP}>${KERNEL_VTEP}`]));
    expect(new Set(theirs.map((p) => `${p.ip?.src}>${p.ip?.dst}`))).toEqual(new Set([`${KERNEL_VTEP}>${VXGATE_VTEP}`]));

    // what RFC 7348 fixes, as tshark reads it, is the same on both sides
    const signature = (p: DecodedPacket) => ({
      protocols: p.protocols.join(":"),
      ipProto: p.ip?.proto,
      ipChecksum: p.ip?.checksumStatus,
      ttl: p.ip?.ttl,
      udpDst: p.udp?.dstPort,
      udpChecksum: p.udp?.checksum,
      udpLengthMinusInner: p.udp && p.inner ? p.udp.length - (p.len - 50) : undefined,
      vxlanFlags: p.vxlan?.flags,
      iFlag: p.vxlan?.iFlag,
      vni: p.vxlan?.vni,
      innerDecoded: p.inner?.eth !== undefined,
      vxlanReserved: p.parsed.vxlan ? [p.parsed.vxlan.reserved1, p.parsed.vxlan.reserved2] : undefined,
    });
    const sigs = (ps: DecodedPacket[]) => [...new Set(ps.map((p) => JSON.stringify(signature(p))))].map((s) => JSON.parse(s) as ReturnType<typeof signature>);
    expect(sigs(ours)).toEqual([
      {
        protocols: "eth:ethertype:ip:udp:vxlan",
        ipProto: 17,
        ipChecksum: "good",
        ttl: 64,
        udpDst: 4789,
        udpChecksum: 0,
        udpLengthMinusInner: 16,
        vxlanFlags: 0x0800,
        iFlag: true,
        vni: 100,
        innerDecoded: true,
        vxlanReserved: [0, 0],
      },
    ]);
    expect(sigs(theirs)).toEqual(sigs(ours));
    // outer source ports carry flow entropy on both sides (never 0, never the VXLAN port)
    for (const p of [...ours, ...theirs]) expect(p.udp!.srcPort).toBeGreaterThan(1023);

    // the same inner traffic kinds crossed both ways, decoded to the same depth
    const kinds = (ps: DecodedPacket[]) =>
      new Set(ps.map((p) => (p.inner?.arp ? `arp/${p.inner.arp.opcode}/${p.inner.eth!.dst === "ff:ff:ff:ff:ff:ff" ? "bcast" : "ucast"}` : p.inner?.icmp ? `icmp/${p.inner.icmp.type}` : p.inner?.udp ? `udp/${p.inner.udp.dstPort}` : "other")));
    // ARP requests went out as head-end replicated broadcast from each side
    expect(kinds(ours)).toContain("arp/1/bcast");
    expect(kinds(theirs)).toContain("arp/1/bcast");
    for (const k of ["icmp/8", "icmp/0"]) {
      expect(kinds(ours)).toContain(k);
      expect(kinds(theirs)).toContain(k);
    }
    expect(kinds(ours)).toContain("udp/9000");
    expect(kinds(theirs)).toContain("udp/9001");
    // anything else is named in the failure (protocol stack + raw inner bytes);
    // IGMP reports the hosts' stacks send on their own (link up, group joins) are
    // ordinary BUM and cross like any other
    const others = (ps: DecodedPacket[]) =>
      ps
        .filter((p) => !(p.inner?.arp || p.inner?.icmp || p.inner?.udp || p.inner?.protocols.includes("igmp")))
        .map((p) => `${p.protocolsString} ${p.raw.subarray(50, 90).toString("hex")}`);
    expect(others(ours)).toEqual([]);
    expect(others(theirs)).toEqual([]);

    // inner frames carried byte for byte, sources where they belong
    // (IGMP reports come from the stacks themselves, e.g. the kernel side's bridge)
    const hostTraffic = (ps: DecodedPacket[]) => ps.filter((p) => !p.inner?.protocols.includes("igmp"));
    for (const p of hostTraffic(ours)) expect(p.inner!.eth!.src).toBe(A1);
    for (const p of hostTraffic(theirs)) expect(p.inner!.eth!.src).toBe(B1);
    // and an echo request looks the same through either encapsulation, inner bytes included
    const echo = (ps: DecodedPacket[], src: string) => ps.find((p) => p.inner?.icmp?.type === 8 && p.inner.ip?.src === src)!;
    const e1 = echo(ours, A1_IP);
    const e2 = echo(theirs, B1_IP);
    expect(e1.inner!.ip!.checksumStatus).toBe("good");
    expect(e2.inner!.ip!.checksumStatus).toBe("good");
    expect(e1.inner!.icmp!.checksumStatus).toBe("good");
    expect(e2.inner!.icmp!.checksumStatus).toBe("good");
  });
});

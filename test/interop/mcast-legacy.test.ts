// Legacy VTEPs behind vxgate: hypervisors whose Linux VXLAN devices flood
// through an underlay multicast group (239.5.5.5) sit on vxgate access ports
// of one VNI, and the fabric between the vxgate switches has no multicast.
// Each hypervisor kernel joins the group with IGMP on its eth0: ordinary
// snooped membership in vxgate's VNI 100, advertised over BGP EVPN through an
// FRR reflector, so vxgate carries the hypervisors' BUM between switches as
// unicast VXLAN copies, only to switches whose hypervisors joined. Everything
// is real: the hypervisors' vxlan devices and bridges, the VMs' kernels, the
// IGMP; tshark decodes what each VM, hypervisor, the plain host and the spine
// (each switch's underlay output) saw, down to the VM's frame two VXLAN
// levels deep.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { FAST_IGMP_TIMERS, arpRequest, ping, sendFrames, startCapture, type Capture, type DecodedLayers, type DecodedPacket } from "../harness/index.ts";
import type { McastRow } from "../../src/control/mcast/feature.ts";

const VTEPS = ["198.18.0.1", "198.18.0.2", "198.18.0.3"] as const;
type Sw = 0 | 1 | 2;
const SWS: Sw[] = [0, 1, 2];
/** the hypervisors' underlay group and their own VXLAN segment */
const G = "239.5.5.5";
const HV_VNI = 5000;

interface Hv extends HostSpec {
  sw: Sw;
  ip: string;
  vm: { name: string; ip: string; mac: string };
}
// hvN is cabled to swN's h1, in vxgate VNI 100; its VM vmN is in the hypervisors' VNI 5000
const hv = (i: Sw): Hv => {
  const n = i + 1;
  const ip = `198.51.100.${n}`;
  return {
    sw: i,
    name: `hv${n}`,
    port: "h1",
    ip,
    cidr: `${ip}/24`,
    mac: `02:00:00:64:00:0${n}`,
    vm: { name: `vm${n}`, ip: `10.50.0.${n}`, mac: `02:00:00:0a:00:0${n}` },
  };
};
const HVS = [hv(0), hv(1), hv(2)] as const;
/** a plain host on sw3, same VNI, that never joins the group */
const PLAIN: HostSpec & { ip: string } = { name: "plain", port: "h2", ip: "198.51.100.9", cidr: "198.51.100.9/24", mac: "02:00:00:64:00:09" };
/** the VMs' MTU: the hypervisors' VXLAN takes 50 bytes of their eth0's 1500 */
const VM_MTU = 1450;

function config(tag: string, i: Sw, dir: string): string {
  const ports = [`  - { name: h1, vni: 100 }`, ...(i === 2 ? [`  - { name: ${PLAIN.port}, vni: 100 }`] : [])];
  return `switch: { name: ${tag}-sw${i + 1} }
vtep: { source_ip: ${VTEPS[i]} }
uplinks: [{ name: eth0 }]
management: { socket: ${join(dir, `sw${i + 1}.sock`)} }
ports:
${ports.join("\n")}
vnis:
  - { vni: 100 }
bgp:
  asn: 65000
  router_id: ${VTEPS[i]}
  neighbors:
    - { address: 192.0.2.${4 * i + 1}, remote_asn: 65000 }
  evpn:
    aggregation: { window_seconds: 1 }
multicast:
  enabled: true
${FAST_IGMP_TIMERS}
  vnis:
    - { vni: 100, querier: true, querier_address: 198.51.100.${250 + i}, unregistered: drop }
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("legacy VTEPs behind vxgate: hypervisors flooding through an underlay group, carried per group between switches", () => {
  let lab: Lab;
  let fabric: Fabric;
  const names: string[] = [];
  /** namespace of each hypervisor and of each VM */
  const hvNs: string[] = [];
  const vmNs: string[] = [];

  beforeAll(async () => {
    lab = new Lab("mcast-legacy");
    const tag = `ml${(process.pid % 10000).toString(36)}`;
    const specs = SWS.map((i) => {
      const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
      writeFileSync(configPath, config(tag, i, lab.tmpdir));
      names.push(`${tag}-sw${i + 1}`);
      return { configPath, hosts: i === 2 ? [HVS[i], PLAIN] : [HVS[i]] };
    });
    fabric = new Fabric(lab, specs, { reflector: "frr" });
    // each hypervisor: its VM on a veth into br0, with vx0 (not up yet: the
    // kernel joins the group when vx0 comes up, once the switches listen)
    for (const h of HVS) {
      const ns = fabric.hostNs(h.name);
      const vm = lab.ns(h.vm.name);
      hvNs.push(ns);
      vmNs.push(vm);
      lab.veth(vm, "eth0", ns, "vmp", { macA: h.vm.mac, mtu: VM_MTU, txChecksum: false });
      lab.addr(vm, "eth0", `${h.vm.ip}/24`);
      lab.ip(ns, "link", "add", "br0", "type", "bridge");
      lab.ip(ns, "link", "set", "vmp", "master", "br0");
      lab.ip(ns, "link", "add", "vx0", "type", "vxlan", "id", String(HV_VNI), "group", G, "dev", "eth0", "dstport", "4789", "ttl", "8");
      lab.ip(ns, "link", "set", "vx0", "master", "br0");
      lab.up(ns, "br0");
    }
    for (const n of names) await fabric.start(n);
    await fabric.waitEstablished();
    for (const ns of hvNs) lab.up(ns, "vx0");
    // the plain host speaks once, so that every switch knows every underlay MAC
    await sendFrames(fabric.hostNs(PLAIN.name), "eth0", [arpRequest({ srcMac: PLAIN.mac, srcIp: PLAIN.ip, targetIp: "198.51.100.99" })]);
    // bounded waits (no expect.poll in hooks): every switch has the other two as members of G
    const remotesOk = async () => {
      for (const sw of SWS) {
        const want = VTEPS.filter((_, j) => j !== sw).sort();
        if (JSON.stringify(await remotesAt(sw)) !== JSON.stringify(want)) return false;
        if (JSON.stringify(await portsAt(sw)) !== JSON.stringify(["h1"])) return false;
      }
      return true;
    };
    for (let i = 0; !(await remotesOk()); i++) {
      if (i > 300) throw new Error(`membership of ${G} did not settle: ${JSON.stringify(await Promise.all(SWS.map((sw) => row(sw))))}`);
      await sleep(100);
    }
    const macs = [...HVS.map((h) => h.mac), PLAIN.mac];
    const knowsAll = async (sw: Sw) => {
      const fdb = await fabric.api<{ vni: number; mac: string }[]>(names[sw]!, "fdb");
      return macs.every((m) => fdb.some((r) => r.vni === 100 && r.mac === m));
    };
    for (let i = 0; !(await knowsAll(0)) || !(await knowsAll(1)) || !(await knowsAll(2)); i++) {
      if (i > 300) throw new Error("the switches did not learn every underlay MAC");
      await sleep(100);
    }
  }, 240_000);

  afterAll(async () => {
    await fabric?.shutdown();
    await lab?.dispose();
  });

  const row = async (sw: Sw): Promise<McastRow | undefined> =>
    (await fabric.api<McastRow[]>(names[sw]!, "mcast")).find((r) => r.vni === 100 && r.source === "*" && r.group === G);
  const remotesAt = async (sw: Sw) => ((await row(sw))?.remotes.map((r) => r.vtep) ?? []).sort();
  const portsAt = async (sw: Sw) => ((await row(sw))?.localPorts ?? []).sort();

  // ------------------------------------------------------------------ observing one flood

  interface Seen {
    /** per VM: the ARP requests of this round it received */
    vms: number[];
    /** per hypervisor: VXLAN datagrams to G carrying this round's ARP, sent out of / received on eth0 */
    hvOut: number[];
    hvIn: number[];
    /** per hypervisor: every VXLAN datagram to G it received (this round's or not) */
    hvInAll: number[];
    /** every UDP datagram to G the plain host received */
    plain: number;
    /** per switch, what it put on the underlay: VXLAN copies carrying a hypervisor's datagram to G, by
     *  outer destination VTEP (only this round's ARP counted in `uplinks`, any such datagram in `uplinksAll`) */
    uplinks: Record<string, number>[];
    uplinksAll: Record<string, number>[];
  }

  let round = 0;
  /** `count` ARP requests (distinct targets) from VM `from`, broadcast: its hypervisor floods each to G. */
  async function flood(from: Sw, count: number, opts: { targets?: string[]; expectAt: Sw[] }): Promise<Seen> {
    const base = 100 + 10 * (round++ % 14);
    const targets = opts.targets ?? Array.from({ length: count }, (_, k) => `10.50.0.${base + k}`);
    const vm = HVS[from]!.vm;
    const ours = (l: DecodedLayers | undefined) =>
      l?.arp !== undefined && l.arp.opcode === 1 && l.arp.senderMac === vm.mac && targets.includes(l.arp.targetIp);
    const cap = (ns: string, ifname: string, filter: string, direction: "in" | "out") =>
      startCapture(ns, ifname, { lab, filter, direction, timeoutMs: 60_000 });
    const vmCaps = await Promise.all(vmNs.map((ns) => cap(ns, "eth0", `arp and ether src ${vm.mac}`, "in")));
    const hvOutCaps = await Promise.all(hvNs.map((ns) => cap(ns, "eth0", `udp dst port 4789 and dst host ${G}`, "out")));
    const hvInCaps = await Promise.all(hvNs.map((ns) => cap(ns, "eth0", `udp dst port 4789 and dst host ${G}`, "in")));
    const plainCap = await cap(fabric.hostNs(PLAIN.name), "eth0", `udp and dst host ${G}`, "in");
    const ups = await Promise.all(SWS.map((i) => cap(fabric.spine, `s${i + 1}`, "udp dst port 4789", "in")));
    const frames = targets.map((t) => arpRequest({ srcMac: vm.mac, srcIp: vm.ip, targetIp: t }));
    await sendFrames(vmNs[from]!, "eth0", frames);
    await Promise.all(opts.expectAt.map((i) => vmCaps[i]!.waitFor(targets.length, 10_000)));
    await sleep(700); // stragglers: a duplicate or a copy where none belongs would show by now
    const all: Capture[] = [...vmCaps, ...hvOutCaps, ...hvInCaps, plainCap, ...ups];
    const got = await Promise.all(all.map((c) => c.stop()));
    const vmGot = got.slice(0, 3);
    const outGot = got.slice(3, 6);
    const inGot = got.slice(6, 9);
    const plainGot = got[9]!;
    const upGot = got.slice(10, 13);
    // the hypervisors' datagrams: VXLAN VNI 5000 to G with the VM's frame inside
    const hvLevel = (p: DecodedPacket) => p.ip?.dst === G && p.vxlan?.vni === HV_VNI;
    const byDst = (ps: DecodedPacket[], pick: (p: DecodedPacket) => boolean) =>
      ps.filter(pick).reduce<Record<string, number>>((m, p) => ((m[p.ip!.dst] = (m[p.ip!.dst] ?? 0) + 1), m), {});
    const carriesG = (p: DecodedPacket) => p.vxlan?.vni === 100 && p.inner?.ip?.dst === G && p.inner.vxlan?.vni === HV_VNI;
    return {
      vms: vmGot.map((ps) => ps.filter((p) => ours(p)).length),
      hvOut: outGot.map((ps) => ps.filter((p) => hvLevel(p) && ours(p.inner)).length),
      hvIn: inGot.map((ps) => ps.filter((p) => hvLevel(p) && ours(p.inner)).length),
      hvInAll: inGot.map((ps) => ps.length),
      plain: plainGot.length,
      uplinks: upGot.map((ps) => byDst(ps, (p) => carriesG(p) && ours(p.inner!.inner))),
      uplinksAll: upGot.map((ps) => byDst(ps, carriesG)),
    };
  }

  const fdbOf = (i: Sw) => lab.execAsync(hvNs[i]!, "bridge", ["fdb", "show", "dev", "vx0"]);
  /** the VTEP `bridge fdb show dev vx0` on hypervisor i names for `mac` (its `dst`; the bridge's own `master br0` lines have none) */
  const learned = async (i: Sw, mac: string) =>
    (await fdbOf(i))
      .split("\n")
      .filter((l) => l.startsWith(`${mac} `))
      .map((l) => / dst (\S+)/.exec(l)?.[1])
      .find((d) => d !== undefined);

  // ------------------------------------------------------------------ tests

  it("the hypervisors' IGMP is snooped: each switch has its hypervisor's port and the other two switches as members of the group", async () => {
    for (const sw of SWS) {
      expect(await portsAt(sw)).toEqual(["h1"]);
      expect(await remotesAt(sw)).toEqual(VTEPS.filter((_, j) => j !== sw).sort());
      const r = (await row(sw))!;
      for (const x of r.remotes) expect(x.from).toEqual(["bgp"]);
    }
  });

  it("an ARP request from vm1 reaches vm2 and vm3 once each, through hv1's multicast and one vxgate copy per member switch", async () => {
    const s = await flood(0, 1, { targets: [HVS[1].vm.ip], expectAt: [1, 2] });
    expect(s.vms).toEqual([0, 1, 1]);
    expect(s.hvOut).toEqual([1, 0, 0]);
    expect(s.hvIn).toEqual([0, 1, 1]);
    expect(s.hvInAll).toEqual([0, 1, 1]);
    expect(s.plain).toBe(0);
    expect(s.uplinks[0]).toEqual({ [VTEPS[1]]: 1, [VTEPS[2]]: 1 });
    expect(s.uplinksAll).toEqual([{ [VTEPS[1]]: 1, [VTEPS[2]]: 1 }, {}, {}]);
  });

  it("hv2 and hv3 learn vm1's MAC behind hv1's underlay address", async () => {
    await expect.poll(() => learned(1, HVS[0].vm.mac), { timeout: 5000 }).toBe(HVS[0].ip);
    await expect.poll(() => learned(2, HVS[0].vm.mac), { timeout: 5000 }).toBe(HVS[0].ip);
    // and flood through the group (the device's default entry)
    for (const i of SWS) expect(await learned(i, "00:00:00:00:00:00")).toBe(G);
  });

  for (const to of [1, 2] as const) {
    it(`ping vm1 -> vm${to + 1} works, and once learned it is unicast at both levels`, async () => {
      const dst = HVS[to];
      const first = await ping(lab, vmNs[0]!, dst.vm.ip, { count: 3, timeoutS: 3 });
      expect(first.received, first.output).toBe(3);
      // hv1 learned the VM behind its hypervisor from the reply
      await expect.poll(() => learned(0, dst.vm.mac), { timeout: 5000 }).toBe(dst.ip);
      expect(await learned(to, HVS[0].vm.mac)).toBe(HVS[0].ip);
      // again, watching hv1 and sw1's underlay: nothing goes to the group any more
      const hvOut = await startCapture(hvNs[0]!, "eth0", { lab, filter: "udp dst port 4789", direction: "out", timeoutMs: 60_000 });
      const up = await startCapture(fabric.spine, "s1", { lab, filter: "udp dst port 4789", direction: "in", timeoutMs: 60_000 });
      const again = await ping(lab, vmNs[0]!, dst.vm.ip, { count: 3, timeoutS: 3 });
      expect(again.received, again.output).toBe(3);
      await sleep(300);
      const [outs, ups] = await Promise.all([hvOut.stop(), up.stop()]);
      const echo = (l: DecodedLayers | undefined) => l?.icmp?.type === 8 && l.ip?.src === HVS[0].vm.ip && l.ip.dst === dst.vm.ip;
      expect(outs.filter((p) => p.ip?.dst === G)).toEqual([]);
      expect(outs.filter((p) => echo(p.inner)).map((p) => p.ip!.dst)).toEqual([dst.ip, dst.ip, dst.ip]);
      expect(ups.filter((p) => p.inner?.ip?.dst === G)).toEqual([]);
      expect(ups.filter((p) => echo(p.inner?.inner)).map((p) => p.ip!.dst)).toEqual([VTEPS[to], VTEPS[to], VTEPS[to]]);
    });
  }

  it("a full-size VM packet fits both encapsulations: 1450 in the VM, 1500 on the hypervisor's eth0, 1550 on the underlay", async () => {
    for (const i of SWS) expect(lab.link(hvNs[i]!, "vx0").mtu).toBe(VM_MTU);
    const r = await ping(lab, vmNs[0]!, HVS[1].vm.ip, { count: 2, size: VM_MTU - 28, dontFragment: true, timeoutS: 3 });
    expect(r.received, r.output).toBe(2);
  });

  for (const from of SWS) {
    it(`hv${from + 1}'s multicast: sw${from + 1} sends exactly one copy per datagram to each other switch, none to the host that never joined`, async () => {
      const n = 5;
      const others = SWS.filter((j) => j !== from);
      const s = await flood(from, n, { expectAt: others });
      expect(s.vms).toEqual(SWS.map((j) => (j === from ? 0 : n)));
      expect(s.hvOut).toEqual(SWS.map((j) => (j === from ? n : 0)));
      expect(s.hvIn).toEqual(SWS.map((j) => (j === from ? 0 : n)));
      expect(s.hvInAll).toEqual(SWS.map((j) => (j === from ? 0 : n)));
      expect(s.plain).toBe(0);
      expect(s.uplinks[from]).toEqual(Object.fromEntries(others.map((j) => [VTEPS[j], n])));
      // and no switch put any other hypervisor multicast on the underlay
      expect(s.uplinksAll).toEqual(SWS.map((j) => (j === from ? Object.fromEntries(others.map((k) => [VTEPS[k], n])) : {})));
    });
  }

  it("hv3 deletes its VXLAN device (the kernel leaves the group): sw1 stops copying to sw3, vm1's ARP reaches vm2 only", async () => {
    const t0 = performance.now();
    lab.ip(hvNs[2]!, "link", "del", "vx0");
    await expect.poll(() => portsAt(2), { timeout: 10_000, interval: 20 }).toEqual([]);
    await expect.poll(() => remotesAt(0), { timeout: 10_000, interval: 20 }).toEqual([VTEPS[1]]);
    console.log(`legacy VTEPs: hv3 left ${G} -> sw1 stopped listing sw3 after ${(performance.now() - t0).toFixed(0)} ms (last member query time 400 ms, EVPN window 1 s)`);
    await expect.poll(() => remotesAt(1), { timeout: 10_000 }).toEqual([VTEPS[0]]);
    // what `vxgate show mcast` prints for the row
    const json = await lab.execAsync(null, process.execPath, ["--import", "tsx", CLI, "show", "mcast", "--json", "--socket", fabric.config(names[0]!).management.socket], {
      timeoutMs: 60_000,
    });
    const shown = (JSON.parse(json) as McastRow[]).find((r) => r.vni === 100 && r.source === "*" && r.group === G);
    expect(shown?.remotes.map((r) => r.vtep)).toEqual([VTEPS[1]]);
    const s = await flood(0, 1, { expectAt: [1] });
    expect(s.vms).toEqual([0, 1, 0]);
    expect(s.hvOut).toEqual([1, 0, 0]);
    expect(s.hvIn).toEqual([0, 1, 0]);
    expect(s.hvInAll).toEqual([0, 1, 0]);
    expect(s.plain).toBe(0);
    expect(s.uplinks[0]).toEqual({ [VTEPS[1]]: 1 });
    expect(s.uplinksAll).toEqual([{ [VTEPS[1]]: 1 }, {}, {}]);
  });
});

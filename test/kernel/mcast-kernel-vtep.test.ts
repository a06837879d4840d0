// A Linux kernel VTEP with static per-group remote entries (VXLAN MDB,
// kernel 6.4+) sends to and receives from vxgate members.
//
// Topology: a static flood-and-learn fabric (no BGP): two vxgate switches
// with IGMP snooping in VNI 100 (querier, unregistered: drop) and a static
// remote member of 239.8.8.8 in their config (the kernel VTEP), and one stock
// Linux VTEP (addKernelVtep: vxlan device + bridge, host k1) as a third leaf
// on the spine. The kernel VTEP's default destinations (all-zeros FDB
// entries) are both switches; its MDB says 239.8.8.8 goes to switch 1 only.
//
//   sw1 (198.18.0.1): r1 (h1, joins 239.8.8.8), n1 (h2, never joins)
//   sw2 (198.18.0.2): s2 (h1, the sender), r2 (h2, joins), n2 (h3, never joins)
//   kernel VTEP (198.18.0.9): k1 (joins), behind br0 + vx100
//
// The VXLAN MDB entry is programmed over rtnetlink (test/harness/vxlan-mdb.ts:
// RTM_NEWMDB/RTM_DELMDB, family AF_BRIDGE, br_port_msg + MDBA_SET_ENTRY
// (struct br_mdb_entry, 28 bytes) + nested MDBA_SET_ENTRY_ATTRS with
// MDBE_ATTR_DST = 5), because Debian 12's iproute2 6.1 predates `bridge mdb
// add dev vx100 port vx100 grp G dst IP permanent` (6.5).
//
// What the kernel requires (found by reading drivers/net/vxlan/vxlan_mdb.c and
// by trying on 6.18): no special device mode. A plain (not `external`)
// flood-and-learn vxlan device, bridged or not, up or down, takes entries;
// `external` devices take them too (MDBE_ATTR_SRC_VNI only means something there).
// The rules are on the request: the port ifindex must be the vxlan device
// itself (both in br_port_msg and br_mdb_entry), state MDB_PERMANENT (the
// driver does no snooping, it only holds control-plane entries), no flags, no
// VID, proto ETH_P_IP/ETH_P_IPV6, MDBE_ATTR_DST present, and the group
// multicast but not link-local (224.0.0.0/24 is refused with "IPv4 entry group
// address is local multicast"). A second add of the same (group, dst) without
// NLM_F_REPLACE is EEXIST. The bridge's own IGMP snooping (br0, default on)
// plays no part in it: with no querier on its segment br0 floods group
// traffic to all its ports, vx100 included.
//
// How the kernel picks between MDB and FDB (vxlan_xmit): once the device has
// any MDB entry, a frame to a multicast (not broadcast) MAC carrying IPv4/IPv6
// is looked up as (S,G), then (*,G), then the all-zeros group (skipped for
// link-local groups); a hit is replicated to that entry's remotes *only*, and
// the FDB - the all-zeros MAC flood list included - is not consulted. A miss
// (or a device without MDB entries) falls back to the FDB: the destination
// MAC's entry, else the all-zeros default destinations (head-end flooding).
// So 239.8.8.8 goes to sw1 alone while IGMP to 224.0.0.22 and ARP still go to
// both switches; the test checks the fallback too, by deleting the entry.
//
// tshark counts, per step, exactly what every host received and what each
// VTEP put on the underlay (inbound on the spine's port to it), by outer
// destination.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { FAST_IGMP_TIMERS, Joiners, addKernelVtep, apiRequest, sendFrames, startCapture, udpFrame, vxlanMdbAdd, vxlanMdbDel, vxlanMdbShow, type Capture, type DecodedPacket } from "../harness/index.ts";
import type { McastRow } from "../../src/control/mcast/feature.ts";

const VTEPS = ["198.18.0.1", "198.18.0.2"] as const;
const KERNEL_VTEP = "198.18.0.9";
const VNI = 100;
const G = "239.8.8.8";
const PORT = 5000;
const SUBNET = "198.51.100";

type Sw = 0 | 1;
interface Host extends HostSpec {
  sw: Sw;
  ip: string;
}
const host = (sw: Sw, name: string, port: string, n: number): Host => ({
  sw,
  name,
  port,
  ip: `${SUBNET}.${n}`,
  cidr: `${SUBNET}.${n}/24`,
  mac: `02:00:00:64:00:${n.toString(16).padStart(2, "0")}`,
});
const HOSTS = {
  r1: host(0, "r1", "h1", 1),
  n1: host(0, "n1", "h2", 2),
  s2: host(1, "s2", "h1", 3),
  r2: host(1, "r2", "h2", 4),
  n2: host(1, "n2", "h3", 5),
} as const;
type VxName = keyof typeof HOSTS;
const VX_NAMES = Object.keys(HOSTS) as VxName[];
const K1 = { ip: `${SUBNET}.21`, mac: "02:00:00:64:00:21" };
/** every host whose receptions are counted: the vxgate hosts and k1 */
type Name = VxName | "k1";
const NAMES: Name[] = [...VX_NAMES, "k1"];
const nobody = Object.fromEntries(NAMES.map((n) => [n, 0])) as Record<Name, number>;
/** the underlay outputs watched: each switch's and the kernel VTEP's (the spine's port to it) */
const UPLINKS = { sw1: "s1", sw2: "s2", kernel: "s9" } as const;
type Uplink = keyof typeof UPLINKS;

function config(tag: string, i: Sw, dir: string): string {
  const ports = VX_NAMES.filter((n) => HOSTS[n].sw === i).map((n) => `  - { name: ${HOSTS[n].port}, vni: ${VNI} }`);
  return `switch: { name: ${tag}-sw${i + 1} }
vtep: { source_ip: ${VTEPS[i]} }
uplinks: [{ name: eth0 }]
management: { socket: ${join(dir, `sw${i + 1}.sock`)} }
ports:
${ports.join("\n")}
vnis:
  - vni: ${VNI}
    flood: [${VTEPS[1 - i]}, ${KERNEL_VTEP}]
multicast:
  enabled: true
${FAST_IGMP_TIMERS}
  vnis:
    - vni: ${VNI}
      querier: true
      querier_address: ${SUBNET}.${250 + i}
      unregistered: drop
      groups:
        - { group: ${G}, remotes: [${KERNEL_VTEP}] }
`;
}

let lab: Lab;
let fabric: Fabric;
let kv: string;
let k1: string;
const names: string[] = [];
let joiners: Joiners;

const nsOf = (n: Name): string => (n === "k1" ? k1 : fabric.hostNs(n));
const macOf = (n: Name): string => (n === "k1" ? K1.mac : HOSTS[n].mac);
const ipOf = (n: Name): string => (n === "k1" ? K1.ip : HOSTS[n].ip);

beforeAll(async () => {
  lab = new Lab("mcast-kvtep");
  joiners = new Joiners(lab);
  const tag = `mk${(process.pid % 10000).toString(36)}`;
  const specs = ([0, 1] as Sw[]).map((i) => {
    const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
    writeFileSync(configPath, config(tag, i, lab.tmpdir));
    names.push(`${tag}-sw${i + 1}`);
    return { configPath, hosts: VX_NAMES.filter((n) => HOSTS[n].sw === i).map((n) => HOSTS[n]) };
  });
  fabric = new Fabric(lab, specs);
  // the Linux VTEP: its default destinations (all-zeros FDB) are both switches
  ({ kv, host: k1 } = addKernelVtep(lab, {
    spine: fabric.spine,
    spinePort: UPLINKS.kernel,
    addr: "192.0.2.102/30",
    spineAddr: "192.0.2.101/30",
    vtep: KERNEL_VTEP,
    vni: VNI,
    flood: VTEPS,
    host: { ns: "k1", mac: K1.mac, cidr: `${K1.ip}/24` },
  }));
  // ... and its MDB sends 239.8.8.8 to sw1 only
  vxlanMdbAdd(lab, kv, `vx${VNI}`, { group: G, dst: VTEPS[0] });
  for (const n of names) await fabric.start(n);
  // receivers: kernels joined with a socket (they report, answer queries, leave on exit)
  for (const n of ["r1", "r2", "k1"] as const) await joinGroup(n);
  const want = JSON.stringify([[HOSTS.r1.port], [HOSTS.r2.port]]);
  let seen = "";
  for (let i = 0; i < 200 && seen !== want; i++) {
    seen = JSON.stringify([await portsAt(0), await portsAt(1)]);
    if (seen !== want) await new Promise((r) => setTimeout(r, 100));
  }
  if (seen !== want) throw new Error(`the switches did not see their members join ${G}: local ports ${seen}, want ${want}`);
}, 180_000);

afterAll(async () => {
  joiners?.killAll();
  await fabric?.shutdown();
  await lab?.dispose();
});

/** A socket on host `n` joined to the group (its kernel reports, answers queries, leaves on exit). */
const joinGroup = (n: Name) => joiners.join(n, nsOf(n), G, ipOf(n));

const row = async (sw: Sw) => (await fabric.api<McastRow[]>(names[sw]!, "mcast")).find((r) => r.vni === VNI && r.group === G && r.source === "*");
const portsAt = async (sw: Sw) => ((await row(sw))?.localPorts ?? []).sort();
const remotesAt = async (sw: Sw) => ((await row(sw))?.remotes ?? []).map((r) => r.vtep).sort();

async function counters(sw: Sw): Promise<Record<string, bigint>> {
  const c = await fabric.api<Record<string, { packets: string }>>(names[sw]!, "counters");
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, BigInt(v.packets)]));
}

interface Got {
  hosts: Record<Name, number>;
  /** VXLAN packets carrying this burst that each VTEP put on the underlay, by outer destination */
  uplinks: Record<Uplink, Record<string, number>>;
  /** those packets themselves */
  wire: Record<Uplink, DecodedPacket[]>;
}

let burst = 0;
/** `count` datagrams from `from` to the group; what every host received and every VTEP sent. */
async function stream(from: Name, count: number, wait: Partial<Record<Name, number>>): Promise<Got> {
  const marker = `kvtep burst ${++burst} #`;
  const filter = `udp dst port ${PORT} and ether src ${macOf(from)}`;
  const caps: Capture[] = await Promise.all(NAMES.map((n) => startCapture(nsOf(n), "eth0", { lab, filter, direction: "in", timeoutMs: 30_000 })));
  const ups = Object.keys(UPLINKS) as Uplink[];
  const upCaps = await Promise.all(ups.map((u) => startCapture(fabric.spine, UPLINKS[u], { lab, filter: "udp port 4789", direction: "in", timeoutMs: 30_000 })));
  const frames = Array.from({ length: count }, (_, i) =>
    udpFrame({ srcMac: macOf(from), dstMac: "01:00:5e:08:08:08", srcIp: ipOf(from), dstIp: G, srcPort: 40000, dstPort: PORT, payload: Buffer.from(`${marker}${i}`) }),
  );
  await sendFrames(nsOf(from), "eth0", frames);
  await Promise.all(Object.entries(wait).map(([n, k]) => caps[NAMES.indexOf(n as Name)]!.waitFor(k!, 10_000)));
  await new Promise((r) => setTimeout(r, 500)); // anything extra still in flight
  const got = await Promise.all(caps.map((c) => c.stop()));
  const up = await Promise.all(upCaps.map((c) => c.stop()));
  const mine = (p: DecodedPacket) => p.raw.length > 50 && p.raw.subarray(50).toString("latin1").includes(marker);
  const wire = Object.fromEntries(ups.map((u, i) => [u, up[i]!.filter(mine)])) as Record<Uplink, DecodedPacket[]>;
  return {
    hosts: Object.fromEntries(NAMES.map((n, i) => [n, got[i]!.length])) as Record<Name, number>,
    uplinks: Object.fromEntries(ups.map((u) => [u, wire[u].reduce<Record<string, number>>((m, p) => ((m[p.ip!.dst] = (m[p.ip!.dst] ?? 0) + 1), m), {})])) as Record<
      Uplink,
      Record<string, number>
    >,
    wire,
  };
}

describe("a Linux kernel VTEP with static VXLAN MDB entries and vxgate members", () => {
  it("the kernel holds the MDB entry as programmed over rtnetlink; vxgate lists the kernel VTEP from its config", async () => {
    const vx = lab.link(kv, `vx${VNI}`);
    expect(vxlanMdbShow(lab, kv, `vx${VNI}`)).toEqual([{ port: vx.ifindex, permanent: true, group: G, dst: VTEPS[0] }]);
    // the kernel's ACK is checked: a duplicate is refused, loudly
    expect(() => vxlanMdbAdd(lab, kv, `vx${VNI}`, { group: G, dst: VTEPS[0] })).toThrow(/EEXIST.*already exists/);
    for (const sw of [0, 1] as Sw[]) {
      const r = await row(sw);
      expect(r?.remotes).toEqual([{ vtep: KERNEL_VTEP, from: ["config"] }]);
    }
  });

  it("k1 sends: the kernel VTEP sends one copy per packet to sw1 (its MDB entry), none to sw2; sw1 delivers to its member and sends nothing back into the overlay", async () => {
    const before = await counters(0);
    const got = await stream("k1", 5, { r1: 5 });
    expect(got.hosts).toEqual({ ...nobody, r1: 5 });
    expect(got.uplinks.kernel).toEqual({ [VTEPS[0]]: 5 });
    for (const p of got.wire.kernel) {
      expect(p.ip).toMatchObject({ src: KERNEL_VTEP, dst: VTEPS[0] });
      expect(p.vxlan).toMatchObject({ iFlag: true, vni: VNI });
    }
    // split horizon: sw1's config lists the kernel VTEP as a member, yet nothing goes back, nor to sw2
    expect(got.uplinks.sw1).toEqual({});
    expect(got.uplinks.sw2).toEqual({});
    const after = await counters(0);
    expect(after.mcast_group_hit! - before.mcast_group_hit!).toBe(5n);
    expect(after.mcast_remote_copy! - before.mcast_remote_copy!).toBe(0n);
  });

  it("without the MDB entry the kernel falls back to its FDB flood list: both switches get a copy (RTM_DELMDB, then RTM_NEWMDB again)", async () => {
    vxlanMdbDel(lab, kv, `vx${VNI}`, { group: G, dst: VTEPS[0] });
    expect(vxlanMdbShow(lab, kv, `vx${VNI}`)).toEqual([]);
    const flooded = await stream("k1", 3, { r1: 3, r2: 3 });
    expect(flooded.uplinks.kernel).toEqual({ [VTEPS[0]]: 3, [VTEPS[1]]: 3 });
    expect(flooded.hosts).toEqual({ ...nobody, r1: 3, r2: 3 });
    vxlanMdbAdd(lab, kv, `vx${VNI}`, { group: G, dst: VTEPS[0] });
    const steered = await stream("k1", 3, { r1: 3 });
    expect(steered.uplinks.kernel).toEqual({ [VTEPS[0]]: 3 });
    expect(steered.hosts).toEqual({ ...nobody, r1: 3 });
  });

  it("a vxgate sender (s2 on sw2): one copy per packet to the kernel VTEP from sw2's static list, k1 receives, non-members get nothing", async () => {
    const before = await counters(1);
    const got = await stream("s2", 5, { r2: 5, k1: 5 });
    // r1 joined too, but on sw1, which no list of sw2's names (static fabric, no EVPN)
    expect(got.hosts).toEqual({ ...nobody, r2: 5, k1: 5 });
    expect(got.uplinks.sw2).toEqual({ [KERNEL_VTEP]: 5 });
    for (const p of got.wire.sw2) {
      expect(p.ip).toMatchObject({ src: VTEPS[1], dst: KERNEL_VTEP });
      expect(p.vxlan).toMatchObject({ iFlag: true, vni: VNI });
    }
    // the kernel VTEP decapsulates to its bridge and sends nothing back out
    expect(got.uplinks.kernel).toEqual({});
    expect(got.uplinks.sw1).toEqual({});
    const after = await counters(1);
    expect(after.mcast_group_hit! - before.mcast_group_hit!).toBe(5n);
    expect(after.mcast_remote_copy! - before.mcast_remote_copy!).toBe(5n);
    expect(after.mcast_local_copy! - before.mcast_local_copy!).toBe(5n);
  });

  it("the remote list set through the API to nothing: sw2's copies to the kernel VTEP stop", async () => {
    const sock = fabric.config(names[1]!).management.socket;
    const set = (remotes: string[]) => apiRequest(sock, "POST", "/v1/mcast/remotes", { vni: VNI, group: G, remotes });
    // a controller's list is taken at once, in place of the file's list for the group
    expect(await set([KERNEL_VTEP])).toEqual({ status: 200, body: { group: { vni: VNI, group: G, remotes: [KERNEL_VTEP] } } });
    await expect.poll(async () => (await row(1))?.remotes, { timeout: 10_000 }).toEqual([{ vtep: KERNEL_VTEP, from: ["api"] }]);
    // ... and then emptied: the switch answers that the group has no remote members
    expect(await set([])).toEqual({ status: 200, body: { group: { vni: VNI, group: G, remotes: [] } } });
    await expect.poll(async () => (await row(1))?.remotes, { timeout: 10_000 }).toEqual([]);
    const before = await counters(1);
    const got = await stream("s2", 5, { r2: 5 });
    expect(got.uplinks.sw2).toEqual({});
    expect(got.hosts).toEqual({ ...nobody, r2: 5 });
    expect((await counters(1)).mcast_remote_copy! - before.mcast_remote_copy!).toBe(0n);
    // sw1 is untouched: the kernel VTEP is still its member from the config
    expect(await remotesAt(0)).toEqual([KERNEL_VTEP]);
  });
});

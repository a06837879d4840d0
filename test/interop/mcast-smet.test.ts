// The standard multicast carriers between two vxgate switches that peer
// directly (iBGP, a full mesh of two, each the other's neighbor with
// `smet: true`): membership travels as RFC 9251 type-6 (SMET) routes, seen on
// the wire by tshark (an independent decoder) and in `show evpn routes`; the
// type-3 routes carry the Multicast Flags extended community. Hosts are real
// kernels joining with sockets (IGMPv3 reports, a leave when the socket
// closes) and an exact IGMPv3 source-specific report; tshark on every host and
// on the spine's ports counts the copies: a group's traffic goes to the member
// switch only, one VXLAN copy per packet, and stops when the last member left.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { sendFrames, startCapture, udpFrame, type Capture, type DecodedPacket, FAST_IGMP_TIMERS, Joiners, groupDatagram } from "../harness/index.ts";
import { encodeIgmpFrame, type IgmpMessage } from "../../src/control/mcast/igmp.ts";
import type { McastRow } from "../../src/control/mcast/feature.ts";
import type { RouteRow, SummaryRow } from "../../src/control/evpn/speaker.ts";

const VTEPS = ["198.18.0.1", "198.18.0.2"] as const;
/** each switch's uplink address (the spine's /30 to it): the session runs between these */
const UPLINKS = ["192.0.2.2", "192.0.2.6"] as const;
type Sw = 0 | 1;
interface Host extends HostSpec {
  sw: Sw;
  ip: string;
}
const host = (sw: Sw, name: string, port: string, n: number): Host => {
  const ip = `198.51.100.${n}`;
  return { sw, name, port, ip, cidr: `${ip}/24`, mac: `02:00:00:64:00:${n.toString(16).padStart(2, "0")}` };
};
const HOSTS = {
  s: host(0, "s", "h1", 1), // the sender
  r1: host(0, "r1", "h2", 2), // on the sender's switch, never joins
  a: host(1, "a", "h1", 11),
  b: host(1, "b", "h2", 12), // speaks exact IGMP frames
} as const;
type Name = keyof typeof HOSTS;
const NAMES = Object.keys(HOSTS) as Name[];
const G1 = "239.1.1.1";
const G2 = "239.4.4.4";
const PORT = 5000;

function config(tag: string, i: Sw, dir: string): string {
  const ports = NAMES.filter((n) => HOSTS[n].sw === i).map((n) => `  - { name: ${HOSTS[n].port}, vni: 100 }`);
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
    - { address: ${UPLINKS[1 - i]}, remote_asn: 65000, hold_time: 9, smet: true }
  evpn:
    aggregation: { window_seconds: 1 }
multicast:
  enabled: true
${FAST_IGMP_TIMERS}
  vnis:
    - { vni: 100, querier: true, querier_address: 198.51.100.${250 + i}, unregistered: drop }
`;
}

describe("multicast membership as RFC 9251 type-6 routes between two capable vxgate switches", () => {
  let lab: Lab;
  let fabric: Fabric;
  const names: string[] = [];
  let joiners: Joiners;
  /** BGP between the switches, for the whole file (the spine's port to sw2) */
  let bgpCap: Capture;

  beforeAll(async () => {
    lab = new Lab("mcast-smet");
    joiners = new Joiners(lab);
    const tag = `ms${(process.pid % 10000).toString(36)}`;
    const specs = ([0, 1] as Sw[]).map((i) => {
      const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
      writeFileSync(configPath, config(tag, i, lab.tmpdir));
      names.push(`${tag}-sw${i + 1}`);
      return { configPath, hosts: NAMES.filter((n) => HOSTS[n].sw === i).map((n) => HOSTS[n]) };
    });
    fabric = new Fabric(lab, specs);
    bgpCap = await startCapture(fabric.spine, "s2", { lab, filter: "tcp port 179", timeoutMs: 600_000 });
    for (const n of names) await fabric.start(n);
    await fabric.waitEstablished();
    // every host speaks once: both switches know every MAC before membership moves
    for (const n of NAMES) {
      const h = HOSTS[n];
      await sendFrames(fabric.hostNs(n), "eth0", [udpFrame({ srcMac: h.mac, dstMac: "ff:ff:ff:ff:ff:ff", srcIp: h.ip, dstIp: "198.51.100.255", srcPort: 1, dstPort: 9, payload: Buffer.from("hello") })]);
    }
    for (let i = 0; (await fabric.api<unknown[]>(names[0]!, "fdb")).length < NAMES.length; i++) {
      if (i > 150) throw new Error("sw1 did not learn every host");
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 180_000);

  afterAll(async () => {
    joiners?.killAll();
    bgpCap?.kill();
    await fabric?.shutdown();
    await lab?.dispose();
  });

  const summary = (sw: Sw) => fabric.api<SummaryRow[]>(names[sw]!, "bgp/summary");
  const routes = (sw: Sw) => fabric.api<RouteRow[]>(names[sw]!, "evpn/routes");
  /** type-6 routes at `sw` learned from the other switch, as "vni source group originator" */
  const type6At = async (sw: Sw) =>
    (await routes(sw))
      .filter((r) => r.type === 6 && r.from === UPLINKS[1 - sw])
      .map((r) => {
        const m = /^\[6\]:\[0\]:\[([^\]]+)\]:\[([^\]]+)\]:\[([^\]]+)\]/.exec(r.route)!;
        return `${r.vni} ${m[1]} ${m[2]} ${m[3]}`;
      })
      .sort();
  const row = async (sw: Sw, group: string, source = "*") => (await fabric.api<McastRow[]>(names[sw]!, "mcast")).find((r) => r.vni === 100 && r.group === group && r.source === source);
  const remotesAt = async (sw: Sw, group: string, source = "*") => ((await row(sw, group, source))?.remotes.map((r) => r.vtep) ?? []).sort();
  const cli = (sw: Sw, ...args: string[]) => lab.exec(null, process.execPath, ["--import", "tsx", CLI, ...args, "--socket", fabric.config(names[sw]!).management.socket]);

  /** A socket on host `n` joined to `group` (its kernel reports, answers queries, and leaves when it closes). */
  const join_ = (n: Name, group: string) => joiners.join(`${n}/${group}`, fabric.hostNs(n), group, HOSTS[n].ip);
  const leave = (n: Name, group: string) => joiners.leave(`${n}/${group}`);
  const igmp = (n: Name, dstIp: string, message: IgmpMessage) => encodeIgmpFrame({ srcMac: HOSTS[n].mac, srcIp: HOSTS[n].ip, dstIp, message });

  /** Send `count` datagrams from `from` to `group`; count what every host and each switch's uplink saw. */
  async function stream(from: Name, group: string, count: number, wait: Partial<Record<Name, number>>) {
    const filter = `udp dst port ${PORT} and ether src ${HOSTS[from].mac}`;
    const caps: Capture[] = await Promise.all(NAMES.map((n) => startCapture(fabric.hostNs(n), "eth0", { lab, filter, direction: "in", timeoutMs: 30_000 })));
    const ups = await Promise.all(VTEPS.map((_, i) => startCapture(fabric.spine, `s${i + 1}`, { lab, filter: "udp port 4789", direction: "in", timeoutMs: 30_000 })));
    const frames = Array.from({ length: count }, (_, i) => groupDatagram(HOSTS[from], group, PORT, i));
    await sendFrames(fabric.hostNs(from), "eth0", frames);
    await Promise.all(Object.entries(wait).map(([n, k]) => caps[NAMES.indexOf(n as Name)]!.waitFor(k!, 5000).catch(() => {})));
    await new Promise((r) => setTimeout(r, 400));
    const got = await Promise.all(caps.map((c) => c.stop()));
    const up = await Promise.all(ups.map((c) => c.stop()));
    const mine = (p: DecodedPacket) => p.raw.length > 50 && p.raw.subarray(50).toString("latin1").includes(`${group} #`);
    return {
      hosts: Object.fromEntries(NAMES.map((n, i) => [n, got[i]!.length])) as Record<Name, number>,
      uplinks: up.map((ps) => ps.filter(mine).reduce<Record<string, number>>((m, p) => ((m[p.ip!.dst] = (m[p.ip!.dst] ?? 0) + 1), m), {})),
    };
  }
  const nobody = Object.fromEntries(NAMES.map((n) => [n, 0])) as Record<Name, number>;

  it("both sessions are up and marked capable (smet)", async () => {
    for (const sw of [0, 1] as Sw[]) {
      const [r] = await summary(sw);
      expect(r).toMatchObject({ neighbor: UPLINKS[1 - sw], state: "Established", smet: true });
    }
    expect(cli(0, "show", "bgp", "summary")).toMatch(/iBGP smet/);
    // nobody joined yet: no type-6 route anywhere, and VNI 100 drops the group's traffic
    expect(await type6At(0)).toEqual([]);
    expect((await stream("s", G1, 3, {})).hosts).toEqual(nobody);
  });

  it("a host on sw2 joins: sw2 sends a type-6 route, sw1 copies the group to sw2 only, one copy per packet", async () => {
    await join_("a", G1);
    await expect.poll(() => type6At(0), { timeout: 10_000 }).toEqual([`100 * ${G1} ${VTEPS[1]}`]);
    await expect.poll(() => remotesAt(0, G1), { timeout: 10_000 }).toEqual([VTEPS[1]]);
    // show evpn routes prints it
    expect(cli(0, "show", "evpn", "routes")).toMatch(new RegExp(`\\[6\\]:\\[0\\]:\\[\\*\\]:\\[${G1.replace(/\./g, "\\.")}\\]:\\[${VTEPS[1]!.replace(/\./g, "\\.")}\\]`));
    const got = await stream("s", G1, 5, { a: 5 });
    expect(got.hosts).toEqual({ ...nobody, a: 5 });
    expect(got.uplinks[0]).toEqual({ [VTEPS[1]]: 5 });
    expect(got.uplinks[1]).toEqual({});
  });

  it("a source-specific IGMPv3 join is an (S,G) type-6 route: only that source's traffic is copied", async () => {
    await sendFrames(fabric.hostNs("b"), "eth0", [igmp("b", "224.0.0.22", { type: "v3report", records: [{ type: 1, group: G2, sources: [HOSTS.s.ip] }] })]);
    await expect.poll(() => type6At(0), { timeout: 10_000 }).toEqual([`100 * ${G1} ${VTEPS[1]}`, `100 ${HOSTS.s.ip} ${G2} ${VTEPS[1]}`]);
    await expect.poll(() => remotesAt(0, G2, HOSTS.s.ip), { timeout: 10_000 }).toEqual([VTEPS[1]]);
    const got = await stream("s", G2, 4, { b: 4 });
    expect(got.hosts).toEqual({ ...nobody, b: 4 });
    expect(got.uplinks[0]).toEqual({ [VTEPS[1]]: 4 });
    // another source to the same group is nobody's: dropped at sw1
    const other = await stream("r1", G2, 3, {});
    expect(other.hosts).toEqual(nobody);
    expect(other.uplinks[0]).toEqual({});
  });

  it("the last member of G1 leaves: its type-6 route is withdrawn, the (S,G) one stays, copies of G1 stop", async () => {
    await leave("a", G1);
    await expect.poll(() => type6At(0), { timeout: 10_000 }).toEqual([`100 ${HOSTS.s.ip} ${G2} ${VTEPS[1]}`]);
    await expect.poll(() => remotesAt(0, G1), { timeout: 10_000 }).toEqual([]);
    const got = await stream("s", G1, 5, {});
    expect(got.hosts).toEqual(nobody);
    expect(got.uplinks[0]).toEqual({});
    expect(await remotesAt(0, G2, HOSTS.s.ip)).toEqual([VTEPS[1]]);
  });

  it("on the wire (tshark): type-6 routes from sw2's VTEP and the Multicast Flags community went between the switches; the sessions never dropped", async () => {
    await new Promise((r) => setTimeout(r, 500));
    const pkts = await bgpCap.stop();
    const rts = pkts.flatMap((p) => p.fields["bgp.evpn.nlri.rt"] ?? []).map(Number);
    expect(rts).toContain(6);
    expect(rts).toContain(3);
    const originators = new Set(pkts.flatMap((p) => p.fields["bgp.evpn.nlri.or_addr_ipv4"] ?? []));
    expect(originators.has(VTEPS[1])).toBe(true);
    const v3 = pkts.flatMap((p) => p.fields["bgp.evpn.nlri.igmp_mc_flags.v3"] ?? []);
    expect(v3).toContain("1");
    // EVPN extended community sub-type 0x09: Multicast Flags (RFC 9251 §9.4), on the type-3 routes
    expect(pkts.flatMap((p) => p.fields["bgp.ext_com.stype_tr_evpn"] ?? []).map(Number)).toContain(9);
    for (const sw of [0, 1] as Sw[]) expect((await summary(sw))[0]).toMatchObject({ state: "Established", flaps: 0 });
  });
});

// Match-mirror-encap through three real switches (a static flood-and-learn
// fabric: the same sessions in every switch's config file). Every frame a
// monitored host sends or receives is copied once, at the switch where it
// entered the fabric, to the monitoring server: out of the server's port when
// it is local, VXLAN with the Group Policy extension (G, D, HOST ID) to the
// server's switch otherwise, which decapsulates it to the server's port.
// tshark on every switch's uplink and on every host checks exact counts,
// byte-identical inner frames, the HOST ID and VNI on the wire, and that
// nothing reaches any other port.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { moveHost } from "../../lab/mobility.ts";
import { addKernelVtep, apiRequest, arpRequest, sendFrames, startCapture, udpFrame, vxlanEncap, type Capture, type DecodedPacket } from "../harness/index.ts";
import type { MirrorRow } from "../../src/control/mirror/feature.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const VTEPS = ["198.18.0.1", "198.18.0.2", "198.18.0.3"] as const;
/** A stock Linux VTEP (vxlan device + bridge) in VNI 100, in every switch's flood list. */
const KERNEL_VTEP = "198.18.0.4";
const K1 = { mac: "02:00:00:0a:00:21", ip: "198.51.100.21" };
const SUBNET = "198.51.100";

// sw1: a (monitored by watch-a), b (monitored by watch-b), sv1 (server of watch-b)
// sw2: c, sv2 (server of watch-c, a session added at run time through the API)
// sw3: d, sv3 (server of watch-a)
const HOSTS: Record<string, HostSpec & { sw: number; ip: string }> = {
  a: { sw: 0, name: "a", port: "h1", mac: "02:00:00:0a:00:01", ip: `${SUBNET}.1`, cidr: `${SUBNET}.1/24` },
  b: { sw: 0, name: "b", port: "h2", mac: "02:00:00:0a:00:02", ip: `${SUBNET}.2`, cidr: `${SUBNET}.2/24` },
  sv1: { sw: 0, name: "sv1", port: "h3", mac: "02:00:00:0a:00:11", ip: `${SUBNET}.11`, cidr: `${SUBNET}.11/24` },
  c: { sw: 1, name: "c", port: "h1", mac: "02:00:00:0a:00:03", ip: `${SUBNET}.3`, cidr: `${SUBNET}.3/24` },
  sv2: { sw: 1, name: "sv2", port: "h2", mac: "02:00:00:0a:00:12", ip: `${SUBNET}.12`, cidr: `${SUBNET}.12/24` },
  d: { sw: 2, name: "d", port: "h1", mac: "02:00:00:0a:00:04", ip: `${SUBNET}.4`, cidr: `${SUBNET}.4/24` },
  sv3: { sw: 2, name: "sv3", port: "h2", mac: "02:00:00:0a:00:13", ip: `${SUBNET}.13`, cidr: `${SUBNET}.13/24` },
};
type Host = keyof typeof HOSTS;
const HOST_NAMES = Object.keys(HOSTS) as Host[];

const SESSIONS = `mirror:
  sessions:
    - name: watch-a
      host: { mac: "${HOSTS.a!.mac}", vni: 100 }
      server: { mac: "${HOSTS.sv3!.mac}", vni: 100 }
      host_id: 7
    - name: watch-b
      host: { mac: "${HOSTS.b!.mac}", vni: 100 }
      server: { mac: "${HOSTS.sv1!.mac}", vni: 100 }
      host_id: 8
      direction: from-host
`;

let lab: Lab;
let fabric: Fabric;
let kv: string;
const names: string[] = [];

beforeAll(async () => {
  lab = new Lab("mirror");
  const tag = (process.pid % 100000).toString(36);
  const specs = VTEPS.map((vtep, i) => {
    const name = `mr${tag}-sw${i + 1}`;
    names.push(name);
    const ports = HOST_NAMES.filter((h) => HOSTS[h]!.sw === i).map((h) => `  - { name: ${HOSTS[h]!.port}, vni: 100 }`);
    if (i === 1) ports.push(`  - { name: h9, vni: 100 }`); // where a moves to
    if (i === 0) ports.push(`  - { name: h8, vni: 100 }`); // where sv3 moves to
    const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
    writeFileSync(
      configPath,
      `switch: { name: ${name} }
vtep: { source_ip: ${vtep} }
uplinks: [{ name: eth0 }]
management: { socket: ${join(lab.tmpdir, `sw${i + 1}.sock`)} }
ports:
${ports.join("\n")}
vnis:
  - vni: 100
    flood: [${[...VTEPS.filter((v) => v !== vtep), KERNEL_VTEP].join(", ")}]
${SESSIONS}`,
    );
    return { configPath, hosts: HOST_NAMES.filter((h) => HOSTS[h]!.sw === i).map((h) => HOSTS[h]!) };
  });
  fabric = new Fabric(lab, specs);
  // the spare cable for the move test: a's second interface, on sw2
  lab.veth(fabric.hostNs("a"), "eth1", fabric.switchNs(names[1]!), "h9", { macA: HOSTS.a!.mac, txChecksum: false });
  lab.down(fabric.hostNs("a"), "eth1");
  // ... and sv3's, on sw1
  lab.veth(fabric.hostNs("sv3"), "eth1", fabric.switchNs(names[0]!), "h8", { macA: HOSTS.sv3!.mac, txChecksum: false });
  lab.down(fabric.hostNs("sv3"), "eth1");
  // the Linux VTEP: one more leaf on the spine, flooding to the three switches
  kv = addKernelVtep(lab, {
    spine: fabric.spine,
    spinePort: "s9",
    addr: "192.0.2.102/30",
    spineAddr: "192.0.2.101/30",
    vtep: KERNEL_VTEP,
    vni: 100,
    flood: VTEPS,
    host: { ns: "k1", ...K1, cidr: `${K1.ip}/24` },
  }).kv;
  for (const n of names) await fabric.start(n);
  // real kernels answer ARP and send ICMP errors: static neighbours keep them quiet
  for (const h of HOST_NAMES)
    for (const o of HOST_NAMES) if (o !== h) lab.exec(fabric.hostNs(h), "ip", ["neigh", "replace", HOSTS[o]!.ip, "lladdr", HOSTS[o]!.mac, "dev", "eth0", "nud", "permanent"]);
  // every host announces itself once: the fabric learns where everyone is
  for (const h of HOST_NAMES) await sendFrames(fabric.hostNs(h), "eth0", [garp(h)]);
  // ... and the sessions see where their hosts and servers are
  const want = JSON.stringify([
    ["watch-a", "local h1", `remote ${VTEPS[2]}`],
    ["watch-b", "local h2", "local h3"],
  ]);
  let seen = "";
  for (let i = 0; i < 100 && seen !== want; i++) {
    seen = JSON.stringify((await rows(0)).map((r) => [r.name, r.hostAt, r.serverAt]));
    if (seen !== want) await new Promise((r) => setTimeout(r, 100));
  }
  if (seen !== want) throw new Error(`mirror sessions did not locate their hosts: ${seen}`);
}, 120_000);

afterAll(async () => {
  await fabric?.shutdown();
  await lab?.dispose();
});

function garp(h: Host): Buffer {
  const x = HOSTS[h]!;
  return arpRequest({ srcMac: x.mac, srcIp: x.ip, targetIp: x.ip });
}

function udp(from: Host, to: Host, payload = "mirror me"): Buffer {
  return udpFrame({
    srcMac: HOSTS[from]!.mac,
    dstMac: HOSTS[to]!.mac,
    srcIp: HOSTS[from]!.ip,
    dstIp: HOSTS[to]!.ip,
    srcPort: 40000,
    dstPort: 9,
    payload: Buffer.from(payload),
  });
}

const rows = (sw: number) => fabric.api<MirrorRow[]>(names[sw]!, "mirror");

async function counters(sw: number): Promise<Record<string, bigint>> {
  const c = await fabric.api<Record<string, { packets: string }>>(names[sw]!, "counters");
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, BigInt(v.packets)]));
}

interface Caps {
  hosts: Record<Host, Capture>;
  /** what each switch sends into the underlay (inbound on the spine's port to it) */
  uplinks: Capture[];
}

/** The test frames: UDP to port 9, and ARP for an address nobody has (the
 * hosts' own kernels send other things now and then). */
const TEST_FRAMES = `(udp dst port 9 or (arp and arp[24:4] = 0xc63364fa))`;
const NOBODY = `${SUBNET}.250`;

/** Capture on every host (test frames from `srcMac` only) and every switch uplink (VXLAN only). */
async function captureAll(srcMac: string, ifOf: (h: Host) => string = () => "eth0"): Promise<Caps> {
  const filter = `ether src ${srcMac} and ${TEST_FRAMES}`;
  const hosts = await Promise.all(HOST_NAMES.map((h) => startCapture(fabric.hostNs(h), ifOf(h), { lab, filter, direction: "in", timeoutMs: 30_000 })));
  const uplinks = await Promise.all(VTEPS.map((_, i) => startCapture(fabric.spine, `s${i + 1}`, { lab, filter: "udp port 4789", direction: "in", timeoutMs: 30_000 })));
  return { hosts: Object.fromEntries(HOST_NAMES.map((h, i) => [h, hosts[i]!])) as Record<Host, Capture>, uplinks };
}

interface Got {
  hosts: Record<Host, DecodedPacket[]>;
  uplinks: DecodedPacket[][];
}

/** Wait for the expected host counts, listen a little longer for extras, stop everything. */
async function collect(caps: Caps, want: Partial<Record<Host, number>>, settleMs = 500): Promise<Got> {
  await Promise.all(Object.entries(want).map(([h, n]) => caps.hosts[h as Host].waitFor(n!, 5000)));
  await new Promise((r) => setTimeout(r, settleMs));
  const hosts = await Promise.all(HOST_NAMES.map((h) => caps.hosts[h].stop()));
  const uplinks = await Promise.all(caps.uplinks.map((c) => c.stop()));
  return { hosts: Object.fromEntries(HOST_NAMES.map((h, i) => [h, hosts[i]!])) as Record<Host, DecodedPacket[]>, uplinks };
}

/** Frame counts per host, for one exact comparison. */
const counts = (g: Got) => Object.fromEntries(HOST_NAMES.map((h) => [h, g.hosts[h].length]));
const none = Object.fromEntries(HOST_NAMES.map((h) => [h, 0])) as Record<Host, number>;
/** The mirror copies (G flag) of frame f a switch put on the wire, and its plain VXLAN packets carrying f. */
const copies = (g: Got, sw: number, f: Buffer) => g.uplinks[sw]!.filter((p) => p.vxlan?.gFlag && p.raw.subarray(50).equals(f));
const plain = (g: Got, sw: number, f: Buffer) => g.uplinks[sw]!.filter((p) => p.vxlan && !p.vxlan.gFlag && p.raw.subarray(50).equals(f));

function expectCopy(p: DecodedPacket, from: number, to: number, hostId: number, inner: Buffer): void {
  expect(p.ip).toMatchObject({ src: VTEPS[from], dst: VTEPS[to], checksumStatus: "good" });
  expect(p.vxlan).toMatchObject({ iFlag: true, gFlag: true, dFlag: true, gbp: hostId, vni: 100 });
  expect(p.raw.subarray(50).equals(inner)).toBe(true);
}

const api = (sw: number, method: "POST" | "DELETE", path: string, body?: unknown) => apiRequest(fabric.config(names[sw]!).management.socket, method, path, body);

describe("match-mirror-encap across three switches", () => {
  it("shows each switch's role in each session", async () => {
    const r1 = await rows(0);
    expect(r1.find((r) => r.name === "watch-a")).toMatchObject({ hostId: 7, roles: ["source", "destination"], origin: "config" });
    // watch-b watches frames from b only; its server is local: termination entry here
    expect(r1.find((r) => r.name === "watch-b")).toMatchObject({ roles: ["source", "termination"] });
    const r3 = await rows(2);
    expect(r3.find((r) => r.name === "watch-a")).toMatchObject({ hostAt: `remote ${VTEPS[0]}`, serverAt: "local h2", roles: ["destination", "termination"] });
    const r2 = await rows(1);
    expect(r2.find((r) => r.name === "watch-a")).toMatchObject({ hostAt: `remote ${VTEPS[0]}`, serverAt: `remote ${VTEPS[2]}`, roles: ["destination"] });
    expect(r2.find((r) => r.name === "watch-b")).toMatchObject({ roles: [] });
  });

  it("host -> remote host: one copy, VXLAN-GBP with HOST ID 7 to the server's switch, decapsulated to the server only", async () => {
    const f = udp("a", "c");
    const before = await counters(0);
    const caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    const got = await collect(caps, { c: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, c: 1, sv3: 1 });
    expect(got.hosts.c[0]!.raw.equals(f)).toBe(true);
    expect(got.hosts.sv3[0]!.raw.equals(f)).toBe(true);
    expect(copies(got, 0, f)).toHaveLength(1);
    expectCopy(copies(got, 0, f)[0]!, 0, 2, 7, f);
    expect(plain(got, 0, f).map((p) => p.ip!.dst)).toEqual([VTEPS[1]]);
    expect(copies(got, 1, f)).toHaveLength(0);
    expect(copies(got, 2, f)).toHaveLength(0);
    const after = await counters(0);
    expect(after.mirror_copy_remote! - before.mirror_copy_remote!).toBe(1n);
    expect(after.encap_fwd! - before.encap_fwd!).toBe(1n);
  });

  it("remote host -> host: the remote switch's destination entry copies it", async () => {
    const f = udp("c", "a");
    const caps = await captureAll(HOSTS.c!.mac);
    await sendFrames(fabric.hostNs("c"), "eth0", [f]);
    const got = await collect(caps, { a: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, a: 1, sv3: 1 });
    expect(got.hosts.sv3[0]!.raw.equals(f)).toBe(true);
    expect(copies(got, 1, f)).toHaveLength(1);
    expectCopy(copies(got, 1, f)[0]!, 1, 2, 7, f);
    expect(copies(got, 0, f)).toHaveLength(0);
  });

  it("local neighbour -> host, both ends monitored with two servers: one copy to each", async () => {
    // b is watched (from-host, server sv1 on this switch), a is watched (server sv3)
    const f = udp("b", "a");
    const caps = await captureAll(HOSTS.b!.mac);
    await sendFrames(fabric.hostNs("b"), "eth0", [f]);
    const got = await collect(caps, { a: 1, sv1: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, a: 1, sv1: 1, sv3: 1 });
    for (const h of ["a", "sv1", "sv3"] as const) expect(got.hosts[h][0]!.raw.equals(f)).toBe(true);
    expect(copies(got, 0, f)).toHaveLength(1);
    expectCopy(copies(got, 0, f)[0]!, 0, 2, 7, f);
    expect(plain(got, 0, f)).toHaveLength(0);
  });

  it("server on the host's own switch: the copy goes out of its port unchanged, nothing on the wire", async () => {
    const f = udp("b", "d");
    const caps = await captureAll(HOSTS.b!.mac);
    await sendFrames(fabric.hostNs("b"), "eth0", [f]);
    const got = await collect(caps, { d: 1, sv1: 1 });
    expect(counts(got)).toEqual({ ...none, d: 1, sv1: 1 });
    expect(got.hosts.sv1[0]!.raw.equals(f)).toBe(true);
    expect(copies(got, 0, f)).toHaveLength(0);
    expect(plain(got, 0, f)).toHaveLength(1);
  });

  it("a broadcast from the host is flooded as usual and copied exactly once", async () => {
    const f = arpRequest({ srcMac: HOSTS.a!.mac, srcIp: HOSTS.a!.ip, targetIp: NOBODY });
    const caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    // every member of the VNI gets the flood; sv3 also gets its copy
    const got = await collect(caps, { b: 1, sv1: 1, c: 1, sv2: 1, d: 1, sv3: 2 });
    expect(counts(got)).toEqual({ a: 0, b: 1, sv1: 1, c: 1, sv2: 1, d: 1, sv3: 2 });
    for (const p of got.hosts.sv3) expect(p.raw.equals(f)).toBe(true);
    expect(copies(got, 0, f)).toHaveLength(1);
    expectCopy(copies(got, 0, f)[0]!, 0, 2, 7, f);
    expect(plain(got, 0, f).map((p) => p.ip!.dst).sort()).toEqual([VTEPS[1], VTEPS[2], KERNEL_VTEP]);
  });

  it("a session added through the API copies at once, and its removal stops the copies", async () => {
    // a static fabric: the controller tells every switch
    const watchC = { name: "watch-c", host: { mac: HOSTS.c!.mac, vni: 100 }, server: { mac: HOSTS.sv2!.mac, vni: 100 }, host_id: 9 };
    for (const sw of [0, 1, 2]) expect((await api(sw, "POST", "/v1/mirror/sessions", watchC)).status).toBe(201);
    const dup = await api(0, "POST", "/v1/mirror/sessions", { name: "watch-x", host: { mac: HOSTS.d!.mac, vni: 100 }, server: { mac: HOSTS.sv2!.mac, vni: 100 }, host_id: 9 });
    expect(dup).toMatchObject({ status: 400, body: { errors: [expect.stringMatching(/host_id: 9 is already used by session watch-c/)] } });
    await expect.poll(async () => (await rows(0)).find((r) => r.name === "watch-c"), { timeout: 5000 }).toMatchObject({ origin: "api", roles: ["destination"], serverAt: `remote ${VTEPS[1]}` });

    // a -> c: watched at both ends, two servers on two other switches
    const f = udp("a", "c", "two servers");
    let caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    let got = await collect(caps, { c: 1, sv2: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, c: 1, sv2: 1, sv3: 1 });
    const cs = copies(got, 0, f).sort((x, y) => x.vxlan!.gbp! - y.vxlan!.gbp!);
    expect(cs).toHaveLength(2);
    expectCopy(cs[0]!, 0, 2, 7, f);
    expectCopy(cs[1]!, 0, 1, 9, f);

    for (const sw of [0, 1, 2]) expect((await api(sw, "DELETE", "/v1/mirror/sessions/watch-c")).status).toBe(200);
    await expect.poll(async () => (await rows(0)).map((r) => r.name), { timeout: 5000 }).toEqual(["watch-a", "watch-b"]);
    caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    got = await collect(caps, { c: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, c: 1, sv3: 1 });
    expect(copies(got, 0, f).map((p) => p.vxlan!.gbp)).toEqual([7]);
  });

  it("drops and counts G-flag packets with an unknown HOST ID or from an unknown VTEP; a known one reaches the server only", async () => {
    const sw3 = fabric.switchNs(names[2]!);
    const uplinkMac = lab.mac(sw3, "eth0");
    const spineMac = lab.mac(fabric.spine, "s3");
    const inner = udp("a", "d", "crafted");
    const copy = (src: string, hostId: number) =>
      vxlanEncap({ outer: { srcMac: spineMac, dstMac: uplinkMac, srcIp: src, dstIp: VTEPS[2] }, vni: 100, gbp: hostId, inner });
    const before = await counters(2);
    const caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.spine, "s3", [copy(VTEPS[0], 999), copy("198.18.9.9", 7), copy(VTEPS[0], 7)]);
    const got = await collect(caps, { sv3: 1 });
    expect(counts(got)).toEqual({ ...none, sv3: 1 });
    expect(got.hosts.sv3[0]!.raw.equals(inner)).toBe(true);
    const after = await counters(2);
    expect(after.drop_mirror_unknown_id! - before.drop_mirror_unknown_id!).toBe(1n);
    expect(after.drop_mirror_unknown_src! - before.drop_mirror_unknown_src!).toBe(1n);
    expect(after.mirror_terminated! - before.mirror_terminated!).toBe(1n);
    // a copy is never learned from: d's switch still has a where it was
    const fdb = await fabric.api<FdbRow[]>(names[2]!, "fdb");
    expect(fdb.find((r) => r.mac === HOSTS.a!.mac)).toMatchObject({ type: "remote", remote: VTEPS[0] });
  });

  it("counts copies per session", async () => {
    const r = (await rows(0)).find((x) => x.name === "watch-a")!;
    expect(BigInt(r.counters.copiesRemote)).toBeGreaterThanOrEqual(4n);
    const t = (await rows(2)).find((x) => x.name === "watch-a")!;
    expect(BigInt(t.counters.terminated)).toBeGreaterThanOrEqual(5n);
  });

  it("the CLI adds, shows and removes a session; a server nowhere to be found gets no copy, only a count", async () => {
    const socket = fabric.config(names[0]!).management.socket;
    const cli = (...args: string[]) => lab.exec(null, process.execPath, ["--import", "tsx", CLI, ...args, "--socket", socket]);
    const ghost = "02:00:00:0a:00:99"; // a server MAC no switch has seen
    expect(cli("mirror", "add", "watch-ghost", "--host-mac", HOSTS.d!.mac, "--host-vni", "100", "--server-mac", ghost, "--server-vni", "100", "--host-id", "11", "--direction", "to-host")).toMatch(/mirror session watch-ghost added \(host_id 11\)/);
    // refused with the API's own words
    expect(() => cli("mirror", "add", "bad", "--host-mac", HOSTS.a!.mac, "--host-vni", "100", "--server-mac", ghost, "--server-vni", "100", "--host-id", "70000")).toThrow(/host_id: 70000 out of range 1..65535/);
    const shown = cli("show", "mirror");
    expect(shown).toMatch(/^NAME\s+HOSTID\s+DIRECTION/m);
    expect(shown).toMatch(/watch-ghost\s+11\s+to-host\s+02:00:00:0a:00:04 vni 100\s+remote 198.18.0.3\s+02:00:00:0a:00:99 vni 100\s+unknown\s+destination/);
    const json = JSON.parse(cli("show", "mirror", "--json")) as MirrorRow[];
    expect(json.map((r) => r.name)).toEqual(["watch-a", "watch-b", "watch-ghost"]);
    // b -> d: copied for watch-b (sv1, local); watch-ghost's server is nowhere: no copy, counted
    const f = udp("b", "d", "ghost");
    const before = await counters(0);
    const caps = await captureAll(HOSTS.b!.mac);
    await sendFrames(fabric.hostNs("b"), "eth0", [f]);
    const got = await collect(caps, { d: 1, sv1: 1 });
    expect(counts(got)).toEqual({ ...none, d: 1, sv1: 1 });
    expect(copies(got, 0, f)).toHaveLength(0);
    const after = await counters(0);
    expect(after.drop_mirror_no_server! - before.drop_mirror_no_server!).toBe(1n);
    expect((await rows(0)).find((r) => r.name === "watch-ghost")!.counters.dropNoServer).toBe("1");
    expect(cli("mirror", "del", "watch-ghost")).toMatch(/removed/);
    expect(() => cli("mirror", "del", "watch-a")).toThrow(/comes from the config file/);
  });

  it("match: ip - a session keyed on the host's IPv4 address; two sessions with one server give one copy", async () => {
    const watchD = { name: "watch-d-ip", host: { mac: HOSTS.d!.mac, vni: 100, ip: HOSTS.d!.ip }, server: { mac: HOSTS.sv1!.mac, vni: 100 }, host_id: 10, direction: "to-host", match: "ip" };
    for (const sw of [0, 1, 2]) expect((await api(sw, "POST", "/v1/mirror/sessions", watchD)).status).toBe(201);
    // the server is local to sw1: it also terminates copies from the others
    await expect.poll(async () => (await rows(0)).find((r) => r.name === "watch-d-ip")?.roles, { timeout: 5000 }).toEqual(["destination", "termination"]);
    // a -> d: a's session copies to sv3 (remote), d's to sv1 (local)
    let f = udp("a", "d", "ip match");
    let caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    let got = await collect(caps, { d: 1, sv1: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, d: 1, sv1: 1, sv3: 1 });
    expect(got.hosts.sv1[0]!.raw.equals(f)).toBe(true);
    // b -> d: b's session (from-host) and d's session both name sv1: one copy
    f = udp("b", "d", "one server");
    caps = await captureAll(HOSTS.b!.mac);
    await sendFrames(fabric.hostNs("b"), "eth0", [f]);
    got = await collect(caps, { d: 1, sv1: 1 });
    expect(counts(got)).toEqual({ ...none, d: 1, sv1: 1 });
    for (const sw of [0, 1, 2]) expect((await api(sw, "DELETE", "/v1/mirror/sessions/watch-d-ip")).status).toBe(200);
  });

  it("a Linux VXLAN VTEP in the VNI gets the flood but never a copy", async () => {
    const f = arpRequest({ srcMac: HOSTS.a!.mac, srcIp: HOSTS.a!.ip, targetIp: NOBODY });
    const atKernel = await startCapture(kv, "eth0", { lab, filter: "udp port 4789", direction: "in", timeoutMs: 30_000 });
    const caps = await captureAll(HOSTS.a!.mac);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    await collect(caps, { sv3: 2 });
    const k = (await atKernel.stop()).filter((p) => p.raw.subarray(50).equals(f));
    expect(k.map((p) => [p.ip!.src, p.vxlan!.gFlag])).toEqual([[VTEPS[0], false]]);
  });

  it("a copy larger than the underlay takes is dropped and counted; the original is not affected", async () => {
    const sw1 = fabric.switchNs(names[0]!);
    for (const [ns, dev] of [[fabric.hostNs("a"), "eth0"], [sw1, "h1"], [sw1, "h2"], [fabric.hostNs("b"), "eth0"]] as const) lab.ip(ns, "link", "set", dev, "mtu", "2000");
    try {
      // fits every port on the way to b, but not the 1600-byte underlay once encapsulated
      const f = udp("a", "b", "x".repeat(1560));
      const before = await counters(0);
      const caps = await captureAll(HOSTS.a!.mac);
      await sendFrames(fabric.hostNs("a"), "eth0", [f]);
      const got = await collect(caps, { b: 1 });
      expect(counts(got)).toEqual({ ...none, b: 1 });
      expect(got.hosts.b[0]!.raw.equals(f)).toBe(true);
      expect(copies(got, 0, f)).toHaveLength(0);
      const after = await counters(0);
      expect(after.drop_mirror_oversize! - before.drop_mirror_oversize!).toBe(1n);
      expect((await rows(0)).find((r) => r.name === "watch-a")!.counters.dropOversize).not.toBe("0");
    } finally {
      for (const [ns, dev] of [[fabric.hostNs("a"), "eth0"], [sw1, "h1"], [sw1, "h2"], [fabric.hostNs("b"), "eth0"]] as const) lab.ip(ns, "link", "set", dev, "mtu", "1500");
    }
  });

  it("copies keep flowing while the host's switch's control plane is killed and restarted; the restart adopts, nothing doubles", async () => {
    const f = udp("a", "c", "through a restart");
    const caps = await captureAll(HOSTS.a!.mac);
    const sending = sendFrames(fabric.hostNs("a"), "eth0", [f], { repeat: 300, intervalMs: 10 });
    await new Promise((r) => setTimeout(r, 500));
    await fabric.kill(names[0]!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 700));
    await fabric.start(names[0]!);
    await sending;
    const got = await collect(caps, { c: 300, sv3: 300 }, 800);
    expect(counts(got)).toEqual({ ...none, c: 300, sv3: 300 });
    expect(copies(got, 0, f)).toHaveLength(300);
    expect(fabric.logOf(names[0]!)).toMatch(/adopted pinned fast path/);
    expect((await rows(0)).map((r) => [r.name, r.roles])).toEqual([
      ["watch-a", ["source", "destination"]],
      ["watch-b", ["source", "termination"]],
    ]);
  });

  it("follows the server when it moves: termination entry moves with it, copies are re-pointed", async () => {
    const t0 = performance.now();
    await moveHost(fabric, { host: "sv3", mac: HOSTS.sv3!.mac, ip: HOSTS.sv3!.ip, prefixLen: 24, vni: 100, toIf: "eth1", toSwitch: names[0]!, toPort: "h8" });
    await expect.poll(async () => (await rows(0)).find((r) => r.name === "watch-a"), { timeout: 5000, interval: 5 }).toMatchObject({ serverAt: "local h8", roles: ["source", "destination", "termination"] });
    await expect.poll(async () => (await rows(1)).find((r) => r.name === "watch-a")?.serverAt, { timeout: 5000, interval: 5 }).toBe(`remote ${VTEPS[0]}`);
    await expect.poll(async () => (await rows(2)).find((r) => r.name === "watch-a")?.roles, { timeout: 5000, interval: 5 }).toEqual(["destination"]);
    console.log(`mirror: server move followed on every switch within ${(performance.now() - t0).toFixed(0)} ms of the gratuitous ARP`);
    const sv3If = (h: Host) => (h === "sv3" ? "eth1" : "eth0");
    // a -> c: the server is local now: out of its port, nothing on the wire
    let f = udp("a", "c", "server moved");
    let caps = await captureAll(HOSTS.a!.mac, sv3If);
    await sendFrames(fabric.hostNs("a"), "eth0", [f]);
    let got = await collect(caps, { c: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, c: 1, sv3: 1 });
    expect(copies(got, 0, f)).toHaveLength(0);
    // c -> a: sw2's copy now goes to sw1, which terminates it
    f = udp("c", "a", "server moved back");
    caps = await captureAll(HOSTS.c!.mac, sv3If);
    await sendFrames(fabric.hostNs("c"), "eth0", [f]);
    got = await collect(caps, { a: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, a: 1, sv3: 1 });
    expectCopy(copies(got, 1, f)[0]!, 1, 0, 7, f);
    expect(copies(got, 1, f)).toHaveLength(1);
  });

  it("follows the monitored host when it moves to another switch: source entry moves, no duplicate copies", async () => {
    const moved = await moveHost(fabric, { host: "a", mac: HOSTS.a!.mac, ip: HOSTS.a!.ip, prefixLen: 24, vni: 100, toIf: "eth1", toSwitch: names[1]!, toPort: "h9" });
    const t0 = performance.now();
    await expect.poll(async () => (await rows(1)).find((r) => r.name === "watch-a")?.roles, { timeout: 5000, interval: 5 }).toEqual(["source", "destination"]);
    const followMs = moved.convergenceMs + (performance.now() - t0);
    // sw1 keeps terminating for the server, which moved there before
    await expect.poll(async () => (await rows(0)).find((r) => r.name === "watch-a")?.roles, { timeout: 5000 }).toEqual(["destination", "termination"]);
    console.log(`mirror: host move followed within ${followMs.toFixed(0)} ms of the gratuitous ARP (FDB ${moved.convergenceMs.toFixed(0)} ms)`);
    // from its new switch: exactly one copy, from sw2
    const f = udp("a", "b", "after the move");
    const caps = await captureAll(HOSTS.a!.mac, (h) => (h === "a" || h === "sv3" ? "eth1" : "eth0"));
    await sendFrames(fabric.hostNs("a"), "eth1", [f]);
    const got = await collect(caps, { b: 1, sv3: 1 });
    expect(counts(got)).toEqual({ ...none, b: 1, sv3: 1 });
    expect(copies(got, 1, f)).toHaveLength(1);
    expectCopy(copies(got, 1, f)[0]!, 1, 0, 7, f);
    expect(copies(got, 0, f)).toHaveLength(0);
  });
});

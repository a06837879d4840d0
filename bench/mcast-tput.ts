// Benchmark 6: copies per second of the group replication loop (TC,
// bpf_loop + one bpf_clone_redirect per copy), for groups with 1, 8 and 32
// remote members, against the kernel's VXLAN device + bridge in the same run.
//
//   hs --veth-- h1 [switch] eth0 --veth-- s1 [sink]
//                  VTEP 198.18.0.1         tc ingress drop; counts rx_packets
//                  198.18.1.1 .. 198.18.1.N routed via the sink (192.0.2.1)
//
// Built by lab/fabric.ts as `npm run lab` builds a switch (routed /30 uplink,
// VTEP on lo, GRO on every veth, the host computing its own checksums); its
// spine is the sink: every copy the switch puts on eth0 arrives at s1, is
// counted by veth (rx_packets, at the NAPI poll) and dropped by a two-line TC
// program before the IP layer, so the sink costs little and answers nothing.
// The switch has a permanent neighbour entry for 192.0.2.1 (nothing resolves:
// the sink would drop the ARP), checked before every measurement.
//
// One group per member count N: 239.1.1.N (dst MAC 01:00:5e:01:01:N), remote
// members 198.18.1.1 .. 198.18.1.N. The modes, on the same namespaces:
//
//   vxgate      `vxgate run`: multicast enabled, VNI 100 snooping with
//               unregistered: drop, the groups as static remote members
//               (multicast.vnis[].groups[].remotes), tables.mcast_members = max N.
//               A group packet from h1: XDP passes it to TC, tc_mcast finds
//               (*,G) and replicates to the N VTEPs.
//   kernel      vxgate stopped (`vxgate stop`; no XDP or TC program may be left),
//               bridge br100 with h1 and vxlan100 (id 100, local VTEP, dstport
//               4789, nolearning) and the all-zeros FDB entry with N
//               destinations (`bridge fdb append 00:00:00:00:00:00 dev vxlan100
//               dst R`): head-end replication of every BUM frame to N VTEPs.
//   kernel-mdb  the same with per-group VXLAN MDB entries instead (kernel 6.4+):
//               (*, 239.1.1.N) -> the N remotes, programmed over rtnetlink
//               (test/harness/vxlan-mdb.ts; Debian 12's iproute2 cannot); no
//               all-zeros entry. With --no-mdb this mode is left out.
//
// Traffic: one UDP flow of 60-byte frames from hs to the group, trafgen (or
// the python AF_PACKET loop) as in fabric-tput.ts, pinned to CPU 0. Figures
// per measurement (window after a warm-up, counters read by samplers inside
// the namespaces): copies/s = sink rx, input pps = the switch's h1 rx, copies
// per input packet over the window; and over the whole measurement, exact
// totals: copies at the sink must equal N x the frames the switch took in
// (and equal what the path itself counted: vxgate mcast_remote_copy, kernel
// vxlan100 tx), else the measurement is failed and not used.
//
// The counters of a window are read by one sampler process that holds
// /proc/<thread>/net/dev open in each namespace (opened after setns), so the
// switch's input and the sink's copies are read at the same instant.
//
// Calibration ("wire"), every round: the same generator sends one of the
// copies (the 110-byte VXLAN frame, captured in the functional check) into a
// veth whose peer is a sink like the switch's (same TC drop, GRO on), and
// then into the same veth with its peer down (veth drops it at once). The
// difference, 1e9/pps(wire) - 1e9/pps(peer down), is what handing a copy to
// the veth and receiving it at the sink costs; both modes pay it per copy, on
// the same core, so it dilutes the copies/s ratio. Subtracted from the
// marginal ns per copy ((1e9/in pps at the largest N - at the smallest N) /
// difference in N) it leaves the switch's own work per copy.
//
// Rounds: each round measures every mode once for every N, then the wire;
// the mode order flips every round (K M V, V M K, ...) so vxgate starts or
// stops once per round, and the N order flips with it (1 8 32, 32 8 1, ...).
import { rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Fabric, Lab } from "../lab/fabric.ts";
import { startCapture } from "../test/harness/capture.ts";
import { parseFrame, udpFrame } from "../test/harness/packets.ts";
import { PYTHON, runAsync } from "../test/harness/proc.ts";
import { sendFrames } from "../test/harness/send.ts";
import { vxlanMdbAdd } from "../test/harness/vxlan-mdb.ts";
import type { McastRow } from "../src/control/mcast/feature.ts";
import { hasCommand, startGenerator, type GeneratorKind } from "./fabric-tput.ts";
import { median, sleep } from "./stats.ts";

export type McastMode = "vxgate" | "kernel" | "kernel-mdb";

export interface McastOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  gen: GeneratorKind | "auto";
  /** remote members per group, one group each (default 1, 8, 32) */
  members: number[];
  /** also measure the kernel with per-group VXLAN MDB entries */
  mdb: boolean;
  log: (s: string) => void;
}

export interface McastSample {
  round: number;
  mode: McastMode;
  members: number;
  /** copies per second arriving at the sink, over the window */
  copiesPps: number;
  /** group packets per second the switch took in on h1, over the window */
  inPps: number;
  /** packets per second the sender offered (taken + dropped at h1's ring) */
  offeredPps: number;
  /** copiesPps / inPps */
  copiesPerIn: number;
  /** over the whole measurement (generator start -> 300 ms after it stopped) */
  total: {
    in: number;
    copies: number;
    /** what the path counted: vxgate mcast_remote_copy, kernel vxlan100 tx_packets */
    path: number;
    /** copies the switch's eth0 could not hand to the sink (veth ring full) */
    uplinkDrops: number;
  };
  /** vxgate drop_* / err_* counters that moved during the measurement */
  errs: Record<string, number>;
  ok: boolean;
  why?: string;
}

export interface McastPaired {
  round: number;
  members: number;
  /** vxgate copies/s / kernel copies/s, same round */
  vsKernel?: number;
  vsMdb?: number;
}

export interface WireSample {
  round: number;
  /** copies/s a sink like the switch's receives from the generator alone */
  sinkPps: number;
  /** the generator's rate into a veth whose peer is down */
  downPps: number;
  /** 1e9/sinkPps - 1e9/downPps: hand-off to the veth + the sink's receive, per frame */
  sinkNs: number;
}

export interface McastResult {
  generator: string;
  frameBytes: number;
  durationS: number;
  warmupS: number;
  members: number[];
  modes: McastMode[];
  samples: McastSample[];
  paired: McastPaired[];
  wire: WireSample[];
  checks: string[];
}

const VNI = 100;
const VTEP = "198.18.0.1";
const HS_MAC = "02:00:00:00:0a:01";
const HS_IP = "198.51.100.1";
/** the sink's end of the uplink: the next hop of every remote VTEP */
const NEXT_HOP = "192.0.2.1";
const remote = (i: number) => `198.18.1.${i}`;
const remotes = (n: number) => Array.from({ length: n }, (_, i) => remote(i + 1));
const group = (n: number) => `239.1.1.${n}`;
const groupMac = (n: number) => `01:00:5e:01:01:${n.toString(16).padStart(2, "0")}`;
/** slack in the exact totals for a stray frame of the namespaces' own (none expected) */
const STRAY = 10;
/** the window's copies per input may differ from N by this much (frames in flight at its edges) */
const WINDOW_TOLERANCE = 0.01;

// The sink's drop: returns TC_ACT_SHOT for everything (after veth counted it).
const SINK_DROP_C = `#include <linux/bpf.h>
#include <linux/pkt_cls.h>
__attribute__((section("tc"), used)) int sink_drop(struct __sk_buff *skb) { return TC_ACT_SHOT; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

// argv: warmup_s duration_s NETNS:DEV:FIELD... ; prints {"dt":..,"c0":[..],"c1":[..]}.
// Runs in the root namespace: enters each network namespace (setns) only to
// open its /proc/thread-self/net/dev, which stays bound to that namespace,
// and reads all of them back to back at the start and the end of the window.
const SAMPLER = `
import ctypes, json, os, sys, time
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
warm, dur = float(sys.argv[1]), float(sys.argv[2])
specs = [a.split(":") for a in sys.argv[3:]]
col = {"rx_packets": 1, "tx_packets": 9, "tx_dropped": 11}
home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
fds = {}
for ns, dev, field in specs:
    if ns in fds:
        continue
    nfd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(nfd, CLONE_NEWNET) != 0:
        sys.exit("setns %s: %s" % (ns, os.strerror(ctypes.get_errno())))
    fds[ns] = os.open("/proc/thread-self/net/dev", os.O_RDONLY)
    os.close(nfd)
    if libc.setns(home, CLONE_NEWNET) != 0:
        sys.exit("setns back: %s" % os.strerror(ctypes.get_errno()))
def grab():
    t = {}
    for ns, fd in fds.items():
        os.lseek(fd, 0, 0)
        chunks = []
        while True:
            c = os.read(fd, 65536)
            if not c:
                break
            chunks.append(c)
        t[ns] = b"".join(chunks).decode()
    return time.monotonic(), t
def parse(t):
    out = []
    for ns, dev, field in specs:
        row = [l.split(":", 1)[1].split() for l in t[ns].splitlines() if l.split(":", 1)[0].strip() == dev]
        if not row:
            sys.exit("no %s in %s" % (dev, ns))
        out.append(int(row[0][col[field]]))
    return out
time.sleep(warm)
t0, a = grab()
time.sleep(dur)
t1, b = grab()
print(json.dumps({"dt": t1 - t0, "c0": parse(a), "c1": parse(b)}), flush=True)
`;

/** One window: counter deltas of `specs` ("netns:dev:rx_packets|tx_packets|tx_dropped"), read at the same instants. */
async function sampleAll(warmupS: number, durationS: number, specs: string[]): Promise<{ dt: number; delta: number[] }> {
  const r = await runAsync(null, PYTHON, ["-c", SAMPLER, String(warmupS), String(durationS), ...specs], { timeoutMs: (warmupS + durationS + 10) * 1000 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) throw new Error(`counter sampler failed: ${r.stderr.trim()}`);
  const j = JSON.parse(line) as { dt: number; c0: number[]; c1: number[] };
  return { dt: j.dt, delta: j.c1.map((c, i) => c - j.c0[i]!) };
}

function switchYaml(name: string, socket: string, members: number[]): string {
  const max = Math.max(...members);
  const groups = members.map((n) => `        - { group: ${group(n)}, remotes: [${remotes(n).join(", ")}] }`);
  return `# written by bench/mcast-tput.ts
switch:
  name: ${name}
vtep:
  source_ip: ${VTEP}
uplinks:
  - name: eth0
ports:
  - { name: h1, vni: ${VNI} }
vnis:
  - vni: ${VNI}
    static_macs:
      - { mac: "${HS_MAC}", port: h1 }
multicast:
  enabled: true
  vnis:
    - vni: ${VNI}
      unregistered: drop
      groups:
${groups.join("\n")}
tables:
  mcast_members: ${max}
  flood_per_vni: ${Math.max(64, max)}
management:
  socket: ${socket}
`;
}

interface LinkStats {
  rx: number;
  tx: number;
  txDropped: number;
}

class McastBench {
  readonly fabric: Fabric;
  readonly name: string;
  readonly sw: string;
  readonly hs: string;
  readonly sink: string;
  readonly sinkMac: string;
  mode: McastMode | "none" = "none";
  /** one copy as the sink received it (from the functional check), for the wire calibration */
  copy?: Buffer;
  /** kernel (FDB) mode: destinations of the all-zeros entry now */
  private fdbMembers = 0;

  constructor(
    readonly lab: Lab,
    readonly members: number[],
  ) {
    this.name = `bench-mc-${process.pid.toString(36)}`;
    const cfgPath = join(lab.tmpdir, "sw.yaml");
    writeFileSync(cfgPath, switchYaml(this.name, join(lab.tmpdir, "sw.sock"), members));
    this.fabric = new Fabric(lab, [{ configPath: cfgPath, hosts: [{ name: "hs", port: "h1", mac: HS_MAC, cidr: `${HS_IP}/24` }] }]);
    lab.defer(() => {
      rmSync(join("/sys/fs/bpf/vxgate", this.name), { recursive: true, force: true });
      rmSync(join("/run/vxgate", this.name), { recursive: true, force: true });
    });
    this.sw = this.fabric.switchNs(this.name);
    this.hs = this.fabric.hostNs("hs");
    this.sink = this.fabric.spine;
    this.sinkMac = lab.mac(this.sink, "s1");
    // the sink: count (veth rx_packets) and drop at TC ingress, before any stack
    const src = join(lab.tmpdir, "sink-drop.c");
    const obj = join(lab.tmpdir, "sink-drop.o");
    writeFileSync(src, SINK_DROP_C);
    execFileSync("clang", ["-target", "bpf", "-O2", "-Wall", "-Werror", "-I/usr/include/x86_64-linux-gnu", "-c", src, "-o", obj], { stdio: ["ignore", "pipe", "pipe"] });
    this.attachSinkDrop(this.sink, "s1");
    this.pinNeighbour();
  }

  /** The sink's drop, on any TC ingress. */
  attachSinkDrop(ns: string, dev: string): void {
    const obj = join(this.lab.tmpdir, "sink-drop.o");
    this.lab.exec(null, "tc", ["-n", ns, "qdisc", "add", "dev", dev, "clsact"]);
    this.lab.exec(null, "tc", ["-n", ns, "filter", "add", "dev", dev, "ingress", "bpf", "da", "obj", obj, "sec", "tc"]);
  }

  /** The outer next hop, resolved for good: the sink answers no ARP. */
  pinNeighbour(): void {
    this.lab.neigh(this.sw, "eth0", NEXT_HOP, this.sinkMac);
  }

  /** Throws unless the next hop is still the permanent entry (vxgate may make it `managed`). */
  checkNeighbour(): void {
    const n = JSON.parse(this.lab.ip(this.sw, "-j", "neigh", "show", NEXT_HOP, "dev", "eth0") || "[]") as Array<{ lladdr?: string; state?: string[] }>;
    if (!n[0]?.state?.includes("PERMANENT") || n[0].lladdr !== this.sinkMac) throw new Error(`next hop ${NEXT_HOP} on the switch is not the permanent entry any more: ${JSON.stringify(n)}`);
  }

  async use(mode: McastMode): Promise<void> {
    if (this.mode === mode) return;
    if (this.mode === "vxgate") await this.stopVxgate();
    else if (this.mode !== "none") this.stopKernel();
    this.mode = "none";
    if (mode === "vxgate") await this.startVxgate();
    else await this.startKernel(mode === "kernel-mdb");
    this.mode = mode;
  }

  private async startVxgate(): Promise<void> {
    await this.fabric.start(this.name);
    // the runtime may turn the next hop into a managed entry: put the permanent one back
    this.pinNeighbour();
    const want = new Map(this.members.map((n) => [group(n), remotes(n).sort().join(",")]));
    for (let i = 0; ; i++) {
      const rows = await this.fabric.api<McastRow[]>(this.name, "mcast");
      const have = new Map(rows.filter((r) => r.vni === VNI && r.source === "*").map((r) => [r.group, r.remotes.map((x) => x.vtep).sort().join(",")]));
      if ([...want].every(([g, list]) => have.get(g) === list)) break;
      if (i >= 100) throw new Error(`vxgate: group member lists not installed after 10 s: ${JSON.stringify(rows)}`);
      await sleep(100);
    }
  }

  private async stopVxgate(): Promise<void> {
    await this.fabric.kill(this.name);
    this.fabric.stopAndRemove(this.name);
    for (const dev of ["h1", "eth0"]) {
      const l = JSON.parse(this.lab.ip(this.sw, "-j", "link", "show", "dev", dev)) as Array<{ xdp?: unknown }>;
      if (l[0]?.xdp) throw new Error(`vxgate stop left an XDP program on ${dev}`);
      for (const dir of ["ingress", "egress"]) {
        const r = this.lab.run(null, "tc", ["-n", this.sw, "filter", "show", "dev", dev, dir]);
        if (r.stdout.trim()) throw new Error(`vxgate stop left a TC filter on ${dev} ${dir}: ${r.stdout.trim()}`);
      }
    }
  }

  private async startKernel(mdb: boolean): Promise<void> {
    const ip = (...a: string[]) => this.lab.ip(this.sw, ...a);
    ip("link", "add", "br100", "type", "bridge");
    ip("link", "add", "vxlan100", "type", "vxlan", "id", String(VNI), "local", VTEP, "dstport", "4789", "nolearning");
    ip("link", "set", "vxlan100", "master", "br100");
    ip("link", "set", "h1", "master", "br100");
    ip("link", "set", "vxlan100", "up");
    ip("link", "set", "br100", "up");
    // the sender as a static entry, as vxgate has it in its config
    this.lab.exec(null, "bridge", ["-n", this.sw, "fdb", "add", HS_MAC, "dev", "h1", "master", "static"]);
    this.fdbMembers = 0;
    if (mdb) for (const n of this.members) for (const r of remotes(n)) vxlanMdbAdd(this.lab, this.sw, "vxlan100", { group: group(n), dst: r });
    // A bridge with multicast snooping (the default) joins 224.0.0.106 (all
    // snoopers) on br100, and the IP stack announces it when br100 comes up:
    // two IGMPv3 reports, the second within 1 s, flooded like any link-local
    // multicast (to the all-zeros destinations). Let them pass before counting.
    await sleep(2500);
  }

  private stopKernel(): void {
    this.lab.ip(this.sw, "link", "del", "dev", "vxlan100");
    this.lab.ip(this.sw, "link", "del", "dev", "br100");
    this.fdbMembers = 0;
  }

  /** Before measuring N: in kernel (FDB) mode the all-zeros entry gets exactly N destinations. */
  prepare(n: number): void {
    if (this.mode !== "kernel" || this.fdbMembers === n) return;
    const cmds: string[] = [];
    for (let i = n + 1; i <= this.fdbMembers; i++) cmds.push(`fdb del 00:00:00:00:00:00 dev vxlan100 dst ${remote(i)}`);
    for (let i = this.fdbMembers + 1; i <= n; i++) cmds.push(`fdb append 00:00:00:00:00:00 dev vxlan100 dst ${remote(i)}`);
    this.lab.exec(null, "bridge", ["-n", this.sw, "-batch", "-"], { input: cmds.join("\n") + "\n" });
    this.fdbMembers = n;
    const got = this.lab
      .exec(null, "bridge", ["-n", this.sw, "fdb", "show", "dev", "vxlan100"])
      .split("\n")
      .filter((l) => l.startsWith("00:00:00:00:00:00 dst ")).length;
    if (got !== n) throw new Error(`kernel: vxlan100 has ${got} default destinations, wanted ${n}`);
  }

  link(ns: string, dev: string): LinkStats {
    const l = JSON.parse(this.lab.ip(ns, "-j", "-s", "link", "show", "dev", dev)) as Array<{ stats64: Record<string, { packets: number; dropped: number }> }>;
    const s = l[0]!.stats64;
    return { rx: s.rx!.packets, tx: s.tx!.packets, txDropped: s.tx!.dropped };
  }

  async vxgateCounters(): Promise<Record<string, number>> {
    const c = await this.fabric.api<Record<string, { packets: string }>>(this.name, "counters");
    return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Number(v.packets)]));
  }

  /** What the path itself counted, and (vxgate) every counter. */
  async pathCounters(): Promise<{ copies: number; input: number; all: Record<string, number> }> {
    if (this.mode === "vxgate") {
      const all = await this.vxgateCounters();
      return { copies: all.mcast_remote_copy ?? 0, input: all.mcast_group_hit ?? 0, all };
    }
    const l = JSON.parse(this.lab.ip(this.sw, "-j", "-s", "link", "show", "dev", "vxlan100")) as Array<{ stats64: Record<string, { packets: number }> }>;
    return { copies: l[0]!.stats64.tx!.packets, input: NaN, all: {} };
  }

  /** Counters of everything a measurement compares, before or after it. */
  async snapshot(): Promise<{ h1: LinkStats; up: LinkStats; sink: LinkStats; path: Awaited<ReturnType<McastBench["pathCounters"]>> }> {
    return { h1: this.link(this.sw, "h1"), up: this.link(this.sw, "eth0"), sink: this.link(this.sink, "s1"), path: await this.pathCounters() };
  }
}

function frameFor(n: number): Buffer {
  return udpFrame({ dstMac: groupMac(n), srcMac: HS_MAC, srcIp: HS_IP, dstIp: group(n), srcPort: 40000, dstPort: 9, payload: Buffer.alloc(18, 0x5a) });
}

/** The counters of `after` less `before`, for the drop_* and err_* ones that moved. */
function movedErrors(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    if (!/^(drop|err)_/.test(k)) continue;
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/**
 * Functional check of one (mode, N) before anything is timed: K group frames
 * at a gentle rate; the sink must see exactly K x N frames, all VXLAN (VNI
 * 100, UDP 4789, from our VTEP and eth0's MAC to the sink's MAC) to the N
 * member VTEPs, K each, each carrying the sent frame byte for byte; and the
 * path must have counted them.
 */
async function checkCopies(bench: McastBench, n: number): Promise<string> {
  const K = 20;
  const frame = frameFor(n);
  const lab = bench.lab;
  bench.prepare(n);
  bench.checkNeighbour();
  const upMac = lab.mac(bench.sw, "eth0");
  const cap = await startCapture(bench.sink, "s1", { lab, direction: "in", bufferMiB: 64, timeoutMs: 30_000 });
  const before = await bench.snapshot();
  await sendFrames(bench.hs, "eth0", [frame], { repeat: K, intervalMs: 5 });
  await cap.waitFor(K * n, 3000);
  await sleep(300);
  const recs = await cap.stopRaw();
  const after = await bench.snapshot();
  const what = `${bench.mode}, ${n} member${n > 1 ? "s" : ""}`;
  if (cap.dropped()) throw new Error(`${what}: the check's capture lost ${cap.dropped()} frames`);
  const per = new Map<string, number>();
  const bad: string[] = [];
  for (const r of recs) {
    const p = parseFrame(r.data);
    const ok =
      p.eth.dst === bench.sinkMac &&
      p.eth.src === upMac &&
      p.ipv4?.src === VTEP &&
      p.ipv4.checksumOk &&
      p.udp?.dstPort === 4789 &&
      p.vxlan?.vni === VNI &&
      p.vxlan.iFlag &&
      r.data.length === 50 + frame.length &&
      r.data.subarray(50).equals(frame);
    if (!ok) {
      if (bad.length < 3) bad.push(r.data.subarray(0, 64).toString("hex"));
      continue;
    }
    per.set(p.ipv4!.dst, (per.get(p.ipv4!.dst) ?? 0) + 1);
    bench.copy ??= Buffer.from(r.data);
  }
  const want = remotes(n);
  const wrongDst = [...per.keys()].filter((d) => !want.includes(d));
  const short = want.filter((d) => per.get(d) !== K);
  const tookIn = after.h1.rx - before.h1.rx;
  const path = after.path.copies - before.path.copies;
  if (bad.length || wrongDst.length || short.length || recs.length !== K * n || tookIn !== K || path !== K * n) {
    throw new Error(
      `${what}: functional check failed: h1 took in ${tookIn}/${K}, the sink saw ${recs.length} frames (wanted ${K * n}), ` +
        `path counted ${path}; not the expected copy: ${bad.join(" | ") || "-"}; to non-members: ${wrongDst.join(",") || "-"}; ` +
        `members without exactly ${K}: ${short.map((d) => `${d}=${per.get(d) ?? 0}`).join(",") || "-"}`,
    );
  }
  if (bench.mode === "vxgate") {
    const hit = after.path.input - before.path.input;
    if (hit !== K) throw new Error(`${what}: mcast_group_hit moved by ${hit}, wanted ${K}`);
    const errs = movedErrors(before.path.all, after.path.all);
    if (Object.keys(errs).length) throw new Error(`${what}: error counters moved in the functional check: ${JSON.stringify(errs)}`);
  }
  return `${what}: ${K} frames to ${group(n)} -> ${K * n} VXLAN copies at the sink, ${K} to each member VTEP, VNI ${VNI}, inner frame intact; ${bench.mode === "vxgate" ? "mcast_group_hit + mcast_remote_copy" : "vxlan100 tx"} agree`;
}

async function measure(bench: McastBench, gen: GeneratorKind, round: number, n: number, opts: McastOptions): Promise<McastSample> {
  const lab = bench.lab;
  const mode = bench.mode as McastMode;
  bench.prepare(n);
  bench.checkNeighbour();
  const frame = frameFor(n);
  const before = await bench.snapshot();
  const g = startGenerator(lab, gen, bench.hs, [frame], opts.warmupS + opts.durationS + 0.5);
  const w = await sampleAll(opts.warmupS, opts.durationS, [`${bench.sw}:h1:rx_packets`, `${bench.sink}:s1:rx_packets`, `${bench.hs}:eth0:tx_packets`, `${bench.hs}:eth0:tx_dropped`]);
  const gr = await g;
  if (gr.status !== 0 && gr.status !== 124) throw new Error(`generator ${gen} failed (${gr.signal ?? `exit ${gr.status}`}): ${gr.stderr.trim() || gr.stdout.trim()}`);
  await sleep(300);
  const after = await bench.snapshot();
  const inPps = w.delta[0]! / w.dt;
  const copiesPps = w.delta[1]! / w.dt;
  const total = {
    in: after.h1.rx - before.h1.rx,
    copies: after.sink.rx - before.sink.rx,
    path: after.path.copies - before.path.copies,
    uplinkDrops: after.up.txDropped - before.up.txDropped,
  };
  const errs = mode === "vxgate" ? movedErrors(before.path.all, after.path.all) : {};
  const s: McastSample = {
    round,
    mode,
    members: n,
    copiesPps,
    inPps,
    offeredPps: (w.delta[2]! + w.delta[3]!) / w.dt,
    copiesPerIn: copiesPps / inPps,
    total,
    errs,
    ok: true,
  };
  const why: string[] = [];
  if (Math.abs(total.copies - n * total.in) > STRAY) why.push(`sink got ${total.copies} copies for ${total.in} frames in = ${(total.copies / total.in).toFixed(3)} per frame, not ${n}`);
  if (Math.abs(total.path - total.copies) > STRAY) why.push(`the path counted ${total.path} copies, the sink ${total.copies}`);
  if (mode === "vxgate" && Math.abs(after.path.input - before.path.input - total.in) > STRAY) why.push(`mcast_group_hit moved by ${after.path.input - before.path.input}, h1 took in ${total.in}`);
  if (!(Math.abs(s.copiesPerIn / n - 1) <= WINDOW_TOLERANCE)) why.push(`window: ${s.copiesPerIn.toFixed(3)} copies per frame in, not ${n}`);
  if (total.uplinkDrops) why.push(`eth0 dropped ${total.uplinkDrops} copies (tx_dropped)`);
  if (Object.keys(errs).length) why.push(`vxgate counters: ${Object.entries(errs).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  if (why.length) {
    s.ok = false;
    s.why = why.join("; ");
  }
  return s;
}

/** The calibration: a copy's bytes from the generator into a sink like the switch's, and into a veth with its peer down. */
async function measureWire(lab: Lab, gen: GeneratorKind, wa: string, wb: string, frame: Buffer, round: number, opts: McastOptions): Promise<WireSample> {
  const run = async (specs: string[]) => {
    const g = startGenerator(lab, gen, wa, [frame], opts.warmupS + opts.durationS + 0.5);
    const w = await sampleAll(opts.warmupS, opts.durationS, specs);
    const gr = await g;
    if (gr.status !== 0 && gr.status !== 124) throw new Error(`generator ${gen} failed (${gr.signal ?? `exit ${gr.status}`}): ${gr.stderr.trim() || gr.stdout.trim()}`);
    return w;
  };
  const up = await run([`${wb}:s1:rx_packets`]);
  lab.down(wb, "s1");
  let down;
  try {
    down = await run([`${wa}:eth0:tx_packets`, `${wa}:eth0:tx_dropped`]);
  } finally {
    lab.up(wb, "s1");
  }
  const sinkPps = up.delta[0]! / up.dt;
  const downPps = (down.delta[0]! + down.delta[1]!) / down.dt;
  return { round, sinkPps, downPps, sinkNs: 1e9 / sinkPps - 1e9 / downPps };
}

export function pairedMcast(samples: readonly McastSample[]): McastPaired[] {
  const out: McastPaired[] = [];
  const ok = samples.filter((s) => s.ok);
  for (const round of new Set(samples.map((s) => s.round))) {
    for (const n of new Set(samples.map((s) => s.members))) {
      const get = (m: McastMode) => ok.find((s) => s.round === round && s.members === n && s.mode === m)?.copiesPps;
      const v = get("vxgate");
      if (!v) continue;
      const k = get("kernel");
      const m = get("kernel-mdb");
      out.push({ round, members: n, vsKernel: k ? v / k : undefined, vsMdb: m ? v / m : undefined });
    }
  }
  return out;
}

/** ns of CPU per additional copy, from the input rates at the smallest and largest N of one round and mode. */
export function marginalNsPerCopy(samples: readonly McastSample[], mode: McastMode, round: number): number | undefined {
  const xs = samples.filter((s) => s.ok && s.mode === mode && s.round === round);
  if (xs.length < 2) return undefined;
  const lo = xs.reduce((a, b) => (b.members < a.members ? b : a));
  const hi = xs.reduce((a, b) => (b.members > a.members ? b : a));
  if (hi.members === lo.members) return undefined;
  return (1e9 / hi.inPps - 1e9 / lo.inPps) / (hi.members - lo.members);
}

export async function runMcastTput(opts: McastOptions): Promise<McastResult> {
  const members = [...new Set(opts.members)].sort((a, b) => a - b);
  const lab = new Lab("bench-mcast");
  const checks: string[] = [];
  let bench: McastBench | undefined;
  try {
    const gen: GeneratorKind = opts.gen === "auto" ? (hasCommand("trafgen", lab) ? "trafgen" : "python") : opts.gen;
    if (gen === "trafgen" && !hasCommand("trafgen", lab)) throw new Error("trafgen not found (apt-get install netsniff-ng), or use --gen python");
    const genLabel = gen === "trafgen" ? "trafgen (netsniff-ng), 1 process, PACKET_TX_RING" : "python3 AF_PACKET send loop, 1 process";
    opts.log(`   generator: ${genLabel}`);
    bench = new McastBench(lab, members);
    // the calibration wire: generator -> veth -> a sink like the switch's
    const wa = lab.ns("wa");
    const wb = lab.ns("wb");
    lab.veth(wa, "eth0", wb, "s1", { txChecksum: false });
    bench.attachSinkDrop(wb, "s1");
    const modes: McastMode[] = opts.mdb ? ["kernel", "kernel-mdb", "vxgate"] : ["kernel", "vxgate"];
    opts.log(
      `   topology: hs - h1 [switch ${VTEP}] eth0 - s1 [sink: counts, drops at TC] (namespaces ${lab.prefix}*); ` +
        `groups ${members.map((n) => `${group(n)} -> ${n} VTEP${n > 1 ? "s" : ""}`).join(", ")}; frame ${frameFor(1).length} B`,
    );

    // functional checks, in the reverse of round 1's order so round 1 starts without a switch-over
    for (const mode of [...modes].reverse()) {
      await bench.use(mode);
      if (mode === "vxgate") {
        const ports = await bench.fabric.api<Array<{ name: string; fastPath: string }>>(bench.name, "ports");
        checks.push(`vxgate ports: ${ports.map((p) => `${p.name} ${p.fastPath}`).join(", ")}`);
      }
      for (const n of members) checks.push(await checkCopies(bench, n));
      opts.log(`   ${mode}: functional check passed for ${members.join(", ")} members`);
    }

    // one copy as the switch sent it, addressed to the calibration sink's MAC
    const copy = Buffer.concat([Buffer.from(lab.mac(wb, "s1").replace(/:/g, ""), "hex"), bench.copy!.subarray(6)]);
    const wire: WireSample[] = [];
    const samples: McastSample[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 === 1 ? modes : [...modes].reverse();
      const ns = round % 2 === 1 ? members : [...members].reverse();
      for (const mode of order) {
        await bench.use(mode);
        for (const n of ns) {
          // a generator or sampler that fails is run once more; failing again, the part fails
          // (reported by bench/run.ts; the finally below cleans up)
          const s = await measure(bench, gen, round, n, opts).catch(async (e: unknown) => {
            opts.log(`   round ${round} ${mode} N=${n}: FAILED (${String((e as Error)?.message ?? e).split("\n")[0]}); retrying once`);
            await sleep(1000);
            return measure(bench!, gen, round, n, opts);
          });
          samples.push(s);
          const f = (x: number) => Math.round(x).toLocaleString("en-US");
          opts.log(
            `   round ${round} ${mode.padEnd(10)} N=${String(n).padStart(2)}  copies ${f(s.copiesPps).padStart(10)}/s  in ${f(s.inPps).padStart(8)} pps ` +
              `(offered ${f(s.offeredPps)})  ${s.copiesPerIn.toFixed(3)} per frame${s.ok ? "" : `  FAILED: ${s.why}`}`,
          );
        }
      }
      const ws = await measureWire(lab, gen, wa, wb, copy, round, opts).catch(async (e: unknown) => {
        opts.log(`   round ${round} wire: FAILED (${String((e as Error)?.message ?? e).split("\n")[0]}); retrying once`);
        await sleep(1000);
        return measureWire(lab, gen, wa, wb, copy, round, opts);
      });
      wire.push(ws);
      const f = (x: number) => Math.round(x).toLocaleString("en-US");
      opts.log(`   round ${round} wire       ${copy.length} B copy: sink ${f(ws.sinkPps)} pps, peer down ${f(ws.downPps)} pps -> hand-off + sink receive ${ws.sinkNs.toFixed(0)} ns per copy`);
    }
    const failed = samples.filter((s) => !s.ok);
    checks.push(
      failed.length
        ? `${failed.length} of ${samples.length} measurements FAILED (copies != N x input, or drops/errors) and are left out of the figures`
        : `every measurement: sink copies = N x frames taken in (exact totals, +-${STRAY}), = what the path counted; no eth0 tx drops; no vxgate drop_/err_ counter moved`,
    );
    return {
      generator: genLabel,
      frameBytes: frameFor(1).length,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      members,
      modes,
      samples,
      paired: pairedMcast(samples),
      wire,
      checks,
    };
  } finally {
    if (bench) await bench.fabric.shutdown().catch(() => {});
    await lab.dispose();
  }
}

/** Median of the valid samples' copies/s of one mode and N. */
export function medianCopies(r: McastResult, mode: McastMode, n: number): number {
  return median(r.samples.filter((s) => s.ok && s.mode === mode && s.members === n).map((s) => s.copiesPps));
}

// Benchmark 4: local MACs into BGP EVPN. A burst of N distinct source MACs
// enters an access port; how long until a BGP peer has received a type-2
// route for every one of them?
//
//   host rh --h1 [vxgate switch] eth0 --\                      /-- eth0 [sink A] (counts NLRIs from vxgate)
//                                       >-- [spine, routed] --<
//   host fh --h0 [FRR: kernel br100 +   /                      \-- eth1 [sink B] (counts NLRIs from FRR)
//                 vxlan100, zebra + bgpd]
//
// The same burst (the same frames, from a host namespace, by an AF_PACKET
// sender) goes into vxgate's access port, then into FRR's bridge port: vxgate
// learns in XDP and advertises from its control plane; the kernel bridge
// learns, zebra hears of every MAC through rtnetlink and bgpd advertises it
// (advertise-all-vni). The receiver is bench/bgp-sink.py, a bare BGP speaker
// that only counts type-2 NLRIs (GoBGP is not used as the receiver: it
// rescans its EVPN table for every type-2 route it receives, so it would be
// the bottleneck). t0 is the moment the sender starts; the figure is the time
// until the sink counted N type-2 NLRIs, and the MACs/s that makes.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Fabric, Lab, REPO } from "../lab/fabric.ts";
import { PYTHON, runAsync } from "../test/harness/proc.ts";
import { startFrrVtep } from "../test/interop/evpn-interop.ts";
import { sleep } from "./stats.ts";

const VNI = 100;
const ASN = 65000;
const VTEP = "198.18.0.1";
const FRR_VTEP = "198.18.0.9";
const SWITCH_ADDR = "192.0.2.2"; // fabric.ts: the first switch's uplink
const FRR_ADDR = "192.0.2.6";
const SINK_A = "192.0.2.14";
const SINK_B = "192.0.2.18";

export interface LearningOptions {
  macs: number[];
  rounds: number;
  timeoutS: number;
  log: (s: string) => void;
}

export interface LearningRound {
  dut: "vxgate" | "frr";
  macs: number;
  round: number;
  /** sender start -> the sink counted every MAC (ms) */
  advertisedMs: number;
  macsPerS: number;
  complete: boolean;
  /** NLRIs counted when it ended (more than macs: re-advertisements) */
  counted: number;
  /** the sender's own time to put the burst on the wire (ms) */
  sendMs: number;
  /** why it fell short, when the device said (e.g. zebra's netlink socket overran) */
  note?: string;
}

export interface LearningResult {
  rounds: LearningRound[];
}

/** MAC k of burst b: 02:b0 + b + 24-bit index (distinct across bursts). */
function burstFrames(b: number, n: number): string {
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const src = Buffer.from([0x02, 0xb0, b & 0xff, (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff]);
    // an ARP request to nobody: broadcast, like a host coming up
    const f = Buffer.alloc(60);
    Buffer.from("ffffffffffff", "hex").copy(f, 0);
    src.copy(f, 6);
    f.writeUInt16BE(0x0806, 12);
    Buffer.from("0001080006040001", "hex").copy(f, 14);
    src.copy(f, 22);
    Buffer.from([198, 51, 100, 200]).copy(f, 28);
    Buffer.from([198, 51, 100, 250]).copy(f, 38);
    lines.push(f.toString("hex"));
  }
  return lines.join("\n") + "\n";
}

const SENDER = `
import socket, sys, time
frames = [bytes.fromhex(l) for l in sys.stdin.read().split()]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
print("t0 %d" % time.monotonic_ns(), flush=True)
for f in frames:
    while True:
        try:
            s.send(f)
            break
        except BlockingIOError:
            time.sleep(0.0001)
        except OSError as e:
            if e.errno == 105:  # ENOBUFS: the qdisc is full, let it drain
                time.sleep(0.0001)
                continue
            raise
print("t1 %d" % time.monotonic_ns(), flush=True)
`;

interface Sink {
  child: ChildProcess;
  events: { ev: string; t: string; n?: number }[];
}

function startSink(lab: Lab, ns: string, peer: string, routerId: string): Sink {
  const child = lab.spawn(ns, PYTHON, [join(REPO, "bench/bgp-sink.py"), peer, String(ASN), routerId]);
  const events: Sink["events"] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      events.push(JSON.parse(l));
    } catch {
      /* not ours */
    }
  });
  child.stderr?.resume();
  return { child, events };
}

function switchYaml(name: string, socket: string, fdb: number): string {
  return `# written by bench/local-learning.ts
switch: { name: ${name} }
vtep: { source_ip: ${VTEP} }
uplinks: [{ name: eth0 }]
ports:
  - { name: h1, vni: ${VNI} }
vnis:
  - { vni: ${VNI}, ageing: 0 }
tables: { fdb: ${fdb} }
management: { socket: ${socket} }
bgp:
  asn: ${ASN}
  router_id: ${VTEP}
  neighbors:
    - { address: ${SINK_A}, remote_asn: ${ASN}, passive: true }
`;
}

function frrConfig(): string {
  return [
    "frr defaults traditional",
    "hostname frr-dut",
    `router bgp ${ASN}`,
    ` bgp router-id ${FRR_ADDR}`,
    " no bgp default ipv4-unicast",
    ` neighbor ${SINK_B} remote-as ${ASN}`,
    ` neighbor ${SINK_B} passive`,
    " address-family l2vpn evpn",
    `  neighbor ${SINK_B} activate`,
    "  advertise-all-vni",
    " exit-address-family",
    "",
  ].join("\n");
}

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Send the burst from `ns`/`ifname`; resolves with [t0 ns, t1 ns]. */
async function sendBurst(lab: Lab, ns: string, ifname: string, frames: string): Promise<[bigint, bigint]> {
  const r = await runAsync(ns, PYTHON, ["-c", SENDER, ifname], { input: frames, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`burst sender failed: ${r.stderr}`);
  const t0 = /t0 (\d+)/.exec(r.stdout)?.[1];
  const t1 = /t1 (\d+)/.exec(r.stdout)?.[1];
  if (!t0 || !t1) throw new Error(`burst sender said: ${r.stdout}`);
  return [BigInt(t0), BigInt(t1)];
}

export async function runLocalLearning(opts: LearningOptions): Promise<LearningResult> {
  const lab = new Lab("bench-ll");
  const rounds: LearningRound[] = [];
  let fabric: Fabric | undefined;
  try {
    for (const cmd of ["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "bridge"]) {
      if (lab.run(null, "sh", ["-c", `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} not found (apt-get install frr iproute2)`);
    }
    const total = opts.macs.reduce((a, b) => a + b, 0) * opts.rounds;
    const fdb = Math.max(65536, 2 ** Math.ceil(Math.log2(total * 1.25 + 1024)));
    const name = `bench-ll-${process.pid.toString(36)}`;
    writeFileSync(join(lab.tmpdir, "sw.yaml"), switchYaml(name, join(lab.tmpdir, "sw.sock"), fdb));
    fabric = new Fabric(lab, [{ configPath: join(lab.tmpdir, "sw.yaml"), hosts: [{ name: "rh", port: "h1", mac: "02:00:00:00:0b:01", cidr: "198.51.100.1/24" }] }]);
    const spine = fabric.spine;

    // FRR: a kernel VTEP (bridge br100 learning, vxlan100) with one access port h0 <-> host fh
    const frrNs = lab.ns("frr");
    lab.veth(frrNs, "eth0", spine, "s2");
    lab.addr(frrNs, "eth0", `${FRR_ADDR}/30`);
    lab.addr(spine, "s2", "192.0.2.5/30");
    lab.addr(frrNs, "lo", `${FRR_VTEP}/32`);
    lab.route(frrNs, "default", { via: "192.0.2.5" });
    lab.route(spine, `${FRR_VTEP}/32`, { via: FRR_ADDR });
    const ip = (...a: string[]) => lab.ip(frrNs, ...a);
    ip("link", "add", "br100", "type", "bridge");
    ip("link", "add", "vxlan100", "type", "vxlan", "id", String(VNI), "local", FRR_VTEP, "dstport", "4789", "nolearning");
    ip("link", "set", "vxlan100", "master", "br100");
    const fh = lab.ns("fh");
    lab.veth(fh, "eth0", frrNs, "h0", { txChecksum: false });
    ip("link", "set", "h0", "master", "br100");
    for (const l of ["vxlan100", "br100"]) ip("link", "set", l, "up");

    // the sinks
    const sinkNs = lab.ns("sink");
    lab.veth(sinkNs, "eth0", spine, "s3");
    lab.addr(sinkNs, "eth0", `${SINK_A}/30`);
    lab.addr(spine, "s3", "192.0.2.13/30");
    lab.veth(sinkNs, "eth1", spine, "s4");
    lab.addr(sinkNs, "eth1", `${SINK_B}/30`);
    lab.addr(spine, "s4", "192.0.2.17/30");
    lab.route(sinkNs, "default", { via: "192.0.2.13" });
    lab.route(sinkNs, `${FRR_ADDR}/32`, { via: "192.0.2.17" });

    const frr = startFrrVtep(lab, frrNs, frrConfig());
    await sleep(1000);
    frr.startBgpd();
    await fabric.start(name);

    let burst = 0;
    for (const n of opts.macs) {
      for (let round = 1; round <= opts.rounds; round++) {
        for (const dut of ["vxgate", "frr"] as const) {
          // a round that errors (no session, the burst sender failing) is run once
          // more with a fresh burst; failing again, the part fails (bench/run.ts
          // reports it; the finally below cleans up)
          for (let attempt = 1; ; attempt++) {
            burst++;
            const frames = burstFrames(burst, n);
            // a fresh session per round: its count starts at zero
            const sink = dut === "vxgate" ? startSink(lab, sinkNs, SWITCH_ADDR, SINK_A) : startSink(lab, sinkNs, FRR_ADDR, SINK_B);
            try {
              await waitFor(`${dut}: BGP session with the sink`, () => sink.events.find((e) => e.ev === "established"), 60_000);
              await sleep(1500); // the initial table (type-3, earlier rounds' MACs) arrives first
              const baseline = await countNow(sink);
              sink.child.stdin!.write(`target ${baseline + n}\n`);
              const [t0, t1] = await sendBurst(lab, dut === "vxgate" ? fabric.hostNs("rh") : fh, "eth0", frames);
              const done = await waitFor(`${dut}: ${n} MACs advertised`, () => sink.events.find((e) => e.ev === "done"), opts.timeoutS * 1000).catch(() => undefined);
              const end = done ? BigInt(done.t) : process.hrtime.bigint();
              // a device that gives up short: how far it got
              const counted = done ? (done.n ?? 0) : await countNow(sink);
              const ms = Number(end - t0) / 1e6;
              const r: LearningRound = {
                dut,
                macs: n,
                round,
                advertisedMs: ms,
                macsPerS: done ? n / (ms / 1000) : NaN,
                complete: !!done,
                counted: counted - baseline,
                sendMs: Number(t1 - t0) / 1e6,
              };
              if (!done && dut === "frr") {
                const overrun = frr.log.join("").split("\n").find((l) => /overrun|No buffer space|ENOBUFS/i.test(l));
                if (overrun) r.note = `zebra: ${overrun.trim().slice(0, 160)}`;
              }
              rounds.push(r);
              opts.log(
                `   ${dut.padEnd(6)} ${n} MACs, round ${round}: ${done ? `${ms.toFixed(0)} ms, ${r.macsPerS.toFixed(0)} MACs/s` : `INCOMPLETE: ${r.counted} of ${n} advertised after ${opts.timeoutS} s`} (burst on the wire in ${r.sendMs.toFixed(0)} ms)${r.note ? ` - ${r.note}` : ""}`,
              );
              break;
            } catch (e) {
              if (attempt >= 2) throw e;
              opts.log(`   ${dut.padEnd(6)} ${n} MACs, round ${round}: FAILED (${String((e as Error)?.message ?? e).split("\n")[0]}); retrying once with a fresh burst`);
            } finally {
              sink.child.kill("SIGTERM");
            }
          }
        }
      }
    }
    return { rounds };
  } finally {
    await fabric?.shutdown().catch(() => {});
    await lab.dispose();
  }
}

/** What the sink has counted so far. */
async function countNow(sink: Sink): Promise<number> {
  const seen = sink.events.length;
  sink.child.stdin!.write("count\n");
  const c = await waitFor("the sink's count", () => sink.events.slice(seen).find((e) => e.ev === "count"), 5000);
  return c.n ?? 0;
}

// Benchmark 3: EVPN routes per second from the wire into the forwarding table.
//
//   injector --\                      /-- eth0 [vxgate switch]   FDB map vxg_fdb
//               >-- [spine, routed] --<--- eth0 [FRR: bgpd + zebra, kernel vxlan100/br100]
//                                      \-- eth0 [sink: null receiver, counts NLRIs]
//
// An injector with K BGP sessions per receiver (each session a disjoint slice
// of the MACs; the first one also the type-3 route) sends type-2 routes (VNI
// 100, one MAC each, next hop the remote VTEP 198.18.0.2) to three receivers,
// one at a time:
//
//   vxgate  the real `vxgate run` (lab/fabric.ts, one switch), BGP EVPN on;
//           counted: entries of its pinned FDB map that are remote, installed
//           by the control plane (FDB_CONTROL), behind 198.18.0.2
//   frr     zebra + bgpd (advertise-all-vni, test/interop startFrrVtep) with
//           a kernel bridge br100 and vxlan100; counted: kernel FDB entries
//           on vxlan100 with dst 198.18.0.2
//   sink    a bare BGP speaker that only counts NLRIs: how fast the injector sends
//
// Two injectors (--injector):
//
//   blaster (default)  bench/bgp-blaster.ts: one process, K real BGP sessions
//           (active side, from 10.99.i.2 in its own namespace), replaying
//           UPDATE streams encoded before the round: mode `one` = one type-2
//           NLRI per UPDATE (what GoBGP sends), `many` = up to 115 NLRIs per
//           4096-octet UPDATE under one attribute set (what FRR and most
//           reflectors send); --blast-mode one|many|both, one mode at a time.
//           One round per receiver and mode: the K sessions come up (the
//           receiver's table empty), at t0 the blaster writes its announce
//           streams (install: t0 -> the last route in the table), then its
//           MP_UNREACH_NLRI streams (withdrawal: -> the table empty), then
//           announces again (not timed) and closes the K sessions with a
//           NOTIFICATION Cease (flush: -> the table empty). Null receiver:
//           bench/bgp-null-sink.ts (node; bgp-sink.py takes the blaster's
//           `one` stream at less than half its rate).
//   gobgp   K gobgpd, each with its slice loaded before anything is timed,
//           while every session to a receiver is down, through gobgpd's API
//           (AddPathStream, the call `gobgp mrt inject` makes). One round per
//           receiver: enable the K sessions with gobgpd's global export
//           default set to reject (they come up empty), then open the gate at
//           t0 (export default accept + soft reset out, on the K gobgpd at
//           once) and watch the receiver's table until it holds every route.
//           Then the sessions are disabled (NOTIFICATION Cease) and the time
//           until the receiver's table is empty again is the flush
//           measurement. Null receiver: bench/bgp-sink.py. No withdrawal phase.
//
// Watching, to about a ms and cheaply (the watchers' CPU is reported per round):
// vxgate by BPF_MAP_LOOKUP_ELEM of the last route of each session's slice
// (the blaster sends a slice in order; gobgpd may not) every 1 ms, then one full
// count (packed BPF_MAP_LOOKUP_BATCH) that must confirm every route (or none,
// for withdrawal and flush); when it does not, full counts follow until one
// does and the end is that count's. The kernel FDB by rtnetlink
// notifications (fdb-monitor.c, built with clang at start). Each end state is
// confirmed by a full count (BPF_MAP_LOOKUP_BATCH, `bridge fdb show`) and
// /v1/fdb and the flood entries are checked once. Each round's line says how
// its end was seen (and the JSON, `endDetection`).
//
// A round that fails (a daemon falls over, a wait times out, a stream
// errors, a check fails) is torn down (sessions down, the receiver's table
// emptied, FRR restarted if it died) and run once more; failing again, it is
// recorded with `failed` set and the reason, and the remaining rounds run.
// Reports never take a figure or a ratio from a failed round.
//
// Why K gobgpd instances and the gate: GoBGP 3.10 rescans its whole EVPN
// table for every type-2 route added through the API (fixupApiPath) or
// received from a peer (handleMacMobility), so loading one gobgpd takes
// O(n^2): 20k routes ~12 s, 100k ~5 min. K slices of n/K load K times faster
// in total (and in parallel). K sessions established at different moments
// would blur the start, hence the gate, which starts all K streams within a
// few ms. The blaster needs neither: it has no RIB, and its K streams start
// in the same event-loop turn on "go".
import type { ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BpfMap } from "libbpf-ts-bindings";
import { CLI, Fabric, Lab, REPO } from "../lab/fabric.ts";
import { PYTHON, runAsync, stopChild } from "../test/harness/proc.ts";
import { startFrrVtep } from "../test/interop/evpn-interop.ts";
import type { BlastMode } from "./bgp-blaster.ts";
import { GobgpApi, evpnPath } from "./gobgp-api.ts";
import { cpuMsOf, rssOf } from "./proc.ts";
import { fmtInt, median, sleep } from "./stats.ts";

export type Receiver = "sink" | "vxgate" | "frr";
export type Injector = "gobgp" | "blaster";
export type { BlastMode } from "./bgp-blaster.ts";

export interface RoutesOptions {
  /** type-2 routes of the full phase */
  routes: number;
  /** type-2 routes of the small phase, run first (0: no small phase) */
  small: number;
  smallRounds: number;
  rounds: number;
  /** BGP sessions per receiver (gobgpd instances, or sessions of the blaster) */
  sessions: number;
  /** who sends the routes (default blaster) */
  injector?: Injector;
  /** blaster: the modes measured, one at a time (default one and many) */
  blastModes?: BlastMode[];
  /** bound on every wait for a table to fill or empty, seconds */
  timeoutS: number;
  /** write a V8 CPU profile of the vxgate process into this directory */
  cpuProf?: string;
  /** after the rounds: a control-plane restart of vxgate with the full phase's routes installed (blaster only) */
  restart?: boolean;
  log: (s: string) => void;
}

export interface RoutesRound {
  phase: "small" | "full";
  round: number;
  receiver: Receiver;
  routes: number;
  injector: Injector;
  /** blaster: one or many NLRIs per UPDATE */
  mode?: BlastMode;
  /** gate opened -> the receiver's table held every route (ms) */
  installMs: number;
  /** the poll before the one that saw every route ended this much earlier (ms) */
  resolutionMs: number;
  routesPerS: number;
  /** all routes arrived in time */
  complete: boolean;
  /** set when the round failed (twice): why; no figure of such a round is used */
  failed?: string;
  /** the first attempt failed for this reason and the round was run again */
  retried?: string;
  /** blaster: MP_UNREACH streams started -> the receiver's table empty / the sink counted every withdrawal (ms) */
  withdrawMs?: number;
  withdrawRoutesPerS?: number;
  /** sessions disabled -> the receiver's table empty (ms; not for the sink) */
  flushMs?: number;
  flushRoutesPerS?: number;
  /** sink only: gate -> first UPDATE (ms) */
  firstUpdateMs?: number;
  /** UPDATE messages the injector sent on the K sessions for the install (blaster: incl. End-of-RIB) */
  sentUpdates: number;
  /** blaster: UPDATE messages of the withdrawal */
  withdrawUpdates?: number;
  /** blaster: octets of the announce stream, and how long writing it took (first write -> last byte to the kernel, ms) */
  sentBytes?: number;
  writeMs?: number;
  /** median time one poll of the receiver's table took (ms; NaN where notifications were used) */
  pollMs: number;
  /** CPU the watcher used while the routes went in (ms): the bench's own look-ups for vxgate, fdb-monitor for FRR */
  watcherCpuMs?: number;
  /** [ms since gate, routes in the table] */
  samples: [number, number][];
  /** how the end of the install / withdrawal / flush was detected */
  endDetection?: { install: string; withdraw?: string; flush?: string };
  /** resident memory of the receiver (MiB; vxgate: the daemon, FRR: bgpd + zebra): before the
   * install, with every route installed, and the peak since the process started (VmHWM) */
  rss?: { beforeMb: number; installedMb: number; peakMb: number };
  /** CPU time of the receiver's processes (every thread) from the first write to the end seen, ms */
  receiverCpuMs?: number;
}

export interface LoadStep {
  phase: "small" | "full";
  routes: number;
  /** wall time for all K gobgpd (loaded in parallel) */
  ms: number;
  perInstanceMs: number[];
}

/**
 * A control-plane restart of vxgate with every route of the full phase
 * installed: SIGTERM (the pinned fast path keeps forwarding), `vxgate run`
 * again over the pins, and the peers back with half of the routes and
 * End-of-RIB, so the other half are stale and go at the initial sync.
 */
export interface RestartResult {
  routes: number;
  mode: BlastMode;
  /** entries in vxg_fdb after the control plane stopped / once the new one answered (both must be `routes`) */
  heldAfterStop: number;
  heldAfterStart: number;
  /** spawn -> the management API answering, adopted (ms) */
  readyMs: number;
  /** the routes the restarted daemon took from the fast path as stale ("adopted EVPN state") */
  adoptedMacs?: number;
  /** the peers' first write -> "EVPN initial sync done" in the daemon's log (ms) */
  syncMs: number;
  /** stale entries removed at the initial sync (expected: routes - kept) */
  staleRemoved: number;
  /** routes announced again (and still in vxg_fdb after the sync) */
  kept: number;
  /** daemon RSS once synced (MiB) */
  rssMb?: number;
  failed?: string;
}

export interface RoutesResult {
  /** git commit of the vxgate under test (+ "-dirty" when src/ has local changes) */
  vxgateCommit: string;
  injector: Injector;
  /** blaster modes measured ([] for gobgp) */
  modes: BlastMode[];
  sessions: number;
  routes: number;
  small: number;
  loads: LoadStep[];
  rounds: RoutesRound[];
  restart?: RestartResult;
  checks: string[];
}

const VNI = 100;
const ASN = 65000;
const VTEP = "198.18.0.1"; // the vxgate switch
const FRR_VTEP = "198.18.0.9";
const REMOTE_VTEP = "198.18.0.2"; // next hop of every route
const RD = Buffer.from([0, 1, 198, 18, 0, 2, 0, 1]); // 198.18.0.2:1
const SWITCH_ADDR = "192.0.2.2";
const FRR_ADDR = "192.0.2.6";
const SINK_ADDR = "192.0.2.14";
const gobgpAddr = (i: number) => `10.99.${i}.2`;

/** MAC of route k: 02:10 + the 32-bit index */
export function routeMac(k: number): Buffer {
  const b = Buffer.from([0x02, 0x10, 0, 0, 0, 0]);
  b.writeUInt32BE(k >>> 0, 2);
  return b;
}
const macText = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");

// ---------------------------------------------------------------------------
// the routes, as BGP wire bytes for gobgpd's API

const ORIGIN_IGP = Buffer.from([0x40, 1, 1, 0]);
const EXT_COMMUNITIES = Buffer.from([
  0xc0, 16, 16,
  0x00, 0x02, ASN >> 8, ASN & 0xff, 0, 0, 0, VNI, // route target 65000:100
  0x03, 0x0c, 0, 0, 0, 0, 0, 8, // encapsulation VXLAN
]);

function mpReach(nlri: Buffer): Buffer {
  const v = Buffer.concat([Buffer.from([0, 25, 70, 4]), Buffer.from(REMOTE_VTEP.split(".").map(Number)), Buffer.from([0]), nlri]);
  const h = Buffer.from([0x90, 14, 0, 0]);
  h.writeUInt16BE(v.length, 2);
  return Buffer.concat([h, v]);
}

/** type 2: RD, ESI 0, Ethernet Tag 0, MAC, no IP, label1 = the VNI (RFC 8365: the whole 24-bit field) */
function macAdvPath(k: number): Buffer {
  const nlri = Buffer.concat([Buffer.from([2, 33]), RD, Buffer.alloc(14), Buffer.from([48]), routeMac(k), Buffer.from([0, 0, 0, VNI])]);
  return evpnPath(nlri, [ORIGIN_IGP, EXT_COMMUNITIES, mpReach(nlri)]);
}

/** type 3 of the remote VTEP, PMSI ingress replication with label = VNI */
function imetPath(): Buffer {
  const ip = Buffer.from(REMOTE_VTEP.split(".").map(Number));
  const nlri = Buffer.concat([Buffer.from([3, 17]), RD, Buffer.alloc(4), Buffer.from([32]), ip]);
  const pmsi = Buffer.concat([Buffer.from([0xc0, 22, 9, 0, 6, 0, 0, VNI]), ip]);
  return evpnPath(nlri, [ORIGIN_IGP, EXT_COMMUNITIES, pmsi, mpReach(nlri)]);
}

// ---------------------------------------------------------------------------
// configs

function switchYaml(name: string, socket: string, sessions: number, fdbSize: number): string {
  const neighbors = Array.from({ length: sessions }, (_, i) => `    - { address: ${gobgpAddr(i + 1)}, remote_asn: ${ASN} }`).join("\n");
  return `# written by bench/evpn-routes.ts
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
tables:
  fdb: ${fdbSize}
management:
  socket: ${socket}
bgp:
  asn: ${ASN}
  router_id: ${VTEP}
  neighbors:
${neighbors}
`;
}

function frrConfig(sessions: number): string {
  const peers = Array.from({ length: sessions }, (_, i) => gobgpAddr(i + 1));
  return [
    "frr defaults traditional",
    "hostname frr-dut",
    `router bgp ${ASN}`,
    ` bgp router-id ${FRR_ADDR}`,
    " no bgp default ipv4-unicast",
    ...peers.flatMap((p) => [` neighbor ${p} remote-as ${ASN}`, ` neighbor ${p} timers connect 1`]),
    " address-family l2vpn evpn",
    ...peers.map((p) => `  neighbor ${p} activate`),
    "  advertise-all-vni",
    " exit-address-family",
    "",
  ].join("\n");
}

function gobgpConfig(i: number): string {
  const neighbor = (addr: string, passive: boolean) => [
    `[[neighbors]]`,
    `  [neighbors.config]`,
    `    neighbor-address = "${addr}"`,
    `    peer-as = ${ASN}`,
    `    admin-down = true`,
    `  [neighbors.timers.config]`,
    `    connect-retry = 1`,
    `    hold-time = 90`,
    `    keepalive-interval = 30`,
    ...(passive ? [`  [neighbors.transport.config]`, `    passive-mode = true`] : []),
    `  [[neighbors.afi-safis]]`,
    `    [neighbors.afi-safis.config]`,
    `      afi-safi-name = "l2vpn-evpn"`,
    ``,
  ];
  return [
    `# written by bench/evpn-routes.ts`,
    `[global.config]`,
    `  as = ${ASN}`,
    `  router-id = "${gobgpAddr(i)}"`,
    // sessions come up empty; the bench opens the gate with export default accept + soft reset out
    `[global.apply-policy.config]`,
    `  default-export-policy = "reject-route"`,
    ``,
    ...neighbor(SWITCH_ADDR, false),
    ...neighbor(FRR_ADDR, false),
    ...neighbor(SINK_ADDR, true),
  ].join("\n");
}

// ---------------------------------------------------------------------------

interface SinkProc {
  child: ChildProcess;
  events: { ev: string; t: string; n?: number }[];
}

function startSink(lab: Lab, ns: string, peer: string): SinkProc {
  const child = lab.spawn(ns, PYTHON, [join(REPO, "bench/bgp-sink.py"), peer, String(ASN), SINK_ADDR]);
  const events: SinkProc["events"] = [];
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

interface NullSink {
  child: ChildProcess;
  events: { ev: string; t: string; kind?: string; n?: number }[];
  err: string[];
}

/** bench/bgp-null-sink.ts in ns, listening on SINK_ADDR:179 (the blaster connects to it) */
async function startNullSink(lab: Lab, ns: string): Promise<NullSink> {
  const child = lab.spawn(ns, process.execPath, ["--import", "tsx", join(REPO, "bench/bgp-null-sink.ts"), SINK_ADDR, String(ASN)]);
  const sink: NullSink = { child, events: [], err: [] };
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      sink.events.push(JSON.parse(l));
    } catch {
      /* not ours */
    }
  });
  child.stderr?.on("data", (d) => sink.err.push(String(d)));
  const deadline = Date.now() + 30_000;
  while (!sink.events.some((e) => e.ev === "listening")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`null receiver did not start: ${sink.err.join("").slice(-1000)}`);
    await sleep(20);
  }
  return sink;
}

const nowNs = () => process.hrtime.bigint();
const msSince = (t0: bigint, t: bigint = nowNs()) => Number(t - t0) / 1e6;

interface PollResult {
  doneNs?: bigint;
  prevNs: bigint;
  last: number;
  samples: [number, number][];
  costs: number[];
  /** how the end was detected (vxgate) */
  method?: string;
  /** sentinels seen -> the full count that confirmed the end state ended (ms) */
  confirmMs?: number;
  /** the watcher's own CPU (this process) from the start until the end was confirmed (ms; the checks after it excluded) */
  cpuMs?: number;
}

/**
 * Count until `done(count)`, leaving the receiver the CPU between polls: the
 * next poll starts max(minGapMs, 3 x the last poll's cost) after the last one
 * ended, so a poller takes at most a quarter of a core (the vxgate look-ups
 * take far less, see the watcher CPU in each round's line).
 */
async function pollUntil(count: () => Promise<number>, done: (n: number) => boolean, t0: bigint, timeoutMs: number, minGapMs: number): Promise<PollResult> {
  const r: PollResult = { prevNs: t0, last: -1, samples: [], costs: [] };
  for (;;) {
    const a = nowNs();
    const n = await count();
    const b = nowNs();
    r.costs.push(Number(b - a) / 1e6);
    r.samples.push([msSince(t0, b), n]);
    r.last = n;
    if (done(n)) {
      r.doneNs = b;
      return r;
    }
    r.prevNs = b;
    if (msSince(t0, b) > timeoutMs) return r;
    await sleep(Math.max(minGapMs, 3 * (r.costs.at(-1) ?? 0)));
  }
}

export async function runEvpnRoutes(opts: RoutesOptions): Promise<RoutesResult> {
  const K = opts.sessions;
  if (opts.routes % K !== 0 || opts.small % K !== 0) throw new Error(`--routes and --small must be multiples of --sessions (${K})`);
  if (opts.small > opts.routes) throw new Error(`--small (${opts.small}) must not exceed --routes (${opts.routes})`);
  const injector: Injector = opts.injector ?? "blaster";
  const useGobgp = injector === "gobgp";
  const modes: BlastMode[] = useGobgp ? [] : (opts.blastModes ?? ["one", "many"]);
  if (!useGobgp && modes.length === 0) throw new Error("no blaster mode to measure");
  const lab = new Lab("bench-rt");
  const checks: string[] = [];
  const apis: GobgpApi[] = [];
  let fabric: Fabric | undefined;
  let profiled: ChildProcess | undefined;
  let fdbMap: BpfMap | undefined;
  const gobgpChildren: ChildProcess[] = [];
  try {
    for (const cmd of [...(useGobgp ? ["gobgpd"] : []), "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh", "bridge", "clang"]) {
      if (lab.run(null, "sh", ["-c", `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} not found (gobgpd: apt-get install gobgpd; FRR: apt-get install frr)`);
    }
    const tag = process.pid.toString(36);
    const name = `bench-rt-${tag}`;
    const dir = lab.tmpdir;
    const fdbSize = Math.max(65536, 2 ** Math.ceil(Math.log2(opts.routes * 1.25 + 1024)));
    writeFileSync(join(dir, "sw.yaml"), switchYaml(name, join(dir, "sw.sock"), K, fdbSize));
    fabric = new Fabric(lab, [{ configPath: join(dir, "sw.yaml"), hosts: [{ name: "rh", port: "h1", mac: "02:00:00:00:0a:01", cidr: "198.51.100.1/24" }] }]);
    lab.defer(() => {
      rmSync(join("/sys/fs/bpf/vxgate", name), { recursive: true, force: true });
      rmSync(join("/run/vxgate", name), { recursive: true, force: true });
    });
    const spine = fabric.spine;

    // FRR's namespace: a VTEP like test/interop's (bridge br100, vxlan100 nolearning, one port)
    const frrNs = lab.ns("frr");
    lab.veth(frrNs, "eth0", spine, "s2");
    lab.addr(frrNs, "eth0", `${FRR_ADDR}/30`);
    lab.addr(spine, "s2", "192.0.2.5/30");
    lab.addr(frrNs, "lo", `${FRR_VTEP}/32`);
    lab.route(frrNs, "default", { via: "192.0.2.5" });
    // zebra resolves next hops (and bgpd its iBGP peers) without the default route
    lab.route(frrNs, "198.18.0.0/24", { via: "192.0.2.5" });
    lab.route(frrNs, "10.99.0.0/16", { via: "192.0.2.5" });
    lab.route(spine, `${FRR_VTEP}/32`, { via: FRR_ADDR });
    const ip = (...a: string[]) => lab.ip(frrNs, ...a);
    ip("link", "add", "br100", "type", "bridge");
    ip("link", "add", "vxlan100", "type", "vxlan", "id", String(VNI), "local", FRR_VTEP, "dstport", "4789", "nolearning");
    ip("link", "set", "vxlan100", "master", "br100");
    ip("link", "add", "h0", "type", "veth", "peer", "name", "h1");
    ip("link", "set", "h0", "master", "br100");
    for (const l of ["h1", "h0", "vxlan100", "br100"]) ip("link", "set", l, "up");

    // the sink's namespace
    const sinkNs = lab.ns("sink");
    lab.veth(sinkNs, "eth0", spine, "s3");
    lab.addr(sinkNs, "eth0", `${SINK_ADDR}/30`);
    lab.addr(spine, "s3", "192.0.2.13/30");
    lab.route(sinkNs, "default", { via: "192.0.2.13" });

    // the blaster's namespace: one link to the spine, the K session addresses 10.99.i.2 on it
    const blastNs = useGobgp ? undefined : lab.ns("blast");
    if (blastNs) {
      lab.veth(blastNs, "eth0", spine, "bl");
      lab.addr(blastNs, "eth0", "10.98.0.2/30");
      lab.addr(spine, "bl", "10.98.0.1/30");
      for (let i = 1; i <= K; i++) lab.addr(blastNs, "eth0", `${gobgpAddr(i)}/32`);
      lab.route(blastNs, "default", { via: "10.98.0.1" });
      lab.route(spine, "10.99.0.0/16", { via: "10.98.0.2" });
    }

    // gobgpd x K, each in its own namespace, API on a unix socket in our tmpdir
    const gobgpLogs: string[][] = [];
    for (let i = 1; useGobgp && i <= K; i++) {
      const ns = lab.ns(`g${i}`);
      lab.veth(ns, "eth0", spine, `g${i}`);
      lab.addr(ns, "eth0", `${gobgpAddr(i)}/30`);
      lab.addr(spine, `g${i}`, `10.99.${i}.1/30`);
      lab.route(ns, "default", { via: `10.99.${i}.1` });
      const conf = join(dir, `gobgpd-${i}.toml`);
      writeFileSync(conf, gobgpConfig(i));
      const sock = join(dir, `gobgpd-${i}.sock`);
      const child = lab.spawn(ns, "gobgpd", ["-f", conf, "--api-hosts", `unix://${sock}`, "--log-level", "error", "--pprof-disable"]);
      const log: string[] = [];
      const keep = (d: Buffer) => {
        log.push(String(d));
        if (log.length > 200) log.shift();
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      gobgpLogs.push(log);
      gobgpChildren.push(child);
      apis.push(new GobgpApi(sock));
    }

    // FRR: zebra first (it must know the VNI before bgpd asks), then bgpd
    let frr = startFrrVtep(lab, frrNs, frrConfig(K));
    await sleep(1000);
    frr.startBgpd();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const pidOf = (daemon: string) => {
      try {
        return Number(readFileSync(join(frr.dir, `${daemon}.pid`), "utf8").trim()) || 0;
      } catch {
        return 0;
      }
    };
    /** zebra and bgpd both running (by their pid files: these are the processes this bench started) */
    const frrAlive = () => ["zebra", "bgpd"].every((d) => pidOf(d) > 0 && alive(pidOf(d)));

    // vxgate. With --cpu-prof: node refuses --cpu-prof in NODE_OPTIONS, so the
    // profiled process is started here; and the profiler's SIGPROF ticks make
    // the BPF verifier give up (signal pending -> EAGAIN), so a first,
    // unprofiled run loads and pins the fast path, stops (the pins stay), and
    // the profiled one adopts them (as after a control-plane restart). The
    // profile is written when it exits.
    await fabric.start(name);
    if (opts.cpuProf) {
      mkdirSync(opts.cpuProf, { recursive: true });
      await fabric.kill(name);
      const logFile = join(dir, "vxgate-profiled.log");
      profiled = lab.spawn(null, "nsenter", [
        `--net=${lab.netnsPath(fabric.switchNs(name))}`,
        process.execPath,
        "--cpu-prof",
        `--cpu-prof-dir=${opts.cpuProf}`,
        "--import",
        "tsx",
        CLI,
        "run",
        "--config",
        join(dir, "sw.yaml"),
      ]);
      const out = createWriteStream(logFile);
      profiled.stdout?.pipe(out);
      profiled.stderr?.pipe(out);
      for (let i = 0; ; i++) {
        try {
          await fabric.api(name, "status");
          break;
        } catch {
          if (i > 150 || profiled.exitCode !== null) throw new Error(`vxgate (profiled) did not come up; log in ${logFile}`);
          await sleep(200);
        }
      }
    }
    const pin = join("/sys/fs/bpf/vxgate", name, "maps", "vxg_fdb");
    fdbMap = BpfMap.openPinned(pin);
    // null receivers: K bgp-sink.py connecting to the K gobgpd; or one bgp-null-sink.ts the blaster connects to
    const sinks = useGobgp ? Array.from({ length: K }, (_, i) => startSink(lab, sinkNs, gobgpAddr(i + 1))) : [];
    let nullSink = useGobgp ? undefined : await startNullSink(lab, sinkNs);

    // every gobgpd answering
    for (const [i, a] of apis.entries()) {
      for (let tries = 0; ; tries++) {
        try {
          await a.globalDestinations();
          break;
        } catch (e) {
          if (tries > 100) throw new Error(`gobgpd ${i + 1} API not up: ${String(e)}\n${gobgpLogs[i]!.join("")}`);
          await sleep(100);
        }
      }
    }
    const head = lab.run(null, "git", ["-C", REPO, "rev-parse", "--short", "HEAD"]).stdout.trim() || "unknown";
    const dirty = lab.run(null, "git", ["-C", REPO, "status", "--porcelain", "--", "src", "native/lib"]).stdout.trim() !== "";
    const vxgateCommit = head + (dirty ? "-dirty" : "");
    opts.log(`   vxgate under test: commit ${vxgateCommit} (src/, control plane)`);
    opts.log(
      `   topology: ${useGobgp ? `${K} gobgpd` : `blaster (${K} sessions, modes ${modes.join(", ")})`}, vxgate switch ${name}, FRR (zebra + bgpd) VTEP, sink; namespaces ${lab.prefix}*; vxg_fdb max_entries ${fdbMap.maxEntries}`,
    );

    // --- watching what each receiver installed ------------------------------
    // Both watchers give the moment the last route landed to within a few ms:
    // vxgate: look up (BPF_MAP_LOOKUP_ELEM) only the last key of each
    // session's slice every 1 ms, then confirm with a full count (see
    // sentinelUntil); FRR: kernel notifications (fdb-monitor). Each result is
    // confirmed by a full count afterwards.
    //
    // vxg_fdb layout (src/codegen/tables.ts): key {vni u32 LE, mac[6], pad 2};
    // value kind u8 @0, flags u8 @1, vlan u16 @2, ifindex u32 @4, remote ipv4
    // (network order) @8
    const map = fdbMap;
    if (map.keySize !== 12 || map.valueSize < 12) throw new Error(`vxg_fdb layout changed (key ${map.keySize} B, value ${map.valueSize} B): update bench/evpn-routes.ts`);
    const REMOTE_U32 = Buffer.from(REMOTE_VTEP.split(".").map(Number)).readUInt32BE(0);
    const ours = (v: Buffer | null) => v !== null && v[0] === 2 && (v[1]! & 4) !== 0 && v.readUInt32BE(8) === REMOTE_U32;
    const fdbKey = (k: number) => {
      const b = Buffer.alloc(12);
      b.writeUInt32LE(VNI, 0);
      routeMac(k).copy(b, 4);
      return b;
    };
    const roundKeys = (routes: number) => {
      const keys: Buffer[] = [];
      for (let i = 0; i < K; i++) for (let k = i * (opts.routes / K); k < i * (opts.routes / K) + routes / K; k++) keys.push(fdbKey(k));
      return keys;
    };
    const countVxgateAll = () => {
      let n = 0;
      for (const [, v] of map.lookupBatch({ count: 4096 })) if (ours(v)) n++;
      return n;
    };
    /** distinct MACs on vxlan100 with dst REMOTE_VTEP (a dump racing with changes can repeat entries) */
    const countFrrAll = async (): Promise<number> => {
      const r = await runAsync(
        frrNs,
        "sh",
        ["-c", `bridge fdb show dev vxlan100 | awk '$1 != "00:00:00:00:00:00" && / dst ${REMOTE_VTEP} / { m[$1] = 1 } END { n = 0; for (k in m) n++; print n }'`],
        // a dump of 1M entries takes the kernel a while: as long as any other wait
        { timeoutMs: Math.max(60, opts.timeoutS) * 1000 },
      );
      const n = Number(r.stdout.trim());
      if (r.status !== 0 || !Number.isInteger(n) || r.stdout.trim() === "")
        throw new Error(`counting FRR's kernel FDB failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim() || "no output"}`);
      return n;
    };
    const monBin = join(dir, "fdb-monitor");
    lab.exec(null, "clang", ["-O2", "-Wall", "-o", monBin, join(REPO, "bench/fdb-monitor.c")], { timeoutMs: 60_000 });
    const mon = lab.spawn(frrNs, monBin, ["vxlan100", REMOTE_VTEP]);
    const monEvents: { ev: string; t: string; n?: number; cmd?: string }[] = [];
    createInterface({ input: mon.stdout! }).on("line", (l) => {
      try {
        monEvents.push(JSON.parse(l));
      } catch {
        /* not ours */
      }
    });
    const monErr: string[] = [];
    /** CPU time of fdb-monitor, ms (`ip netns exec` execs it: same pid) */
    const monCpuMs = () => {
      const ms = cpuMsOf(mon.pid!);
      if (ms === undefined) throw new Error(`fdb-monitor (pid ${mon.pid}) is gone`);
      return ms;
    };
    mon.stderr?.on("data", (d) => monErr.push(String(d)));
    let lastAliveCheck = 0;
    const monWait = async (pred: (e: (typeof monEvents)[number]) => boolean, from: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = monEvents.slice(from).find(pred);
        if (e) return e;
        if (mon.exitCode !== null) throw new Error(`fdb-monitor exited: ${monErr.join("")}`);
        if (Date.now() > deadline) return undefined;
        // a dead zebra or bgpd installs nothing more: fail now rather than at the time bound
        if (Date.now() - lastAliveCheck > 250) {
          lastAliveCheck = Date.now();
          if (!frrAlive()) {
            const diag = await frrDiag();
            opts.log(diag.split("\n").slice(-12).map((l) => `      | ${l}`).join("\n"));
            throw new Error(`frr: zebra or bgpd died (${["zebra", "bgpd"].map((d) => `${d} ${pidOf(d) > 0 && alive(pidOf(d)) ? "running" : "gone"}`).join(", ")})${diag}`);
          }
        }
        await sleep(5);
      }
    };
    if (!(await monWait((e) => e.ev === "ready", 0, 10_000))) throw new Error(`fdb-monitor did not start: ${monErr.join("")}`);
    const monCmd = async (cmd: string) => {
      const from = monEvents.length;
      mon.stdin!.write(cmd + "\n");
      if (!(await monWait((e) => e.ev === "ack" && e.cmd === cmd.split(" ")[0], from, 5000))) throw new Error(`fdb-monitor: no ack for ${cmd}`);
      return from;
    };

    interface Watch {
      /** before the gate: the table is empty; arm the watcher */
      arm(routes: number): Promise<void>;
      /** after the gate: until every route is in the table */
      installed(t0: bigint): Promise<PollResult>;
      /** after the sessions went down: until the table is empty */
      flushed(tf: bigint): Promise<PollResult>;
    }
    const event = (e: { t: string } | undefined, t0: bigint, n: number, samples: [number, number][]): PollResult => {
      const doneNs = e ? BigInt(e.t) : undefined;
      return { doneNs, prevNs: doneNs ?? t0, last: n, samples, costs: [] };
    };
    let vxKeys: Buffer[] = [];
    /** the last key of every session's slice (the blaster sends each slice in order) */
    let vxSentinels: Buffer[] = [];
    /** vxgate: our entries in vxg_fdb, one packed BPF_MAP_LOOKUP_BATCH dump, no allocation per entry */
    const countVxgatePacked = () => {
      const { count, values } = map.lookupBatchPacked({ count: 4096 });
      const vs = map.valueSize;
      let n = 0;
      for (let i = 0, o = 0; i < count; i++, o += vs) if (values[o] === 2 && (values[o + 1]! & 4) !== 0 && values.readUInt32BE(o + 8) === REMOTE_U32) n++;
      return n;
    };
    /**
     * vxgate end detection: every 1 ms look up only the K sentinel keys (the
     * last route of each session's slice); once all K are in the wanted state,
     * count the whole table once (packed batch dump). If that count confirms
     * the end state, the end is the sentinel poll that saw the last sentinel
     * (the confirmation, a few ms later, proves every route was there by
     * then; its delay is reported as confirmMs). If it does not (routes out
     * of order, e.g. a flush that removes the slice's last route early), full
     * counts follow, max(1 ms, 2 x cost) apart, and the end is the end of the
     * first count that sees the end state: the time reported is never before
     * the watcher saw the last route.
     */
    const sentinelUntil = async (wantIn: boolean, done: (n: number) => boolean, t0: bigint): Promise<PollResult> => {
      const r: PollResult = { prevNs: t0, last: -1, samples: [], costs: [] };
      let prev = t0;
      const cpu0 = process.cpuUsage();
      const cpu = () => {
        const d = process.cpuUsage(cpu0);
        r.cpuMs = (d.user + d.system) / 1000;
      };
      for (;;) {
        const a = nowNs();
        let ok = 0;
        for (const k of vxSentinels) if ((wantIn ? ours(map.lookup(k)) : map.lookup(k) === null)) ok++;
        const b = nowNs();
        r.costs.push(Number(b - a) / 1e6);
        if (ok === vxSentinels.length) {
          // confirm with one full count
          const n = countVxgatePacked();
          const c = nowNs();
          r.samples.push([msSince(t0, c), n]);
          r.last = n;
          r.confirmMs = msSince(b, c);
          if (done(n)) {
            r.doneNs = b;
            r.prevNs = prev;
            r.method = `1 ms polls of the ${vxSentinels.length} sessions' last routes, confirmed by a full count ${r.confirmMs.toFixed(1)} ms later`;
            cpu();
            return r;
          }
          // not yet: count until it is
          let before = c;
          for (;;) {
            if (msSince(t0, before) > timeoutMs) return r;
            await sleep(Math.max(1, 2 * msSince(b, c)));
            const d = nowNs();
            const m = countVxgatePacked();
            const e = nowNs();
            r.costs.push(Number(e - d) / 1e6);
            r.samples.push([msSince(t0, e), m]);
            r.last = m;
            if (done(m)) {
              r.doneNs = e;
              r.prevNs = before;
              r.confirmMs = 0;
              r.method = `the sessions' last routes were seen before the rest: full counts (${Number(e - d) / 1e6 < 1 ? "<1" : (Number(e - d) / 1e6).toFixed(1)} ms each) until one saw the end`;
              cpu();
              return r;
            }
            before = e;
          }
        }
        prev = b;
        if (msSince(t0, b) > timeoutMs) {
          r.last = countVxgatePacked();
          return r;
        }
        await sleep(1);
      }
    };
    const vxgateWatch: Watch = {
      async arm(routes) {
        const left = countVxgateAll();
        if (left !== 0) throw new Error(`vxgate: ${left} routes still installed before the round`);
        vxKeys = roundKeys(routes);
        const per = routes / K;
        vxSentinels = Array.from({ length: K }, (_, i) => vxKeys[(i + 1) * per - 1]!);
      },
      async installed(t0) {
        const r = await sentinelUntil(true, (n) => n === vxKeys.length, t0);
        if (r.doneNs !== undefined && countVxgateAll() !== vxKeys.length) throw new Error(`vxgate: vxg_fdb holds ${countVxgateAll()} of our entries, expected ${vxKeys.length}`);
        return r;
      },
      async flushed(tf) {
        const r = await sentinelUntil(false, (n) => n === 0, tf);
        if (r.doneNs !== undefined && countVxgateAll() !== 0) throw new Error(`vxgate: entries left in vxg_fdb after the flush`);
        return r;
      },
    };
    let frrFrom = 0;
    let frrRoutes = 0;
    const frrWatch: Watch = {
      async arm(routes) {
        const left = await countFrrAll();
        if (left !== 0) throw new Error(`frr: ${left} routes still in the kernel FDB before the round`);
        await monCmd("reset");
        frrFrom = await monCmd(`target ${routes}`);
        frrRoutes = routes;
      },
      async installed(t0) {
        const e = await monWait((x) => x.ev === "reached" || x.ev === "overflow", frrFrom, timeoutMs);
        const samples = monEvents.slice(frrFrom).filter((x) => x.ev === "n").map((x): [number, number] => [msSince(t0, BigInt(x.t)), x.n!]);
        let r: PollResult;
        if (e?.ev === "reached") r = event(e, t0, e.n!, samples);
        else {
          // notifications were lost (or none came): fall back to dumps, and say so
          opts.log(`   frr: ${e ? "kernel notifications overflowed" : "no completion event"}; timing this round by dumps${e ? "" : await frrDiag()}`);
          r = await pollUntil(countFrrAll, (n) => n >= frrRoutes, t0, timeoutMs, 50);
        }
        const n = await countFrrAll();
        if (r.doneNs !== undefined && n !== frrRoutes) throw new Error(`frr: ${n} distinct MACs in the kernel FDB, expected ${frrRoutes}`);
        return r;
      },
      async flushed(tf) {
        const from = await monCmd("empty");
        const e = await monWait((x) => x.ev === "emptied" || x.ev === "overflow", from, timeoutMs);
        let r: PollResult;
        if (e?.ev === "emptied") r = event(e, tf, 0, []);
        else r = await pollUntil(countFrrAll, (n) => n === 0, tf, timeoutMs, 50);
        if (r.doneNs !== undefined && (await countFrrAll()) !== 0) throw new Error(`frr: entries left in the kernel FDB after the flush`);
        return r;
      },
    };
    /** what FRR was doing, for error messages */
    const frrDiag = async () => {
      const alive = lab.run(frrNs, "sh", ["-c", "pgrep -a -x zebra; pgrep -a -x bgpd"]).stdout.trim();
      const sum = await frr.vtysh("show bgp l2vpn evpn summary").catch((e: Error) => `vtysh: ${e.message}`);
      // zebra's and bgpd's own lines, without bgpd's reconnect chatter
      const log = frr.log
        .join("")
        .split("\n")
        .filter((l) => !/bgp_read_packet error|Connection refused|connect to .* failed/.test(l))
        .slice(-40)
        .join("\n");
      writeFileSync(join(dir, "frr.log"), frr.log.join(""));
      return `\nFRR processes: ${alive || "none"}\n${sum}\nFRR log (last lines; all of it in ${join(dir, "frr.log")}, kept with VXGATE_KEEP_TMP=1):\n${log}`;
    };
    const receivers: Record<Exclude<Receiver, "sink">, { addr: string; watch: Watch }> = {
      vxgate: { addr: SWITCH_ADDR, watch: vxgateWatch },
      frr: { addr: FRR_ADDR, watch: frrWatch },
    };
    const addrOf = (r: Receiver) => (r === "sink" ? SINK_ADDR : receivers[r].addr);
    /** the receiver's processes: the daemon's pid from its own status; bgpd and zebra */
    const pidsOf = async (r: Receiver): Promise<number[]> =>
      r === "vxgate" ? [(await fabric!.api<{ pid: number }>(name, "status")).pid] : r === "frr" ? ["bgpd", "zebra"].map(pidOf) : [];
    /** resident memory of the receiver's processes, MiB */
    const rssNow = async (r: Receiver): Promise<{ now: number; peak: number } | undefined> => {
      const each = (await pidsOf(r)).map((p) => (p > 0 ? rssOf(p) : undefined));
      if (each.length === 0 || each.some((x) => x === undefined)) return undefined;
      return { now: each.reduce((a, x) => a + x!.now, 0), peak: each.reduce((a, x) => a + x!.peak, 0) };
    };

    // --- loading gobgpd ----------------------------------------------------
    const loads: LoadStep[] = [];
    let loaded = 0; // routes per instance so far
    const load = async (phase: "small" | "full", total: number) => {
      const per = total / K;
      const withImet = loaded === 0;
      const t0 = nowNs();
      const perInstanceMs = await Promise.all(
        apis.map(async (a, i) => {
          const t = nowNs();
          const paths: Buffer[] = [];
          if (withImet && i === 0) paths.push(imetPath());
          for (let k = i * (opts.routes / K) + loaded; k < i * (opts.routes / K) + per; k++) paths.push(macAdvPath(k));
          await a.addPaths(paths);
          return msSince(t);
        }),
      );
      const ms = msSince(t0);
      loaded = per;
      const held = await Promise.all(apis.map((a) => a.globalDestinations()));
      const want = held.map((_, i) => per + (i === 0 ? 1 : 0));
      if (held.some((h, i) => h !== want[i])) throw new Error(`gobgpd RIBs hold ${held.join(",")} destinations, expected ${want.join(",")}`);
      loads.push({ phase, routes: total, ms, perInstanceMs });
      opts.log(`   gobgpd loaded: ${total} type-2 routes (${per} per instance${withImet ? ", + 1 type-3" : ""}) in ${(ms / 1000).toFixed(1)} s (not timed against anyone)`);
    };

    // --- one measurement ---------------------------------------------------
    const rounds: RoutesRound[] = [];
    const timeoutMs = opts.timeoutS * 1000;
    let checkedFlood = false;
    let checkedFrrFlood = false;
    /** functional checks, once per receiver: every route where it belongs, the type-3 route programmed flooding */
    const checkOnce = async (receiver: Receiver, routes: number, poll: PollResult) => {
      const per = routes / K;
      if (receiver === "vxgate" && !checkedFlood && poll.doneNs) {
        const flood = await fabric!.api<{ vni: number; type: string; target: string }[]>(name, "flood");
        if (!flood.some((f) => f.vni === VNI && f.type === "remote" && f.target === REMOTE_VTEP)) throw new Error(`vxgate: no flood entry for ${REMOTE_VTEP} from the type-3 route`);
        const fdb = await fabric!.api<{ vni: number; mac: string; source: string; remote?: string }[]>(name, "fdb");
        const evpnRows = fdb.filter((r) => r.source === "evpn" && r.remote === REMOTE_VTEP && r.vni === VNI);
        const probe = macText(routeMac((K - 1) * (opts.routes / K) + per - 1));
        if (evpnRows.length !== routes || !evpnRows.some((r) => r.mac === probe)) {
          throw new Error(`vxgate: /v1/fdb shows ${evpnRows.length} EVPN rows behind ${REMOTE_VTEP} (expected ${routes}, including ${probe})`);
        }
        checks.push(`vxgate: ${routes} entries in vxg_fdb remote ${REMOTE_VTEP} with FDB_CONTROL, and /v1/fdb agrees (${evpnRows.length} evpn rows, incl. the last route's ${probe}); the type-3 route -> flood entry ${REMOTE_VTEP} in VNI ${VNI}`);
        checkedFlood = true;
      }
      if (receiver === "frr" && !checkedFrrFlood && poll.doneNs) {
        // a million kernel entries take far longer to dump than the default bound
        const out = await lab.execAsync(frrNs, "bridge", ["fdb", "show", "dev", "vxlan100"], { timeoutMs: Math.max(60, opts.timeoutS) * 1000 });
        const lines = out.split("\n");
        const her = lines.find((l) => l.startsWith("00:00:00:00:00:00") && l.includes(`dst ${REMOTE_VTEP}`));
        if (!her) throw new Error(`frr: no head-end replication entry for ${REMOTE_VTEP} from the type-3 route`);
        const sample = lines.find((l) => l.includes(`dst ${REMOTE_VTEP} `) && !l.startsWith("00:00:00:00:00:00")) ?? "";
        checks.push(`frr: ${routes} kernel FDB entries on vxlan100 with dst ${REMOTE_VTEP} (e.g. "${sample.trim()}"); type-3 -> "${her.trim()}"`);
        checkedFrrFlood = true;
      }
    };

    const measureGobgp = async (phase: "small" | "full", round: number, receiver: Receiver, routes: number): Promise<RoutesRound> => {
      const addr = addrOf(receiver);
      const per = routes / K;
      await Promise.all(apis.map((a) => a.enablePeer(addr)));
      const upStart = Date.now();
      let cleared = upStart;
      for (;;) {
        const st = await Promise.all(apis.map((a) => a.peer(addr)));
        if (st.every((s) => s.state === "ESTABLISHED")) break;
        if (Date.now() - upStart > 60_000) throw new Error(`${receiver}: sessions not established after 60 s: ${st.map((s) => s.state).join(",")}`);
        // bgpd backs off (idle hold time doubling up to 120 s) after each
        // session that ended with a NOTIFICATION, and refuses connections
        // meanwhile: restart its peers rather than wait
        if (receiver === "frr" && Date.now() - cleared > 3000) {
          await frr.vtysh("clear bgp *");
          cleared = Date.now();
        }
        await sleep(50);
      }
      await sleep(500); // the receiver's own routes (type-3) and End-of-RIB go by
      if (receiver !== "sink") await receivers[receiver].watch.arm(routes);
      const before = await Promise.all(apis.map((a) => a.peer(addr)));
      if (receiver === "sink") for (const s of sinks) s.child.stdin!.write(`target ${per}\n`);
      const sinkMark = sinks.map((s) => s.events.length);

      // the gate: all K streams start now
      const t0 = nowNs();
      await Promise.all(
        apis.map(async (a) => {
          await a.setExportDefault("accept");
          await a.softResetOut(addr);
        }),
      );

      let poll: PollResult;
      let firstUpdateMs: number | undefined;
      let watcherCpuMs: number | undefined;
      if (receiver === "sink") {
        const deadline = Date.now() + timeoutMs;
        const doneOf = (s: SinkProc, i: number) => s.events.slice(sinkMark[i]).find((e) => e.ev === "done");
        while (!sinks.every((s, i) => doneOf(s, i)) && Date.now() < deadline) await sleep(20);
        const dones = sinks.map((s, i) => doneOf(s, i));
        const firsts = sinks.map((s, i) => s.events.slice(sinkMark[i]).find((e) => e.ev === "first-update"));
        const complete = dones.every((d) => d);
        const doneNs = complete ? dones.reduce((m, d) => (BigInt(d!.t) > m ? BigInt(d!.t) : m), 0n) : undefined;
        const f = firsts.filter((x) => x).map((x) => BigInt(x!.t));
        if (f.length) firstUpdateMs = msSince(t0, f.reduce((m, x) => (x < m ? x : m)));
        const got = dones.reduce((s, d) => s + (d?.n ?? 0), 0);
        poll = { doneNs, prevNs: doneNs ?? t0, last: got, samples: doneNs ? [[msSince(t0, doneNs), got]] : [], costs: [0] };
        if (complete && got !== routes) throw new Error(`sink: got ${got} type-2 routes, expected ${routes}`);
      } else {
        const cpu0 = receiver === "vxgate" ? process.cpuUsage() : monCpuMs();
        poll = await receivers[receiver].watch.installed(t0);
        if (receiver === "vxgate") {
          const d = process.cpuUsage(cpu0 as NodeJS.CpuUsage);
          watcherCpuMs = poll.cpuMs ?? (d.user + d.system) / 1000;
        } else watcherCpuMs = monCpuMs() - (cpu0 as number);
      }
      const after = await Promise.all(apis.map((a) => a.peer(addr)));
      if (after.some((s, i) => s.state !== "ESTABLISHED" || s.flaps !== before[i]!.flaps)) {
        throw new Error(`${receiver}: a session went down during the round: ${after.map((s) => `${s.state}/${s.flaps} flaps`).join(", ")}`);
      }
      const sentUpdates = after.reduce((s, p, i) => s + p.sentUpdates - before[i]!.sentUpdates, 0);

      await checkOnce(receiver, routes, poll);

      // teardown: sessions down (NOTIFICATION Cease); the receiver drops every route
      let flushMs: number | undefined;
      const tf = nowNs();
      await Promise.all(apis.map((a) => a.disablePeer(addr)));
      await Promise.all(apis.map((a) => a.setExportDefault("reject")));
      if (receiver !== "sink") {
        const fl = await receivers[receiver].watch.flushed(tf);
        if (fl.doneNs === undefined) {
          throw new Error(`${receiver}: ${fl.last} routes still installed ${opts.timeoutS} s after the sessions went down${receiver === "frr" ? await frrDiag() : ""}`);
        }
        flushMs = msSince(tf, fl.doneNs);
      }
      const downDeadline = Date.now() + 30_000;
      while ((await Promise.all(apis.map((a) => a.peer(addr)))).some((s) => s.state === "ESTABLISHED")) {
        if (Date.now() > downDeadline) throw new Error(`${receiver}: sessions still up after disable`);
        await sleep(50);
      }

      if (poll.doneNs === undefined) throw new Error(`${receiver}: INCOMPLETE, ${poll.last} of ${routes} routes after ${opts.timeoutS} s`);
      const installMs = msSince(t0, poll.doneNs);
      const r: RoutesRound = {
        phase,
        round,
        receiver,
        routes,
        injector: "gobgp",
        installMs,
        resolutionMs: msSince(poll.prevNs, poll.doneNs),
        routesPerS: routes / (installMs / 1000),
        complete: true,
        flushMs,
        flushRoutesPerS: flushMs ? routes / (flushMs / 1000) : undefined,
        firstUpdateMs,
        sentUpdates,
        pollMs: median(poll.costs),
        watcherCpuMs,
        samples: poll.samples,
        endDetection: { install: how(receiver, poll) },
      };
      const fl = flushMs ? `; flush on session down ${(flushMs / 1000).toFixed(2)} s` : "";
      const fu = firstUpdateMs !== undefined ? `, first UPDATE after ${firstUpdateMs.toFixed(0)} ms` : "";
      opts.log(
        `   ${phase} round ${round} ${receiver.padEnd(6)} ${routes} routes in ${(installMs / 1000).toFixed(2)} s = ${fmtInt(r.routesPerS)} routes/s (${sentUpdates} UPDATEs${fu}${resolution(receiver, poll, r.resolutionMs, watcherCpuMs)})${fl}`,
      );
      return r;
    };

    /** how the end was seen, for the round's line */
    const resolution = (receiver: Receiver, poll: PollResult, resolutionMs: number, watcherCpuMs: number | undefined) =>
      receiver === "sink"
        ? ""
        : (poll.method
            ? `, end seen to ${resolutionMs.toFixed(1)} ms by ${poll.method} (${poll.costs.length} polls)`
            : poll.costs.length
              ? `, end seen to ${Math.round(resolutionMs)} ms by look-ups (${poll.costs.length} polls, median ${median(poll.costs).toFixed(1)} ms)`
              : ", end seen by kernel FDB notification (fdb-monitor)") +
          (watcherCpuMs !== undefined ? `, watcher CPU ${Math.round(watcherCpuMs)} ms` : "");

    /** how the end of a phase was seen, for the JSON */
    const how = (receiver: Receiver, p: PollResult | undefined) =>
      receiver === "sink"
        ? "the null receiver's own count"
        : p?.method
          ? `${p.method}`
          : p?.costs.length
            ? "full counts of the table"
            : "kernel FDB notification (fdb-monitor), confirmed by a bridge fdb dump";

    // --- the blaster -------------------------------------------------------
    interface BlastProc {
      child: ChildProcess;
      events: { ev: string; t: string; what?: string; why?: string; msg?: string; ms?: number; t0?: string; t1?: string; bytes?: number; messages?: number; nlri?: number }[];
      err: string[];
    }
    let blaster: BlastProc | undefined;
    const locals = Array.from({ length: K }, (_, i) => gobgpAddr(i + 1)).join(",");
    const startBlaster = (mode: BlastMode, peer: string, routes: number): BlastProc => {
      const args = ["--import", "tsx", join(REPO, "bench/bgp-blaster.ts"), "--mode", mode, "--peer", peer, "--local", locals];
      args.push("--routes", String(routes / K), "--stride", String(opts.routes / K), "--imet", "--asn", String(ASN), "--vni", String(VNI), "--rd", "198.18.0.2:1", "--next-hop", REMOTE_VTEP);
      const child = lab.spawn(blastNs!, process.execPath, args);
      const b: BlastProc = { child, events: [], err: [] };
      createInterface({ input: child.stdout! }).on("line", (l) => {
        try {
          b.events.push(JSON.parse(l));
        } catch {
          /* not ours */
        }
      });
      child.stderr?.on("data", (d) => {
        b.err.push(String(d));
        if (b.err.length > 50) b.err.shift();
      });
      blaster = b;
      return b;
    };
    /** the first event from index `from` on that matches; throws on the blaster's errors, lost sessions, exit, timeout */
    const blastWait = async (b: BlastProc, what: string, pred: (e: BlastProc["events"][number]) => boolean, from: number, waitMs: number, tick?: () => Promise<void>) => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const e = b.events.slice(from).find(pred);
        if (e) return e;
        const bad = b.events.find((x) => x.ev === "error" || x.ev === "lost");
        if (bad) throw new Error(`blaster: ${bad.ev === "lost" ? `session ${JSON.stringify(bad)} went down` : bad.msg} (waiting for ${what})`);
        if (b.child.exitCode !== null || b.child.signalCode !== null) throw new Error(`blaster exited (${b.child.exitCode ?? b.child.signalCode}) waiting for ${what}: ${b.err.join("").slice(-1500)}`);
        if (Date.now() > deadline) throw new Error(`blaster: no ${what} within ${Math.round(waitMs / 1000)} s`);
        await tick?.();
        await sleep(5);
      }
    };
    /** waits for the blaster's streams to be encoded (that event is returned), then for all K sessions Established (`tick` runs meanwhile) */
    const blasterUp = async (b: BlastProc, tick?: () => Promise<void>) => {
      const enc = await blastWait(b, "encoded streams", (e) => e.ev === "encoded", 0, 60_000);
      await blastWait(b, "all sessions Established", (e) => e.ev === "ready", 0, 60_000, tick);
      return enc;
    };
    const sinkWait = async (kind: "announce" | "withdraw", from: number) => {
      const s = nullSink!;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = s.events.slice(from).find((x) => x.ev === "done" && x.kind === kind);
        if (e) return e;
        if (s.child.exitCode !== null) throw new Error(`null receiver exited (${s.child.exitCode}): ${s.err.join("").slice(-1000)}`);
        if (Date.now() > deadline) throw new Error(`sink: INCOMPLETE, not every ${kind} counted after ${opts.timeoutS} s`);
        await sleep(2);
      }
    };

    /**
     * One round with the blaster: sessions up -> install (timed) -> withdraw
     * every route (timed) -> install again (not timed) -> sessions down (flush, timed).
     * The sink: install and withdraw only.
     */
    const measureBlast = async (phase: "small" | "full", round: number, receiver: Receiver, routes: number, mode: BlastMode): Promise<RoutesRound> => {
      const addr = addrOf(receiver);
      const b = startBlaster(mode, addr, routes);
      try {
        // bgpd backs off (idle hold time doubling up to 120 s) after each
        // session that ended with a NOTIFICATION and refuses connections
        // meanwhile: restart its peers rather than wait
        let cleared: number | undefined; // from the first wait for the sessions on
        const enc = await blasterUp(b, async () => {
          cleared ??= Date.now();
          if (receiver === "frr" && Date.now() - cleared > 3000) {
            await frr.vtysh("clear bgp *");
            cleared = Date.now();
          }
        });
        await sleep(500); // the receiver's own routes (type-3) and End-of-RIB go by
        if (receiver !== "sink") await receivers[receiver].watch.arm(routes);
        const sinkFrom = nullSink?.events.length ?? 0;
        if (receiver === "sink") nullSink!.child.stdin!.write(`target ${routes}\nwtarget ${routes}\n`);

        const rss0 = await rssNow(receiver);
        // the receiver's CPU time over the install, every thread of its processes
        const cpuPids = await pidsOf(receiver);
        const cpuNow = () => {
          const each = cpuPids.map((p) => (p > 0 ? cpuMsOf(p) : undefined));
          return each.length === 0 || each.some((x) => x === undefined) ? undefined : each.reduce<number>((a, x) => a + x!, 0);
        };
        const cpuAtGo = cpuNow();
        // install: the K announce streams start now
        let from = b.events.length;
        const t0 = nowNs();
        b.child.stdin!.write("go\n");
        let poll: PollResult;
        let watcherCpuMs: number | undefined;
        let firstUpdateMs: number | undefined;
        if (receiver === "sink") {
          const d = await sinkWait("announce", sinkFrom);
          const first = nullSink!.events.slice(sinkFrom).find((e) => e.ev === "first-update" && e.kind === "announce");
          if (first) firstUpdateMs = msSince(t0, BigInt(first.t));
          if (d.n !== routes) throw new Error(`sink: counted ${d.n} type-2 routes, expected ${routes}`);
          poll = { doneNs: BigInt(d.t), prevNs: BigInt(d.t), last: d.n, samples: [[msSince(t0, BigInt(d.t)), d.n]], costs: [] };
        } else {
          const cpu0 = receiver === "vxgate" ? process.cpuUsage() : monCpuMs();
          poll = await receivers[receiver].watch.installed(t0);
          if (receiver === "vxgate") {
            const d = process.cpuUsage(cpu0 as NodeJS.CpuUsage);
            watcherCpuMs = poll.cpuMs ?? (d.user + d.system) / 1000;
          } else watcherCpuMs = monCpuMs() - (cpu0 as number);
        }
        const cpuAtEnd = cpuNow();
        if (poll.doneNs === undefined) throw new Error(`${receiver}: INCOMPLETE, ${poll.last} of ${routes} routes after ${opts.timeoutS} s`);
        const installMs = msSince(t0, poll.doneNs);
        const receiverCpuMs = cpuAtGo !== undefined && cpuAtEnd !== undefined ? cpuAtEnd - cpuAtGo : undefined;
        const sent = await blastWait(b, "the announce streams sent", (e) => e.ev === "sent" && e.what === "announce", from, timeoutMs);
        await checkOnce(receiver, routes, poll);
        const rss1 = await rssNow(receiver);
        const rss = rss0 && rss1 ? { beforeMb: rss0.now, installedMb: rss1.now, peakMb: rss1.peak } : undefined;

        // withdrawal: the K MP_UNREACH streams start now
        from = b.events.length;
        const tw = nowNs();
        b.child.stdin!.write("withdraw\n");
        let withdrawMs: number;
        let wPoll: PollResult | undefined;
        let fPoll: PollResult | undefined;
        if (receiver === "sink") {
          const d = await sinkWait("withdraw", sinkFrom);
          if (d.n !== routes) throw new Error(`sink: counted ${d.n} withdrawn type-2 routes, expected ${routes}`);
          withdrawMs = msSince(tw, BigInt(d.t));
        } else {
          const w = await receivers[receiver].watch.flushed(tw);
          wPoll = w;
          if (w.doneNs === undefined) throw new Error(`${receiver}: ${w.last} routes still installed ${opts.timeoutS} s after every route was withdrawn${receiver === "frr" ? await frrDiag() : ""}`);
          withdrawMs = msSince(tw, w.doneNs);
        }
        const wsent = await blastWait(b, "the withdraw streams sent", (e) => e.ev === "sent" && e.what === "withdraw", from, timeoutMs);

        // session loss: install again (not timed), then NOTIFICATION Cease on the K sessions
        let flushMs: number | undefined;
        if (receiver !== "sink") {
          await receivers[receiver].watch.arm(routes);
          from = b.events.length;
          b.child.stdin!.write("go\n");
          const again = await receivers[receiver].watch.installed(nowNs());
          if (again.doneNs === undefined) throw new Error(`${receiver}: INCOMPLETE on the second install, ${again.last} of ${routes} routes after ${opts.timeoutS} s`);
          await blastWait(b, "the second announce sent", (e) => e.ev === "sent" && e.what === "announce", from, timeoutMs);
        }
        from = b.events.length;
        const tf = nowNs();
        b.child.stdin!.write("down\n");
        if (receiver !== "sink") {
          const fl = await receivers[receiver].watch.flushed(tf);
          fPoll = fl;
          if (fl.doneNs === undefined) throw new Error(`${receiver}: ${fl.last} routes still installed ${opts.timeoutS} s after the sessions went down${receiver === "frr" ? await frrDiag() : ""}`);
          flushMs = msSince(tf, fl.doneNs);
        }
        await blastWait(b, "sessions down", (e) => e.ev === "down", from, 30_000);

        const r: RoutesRound = {
          phase,
          round,
          receiver,
          routes,
          injector: "blaster",
          mode,
          installMs,
          resolutionMs: msSince(poll.prevNs, poll.doneNs),
          routesPerS: routes / (installMs / 1000),
          complete: true,
          withdrawMs,
          withdrawRoutesPerS: routes / (withdrawMs / 1000),
          flushMs,
          flushRoutesPerS: flushMs ? routes / (flushMs / 1000) : undefined,
          firstUpdateMs,
          sentUpdates: sent.messages!,
          withdrawUpdates: wsent.messages!,
          sentBytes: sent.bytes!,
          writeMs: sent.ms!,
          pollMs: median(poll.costs),
          watcherCpuMs,
          samples: poll.samples,
          endDetection: { install: how(receiver, poll), withdraw: how(receiver, wPoll), flush: receiver === "sink" ? undefined : how(receiver, fPoll) },
          rss,
          receiverCpuMs,
        };
        const fu = firstUpdateMs !== undefined ? `, first UPDATE after ${firstUpdateMs.toFixed(1)} ms` : "";
        const mem = rss ? `; RSS ${rss.beforeMb.toFixed(0)} -> ${rss.installedMb.toFixed(0)} MiB with the routes in (peak ${rss.peakMb.toFixed(0)})` : "";
        const fl = flushMs ? `; flush on session down ${(flushMs / 1000).toFixed(2)} s = ${fmtInt(r.flushRoutesPerS!)} routes/s` : "";
        opts.log(
          `   ${phase} round ${round} ${mode.padEnd(4)} ${receiver.padEnd(6)} ${routes} routes in ${(installMs / 1000).toFixed(3)} s = ${fmtInt(r.routesPerS)} routes/s ` +
            `(${sent.messages} UPDATEs, ${fmtInt(sent.bytes! / 1024)} KiB written in ${sent.ms!.toFixed(1)} ms${fu}${resolution(receiver, poll, r.resolutionMs, watcherCpuMs)}); ` +
            `withdrawn in ${(withdrawMs / 1000).toFixed(3)} s = ${fmtInt(r.withdrawRoutesPerS!)} routes/s (${wsent.messages} UPDATEs${wPoll?.method ? `, end seen to ${msSince(wPoll.prevNs, wPoll.doneNs).toFixed(1)} ms, ${wPoll.method}` : ""})${fl}${fPoll?.method ? ` (end seen to ${msSince(fPoll.prevNs, fPoll.doneNs).toFixed(1)} ms, ${fPoll.method})` : ""}` +
            (receiverCpuMs !== undefined ? `; its CPU over the install ${fmtInt(receiverCpuMs)} ms` : "") +
            mem +
            (round === 1 && receiver === "sink" ? ` [streams encoded in ${Number(enc.ms).toFixed(0)} ms, before the round]` : ""),
        );
        return r;
      } finally {
        await stopChild(b.child, { graceMs: 2000 });
        blaster = undefined;
      }
    };

    // --- control-plane restart with every route installed ------------------
    /** the first JSON line of the switch's log after `from` characters whose msg is `msg` */
    const logLine = (from: number, msg: string): Record<string, unknown> | undefined => {
      for (const l of fabric!.logOf(name).slice(from).split("\n")) {
        if (!l.includes(msg)) continue;
        try {
          const j = JSON.parse(l) as Record<string, unknown>;
          if (j.msg === msg) return j;
        } catch {
          /* a line cut by the read */
        }
      }
      return undefined;
    };
    const measureRestart = async (routes: number, mode: BlastMode): Promise<RestartResult> => {
      const per = routes / K;
      const keepPer = Math.floor(per / 2);
      const kept = keepPer * K;
      // every route in (not timed)
      const a = startBlaster(mode, SWITCH_ADDR, routes);
      let heldAfterStop: number;
      try {
        await blasterUp(a);
        await sleep(500);
        await vxgateWatch.arm(routes);
        a.child.stdin!.write("go\n");
        const inst = await vxgateWatch.installed(nowNs());
        if (inst.doneNs === undefined) throw new Error(`restart: INCOMPLETE install, ${inst.last} of ${routes} routes`);
        // SIGTERM: the control plane goes, the pinned fast path keeps forwarding
        await fabric!.kill(name);
        heldAfterStop = countVxgateAll();
      } finally {
        await stopChild(a.child, { graceMs: 1000 });
        blaster = undefined;
      }
      if (heldAfterStop !== routes) throw new Error(`restart: ${heldAfterStop} of ${routes} entries left in vxg_fdb after the control plane stopped`);
      // `vxgate run` again over the pins
      const logFrom = fabric!.logOf(name).length;
      const ts = nowNs();
      await fabric!.start(name);
      const readyMs = msSince(ts, nowNs());
      const st = await fabric!.api<{ adopted: boolean }>(name, "status");
      if (!st.adopted) throw new Error("restart: the daemon did not adopt its pinned fast path");
      const heldAfterStart = countVxgateAll();
      if (heldAfterStart !== routes) throw new Error(`restart: ${heldAfterStart} of ${routes} entries in vxg_fdb once the restarted daemon answered`);
      const adopted = logLine(logFrom, "adopted EVPN state from the fast path, stale until routes confirm it");
      // the peers come back with the first half of each session's routes, then End-of-RIB
      const b = startBlaster(mode, SWITCH_ADDR, kept);
      try {
        await blasterUp(b);
        const goWall = Date.now();
        b.child.stdin!.write("go\n");
        const deadline = goWall + timeoutMs;
        let done: Record<string, unknown> | undefined;
        while (!(done = logLine(logFrom, "EVPN initial sync done"))) {
          if (Date.now() > deadline) throw new Error(`restart: no initial sync within ${opts.timeoutS} s (${countVxgateAll()} entries in vxg_fdb)`);
          await sleep(20);
        }
        const syncMs = Date.parse(String(done.time)) - goWall;
        const staleRemoved = Number((done.staleRemoved as { macs?: number } | undefined)?.macs ?? NaN);
        const left = countVxgateAll();
        if (done.complete !== true) throw new Error(`restart: initial sync ended incomplete (${String(done.reason)})`);
        if (left !== kept || staleRemoved !== routes - kept) throw new Error(`restart: after the sync ${left} entries in vxg_fdb (expected ${kept}), ${staleRemoved} stale removed (expected ${routes - kept})`);
        // the right ones: each session's last kept route stays, its first stale one and its last one are gone
        const stride = opts.routes / K;
        for (let i = 0; i < K; i++) {
          if (!ours(map.lookup(fdbKey(i * stride + keepPer - 1)))) throw new Error(`restart: session ${i + 1}'s last route announced again is missing`);
          for (const k of [i * stride + keepPer, i * stride + per - 1]) if (map.lookup(fdbKey(k)) !== null) throw new Error(`restart: stale route ${macText(routeMac(k))} still in vxg_fdb`);
        }
        const rss = await rssNow("vxgate");
        const r: RestartResult = {
          routes,
          mode,
          heldAfterStop,
          heldAfterStart,
          readyMs,
          adoptedMacs: adopted ? Number(adopted.macs) : undefined,
          syncMs,
          staleRemoved,
          kept,
          rssMb: rss?.now,
        };
        opts.log(
          `   restart with ${fmtInt(routes)} routes installed (${mode}): SIGTERM left ${fmtInt(heldAfterStop)} entries; \`vxgate run\` again answered after ${(readyMs / 1000).toFixed(2)} s ` +
            `(adopted: ${fmtInt(r.adoptedMacs ?? NaN)} MACs stale, ${fmtInt(heldAfterStart)} entries still in vxg_fdb); the peers re-sent ${fmtInt(kept)} routes + End-of-RIB: ` +
            `initial sync ${(syncMs / 1000).toFixed(2)} s after their first write, ${fmtInt(staleRemoved)} stale removed, ${fmtInt(left)} left as expected; RSS ${rss?.now.toFixed(0) ?? "?"} MiB`,
        );
        // sessions down: the table empty for what follows
        b.child.stdin!.write("down\n");
        const fl = await vxgateWatch.flushed(nowNs());
        if (fl.doneNs === undefined) throw new Error(`restart: ${fl.last} entries left after the sessions went down`);
        return r;
      } finally {
        await stopChild(b.child, { graceMs: 2000 });
        blaster = undefined;
      }
    };

    // --- failures: tear down, retry once, else record ------------------------
    /** set when a receiver (or the injector) cannot be brought back: its remaining rounds are recorded as failed with this reason */
    const broken: Partial<Record<Receiver | "injector", string>> = {};
    const restartFrr = async () => {
      for (const d of ["bgpd", "zebra"]) {
        const pid = pidOf(d);
        if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
      }
      await sleep(500);
      frr = startFrrVtep(lab, frrNs, frrConfig(K));
      await sleep(1000);
      frr.startBgpd();
      await sleep(1000);
      if (!frrAlive()) throw new Error(`FRR did not come back after a restart${await frrDiag()}`);
    };
    /** after a failed round: sessions down, the receiver's table empty, its daemons running; throws if that cannot be had */
    const recover = async (receiver: Receiver) => {
      if (blaster) await stopChild(blaster.child, { graceMs: 1000 });
      if (useGobgp) {
        const dead = gobgpChildren.findIndex((c) => c.exitCode !== null || c.signalCode !== null);
        if (dead >= 0) broken.injector = `gobgpd ${dead + 1} exited: ${gobgpLogs[dead]!.join("").slice(-500)}`;
        else {
          const addr = addrOf(receiver);
          await Promise.all(apis.map((a) => a.disablePeer(addr).catch(() => {})));
          await Promise.all(apis.map((a) => a.setExportDefault("reject").catch(() => {})));
        }
      } else if (nullSink && nullSink.child.exitCode !== null) {
        nullSink = await startNullSink(lab, sinkNs);
      }
      if (receiver === "frr") {
        if (!frrAlive()) {
          opts.log(`   frr: zebra or bgpd is gone; restarting FRR`);
          await restartFrr();
        }
        const deadline = Date.now() + timeoutMs;
        let left = await countFrrAll();
        while (left > 0 && Date.now() < deadline && frrAlive()) {
          await sleep(200);
          left = await countFrrAll();
        }
        if (left > 0) {
          // what zebra left behind (it died, or never got the withdrawals): remove it by hand
          const out = await lab.execAsync(frrNs, "bridge", ["fdb", "show", "dev", "vxlan100"], { timeoutMs: Math.max(60, opts.timeoutS) * 1000 });
          const macs = [...new Set(out.split("\n").filter((l) => l.includes(` dst ${REMOTE_VTEP} `) && !l.startsWith("00:00:00:00:00:00")).map((l) => l.split(" ")[0]!))];
          await runAsync(frrNs, "bridge", ["-force", "-batch", "-"], { input: macs.map((m) => `fdb del ${m} dev vxlan100 dst ${REMOTE_VTEP}`).join("\n") + "\n", timeoutMs: 120_000 });
          left = await countFrrAll();
          if (left > 0) throw new Error(`${left} routes left in FRR's kernel FDB that cannot be removed`);
        }
      }
      if (receiver === "vxgate") {
        const up = await fabric!.api(name, "status").then(() => true, () => false);
        if (!up) {
          opts.log(`   vxgate: the control plane does not answer; restarting it (it adopts its pinned maps)`);
          await fabric!.kill(name).catch(() => {});
          await fabric!.start(name);
        }
        const deadline = Date.now() + timeoutMs;
        while (countVxgateAll() > 0 && Date.now() < deadline) await sleep(200);
        const left = countVxgateAll();
        if (left > 0) throw new Error(`${left} routes left in vxg_fdb after the sessions went down`);
      }
    };
    const failedRound = (phase: "small" | "full", round: number, receiver: Receiver, routes: number, mode: BlastMode | undefined, why: string): RoutesRound => ({
      phase,
      round,
      receiver,
      routes,
      injector,
      ...(mode ? { mode } : {}),
      installMs: NaN,
      resolutionMs: NaN,
      routesPerS: NaN,
      complete: false,
      failed: why,
      sentUpdates: 0,
      pollMs: NaN,
      samples: [],
    });
    const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0]!.slice(0, 300);
    /** one round, run again once if it fails; failing twice it is recorded as failed */
    const measure = async (phase: "small" | "full", round: number, receiver: Receiver, routes: number, mode?: BlastMode): Promise<RoutesRound> => {
      const what = `${phase} round ${round}${mode ? ` ${mode}` : ""} ${receiver}`;
      let retried: string | undefined;
      for (let attempt = 1; ; attempt++) {
        const gone = broken[receiver] ?? broken.injector;
        if (gone) {
          opts.log(`   ${what}: FAILED (not run: ${gone})`);
          return failedRound(phase, round, receiver, routes, mode, retried ? `${retried}; then not run: ${gone}` : `not run: ${gone}`);
        }
        try {
          const r = mode ? await measureBlast(phase, round, receiver, routes, mode) : await measureGobgp(phase, round, receiver, routes);
          if (retried) r.retried = retried;
          return r;
        } catch (e) {
          const why = firstLine(e);
          opts.log(`   ${what}: attempt ${attempt} FAILED: ${why}`);
          const full = String((e as Error)?.message ?? e);
          if (full.includes("\n")) writeFileSync(join(dir, `failure-${rounds.length}-${attempt}.log`), full);
          try {
            await recover(receiver);
          } catch (e2) {
            broken[receiver] = `${receiver} could not be brought back after a failure: ${firstLine(e2)}`;
            opts.log(`   ${what}: ${broken[receiver]}`);
          }
          if (attempt >= 2) return failedRound(phase, round, receiver, routes, mode, retried ? `${retried}; again: ${why}` : why);
          retried = why;
          if (!broken[receiver] && !broken.injector) opts.log(`   ${what}: retrying once`);
        }
      }
    };

    const runPhase = async (phase: "small" | "full", routes: number, n: number) => {
      if (useGobgp && !broken.injector) {
        try {
          await load(phase, routes);
        } catch (e) {
          opts.log(`   gobgpd loading FAILED: ${firstLine(e)}; retrying once`);
          try {
            await load(phase, routes);
          } catch (e2) {
            broken.injector = `loading gobgpd failed: ${firstLine(e2)}`;
          }
        }
      }
      for (let round = 1; round <= n; round++) {
        // the sink first (calibration), then the two receivers, their order flipping every round
        const order: Receiver[] = round % 2 === 1 ? ["sink", "vxgate", "frr"] : ["sink", "frr", "vxgate"];
        for (const mode of useGobgp ? [undefined] : modes) for (const rcv of order) rounds.push(await measure(phase, round, rcv, routes, mode));
      }
    };
    if (opts.small > 0 && opts.smallRounds > 0) await runPhase("small", opts.small, opts.smallRounds);
    if (opts.rounds > 0) await runPhase("full", opts.routes, opts.rounds);
    let restart: RestartResult | undefined;
    if (opts.restart && !useGobgp && !opts.cpuProf && !broken.vxgate && !broken.injector) {
      const mode = modes.at(-1)!;
      try {
        restart = await measureRestart(opts.routes, mode);
      } catch (e) {
        opts.log(`   restart: FAILED: ${firstLine(e)}`);
        restart = { routes: opts.routes, mode, heldAfterStop: NaN, heldAfterStart: NaN, readyMs: NaN, syncMs: NaN, staleRemoved: NaN, kept: NaN, failed: firstLine(e) };
        await recover("vxgate").catch(() => {});
      }
    }

    return { vxgateCommit, injector, modes, sessions: K, routes: opts.routes, small: opts.small, loads, rounds, restart, checks };
  } finally {
    for (const a of apis) a.close();
    fdbMap?.close();
    if (profiled) await stopChild(profiled, { signal: "SIGTERM", graceMs: 10_000 }); // SIGTERM: vxgate exits cleanly and node writes the profile
    if (fabric) await fabric.shutdown().catch(() => {});
    await lab.dispose();
  }
}

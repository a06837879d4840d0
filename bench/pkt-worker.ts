// Child process of the per-packet benchmark (bench/pkt-cost.ts starts it under
// `nsenter --net=` in a namespace that has the access port, the uplink, a route
// to the remote VTEP and a resolved neighbour for its next hop). It loads the
// vxgate ELF and the harness object, fills vxgate's maps the way the runtime
// does (desiredState -> tableCodec), checks that one run of every program
// takes the path we mean to measure, then times `rounds` x `repeat` runs of
// each, round-robin. Prints one line "RESULT <json>".
//
// Mirror cases: the config names two sessions; the worker derives their
// entries with the runtime's own code (mirrorDesired, as MirrorFeature does,
// locating hosts and server in the static FDB) and merges the VNI flags into
// the VNI table as MirrorFeature.contribute does. Before each measurement the
// tables of the default (mirror compiled in) object are put into that target's
// state: no session (the plain encap), the session on another host, or the
// session on the frame's source host.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BpfObject, type BpfMap, type BpfProgram } from "libbpf-ts-bindings";
import { parseConfig } from "../src/config/load.ts";
import type { SwitchConfig } from "../src/config/types.ts";
import { desiredState, type DesiredState } from "../src/control/l2/desired.ts";
import { mirrorDesired, type Location, type MirrorDesired } from "../src/control/mirror/desired.ts";
import { MirrorFeature } from "../src/control/mirror/feature.ts";
import { tableCodec, type TableKey, type TableValue } from "../src/control/codec.ts";
import { ifindexOf } from "../src/control/netdev.ts";
import { constants, counterNames, tables } from "../src/codegen/tables.ts";
import { parseFrame } from "../test/harness/packets.ts";

export interface WorkerSpec {
  vxgObject: string;
  /** the same switch built with mirror.enabled: false */
  vxgNoMirrorObject: string;
  harnessObject: string;
  /** config of vxgObject (mirror on by default, with the sessions below) */
  configText: string;
  /** config of vxgNoMirrorObject */
  noMirrorConfigText: string;
  /** session names in configText: one watching another host, one the frame's source */
  mirrorSessions: { other: string; monitored: string };
  accessIf: string;
  uplinkIf: string;
  /** hex frames */
  accessFrame: string;
  decapFrame: string;
  /** what the decap must produce: the inner frame (hex) */
  decapInner: string;
  /** what the encap's outer header must carry */
  encap: { outerDstMac: string; outerSrcMac: string; vtep: string; remote: string; vni: number };
  repeat: number;
  rounds: number;
}

export interface TargetResult {
  /** label in the report */
  name: string;
  /** program run under the tail-call wrapper ("wrap") or on its own ("direct") */
  via: "wrap" | "direct";
  retval: number;
  /** kernel-reported mean ns per run (BPF_PROG_TEST_RUN duration), one per round */
  ns: number[];
}

export interface ProgramInfo {
  name: string;
  build: "mirror compiled in" | "mirror not compiled";
  /** instructions of the program as loaded (after the verifier's rewrites): bytes_xlated / 8 */
  xlatedInsns: number;
  xlatedBytes: number;
  jitedBytes: number;
}

export interface WorkerResult {
  targets: TargetResult[];
  /** path checks that passed (a failed one aborts the worker) */
  checks: string[];
  /** counters of the default object (mirror compiled in) */
  counters: Record<string, number>;
  /** counters of the object without the mirror stage */
  countersNoMirror: Record<string, number>;
  /** vxg_xdp_access / vxg_xdp_uplink of both objects, as the kernel holds them */
  programs: ProgramInfo[];
  runsPerTarget: number;
}

const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
const XDP_NAME = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];

function xdpMd(len: number, ingressIfindex: number): Buffer {
  // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex }
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(0, 8);
  b.writeUInt32LE(ingressIfindex, 12);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** What the runtime computes for a config with the mirror feature's part
 * merged in (runtime.computeDesired: desiredState, then mirror.contribute). */
function runtimeDesired(cfg: SwitchConfig, mirror: MirrorDesired): DesiredState {
  const d = desiredState(cfg, ifindexOf);
  // MirrorFeature.contribute reads only the feature's current MirrorDesired
  const feature = { current: mirror } as unknown as MirrorFeature;
  MirrorFeature.prototype.contribute.call(feature, d);
  return d;
}

/** mirrorDesired over the named sessions of the config, hosts and server
 * located in the static FDB as MirrorFeature.locate does in the live FDB. */
function mirrorFor(cfg: SwitchConfig, names: string[]): MirrorDesired {
  const fdb = desiredState(cfg, ifindexOf).staticFdb;
  const locate = (vni: number, mac: string): Location => {
    const e = fdb.find(([k]) => k.vni === vni && k.mac === mac)?.[1];
    if (!e) return { kind: "unknown" };
    if (e.kind === constants.FDB_LOCAL) return { kind: "local", ifindex: e.ifindex, vlan: e.vlan };
    return { kind: "remote", vtep: e.remote };
  };
  const sessions = names.map((n) => cfg.mirror.sessions.find((s) => s.name === n) ?? fail(`no mirror session ${n} in the bench config`));
  const slots = new Map<number, number>();
  return mirrorDesired(sessions, locate, (s) => {
    if (!slots.has(s.hostId)) slots.set(s.hostId, slots.size);
    return slots.get(s.hostId)!;
  });
}

function fillTables(obj: BpfObject, d: DesiredState): void {
  const put = <N extends "globals" | "ports" | "xdp_tx" | "vnis" | "flood" | "vteps" | "fdb">(name: N, k: unknown, v: unknown) => {
    const c = tableCodec(name);
    obj.map(tables[name].mapName).update(c.key.encode(k as never), c.value.encode(v as never), "any");
  };
  put("globals", { index: 0 }, d.globals);
  for (const [ifindex, v] of d.ports) put("ports", { ifindex }, v);
  // every port takes XDP frames here (the target checks the real ones at attach time)
  for (const ifindex of d.ports.keys()) put("xdp_tx", { ifindex }, { ifindex });
  for (const [vni, v] of d.vnis) put("vnis", { vni }, v);
  for (const [vni, list] of d.flood) list.forEach((v, slot) => put("flood", { vni, slot }, v));
  for (const [k, v] of d.vteps) put("vteps", k, v);
  for (const [k, v] of d.staticFdb) put("fdb", k, v);
}

/** Put the VNI table and the mirror table into one case's state (entries of
 * the previous state that the new one lacks are deleted). */
class MirrorState {
  private live = new Map<string, Buffer>(); // hex key -> encoded key
  private cur?: string;
  constructor(private obj: BpfObject) {}
  apply(name: string, d: DesiredState, m: MirrorDesired): void {
    if (this.cur === name) return;
    const vc = tableCodec("vnis");
    for (const [vni, v] of d.vnis) this.obj.map(tables.vnis.mapName).update(vc.key.encode({ vni }), vc.value.encode(v), "any");
    const mc = tableCodec("mirror");
    const map = this.obj.map(tables.mirror.mapName);
    const want = new Map(m.mac.map(([k, v]) => [mc.key.encode(k as TableKey<"mirror">).toString("hex"), { k, v: v as TableValue<"mirror"> }]));
    for (const [hex, key] of this.live) if (!want.has(hex)) map.delete(key);
    this.live.clear();
    for (const [hex, { k, v }] of want) {
      const key = mc.key.encode(k);
      map.update(key, mc.value.encode(v), "any");
      this.live.set(hex, key);
    }
    if (m.ip.length) fail("the bench's sessions match by MAC, but IP entries were derived");
    this.cur = name;
  }
  /** Read the tables back: VNI flags and the mirror table's keys as applied. */
  check(name: string, d: DesiredState): void {
    if (this.cur !== name) fail(`mirror state ${this.cur} applied, ${name} expected`);
    const vc = tableCodec("vnis");
    for (const [vni, v] of d.vnis) {
      const got = this.obj.map(tables.vnis.mapName).lookup(vc.key.encode({ vni }));
      if (!got || vc.value.decode(got).flags !== v.flags) fail(`${name}: VNI ${vni} flags ${got ? vc.value.decode(got).flags : "missing"}, expected ${v.flags}`);
    }
    const keys = [...this.obj.map(tables.mirror.mapName).keys()].map((k) => k.toString("hex")).sort();
    const want = [...this.live.keys()].sort();
    if (keys.join() !== want.join()) fail(`${name}: mirror table holds ${keys.length} entries, expected ${want.length}`);
  }
}

function programInfo(prog: BpfProgram, build: ProgramInfo["build"]): ProgramInfo {
  const j = JSON.parse(execFileSync("bpftool", ["-j", "prog", "show", "id", String(prog.id)], { encoding: "utf8" })) as {
    bytes_xlated?: number;
    bytes_jited?: number;
  };
  if (!j.bytes_xlated) fail(`bpftool shows no bytes_xlated for ${prog.name} (id ${prog.id})`);
  return { name: prog.name, build, xlatedInsns: j.bytes_xlated / 8, xlatedBytes: j.bytes_xlated, jitedBytes: j.bytes_jited ?? 0 };
}

function readCounters(obj: BpfObject): Record<string, number> {
  const m = obj.map(tables.counters.mapName);
  const c = tableCodec("counters");
  const out: Record<string, number> = {};
  counterNames.forEach((name, id) => {
    let packets = 0n;
    for (const b of m.lookupPerCpu(c.key.encode({ id })) ?? []) packets += c.value.decode(b).packets;
    out[name] = Number(packets);
  });
  return out;
}

function fail(msg: string): never {
  throw new Error(`path check failed: ${msg}`);
}

function main(): void {
  const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as WorkerSpec;
  const accessIfindex = ifindexOf(spec.accessIf);
  const uplinkIfindex = ifindexOf(spec.uplinkIf);
  const accessFrame = Buffer.from(spec.accessFrame, "hex");
  const decapFrame = Buffer.from(spec.decapFrame, "hex");

  const cfg = parseConfig(spec.configText, "bench-switch.yaml");
  const cfgNoMirror = parseConfig(spec.noMirrorConfigText, "bench-switch-nomirror.yaml");
  // the three states of the default object's tables
  const states = {
    plain: mirrorFor(cfg, []),
    other: mirrorFor(cfg, [spec.mirrorSessions.other]),
    monitored: mirrorFor(cfg, [spec.mirrorSessions.monitored]),
  };
  const desired = {
    plain: runtimeDesired(cfg, states.plain),
    other: runtimeDesired(cfg, states.other),
    monitored: runtimeDesired(cfg, states.monitored),
  };

  const vxg = BpfObject.openFile(spec.vxgObject);
  const vxgNoMirror = BpfObject.openFile(spec.vxgNoMirrorObject);
  const harness = BpfObject.openFile(spec.harnessObject);
  try {
    vxg.load();
    vxgNoMirror.load();
    harness.load();
    fillTables(vxg, desired.plain);
    fillTables(vxgNoMirror, runtimeDesired(cfgNoMirror, mirrorFor(cfgNoMirror, [])));
    const mirrorState = new MirrorState(vxg);
    const slot: BpfMap = harness.map("bench_target");
    const lenMap: BpfMap = harness.map("bench_len");
    const wrap = harness.program("bench_wrap");

    interface Target {
      name: string;
      via: "wrap" | "direct";
      prog: BpfProgram;
      frame: Buffer;
      ifindex: number;
      expect: number;
      verify?: (out: Buffer) => void;
      /** state of the default object's VNI and mirror tables for this target */
      state?: keyof typeof states;
    }
    const checks: string[] = [];

    // the sessions must have produced what each case is meant to be
    const frameSrc = parseFrame(accessFrame).eth.src;
    const frameDst = parseFrame(accessFrame).eth.dst;
    const mirrorFlags = constants.VNI_MIRROR_MAC | constants.VNI_MIRROR_IP;
    for (const [vni, v] of desired.plain.vnis) if (v.flags & mirrorFlags) fail(`VNI ${vni} has mirror flags without sessions`);
    const describe = (m: MirrorDesired) =>
      m.mac.map(([k, v]) => `(${k.vni}, ${k.mac}, ${k.dir === constants.MIRROR_SRC ? "SRC" : "DST"}) -> ${v.kind === constants.MIRROR_TO_REMOTE ? `remote ${v.remote}` : `kind ${v.kind}`}`).join(", ");
    for (const name of ["other", "monitored"] as const) {
      const m = states[name];
      if (!m.mac.length || [...desired[name].vnis.values()].some((v) => !(v.flags & constants.VNI_MIRROR_MAC))) fail(`${name}: the session did not flag the VNI VNI_MIRROR_MAC`);
      if (m.mac.some(([, v]) => v.kind !== constants.MIRROR_TO_REMOTE)) fail(`${name}: entries not MIRROR_TO_REMOTE: ${describe(m)}`);
    }
    if (states.other.mac.some(([k]) => k.mac === frameSrc || k.mac === frameDst)) fail(`"other" session has an entry for the frame's MACs: ${describe(states.other)}`);
    if (!states.monitored.mac.some(([k]) => k.mac === frameSrc && k.dir === constants.MIRROR_SRC)) fail(`"monitored" session has no MIRROR_SRC entry for ${frameSrc}: ${describe(states.monitored)}`);
    checks.push(`mirror entries derived by mirrorDesired: not monitored [${describe(states.other)}]; monitored [${describe(states.monitored)}]; VNI 100 flagged VNI_MIRROR_MAC in both, no flag without sessions`);

    const encapVerify = (out: Buffer) => {
      const p = parseFrame(out);
      const e = spec.encap;
      if (p.eth.dst !== e.outerDstMac || p.eth.src !== e.outerSrcMac) fail(`encap outer MACs ${p.eth.src} -> ${p.eth.dst}`);
      if (p.ipv4?.src !== e.vtep || p.ipv4?.dst !== e.remote) fail(`encap outer IPs ${p.ipv4?.src} -> ${p.ipv4?.dst}`);
      if (!p.ipv4.checksumOk) fail("encap outer IPv4 checksum is wrong");
      if (p.udp?.dstPort !== 4789 || p.vxlan?.vni !== e.vni) fail(`encap UDP/VXLAN ${p.udp?.dstPort} vni ${p.vxlan?.vni}`);
      if (!out.subarray(50).equals(accessFrame)) fail("encap inner frame differs from the input");
    };
    // output of the plain encap (mirror compiled in, no session), set by its first run
    let plainEncapOut: Buffer | undefined;
    const targets: Target[] = [
      { name: "bench_pass (baseline)", via: "direct", prog: harness.program("bench_pass"), frame: accessFrame, ifindex: accessIfindex, expect: XDP.PASS },
      { name: "bench_parse_tx (baseline)", via: "direct", prog: harness.program("bench_parse_tx"), frame: accessFrame, ifindex: accessIfindex, expect: XDP.TX },
      { name: "bench_pass (baseline)", via: "wrap", prog: harness.program("bench_pass"), frame: accessFrame, ifindex: accessIfindex, expect: XDP.PASS },
      { name: "bench_parse_tx (baseline)", via: "wrap", prog: harness.program("bench_parse_tx"), frame: accessFrame, ifindex: accessIfindex, expect: XDP.TX },
      {
        name: "vxg_xdp_uplink (decap)",
        via: "wrap",
        prog: vxg.program("vxg_xdp_uplink"),
        frame: decapFrame,
        ifindex: uplinkIfindex,
        expect: XDP.REDIRECT,
        verify(out) {
          if (out.toString("hex") !== spec.decapInner) fail(`decap output is not the inner frame: ${out.toString("hex")}`);
        },
      },
      {
        name: "vxg_xdp_access (encap; mirror compiled in, no session)",
        via: "wrap",
        prog: vxg.program("vxg_xdp_access"),
        frame: accessFrame,
        ifindex: accessIfindex,
        expect: XDP.REDIRECT,
        state: "plain",
        verify(out) {
          encapVerify(out);
          plainEncapOut ??= Buffer.from(out);
          if (!out.equals(plainEncapOut)) fail("encap output changed between runs");
        },
      },
      {
        name: "vxg_xdp_access (encap; mirror not compiled)",
        via: "wrap",
        prog: vxgNoMirror.program("vxg_xdp_access"),
        frame: accessFrame,
        ifindex: accessIfindex,
        expect: XDP.REDIRECT,
        verify(out) {
          encapVerify(out);
          if (!plainEncapOut || !out.equals(plainEncapOut)) fail("encap output without the mirror stage differs from the plain encap's");
        },
      },
      {
        name: "vxg_xdp_access (encap; session in the VNI, frame not monitored)",
        via: "wrap",
        prog: vxg.program("vxg_xdp_access"),
        frame: accessFrame,
        ifindex: accessIfindex,
        expect: XDP.REDIRECT,
        state: "other",
        verify(out) {
          encapVerify(out);
          if (!plainEncapOut || !out.equals(plainEncapOut)) fail("not-monitored output differs from the plain encap's");
        },
      },
      {
        name: "vxg_xdp_access (frame from a monitored host -> TC)",
        via: "wrap",
        prog: vxg.program("vxg_xdp_access"),
        frame: accessFrame,
        ifindex: accessIfindex,
        expect: XDP.PASS,
        state: "monitored",
        verify(out) {
          if (!out.equals(accessFrame)) fail("a frame passed to TC for mirroring was modified in XDP");
        },
      },
    ];

    const arm = (t: Target) => {
      if (t.state) mirrorState.apply(t.state, desired[t.state], states[t.state]);
      if (t.via === "wrap") {
        slot.update(u32(0), u32(t.prog.fd), "any");
        lenMap.update(u32(0), u32(t.frame.length), "any");
      }
    };
    const runOnce = (t: Target, repeat: number) => {
      arm(t);
      const prog = t.via === "wrap" ? wrap : t.prog;
      const r = prog.testRun({ data: t.frame, repeat, ctxIn: xdpMd(t.frame.length, t.ifindex) });
      if (r.retval !== t.expect) {
        fail(`${t.name} via ${t.via}: retval ${XDP_NAME[r.retval] ?? r.retval}, expected ${XDP_NAME[t.expect]} (repeat ${repeat})`);
      }
      return r;
    };

    // One run each, output checked; then a short repeated run whose final
    // retval and output must be the same (proves the wrapper resets the frame).
    const before = readCounters(vxg);
    const beforeNoMirror = readCounters(vxgNoMirror);
    for (const t of targets) {
      const one = runOnce(t, 1);
      if (t.state) mirrorState.check(t.state, desired[t.state]);
      t.verify?.(one.data);
      const many = runOnce(t, 1000);
      t.verify?.(many.data);
      checks.push(
        `${t.name} via ${t.via}: ${XDP_NAME[t.expect]}${t.verify ? ", output verified" : ""}${t.state ? `, tables read back (${t.state})` : ""}, after 1 and after 1000 runs`,
      );
    }
    const warm = readCounters(vxg);
    const warmNoMirror = readCounters(vxgNoMirror);
    const delta = (a: Record<string, number>, b: Record<string, number>, k: string) => (b[k] ?? 0) - (a[k] ?? 0);
    // default object: decap once; encap twice (no session, session on another host); mirror_to_tc once
    const expectCounts = (a: Record<string, number>, b: Record<string, number>, aNo: Record<string, number>, bNo: Record<string, number>, n: number, what: string) => {
      const want: [string, Record<string, number>, Record<string, number>, number][] = [
        ["decap_fwd", a, b, n],
        ["encap_fwd", a, b, 2 * n],
        ["mirror_to_tc", a, b, n],
        ["bum_to_tc", a, b, 0],
        ["encap_fwd (mirror not compiled)", aNo, bNo, n],
        ["mirror_to_tc (mirror not compiled)", aNo, bNo, 0],
      ];
      for (const [label, x, y, w] of want) {
        const k = label.split(" ")[0]!;
        if (delta(x, y, k) !== w) fail(`${label} counted ${delta(x, y, k)} of ${w} ${what}`);
      }
    };
    expectCounts(before, warm, beforeNoMirror, warmNoMirror, 1001, "runs");

    const results: TargetResult[] = targets.map((t) => ({ name: t.name, via: t.via, retval: t.expect, ns: [] }));
    for (let round = 0; round < spec.rounds; round++) {
      // rotate the order every round so no program always runs first
      for (let j = 0; j < targets.length; j++) {
        const i = (j + round) % targets.length;
        const r = runOnce(targets[i]!, spec.repeat);
        targets[i]!.verify?.(r.data);
        results[i]!.ns.push(r.durationNs);
      }
    }
    const after = readCounters(vxg);
    const afterNoMirror = readCounters(vxgNoMirror);
    const expected = spec.rounds * spec.repeat;
    expectCounts(warm, after, warmNoMirror, afterNoMirror, expected, "timed runs");
    const drops = [
      ...counterNames.filter((k) => (k.startsWith("drop_") || k.startsWith("err_")) && (after[k] ?? 0) > 0).map((k) => `${k}=${after[k]}`),
      ...counterNames.filter((k) => (k.startsWith("drop_") || k.startsWith("err_")) && (afterNoMirror[k] ?? 0) > 0).map((k) => `${k}=${afterNoMirror[k]} (mirror not compiled)`),
    ];
    if (drops.length) fail(`drop/error counters moved: ${drops.join(", ")}`);
    checks.push(
      `counters: decap_fwd = ${expected}, encap_fwd = 2 x ${expected} (no session + not monitored), mirror_to_tc = ${expected} (monitored), bum_to_tc = 0; ` +
        `without the mirror stage encap_fwd = ${expected}; over the timed runs; no drop/error counter moved`,
    );
    const programs = [
      programInfo(vxg.program("vxg_xdp_access"), "mirror compiled in"),
      programInfo(vxgNoMirror.program("vxg_xdp_access"), "mirror not compiled"),
      programInfo(vxg.program("vxg_xdp_uplink"), "mirror compiled in"),
      programInfo(vxgNoMirror.program("vxg_xdp_uplink"), "mirror not compiled"),
    ];
    const out: WorkerResult = { targets: results, checks, counters: after, countersNoMirror: afterNoMirror, programs, runsPerTarget: expected };
    process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  } finally {
    harness.close();
    vxgNoMirror.close();
    vxg.close();
  }
}

main();

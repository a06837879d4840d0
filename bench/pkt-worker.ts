// Child process of the per-packet benchmark (bench/pkt-cost.ts starts it under
// `nsenter --net=` in a namespace that has the access port, the uplink, a route
// to the remote VTEP and a resolved neighbour for its next hop). It loads the
// vxgate ELF and the harness object, fills vxgate's maps the way the runtime
// does (desiredState -> tableCodec), checks that one run of every program
// takes the path we mean to measure, then times `rounds` x `repeat` runs of
// each, round-robin. Prints one line "RESULT <json>".
import { readFileSync } from "node:fs";
import { BpfObject, type BpfMap, type BpfProgram } from "libbpf-ts-bindings";
import { parseConfig } from "../src/config/load.ts";
import { desiredState } from "../src/control/l2/desired.ts";
import { tableCodec } from "../src/control/codec.ts";
import { ifindexOf } from "../src/control/netdev.ts";
import { counterNames, tables } from "../src/codegen/tables.ts";
import { parseFrame } from "../test/harness/packets.ts";

export interface WorkerSpec {
  vxgObject: string;
  harnessObject: string;
  configText: string;
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

export interface WorkerResult {
  targets: TargetResult[];
  /** path checks that passed (a failed one aborts the worker) */
  checks: string[];
  counters: Record<string, number>;
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

function fillTables(obj: BpfObject, configText: string): void {
  const cfg = parseConfig(configText, "bench-switch.yaml");
  const d = desiredState(cfg, ifindexOf);
  const put = <N extends "globals" | "ports" | "vnis" | "flood" | "vteps" | "fdb">(name: N, k: unknown, v: unknown) => {
    const c = tableCodec(name);
    obj.map(tables[name].mapName).update(c.key.encode(k as never), c.value.encode(v as never), "any");
  };
  put("globals", { index: 0 }, d.globals);
  for (const [ifindex, v] of d.ports) put("ports", { ifindex }, v);
  for (const [vni, v] of d.vnis) put("vnis", { vni }, v);
  for (const [vni, list] of d.flood) list.forEach((v, slot) => put("flood", { vni, slot }, v));
  for (const [k, v] of d.vteps) put("vteps", k, v);
  for (const [k, v] of d.staticFdb) put("fdb", k, v);
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

  const vxg = BpfObject.openFile(spec.vxgObject);
  const harness = BpfObject.openFile(spec.harnessObject);
  try {
    vxg.load();
    harness.load();
    fillTables(vxg, spec.configText);
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
    }
    const checks: string[] = [];
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
        name: "vxg_xdp_access (encap)",
        via: "wrap",
        prog: vxg.program("vxg_xdp_access"),
        frame: accessFrame,
        ifindex: accessIfindex,
        expect: XDP.REDIRECT,
        verify(out) {
          const p = parseFrame(out);
          const e = spec.encap;
          if (p.eth.dst !== e.outerDstMac || p.eth.src !== e.outerSrcMac) fail(`encap outer MACs ${p.eth.src} -> ${p.eth.dst}`);
          if (p.ipv4?.src !== e.vtep || p.ipv4?.dst !== e.remote) fail(`encap outer IPs ${p.ipv4?.src} -> ${p.ipv4?.dst}`);
          if (!p.ipv4.checksumOk) fail("encap outer IPv4 checksum is wrong");
          if (p.udp?.dstPort !== 4789 || p.vxlan?.vni !== e.vni) fail(`encap UDP/VXLAN ${p.udp?.dstPort} vni ${p.vxlan?.vni}`);
          if (!out.subarray(50).equals(accessFrame)) fail("encap inner frame differs from the input");
        },
      },
    ];

    const arm = (t: Target) => {
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
    for (const t of targets) {
      const one = runOnce(t, 1);
      t.verify?.(one.data);
      const many = runOnce(t, 1000);
      t.verify?.(many.data);
      checks.push(`${t.name} via ${t.via}: ${XDP_NAME[t.expect]}${t.verify ? ", output verified" : ""}, after 1 and after 1000 runs`);
    }
    const warm = readCounters(vxg);
    const delta = (a: Record<string, number>, b: Record<string, number>, k: string) => (b[k] ?? 0) - (a[k] ?? 0);
    if (delta(before, warm, "decap_fwd") !== 1001) fail(`decap_fwd counted ${delta(before, warm, "decap_fwd")} of 1001 runs`);
    if (delta(before, warm, "encap_fwd") !== 1001) fail(`encap_fwd counted ${delta(before, warm, "encap_fwd")} of 1001 runs`);

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
    const expected = spec.rounds * spec.repeat;
    for (const k of ["decap_fwd", "encap_fwd"]) {
      if (delta(warm, after, k) !== expected) fail(`${k} counted ${delta(warm, after, k)} of ${expected} timed runs`);
    }
    const drops = counterNames.filter((k) => (k.startsWith("drop_") || k.startsWith("err_")) && (after[k] ?? 0) > 0);
    if (drops.length) fail(`drop/error counters moved: ${drops.map((k) => `${k}=${after[k]}`).join(", ")}`);
    checks.push(`counters: decap_fwd and encap_fwd = ${expected} each over the timed runs, no drop/error counter moved`);
    const out: WorkerResult = { targets: results, checks, counters: after, runsPerTarget: expected };
    process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  } finally {
    harness.close();
    vxg.close();
  }
}

main();

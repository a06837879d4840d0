// Malformed, truncated and random frames against the real XDP programs.
//
// (a) BPF_PROG_TEST_RUN: the ELF codegen makes for a config is loaded with
//     libbpf (no runtime), its maps filled with tableCodec-encoded entries so
//     that valid frames ARE forwarded (XDP_REDIRECT), then vxg_xdp_uplink and
//     vxg_xdp_access are fed every truncation of valid frames, a catalogue of
//     broken headers, and fast-check generated frames checked against a model
//     of what the stage should do. The test runs happen in a child process
//     inside a lab namespace: the kernel resolves ctx_in.ingress_ifindex (and
//     bpf_fib_lookup resolves the outer next hop) in the caller's namespace, so
//     the ports registered in the maps are veths of that namespace.
// (b) On the wire: the same kinds of frames injected into a running switch
//     (bootSwitch) from the spine and from hosts: nothing may come out, the
//     switch stays up, and the drop counters account for every frame.
//
// Frames shorter than an Ethernet header are not tested: the kernel refuses
// them both in BPF_PROG_TEST_RUN (EINVAL) and on a veth (AF_PACKET checks
// dev->min_header_len), so XDP never sees them.
//
// On the access side vxgate is an L2 switch port: a frame whose Ethernet
// header (and 802.1Q tag) is complete is a switchable frame whatever its
// payload, exactly as for the Linux bridge or the kernel's VXLAN device, so
// truncations that keep the L2 header are expected to be forwarded; only
// truncations inside the tag are malformed. On the uplink vxgate terminates
// the outer IPv4/UDP datagram, so it owes it the checks a host makes (RFC 1122
// 3.2.1.2, 4.1.3.4): see the uplink length/checksum cases at the end of (a),
// and it takes only frames addressed to the uplink's own MAC, as the kernel
// does (PACKET_OTHERHOST). A frame that would leave a port longer than its MTU
// allows is dropped (drop_egress_mtu), and one for a port XDP cannot transmit
// on goes up to TC (egress_via_tc): the models know both.
import { mkdirSync, rmSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { BpfObject, type BpfMap } from "libbpf-ts-bindings";
import { parseConfig } from "../../src/config/load.ts";
import { pipelineFor } from "../../src/codegen/pipeline.ts";
import { buildPipeline } from "../../src/codegen/build.ts";
import { counterNames, constants, type CounterName } from "../../src/codegen/tables.ts";
import { tableCodec, type TableValue } from "../../src/control/codec.ts";
import { desiredState } from "../../src/control/l2/desired.ts";
import { REPO } from "../../lab/fabric.ts";
import {
  Lab,
  arpRequest,
  ethernet,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IPV4,
  ipv4,
  ipv4HeaderChecksum,
  mac,
  macStr,
  onProcessExit,
  udp,
  udpFrame,
  vxlanHeader,
  type DecodedPacket,
} from "../harness/index.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";

// XDP verdicts
const ABORTED = 0;
const DROP = 1;
const PASS = 2;
const TX = 3;
const REDIRECT = 4;
const VERDICT = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];
const vname = (v: number) => VERDICT[v] ?? `verdict ${v}`;

const BCAST = "ff:ff:ff:ff:ff:ff";
const ZERO_MAC = "00:00:00:00:00:00";
const MCAST_V4 = "01:00:5e:00:00:01";
const MCAST_V6 = "33:33:00:00:00:01";

// ---------------------------------------------------------------------------
// frame construction

interface OuterOpts {
  dstMac: string;
  srcMac: string;
  inner: Buffer;
  srcIp?: string;
  dstIp?: string;
  vni?: number;
  vxFlags?: number;
  /** header length in 32-bit words; > 5 adds NOP options, < 5 only rewrites the nibble */
  ihl?: number;
  version?: number;
  proto?: number;
  mf?: boolean;
  fragOffset?: number;
  dport?: number;
  sport?: number;
  /** outer 802.1Q tag */
  vlan?: number;
  /** force fields (a consistent frame otherwise) */
  totalLength?: number;
  udpLength?: number;
  ipChecksum?: number;
}

/** Outer Ethernet/IPv4/UDP/VXLAN around `inner`, every length and checksum consistent unless forced. */
function vxlanFrame(o: OuterOpts): Buffer {
  const ihl = o.ihl ?? 5;
  const seg = udp({
    srcPort: o.sport ?? 50000,
    dstPort: o.dport ?? 4789,
    payload: Buffer.concat([vxlanHeader({ vni: o.vni ?? 100, flags: o.vxFlags ?? 0x08 }), o.inner]),
    checksum: "none",
  });
  if (o.udpLength !== undefined) seg.writeUInt16BE(o.udpLength, 4);
  const options = ihl > 5 ? Buffer.concat([Buffer.alloc((ihl - 5) * 4 - 1, 0x01), Buffer.from([0])]) : undefined;
  const ip = ipv4({
    src: o.srcIp ?? REMOTE_A,
    dst: o.dstIp ?? VTEP,
    protocol: o.proto ?? 17,
    payload: seg,
    mf: o.mf,
    fragOffset: o.fragOffset,
    df: !o.mf && !o.fragOffset,
    options,
    totalLength: o.totalLength,
  });
  if (ihl < 5 || o.version !== undefined) {
    ip[0] = ((o.version ?? 4) << 4) | (ihl < 5 ? ihl : ip[0]! & 0x0f);
    ip.writeUInt16BE(ipv4HeaderChecksum(ip.subarray(0, Math.max(20, (ip[0]! & 0x0f) * 4))), 10);
  }
  if (o.ipChecksum !== undefined) ip.writeUInt16BE(o.ipChecksum, 10);
  return ethernet({ dst: o.dstMac, src: o.srcMac, vlan: o.vlan === undefined ? undefined : { id: o.vlan }, ethertype: ETH_P_IPV4, payload: ip });
}

/** dst + src + raw tag words + ethertype + payload (no validation: for malformed L2). */
function rawL2(dst: string | Buffer, src: string | Buffer, tags: { tpid: number; tci: number }[], ethertype: number, payload: Buffer): Buffer {
  const t = Buffer.alloc(tags.length * 4 + 2);
  tags.forEach((x, i) => {
    t.writeUInt16BE(x.tpid, i * 4);
    t.writeUInt16BE(x.tci, i * 4 + 2);
  });
  t.writeUInt16BE(ethertype, tags.length * 4);
  return Buffer.concat([mac(dst), mac(src), t, payload]);
}

/** The frame with its first 802.1Q tag removed / set to `vid` (PCP/DEI kept on rewrite), as xdp_retag does. */
function retag(f: Buffer, have: number, want: number): Buffer {
  if (have === want) return f;
  if (have && want) {
    const c = Buffer.from(f);
    c.writeUInt16BE((c.readUInt16BE(14) & 0xf000) | want, 14);
    return c;
  }
  if (have) return Buffer.concat([f.subarray(0, 12), f.subarray(16)]);
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(ETH_P_8021Q, 0);
  tag.writeUInt16BE(want, 2);
  return Buffer.concat([f.subarray(0, 12), tag, f.subarray(12)]);
}

const isMcast = (m: Buffer) => (m[0]! & 1) === 1;
const isZero = (m: Buffer) => m.every((b) => b === 0);

// ---------------------------------------------------------------------------
// BPF_PROG_TEST_RUN in a child process inside the lab namespace

interface RunCase {
  prog: string;
  frame: Buffer;
  ifindex: number;
}
interface RunOut {
  retval: number;
  data: Buffer;
}

const CHILD = (lib: string, pins: Record<string, string>, mapPins: Record<string, string>) => `
import { createInterface } from "node:readline";
const { BpfProgram, BpfMap } = await import(${JSON.stringify(lib)});
const pins = ${JSON.stringify(pins)};
const progs = {};
for (const [k, p] of Object.entries(pins)) progs[k] = BpfProgram.openPinned(p);
const maps = {};
for (const [k, p] of Object.entries(${JSON.stringify(mapPins)})) maps[k] = BpfMap.openPinned(p);
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const req = JSON.parse(line);
  if (req.xdpTx) {
    // a devmap entry names a device of the caller's namespace: written from here
    const { map, ifindex, on } = req.xdpTx;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(ifindex);
    if (on) maps[map].update(key, key);
    else maps[map].delete(key);
    process.stdout.write(JSON.stringify({ id: req.id, out: [] }) + "\\n");
    return;
  }
  const out = req.cases.map((c) => {
    try {
      const data = Buffer.from(c.hex, "hex");
      // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
      const ctx = Buffer.alloc(24);
      ctx.writeUInt32LE(data.length, 4);
      ctx.writeUInt32LE(c.ifindex, 12);
      const r = progs[c.prog].testRun({ data, ctxIn: ctx });
      return { retval: r.retval, hex: r.data.toString("hex") };
    } catch (e) {
      return { error: String((e && e.message) || e) };
    }
  });
  process.stdout.write(JSON.stringify({ id: req.id, out }) + "\\n");
});
rl.on("close", () => process.exit(0));
process.stdout.write("ready\\n");
`;

class TestRunner {
  private buf = "";
  private seq = 0;
  private readonly pending = new Map<number, { ok: (o: RunOut[]) => void; fail: (e: Error) => void }>();
  private stderr = "";
  private ready = false;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line === "ready") this.ready = true;
        if (!line.startsWith("{")) continue;
        const msg = JSON.parse(line) as { id: number; out: { retval?: number; hex?: string; error?: string }[] };
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        const errs = msg.out.filter((o) => o.error);
        if (errs.length) p?.fail(new Error(`test run failed: ${errs[0]!.error}`));
        else p?.ok(msg.out.map((o) => ({ retval: o.retval!, data: Buffer.from(o.hex!, "hex") })));
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    child.once("exit", (code) => {
      for (const p of this.pending.values()) p.fail(new Error(`test-run child exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  static async start(lab: Lab, ns: string, pins: Record<string, string>, mapPins: Record<string, string>): Promise<TestRunner> {
    const lib = `file://${REPO}/native/lib/index.ts`;
    const child = lab.spawn(null, "nsenter", [`--net=${lab.netnsPath(ns)}`, process.execPath, "--import", "tsx", "--input-type=module", "-e", CHILD(lib, pins, mapPins)]);
    const r = new TestRunner(child);
    const until = Date.now() + 30_000;
    while (!r.ready) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`test-run child did not start: ${r.stderr}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
    return r;
  }

  run(cases: RunCase[]): Promise<RunOut[]> {
    const id = this.seq++;
    return new Promise((ok, fail) => {
      this.pending.set(id, { ok, fail });
      this.child.stdin!.write(JSON.stringify({ id, cases: cases.map((c) => ({ prog: c.prog, hex: c.frame.toString("hex"), ifindex: c.ifindex })) }) + "\n");
    });
  }

  async one(c: RunCase): Promise<RunOut> {
    return (await this.run([c]))[0]!;
  }

  /** Add a port to (or remove it from) a fixture's vxg_xdp_tx, inside the namespace. */
  xdpTx(map: string, ifindex: number, on: boolean): Promise<void> {
    const id = this.seq++;
    return new Promise((ok, fail) => {
      this.pending.set(id, { ok: () => ok(), fail });
      this.child.stdin!.write(JSON.stringify({ id, xdpTx: { map, ifindex, on } }) + "\n");
    });
  }

  close(): void {
    this.child.stdin?.end();
  }
}

// ---------------------------------------------------------------------------
// (a) test runs

// fixture addresses: acc is an access port (untagged VNI 100, and VLAN 10 ->
// VNI 100 when the pipeline has trunks), acc2 another access port, upl the
// uplink with a routed /30 towards a permanent next hop.
const H1 = "02:00:00:00:0a:01"; // host on acc (learned there by the tests)
const H2 = "02:00:00:00:0a:02"; // static: local on acc2
const H3 = "02:00:00:00:0a:03"; // another host on acc
const R1 = "02:00:00:00:0b:01"; // static: behind REMOTE_A
const R2 = "02:00:00:00:0b:02"; // a remote host (overlay source)
const R3 = "02:00:00:00:0b:03";
const NEXT_HOP_MAC = "02:00:00:00:ee:01";
const NEXT_HOP = "192.0.2.1";

interface Fixture {
  label: string;
  vlanFeature: boolean;
  /** port -> VLAN (0 = untagged) -> VNI */
  classify: Record<"acc" | "acc2", Record<number, number>>;
  /** VNIs that flood-and-learn; other configured VNIs only accept their flood list */
  learnVnis: number[];
  strictVnis: Record<number, string[]>;
  obj: BpfObject;
  fdb: BpfMap;
  counters: BpfMap;
  prog: { uplink: string; access: string };
  /** ports in vxg_xdp_tx: XDP redirects only into these (the runtime's target fills it) */
  xdpTx: Set<FxPort>;
}

/** the fixture's ports: two access ports, two uplinks (fib lookups go through the first) */
type FxPort = "acc" | "acc2" | "upl" | "upl2";
const FX_PORTS: FxPort[] = ["acc", "acc2", "upl", "upl2"];

let trLab: Lab;
let trNs: string;
const ifx: Record<FxPort, number> = { acc: 0, acc2: 0, upl: 0, upl2: 0 };
let uplMac = "";
let upl2Mac = "";
/** MTU of each fixture port (read at setup) */
const ifMtu: Record<FxPort, number> = { acc: 0, acc2: 0, upl: 0, upl2: 0 };
let runner: TestRunner;
const pinDir = `/sys/fs/bpf/vxgate-kt-malformed-${process.pid.toString(36)}`;
const fixtures: Fixture[] = [];
const unregisterPins = onProcessExit(() => rmSync(pinDir, { recursive: true, force: true }));

// trunks: acc carries VNI 100 untagged and VNI 200 on VLAN 10, acc2 VNI 200
// untagged and VNI 100 on VLAN 30 (so forwarding between them pushes and pops
// tags); plain: both ports untagged in VNI 100. VNI 300 takes no flood-and-learn:
// only REMOTE_B may send it.
function trConfig(vlanFeature: boolean): string {
  const ports = vlanFeature
    ? `  - { name: acc, vni: 100, vlans: [{ vlan: 10, vni: 200 }] }
  - { name: acc2, vni: 200, vlans: [{ vlan: 30, vni: 100 }] }`
    : `  - { name: acc, vni: 100 }
  - { name: acc2, vni: 100 }`;
  const statics = (vni: number) => `
  - vni: ${vni}
    flood: [${REMOTE_A}]
    static_macs:
      - { mac: "${H2}", port: acc2 }
      - { mac: "${R1}", remote: ${REMOTE_A} }`;
  return `switch:
  name: kt-mf-tr-${vlanFeature ? "trunk" : "plain"}
vtep:
  source_ip: ${VTEP}
uplinks:
  - name: upl
  - name: upl2
ports:
${ports}
vnis:${statics(100)}${vlanFeature ? statics(200) : ""}
  - vni: 300
    learning: false
    flood: [${REMOTE_B}]
`;
}

/** Load the pipeline for a config and fill its maps exactly as the runtime would for that config. */
function loadFixture(vlanFeature: boolean): Fixture {
  const cfg = parseConfig(trConfig(vlanFeature), `malformed-${vlanFeature ? "trunk" : "plain"}.yaml`);
  const p = pipelineFor(cfg);
  expect(p.features).toEqual({ vlan: vlanFeature, learning: true, mirror: true, macLimits: false, mcast: false });
  const built = buildPipeline(p);
  const obj = BpfObject.openFile(built.objectPath);
  obj.load();
  const want = desiredState(
    cfg,
    (n) => {
      const i = ifx[n as keyof typeof ifx];
      if (!i) throw new Error(`no ifindex for ${n}`);
      return i;
    },
    undefined,
    (n) => trLab.mac(trNs, n),
  );
  const put = <N extends "globals" | "ports" | "vlans" | "vnis" | "flood" | "vteps" | "fdb">(t: N, k: unknown, v: unknown) => {
    const c = tableCodec(t);
    obj.map(`vxg_${t}`).update(c.key.encode(k as never), c.value.encode(v as never));
  };
  put("globals", { index: 0 }, want.globals);
  for (const [ifindex, v] of want.ports) put("ports", { ifindex }, v);
  for (const [k, v] of want.vlans) put("vlans", k, v);
  for (const [vni, list] of want.flood) list.forEach((v, slot) => put("flood", { vni, slot }, v));
  for (const [vni, v] of want.vnis) put("vnis", { vni }, v);
  for (const [k, v] of want.vteps) put("vteps", k, v);
  for (const [k, v] of want.staticFdb) put("fdb", k, v);
  const label = vlanFeature ? "trunk" : "plain";
  for (const name of ["vxg_xdp_uplink", "vxg_xdp_access"]) obj.program(name).pin(`${pinDir}/${label}-${name}`);
  // filled (setXdpTx) once the runner runs in the namespace
  obj.map("vxg_xdp_tx").pin(`${pinDir}/${label}-vxg_xdp_tx`);
  const classify: Fixture["classify"] = vlanFeature ? { acc: { 0: 100, 10: 200 }, acc2: { 0: 200, 30: 100 } } : { acc: { 0: 100 }, acc2: { 0: 100 } };
  const learnVnis = vlanFeature ? [100, 200] : [100];
  return { label, vlanFeature, classify, learnVnis, strictVnis: { 300: [REMOTE_B] }, obj, fdb: obj.map("vxg_fdb"), counters: obj.map("vxg_counters"), prog: { uplink: `${label}-uplink`, access: `${label}-access` }, xdpTx: new Set() };
}

/** Put a port in vxg_xdp_tx or take it out, as the target does at attach time. */
async function setXdpTx(fx: Fixture, port: FxPort, on: boolean): Promise<void> {
  await runner.xdpTx(fx.label, ifx[port], on);
  if (on) fx.xdpTx.add(port);
  else fx.xdpTx.delete(port);
}

const portOf = (ifindex: number) => FX_PORTS.find((n) => ifx[n] === ifindex)!;

/** Where a frame of `outLen` bytes for port `ifindex` goes, as bpf/egress.h
 * decides it: too long for the port (MTU + 14 + 4 bytes of VLAN slack): dropped;
 * a port XDP cannot transmit on: up to TC unchanged; else the redirect. */
function egressModel(fx: Fixture, ifindex: number, outLen: number, tooLong: CounterName = "drop_egress_mtu"): Expect | undefined {
  const port = portOf(ifindex);
  if (outLen > ifMtu[port] + 18) return { verdict: DROP, counter: tooLong };
  if (!fx.xdpTx.has(port)) return { verdict: PASS, counter: "egress_via_tc" };
  return undefined;
}

function readCounters(f: Fixture): Record<CounterName, bigint> {
  const c = tableCodec("counters");
  const out = {} as Record<CounterName, bigint>;
  counterNames.forEach((n, id) => {
    out[n] = (f.counters.lookupPerCpu(c.key.encode({ id })) ?? []).reduce((s, b) => s + c.value.decode(b).packets, 0n);
  });
  return out;
}

function fdbGet(f: Fixture, vni: number, m: Buffer): TableValue<"fdb"> | undefined {
  const c = tableCodec("fdb");
  const v = f.fdb.lookup(c.key.encode({ vni, mac: macStr(m) }));
  return v ? c.value.decode(v) : undefined;
}

function vniOf(fx: Fixture, port: "acc" | "acc2", vlan: number): number {
  return fx.classify[port][vlan] ?? 0;
}

interface Expect {
  verdict: number;
  counter?: CounterName;
  /** expected output bytes (REDIRECT) */
  out?: (data: Buffer) => void;
}

/** What vxg_xdp_access should do with `f` arriving on `port` (the FDB is read live). */
function accessModel(fx: Fixture, port: "acc" | "acc2", f: Buffer): Expect {
  let et = f.readUInt16BE(12);
  let vlan = 0;
  if (et === ETH_P_8021Q) {
    if (f.length < 18) return { verdict: DROP, counter: "drop_malformed" };
    vlan = f.readUInt16BE(14) & 0x0fff;
    et = f.readUInt16BE(16);
    if (et === ETH_P_8021Q || et === ETH_P_8021AD || vlan === 0 || vlan === 0xfff) return { verdict: DROP, counter: "drop_malformed" };
  } else if (et === ETH_P_8021AD) return { verdict: DROP, counter: "drop_malformed" };
  const vni = vniOf(fx, port, vlan);
  if (!vni) return { verdict: DROP, counter: "drop_no_port_vni" };
  const dst = f.subarray(0, 6);
  const src = f.subarray(6, 12);
  if (isMcast(src) || isZero(src)) return { verdict: DROP, counter: "drop_invalid_smac" };
  if (isMcast(dst)) return { verdict: PASS, counter: "bum_to_tc" };
  if (dst.equals(src)) throw new Error("model: src == dst not modelled");
  const e = fdbGet(fx, vni, dst);
  if (!e) return { verdict: PASS, counter: "bum_to_tc" };
  if (e.kind === constants.FDB_LOCAL) {
    if (e.ifindex === ifx[port] && e.vlan === vlan) return { verdict: DROP, counter: "drop_same_port" };
    const want = retag(f, vlan, e.vlan);
    const egress = egressModel(fx, e.ifindex, want.length);
    if (egress) return egress;
    return { verdict: REDIRECT, counter: "local_fwd", out: (d) => expect(d.toString("hex")).toBe(want.toString("hex")) };
  }
  const inner = retag(f, vlan, 0);
  // the outer packet's size is the FIB's to check (drop_mtu); the uplink must take XDP frames
  if (!fx.xdpTx.has("upl")) return { verdict: PASS, counter: "egress_via_tc" };
  return {
    verdict: REDIRECT,
    counter: "encap_fwd",
    out: (d) => {
      expect(d.length).toBe(inner.length + 50);
      expect(macStr(d, 0)).toBe(NEXT_HOP_MAC);
      expect(macStr(d, 6)).toBe(uplMac);
      expect(d.readUInt16BE(12)).toBe(ETH_P_IPV4);
      const ip = d.subarray(14, 34);
      expect(ip[0]).toBe(0x45);
      expect(ip.readUInt16BE(2)).toBe(inner.length + 36);
      expect(ip[8]).toBe(64);
      expect(ip[9]).toBe(17);
      expect(ipv4HeaderChecksum(ip)).toBe(ip.readUInt16BE(10));
      expect([...ip.subarray(12, 16)].join(".")).toBe(VTEP);
      expect([...ip.subarray(16, 20)].join(".")).toBe(e.remote);
      expect(d.readUInt16BE(34)).toBeGreaterThanOrEqual(49152);
      expect(d.readUInt16BE(36)).toBe(4789);
      expect(d.readUInt16BE(38)).toBe(inner.length + 16);
      expect(d.readUInt16BE(40)).toBe(0);
      expect(d[42]).toBe(0x08);
      expect(d.readUInt32BE(46) >>> 8).toBe(vni);
      expect(d.subarray(50).toString("hex")).toBe(inner.toString("hex"));
    },
  };
}

/** What vxg_xdp_uplink should do with a frame whose outer lengths and checksums are consistent. */
function uplinkModel(fx: Fixture, f: Buffer, ingress: "upl" | "upl2" = "upl"): Expect {
  const pass: Expect = { verdict: PASS, counter: "uplink_pass_kernel" };
  if (f.readUInt16BE(12) !== ETH_P_IPV4 || f.length < 34) return pass;
  const version = f[14]! >> 4;
  const ihl = f[14]! & 0x0f;
  if ([...f.subarray(30, 34)].join(".") !== VTEP || f[23] !== 17 || version !== 4 || ihl < 5) return pass;
  if (f.readUInt16BE(20) & 0x3fff) return pass;
  const u = 14 + ihl * 4;
  if (f.length < u + 8 || f.readUInt16BE(u + 2) !== 4789) return pass;
  // ours from here on: first, was it addressed to the uplink at all?
  if (macStr(f, 0) !== (ingress === "upl" ? uplMac : upl2Mac)) return { verdict: DROP, counter: "drop_outer_dst_mac" };
  const vx = u + 8;
  if (f.length < vx + 8) return { verdict: DROP, counter: "drop_malformed" };
  if (!(f[vx]! & 0x08)) return { verdict: DROP, counter: "drop_bad_vxlan" };
  const inner = vx + 8;
  if (f.length < inner + 14) return { verdict: DROP, counter: "drop_malformed" };
  // never a VTEP: 0.0.0.0, loopback, multicast/broadcast/class E, ourselves
  if (f.readUInt32BE(26) === 0 || f[26]! === 127 || f[26]! >= 224 || [...f.subarray(26, 30)].join(".") === VTEP)
    return { verdict: DROP, counter: "drop_bad_outer_src" };
  // Group Policy (G): a mirror copy, and this fixture terminates no HOST ID
  if (f[vx]! & 0x80) return { verdict: DROP, counter: "drop_mirror_unknown_id" };
  const vni = f.readUInt32BE(vx + 4) >>> 8;
  const src = [...f.subarray(26, 30)].join(".");
  const strict = fx.strictVnis[vni];
  if (!fx.learnVnis.includes(vni) && !strict) return { verdict: DROP, counter: "drop_unknown_vni" };
  if (strict && !strict.includes(src)) return { verdict: DROP, counter: "drop_spoof" };
  const iet = f.readUInt16BE(inner + 12);
  if (iet === ETH_P_8021Q || iet === ETH_P_8021AD) return { verdict: DROP, counter: "drop_malformed" };
  const idst = f.subarray(inner, inner + 6);
  const isrc = f.subarray(inner + 6, inner + 12);
  if (isMcast(isrc) || isZero(isrc)) return { verdict: DROP, counter: "drop_invalid_smac" };
  if (isMcast(idst)) return { verdict: PASS, counter: "bum_to_tc" };
  if (idst.equals(isrc)) throw new Error("model: src == dst not modelled");
  const e = fdbGet(fx, vni, idst);
  if (!e) return { verdict: PASS, counter: "bum_to_tc" };
  if (e.kind !== constants.FDB_LOCAL) return { verdict: DROP, counter: "drop_hairpin" };
  const want = retag(Buffer.from(f.subarray(inner)), 0, e.vlan);
  const egress = egressModel(fx, e.ifindex, want.length);
  if (egress) return egress;
  return { verdict: REDIRECT, counter: "decap_fwd", out: (d) => expect(d.toString("hex")).toBe(want.toString("hex")) };
}

async function check(fx: Fixture, c: RunCase, want: Expect, what: string): Promise<void> {
  const before = want.counter ? readCounters(fx)[want.counter] : 0n;
  const r = await runner.one(c);
  expect(vname(r.retval), `${fx.label} ${what}`).toBe(vname(want.verdict));
  if (want.counter) expect(readCounters(fx)[want.counter] - before, `${fx.label} ${what}: counter ${want.counter}`).toBe(1n);
  want.out?.(r.data);
}

beforeAll(async () => {
  trLab = new Lab("malformed-tr");
  trNs = trLab.ns("tr", { forwarding: true });
  trLab.veth(trNs, "acc", trNs, "accp");
  trLab.veth(trNs, "acc2", trNs, "acc2p");
  trLab.veth(trNs, "upl", trNs, "uplp", { mtu: 1600 });
  trLab.veth(trNs, "upl2", trNs, "upl2p", { mtu: 1600 });
  trLab.addr(trNs, "lo", `${VTEP}/32`);
  trLab.addr(trNs, "upl", "192.0.2.2/30");
  trLab.neigh(trNs, "upl", NEXT_HOP, NEXT_HOP_MAC);
  trLab.route(trNs, `${REMOTE_A}/32`, { via: NEXT_HOP });
  trLab.route(trNs, `${REMOTE_B}/32`, { via: NEXT_HOP });
  for (const n of FX_PORTS) ifx[n] = trLab.link(trNs, n).ifindex;
  uplMac = trLab.mac(trNs, "upl");
  upl2Mac = trLab.mac(trNs, "upl2");
  for (const n of FX_PORTS) ifMtu[n] = trLab.link(trNs, n).mtu;
  mkdirSync(pinDir, { recursive: true });
  fixtures.push(loadFixture(true), loadFixture(false));
  const pins: Record<string, string> = {};
  for (const f of fixtures) {
    pins[f.prog.uplink] = `${pinDir}/${f.label}-vxg_xdp_uplink`;
    pins[f.prog.access] = `${pinDir}/${f.label}-vxg_xdp_access`;
  }
  runner = await TestRunner.start(
    trLab,
    trNs,
    pins,
    Object.fromEntries(fixtures.map((f) => [f.label, `${pinDir}/${f.label}-vxg_xdp_tx`])),
  );
  for (const f of fixtures) for (const n of FX_PORTS) await setXdpTx(f, n, true);
});

afterAll(async () => {
  runner?.close();
  for (const f of fixtures) f.obj.close();
  rmSync(pinDir, { recursive: true, force: true });
  unregisterPins();
  await trLab?.dispose();
});

// valid frames
const validUplinkInner = () =>
  udpFrame({ dstMac: H2, srcMac: R2, srcIp: "198.51.100.20", dstIp: "198.51.100.2", srcPort: 4000, dstPort: 5000, payload: Buffer.from("decap me, please: a payload of some length") });
const validUplink = (o: Partial<OuterOpts> = {}) => vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: validUplinkInner(), ...o });
const validAccess = (dst: string, vlan?: number, src = H1) =>
  udpFrame({ dstMac: dst, srcMac: src, vlan: vlan ? { id: vlan } : undefined, srcIp: "198.51.100.1", dstIp: "198.51.100.2", srcPort: 1234, dstPort: 80, payload: Buffer.from("an access frame with a payload") });
/** An untagged UDP frame of exactly n bytes. */
const udpOfLen = (dst: string, src: string, n: number) =>
  udpFrame({ dstMac: dst, srcMac: src, srcIp: "198.51.100.1", dstIp: "198.51.100.2", srcPort: 1234, dstPort: 80, payload: Buffer.alloc(n - 42, 0x61) });

describe.each([true, false])("BPF_PROG_TEST_RUN (trunks compiled in: %s)", (vlanFeature) => {
  const fx = () => fixtures.find((f) => f.vlanFeature === vlanFeature)!;
  const up = (frame: Buffer, port: "upl" | "upl2" = "upl"): RunCase => ({ prog: fx().prog.uplink, frame, ifindex: ifx[port] });
  const acc = (frame: Buffer, port: "acc" | "acc2" = "acc"): RunCase => ({ prog: fx().prog.access, frame, ifindex: ifx[port] });

  it("valid frames are forwarded (the maps are live): decap, local switching, encap", async () => {
    const valid = async (c: RunCase, model: Expect, what: string, counter: CounterName) => {
      expect(vname(model.verdict), `model: ${what}`).toBe("XDP_REDIRECT");
      expect(model.counter).toBe(counter);
      await check(fx(), c, model, what);
    };
    await valid(up(validUplink()), uplinkModel(fx(), validUplink()), "valid VXLAN", "decap_fwd");
    // with IP options the inner frame still starts at the right place
    await valid(up(validUplink({ ihl: 7 })), uplinkModel(fx(), validUplink({ ihl: 7 })), "VXLAN with outer IP options", "decap_fwd");
    await valid(up(validUplink({ ihl: 15 })), uplinkModel(fx(), validUplink({ ihl: 15 })), "VXLAN with 40 bytes of outer IP options", "decap_fwd");
    const d = await runner.one(up(validUplink()));
    expect(d.data.equals(vlanFeature ? retag(validUplinkInner(), 0, 30) : validUplinkInner())).toBe(true);
    await valid(acc(validAccess(H2)), accessModel(fx(), "acc", validAccess(H2)), "access -> local port", "local_fwd");
    await valid(acc(validAccess(R1)), accessModel(fx(), "acc", validAccess(R1)), "access -> remote (encap)", "encap_fwd");
    expect(fdbGet(fx(), 100, mac(H1))).toMatchObject({ kind: constants.FDB_LOCAL, ifindex: ifx.acc, vlan: 0 });
    if (vlanFeature) {
      await valid(acc(validAccess(R1, 10)), accessModel(fx(), "acc", validAccess(R1, 10)), "tagged access -> remote", "encap_fwd");
      await valid(acc(validAccess(H2, 10, H3)), accessModel(fx(), "acc", validAccess(H2, 10, H3)), "tagged -> untagged local port", "local_fwd");
      const popped = await runner.one(acc(validAccess(H2, 10, H3)));
      expect(popped.data.equals(validAccess(H2, undefined, H3))).toBe(true);
      const H4 = "02:00:00:00:0a:04";
      await valid(acc(validAccess(H1, 30, H4), "acc2"), accessModel(fx(), "acc2", validAccess(H1, 30, H4)), "tagged VNI 100 on acc2 -> H1 untagged on acc", "local_fwd");
      await check(fx(), acc(validAccess(H2, 30, H4), "acc2"), { verdict: DROP, counter: "drop_same_port" }, "tagged VNI 100 on acc2 -> H2 (acc2 VLAN 30)");
    } else {
      await check(fx(), acc(validAccess(R1, 10)), { verdict: DROP, counter: "drop_no_port_vni" }, "tagged frame without trunks");
    }
  });

  it("uplink: a catalogue of broken or foreign outer headers is dropped or left to the kernel", async () => {
    const inner = validUplinkInner();
    const cases: [string, Buffer, number, CounterName][] = [
      ["no I flag", validUplink({ vxFlags: 0x00 }), DROP, "drop_bad_vxlan"],
      ["flags without I", validUplink({ vxFlags: 0xf7 }), DROP, "drop_bad_vxlan"],
      // a Group Policy packet is a mirror copy or nothing: no termination entry for its HOST ID here
      ["G flag (mirror copy) for a HOST ID nobody terminates", validUplink({ vxFlags: 0x88 }), DROP, "drop_mirror_unknown_id"],
      ["unknown VNI", validUplink({ vni: 999 }), DROP, "drop_unknown_vni"],
      ["VNI 0", validUplink({ vni: 0 }), DROP, "drop_unknown_vni"],
      ["spoofed VTEP for a non-learning VNI", validUplink({ vni: 300, srcIp: REMOTE_A }), DROP, "drop_spoof"],
      ["inner multicast source", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: retagSrc(inner, MCAST_V4) }), DROP, "drop_invalid_smac"],
      ["inner broadcast source", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: retagSrc(inner, BCAST) }), DROP, "drop_invalid_smac"],
      ["inner zero source", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: retagSrc(inner, ZERO_MAC) }), DROP, "drop_invalid_smac"],
      ["inner 802.1Q tag", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: retag(inner, 0, 10) }), DROP, "drop_malformed"],
      ["inner 802.1ad tag", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: rawL2(H2, R2, [{ tpid: ETH_P_8021AD, tci: 10 }], ETH_P_IPV4, inner.subarray(14)) }), DROP, "drop_malformed"],
      ["inner destination behind the overlay (hairpin)", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: retagDst(inner, R1) }), DROP, "drop_hairpin"],
      ["VXLAN header cut after the UDP header", validUplink().subarray(0, 42), DROP, "drop_malformed"],
      ["inner Ethernet header cut", validUplink().subarray(0, 63), DROP, "drop_malformed"],
      ["first fragment (MF)", validUplink({ mf: true }), PASS, "uplink_pass_kernel"],
      ["later fragment (offset)", validUplink({ fragOffset: 185 }), PASS, "uplink_pass_kernel"],
      ["IHL 4", validUplink({ ihl: 4 }), PASS, "uplink_pass_kernel"],
      ["IHL 0", validUplink({ ihl: 0 }), PASS, "uplink_pass_kernel"],
      ["IP version 6 in an IPv4 ethertype", validUplink({ version: 6 }), PASS, "uplink_pass_kernel"],
      ["IP version 0", validUplink({ version: 0 }), PASS, "uplink_pass_kernel"],
      ["another VTEP's address", validUplink({ dstIp: "198.18.0.99" }), PASS, "uplink_pass_kernel"],
      ["UDP port 4790", validUplink({ dport: 4790 }), PASS, "uplink_pass_kernel"],
      ["TCP to port 4789", validUplink({ proto: 6 }), PASS, "uplink_pass_kernel"],
      ["outer 802.1Q tag", validUplink({ vlan: 5 }), PASS, "uplink_pass_kernel"],
      ["ARP on the uplink", arpRequest({ srcMac: NEXT_HOP_MAC, srcIp: NEXT_HOP, targetIp: "192.0.2.2" }), PASS, "uplink_pass_kernel"],
      // the kernel drops a frame for another MAC (PACKET_OTHERHOST) before IP: not decapsulated
      ["outer destination: another MAC", validUplink({ dstMac: "02:00:00:00:99:99" }), DROP, "drop_outer_dst_mac"],
      // learning would take these as VTEPs (a flood-and-learn VNI admits any source)
      ["outer source 0.0.0.0", validUplink({ srcIp: "0.0.0.0" }), DROP, "drop_bad_outer_src"],
      ["outer source multicast (224.0.0.5)", validUplink({ srcIp: "224.0.0.5" }), DROP, "drop_bad_outer_src"],
      ["outer source broadcast", validUplink({ srcIp: "255.255.255.255" }), DROP, "drop_bad_outer_src"],
      ["outer source loopback", validUplink({ srcIp: "127.0.0.1" }), DROP, "drop_bad_outer_src"],
      ["outer source is our own VTEP", validUplink({ srcIp: VTEP }), DROP, "drop_bad_outer_src"],
      ["outer destination: broadcast", validUplink({ dstMac: BCAST }), DROP, "drop_outer_dst_mac"],
      ["outer destination: multicast", validUplink({ dstMac: MCAST_V4 }), DROP, "drop_outer_dst_mac"],
      ["broken VXLAN for another MAC", validUplink({ dstMac: "02:00:00:00:99:99" }).subarray(0, 63), DROP, "drop_outer_dst_mac"],
      ["other UDP for another MAC: the kernel's", validUplink({ dstMac: "02:00:00:00:99:99", dport: 4790 }), PASS, "uplink_pass_kernel"],
      // H2's port (acc2) sends at most MTU + 18 bytes; a tag pushed there (trunks) counts
      ["inner frame as long as H2's port takes", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: udpOfLen(H2, R2, ifMtu.acc2 + 18 - (vlanFeature ? 4 : 0)) }), REDIRECT, "decap_fwd"],
      ["inner frame a byte longer than H2's port takes", vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, inner: udpOfLen(H2, R2, ifMtu.acc2 + 19 - (vlanFeature ? 4 : 0)) }), DROP, "drop_egress_mtu"],
    ];
    for (const [what, frame, verdict, counter] of cases) {
      // the model agrees with the catalogue, and the program with both
      expect(vname(uplinkModel(fx(), frame).verdict), `model: ${what}`).toBe(vname(verdict));
      await check(fx(), up(frame), { verdict, counter }, what);
    }
    // nothing the catalogue sent was learned from an invalid source
    expect(fdbGet(fx(), 100, mac(MCAST_V4))).toBeUndefined();
    expect(fdbGet(fx(), 100, mac(ZERO_MAC))).toBeUndefined();
    // a static entry is not moved by a frame claiming it from elsewhere
    await runner.one(up(vxlanFrame({ dstMac: uplMac, srcMac: NEXT_HOP_MAC, srcIp: REMOTE_B, inner: retagSrc(retagDst(inner, BCAST), R1) })));
    expect(fdbGet(fx(), 100, mac(R1))).toMatchObject({ kind: constants.FDB_REMOTE, remote: REMOTE_A, flags: constants.FDB_STATIC });
  });

  it("access: a catalogue of broken L2 headers and sources is dropped at the port", async () => {
    const payload = validAccess(R1).subarray(14);
    const cases: [string, Buffer, "acc" | "acc2", number, CounterName][] = [
      ["802.1ad outer tag", rawL2(R1, H1, [{ tpid: ETH_P_8021AD, tci: 10 }], ETH_P_IPV4, payload), "acc", DROP, "drop_malformed"],
      ["stacked 802.1Q tags", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 10 }, { tpid: ETH_P_8021Q, tci: 10 }], ETH_P_IPV4, payload), "acc", DROP, "drop_malformed"],
      ["802.1Q then 802.1ad", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 10 }, { tpid: ETH_P_8021AD, tci: 10 }], ETH_P_IPV4, payload), "acc", DROP, "drop_malformed"],
      ["priority tag (VID 0)", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 0xe000 }], ETH_P_IPV4, payload), "acc", DROP, "drop_malformed"],
      ["reserved VID 4095", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 0x0fff }], ETH_P_IPV4, payload), "acc", DROP, "drop_malformed"],
      ["unmapped VLAN", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 20 }], ETH_P_IPV4, payload), "acc", DROP, "drop_no_port_vni"],
      ["tag on an untagged-only port", rawL2(R1, H1, [{ tpid: ETH_P_8021Q, tci: 10 }], ETH_P_IPV4, payload), "acc2", DROP, "drop_no_port_vni"],
      ["multicast source", rawL2(R1, MCAST_V4, [], ETH_P_IPV4, payload), "acc", DROP, "drop_invalid_smac"],
      ["broadcast source", rawL2(R1, BCAST, [], ETH_P_IPV4, payload), "acc", DROP, "drop_invalid_smac"],
      ["zero source", rawL2(R1, ZERO_MAC, [], ETH_P_IPV4, payload), "acc", DROP, "drop_invalid_smac"],
      ["to the port it came from", rawL2(H2, R3.replace("0b", "0c"), [], ETH_P_IPV4, payload), "acc2", DROP, "drop_same_port"],
      ["broadcast goes to replication", rawL2(BCAST, H1, [], ETH_P_ARP, payload), "acc", PASS, "bum_to_tc"],
      ["unknown unicast goes to replication", rawL2("02:00:00:00:0f:0f", H1, [], ETH_P_IPV4, payload), "acc", PASS, "bum_to_tc"],
      ["as long as the destination's port takes", udpOfLen(H2, H1, ifMtu.acc2 + 18 - (vlanFeature ? 4 : 0)), "acc", REDIRECT, "local_fwd"],
      ["a byte longer than the destination's port takes", udpOfLen(H2, H1, ifMtu.acc2 + 19 - (vlanFeature ? 4 : 0)), "acc", DROP, "drop_egress_mtu"],
    ];
    for (const [what, frame, port, verdict, counter] of cases) {
      expect(vname(accessModel(fx(), port, frame).verdict), `model: ${what}`).toBe(vname(verdict));
      await check(fx(), acc(frame, port), { verdict, counter }, what);
    }
    expect(fdbGet(fx(), 100, mac(MCAST_V4))).toBeUndefined();
    expect(fdbGet(fx(), 100, mac(BCAST))).toBeUndefined();
    // H1 learned on acc, then a frame to H1 from acc: never back out of the port
    await runner.one(acc(validAccess(BCAST)));
    await check(fx(), acc(validAccess(H1, undefined, H3)), { verdict: DROP, counter: "drop_same_port" }, "to a host on the same port");
  });

  it("uplink: each uplink takes VXLAN addressed to its own MAC only", async () => {
    const cases: [string, "upl" | "upl2", Buffer, number, CounterName][] = [
      // the first uplink's MAC is compared from the globals, any other's through the ports table
      ["second uplink, its own MAC", "upl2", validUplink({ dstMac: upl2Mac }), REDIRECT, "decap_fwd"],
      ["second uplink, the first uplink's MAC", "upl2", validUplink(), DROP, "drop_outer_dst_mac"],
      ["first uplink, the second uplink's MAC", "upl", validUplink({ dstMac: upl2Mac }), DROP, "drop_outer_dst_mac"],
      ["first uplink, its own MAC", "upl", validUplink(), REDIRECT, "decap_fwd"],
    ];
    for (const [what, port, frame, verdict, counter] of cases) {
      expect(vname(uplinkModel(fx(), frame, port).verdict), `model: ${what}`).toBe(vname(verdict));
      await check(fx(), up(frame, port), { verdict, counter }, what);
    }
  });

  it("a port XDP cannot transmit on (not in vxg_xdp_tx): its frames go up to TC unchanged, counted egress_via_tc", async () => {
    const f = fx();
    const same = (c: RunCase) => async () => expect((await runner.one(c)).data.toString("hex")).toBe(c.frame.toString("hex"));
    try {
      await setXdpTx(f, "acc2", false);
      for (const [what, c] of [
        ["decap to H2", up(validUplink())],
        ["acc -> H2", acc(validAccess(H2))],
      ] as const) {
        const model = c.prog === f.prog.uplink ? uplinkModel(f, c.frame) : accessModel(f, "acc", c.frame);
        expect(model, `model: ${what}`).toMatchObject({ verdict: PASS, counter: "egress_via_tc" });
        await check(f, c, model, what);
        await same(c)();
      }
      await setXdpTx(f, "upl", false);
      const enc = acc(validAccess(R1));
      expect(accessModel(f, "acc", enc.frame), "model: encap").toMatchObject({ verdict: PASS, counter: "egress_via_tc" });
      await check(f, enc, accessModel(f, "acc", enc.frame), "encap with the uplink out of vxg_xdp_tx");
      await same(enc)();
    } finally {
      await setXdpTx(f, "acc2", true);
      await setXdpTx(f, "upl", true);
    }
    await check(f, up(validUplink()), uplinkModel(f, validUplink()), "decap to H2 again");
  });

  it("access: every truncation of valid untagged and tagged frames (L2 header intact: forwarded; tag cut: dropped)", async () => {
    const frames: [string, Buffer][] = [
      ["untagged -> local", validAccess(H2)],
      ["untagged -> remote", validAccess(R1)],
      ["ARP broadcast", arpRequest({ srcMac: H1, srcIp: "198.51.100.1", targetIp: "198.51.100.9" })],
      ["tagged -> remote", validAccess(R1, 10)],
      ["tagged -> local", validAccess(H2, 10, H3)],
    ];
    for (const [what, full] of frames) {
      const cases: RunCase[] = [];
      for (let n = 14; n <= full.length; n++) cases.push(acc(Buffer.from(full.subarray(0, n))));
      // batch: expected verdicts are computed per frame against the FDB, which
      // these frames don't change (their source is already learned there)
      await runner.one(cases[cases.length - 1]!);
      const want = cases.map((c) => accessModel(fx(), "acc", c.frame));
      const got = await runner.run(cases);
      got.forEach((r, i) => {
        const n = cases[i]!.frame.length;
        expect(vname(r.retval), `${what} cut to ${n} bytes`).toBe(vname(want[i]!.verdict));
        if (full.readUInt16BE(12) === ETH_P_8021Q && n < 18) expect(r.retval, `${what} cut inside the tag (${n})`).toBe(DROP);
        want[i]!.out?.(r.data);
      });
      const last = got[got.length - 1]!.retval;
      expect(vname(last), `${what} (untruncated)`).toBe(vname(what === "ARP broadcast" ? PASS : vlanFeature || full.readUInt16BE(12) !== ETH_P_8021Q ? REDIRECT : DROP));
    }
  });

  it("uplink: every truncation of a valid VXLAN frame up to the inner Ethernet header is dropped or left to the kernel", async () => {
    const full = validUplink();
    const cases: RunCase[] = [];
    for (let n = 14; n < 14 + 20 + 8 + 8 + 14; n++) cases.push(up(Buffer.from(full.subarray(0, n))));
    const before = readCounters(fx());
    const got = await runner.run(cases);
    got.forEach((r, i) => {
      const n = cases[i]!.frame.length;
      // no complete UDP header: not VXLAN for us (the kernel drops the truncated datagram)
      const want = n < 42 ? PASS : DROP;
      expect(vname(r.retval), `VXLAN cut to ${n} bytes`).toBe(vname(want));
    });
    const after = readCounters(fx());
    expect(after.drop_malformed - before.drop_malformed).toBe(BigInt(64 - 42));
    expect(after.uplink_pass_kernel - before.uplink_pass_kernel).toBe(BigInt(42 - 14));
    expect((await runner.one(up(full))).retval).toBe(REDIRECT);
  });

  it("random bytes: never forwarded, never XDP_TX or aborted (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 14, maxLength: 256 }), fc.constantFrom<"acc" | "acc2">("acc", "acc2"), async (bytes, port) => {
        const f = Buffer.from(bytes);
        const [u, a] = await runner.run([up(f), acc(f, port)]);
        expect([DROP, PASS]).toContain(u!.retval);
        // random destinations are (almost surely) unknown: dropped or handed to replication
        const m = accessModel(fx(), port, f);
        expect(vname(a!.retval)).toBe(vname(m.verdict));
        expect([DROP, PASS]).toContain(a!.retval);
      }),
      { numRuns: 400 },
    );
  });

  it("access: generated frames (tags, MACs, ethertypes, truncation) get exactly the model's verdict (fast-check)", async () => {
    const someMac = (pool: string[]) => fc.oneof(fc.constantFrom(...pool).map(mac), fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Buffer.from(b)));
    const tci = fc.oneof(fc.constant(10), fc.constant(20), fc.constant(0), fc.constant(0xfff), fc.integer({ min: 0, max: 0xffff }));
    const arb = fc.record({
      port: fc.constantFrom<"acc" | "acc2">("acc", "acc2"),
      dst: someMac([H2, R1, BCAST, MCAST_V4, MCAST_V6]),
      src: someMac([H1, H3, ZERO_MAC, MCAST_V4, BCAST]),
      tags: fc.array(fc.record({ tpid: fc.constantFrom(ETH_P_8021Q, ETH_P_8021Q, ETH_P_8021AD), tci }), { maxLength: 2 }),
      ethertype: fc.oneof(fc.constantFrom(ETH_P_IPV4, ETH_P_ARP, 0x86dd, ETH_P_8021Q, ETH_P_8021AD), fc.integer({ min: 0, max: 0xffff })),
      payload: fc.uint8Array({ maxLength: 120 }),
      cut: fc.option(fc.integer({ min: 14, max: 200 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (x) => {
        fc.pre(!x.dst.equals(x.src));
        let f = rawL2(x.dst, x.src, x.tags, x.ethertype, Buffer.from(x.payload));
        if (x.cut !== undefined && x.cut < f.length) f = f.subarray(0, x.cut);
        const want = accessModel(fx(), x.port, f);
        const r = await runner.one(acc(f, x.port));
        expect(vname(r.retval)).toBe(vname(want.verdict));
        want.out?.(r.data);
      }),
      { numRuns: 600 },
    );
  });

  it("uplink: generated outer/inner headers (consistent lengths) get exactly the model's verdict (fast-check)", async () => {
    const someMac = (pool: string[]) => fc.oneof(fc.constantFrom(...pool), fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => macStr(Buffer.from(b))));
    const arb = fc.record({
      outerDst: fc.constantFrom(uplMac, uplMac, uplMac, uplMac, uplMac, BCAST, MCAST_V4, "02:00:00:00:99:99"),
      vlan: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined, freq: 8 }),
      version: fc.constantFrom(4, 4, 4, 4, 6, 0, 15),
      ihl: fc.constantFrom(5, 5, 5, 6, 7, 15, 4, 1, 0),
      dstIp: fc.constantFrom(VTEP, VTEP, VTEP, "198.18.0.99"),
      srcIp: fc.constantFrom(REMOTE_A, REMOTE_B, "203.0.113.9"),
      proto: fc.constantFrom(17, 17, 17, 6, 1),
      frag: fc.constantFrom<[boolean, number]>([false, 0], [false, 0], [false, 0], [true, 0], [false, 100], [true, 7]),
      dport: fc.constantFrom(4789, 4789, 4789, 4790, 8472),
      vxFlags: fc.oneof(fc.constantFrom(0x08, 0x08, 0x08, 0x00, 0x0c), fc.integer({ min: 0, max: 255 })),
      vni: fc.oneof(fc.constantFrom(100, 100, 100, 300, 999, 0), fc.integer({ min: 0, max: 0xffffff })),
      innerDst: someMac([H2, H1, R1, BCAST, MCAST_V4]),
      innerSrc: someMac([R2, R3, ZERO_MAC, MCAST_V6]),
      innerTag: fc.option(fc.constantFrom(ETH_P_8021Q, ETH_P_8021AD), { nil: undefined, freq: 6 }),
      innerType: fc.constantFrom(ETH_P_IPV4, ETH_P_ARP, 0x86dd, 0x0000),
      payload: fc.uint8Array({ maxLength: 100 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (x) => {
        fc.pre(x.innerDst !== x.innerSrc);
        const inner = rawL2(x.innerDst, x.innerSrc, x.innerTag ? [{ tpid: x.innerTag, tci: 10 }] : [], x.innerType, Buffer.from(x.payload));
        const f = vxlanFrame({
          dstMac: x.outerDst,
          srcMac: NEXT_HOP_MAC,
          vlan: x.vlan,
          version: x.version === 4 ? undefined : x.version,
          ihl: x.ihl,
          dstIp: x.dstIp,
          srcIp: x.srcIp,
          proto: x.proto,
          mf: x.frag[0],
          fragOffset: x.frag[1],
          dport: x.dport,
          vxFlags: x.vxFlags,
          vni: x.vni,
          inner,
        });
        const want = uplinkModel(fx(), f);
        const r = await runner.one(up(f));
        expect(vname(r.retval)).toBe(vname(want.verdict));
        want.out?.(r.data);
      }),
      { numRuns: 600 },
    );
  });

  // ---- the outer IPv4/UDP datagram is checked as the kernel's receive path
  // (ip_rcv_core, udp_rcv) checks it: header checksum, total length and UDP
  // length consistent with the frame; otherwise nothing is decapsulated.

  it("uplink: a truncated VXLAN datagram (outer IPv4 total length > frame) is not decapsulated", async () => {
    const full = validUplink();
    const cases: RunCase[] = [];
    for (let n = 64; n < full.length; n++) cases.push(up(Buffer.from(full.subarray(0, n))));
    const got = await runner.run(cases);
    const forwarded = got.map((r, i) => [cases[i]!.frame.length, r.retval] as const).filter(([, v]) => v === REDIRECT || v === TX || v === ABORTED);
    expect(forwarded.map(([n]) => n)).toEqual([]);
  });

  it("uplink: inconsistent outer lengths (UDP length 8, IP total length 28) or a bad IPv4 header checksum are not decapsulated", async () => {
    const bad = [validUplink({ udpLength: 8 }), validUplink({ totalLength: 28 }), validUplink({ ipChecksum: 0x1234 })];
    const got = await runner.run(bad.map((f) => up(f)));
    expect(got.map((r) => vname(r.retval))).not.toContain("XDP_REDIRECT");
  });
});

function retagSrc(f: Buffer, src: string): Buffer {
  const c = Buffer.from(f);
  mac(src).copy(c, 6);
  return c;
}
function retagDst(f: Buffer, dst: string): Buffer {
  const c = Buffer.from(f);
  mac(dst).copy(c, 0);
  return c;
}

// ---------------------------------------------------------------------------
// (b) on the wire, through a running switch

const W1 = "02:00:00:00:c1:01";
const W2 = "02:00:00:00:c1:02";
const W3 = "02:00:00:00:c1:03";
const WR = "02:00:00:00:c2:01"; // a host behind REMOTE_A

describe("on the wire: malformed frames through a running switch", () => {
  let sw: SwitchUnderTest;

  beforeAll(async () => {
    sw = await bootSwitch(
      "malformed",
      `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
  - { name: h3, vni: 200, vlans: [{ vlan: 10, vni: 100 }] }
vnis:
  - vni: 100
    flood: [${REMOTE_A}]
  - vni: 200
    flood: [${REMOTE_A}]
`,
      [
        { name: "p1", port: "h1", mac: W1, cidr: "198.51.100.1/24" },
        { name: "p2", port: "h2", mac: W2, cidr: "198.51.100.2/24" },
        { name: "p3", port: "h3", mac: W3, cidr: "203.0.113.3/24" },
      ],
    );
    // the switch learns p2 (the target of the unicast cases) from a broadcast
    await sw.sendFromHost("p2", [arpRequest({ srcMac: W2, srcIp: "198.51.100.2", targetIp: "198.51.100.250" })]);
    for (let i = 0; ; i++) {
      const fdb = await sw.api<{ mac: string; port?: string }[]>("fdb");
      if (fdb.some((r) => r.mac === W2 && r.port === "h2")) break;
      if (i > 50) throw new Error(`p2 not learned: ${JSON.stringify(fdb)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await sw?.dispose();
  });

  // the inner IP destination is nobody's address: p2's kernel drops it silently
  // (no ICMP error, so no ARP of its own to muddy the counters and captures)
  const innerTo = (dst: string, src = WR, payload = "for p2") =>
    udpFrame({ dstMac: dst, srcMac: src, srcIp: "198.51.100.77", dstIp: "198.51.100.99", srcPort: 7, dstPort: 9, payload: Buffer.from(payload.padEnd(40, ".")) });
  const fromSpine = (o: Partial<OuterOpts> & { inner: Buffer }) => vxlanFrame({ dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: REMOTE_A, ...o });

  async function captureAll() {
    const [p1, p2, p3, spine] = await Promise.all([sw.captureHost("p1"), sw.captureHost("p2"), sw.captureHost("p3"), sw.captureSpine()]);
    return { p1, p2, p3, spine };
  }
  /** The spine may only see the switch's own underlay chatter (ARP, ICMP errors): no UDP, no VXLAN. */
  const notUnderlayChatter = (pkts: DecodedPacket[]) =>
    pkts.filter((p) => !p.arp && !(p.ip && p.ip.proto === 1)).map((p) => `${p.protocolsString} ${p.ip?.src ?? ""} > ${p.ip?.dst ?? ""} ${p.raw.toString("hex")}`);

  it("from the spine: malformed VXLAN reaches no host; every frame is counted; the switch stays up", async () => {
    const full = fromSpine({ inner: innerTo(W2) });
    const foreign = fromSpine({ inner: innerTo(W2), dstIp: "198.18.0.99" });
    const frames: [Buffer, CounterName | "kernel"][] = [];
    for (let n = 42; n < 64; n++) frames.push([Buffer.from(full.subarray(0, n)), "drop_malformed"]);
    for (let n = 14; n < 42; n++) frames.push([Buffer.from(full.subarray(0, n)), "kernel"]);
    frames.push(
      [fromSpine({ inner: innerTo(W2), vxFlags: 0 }), "drop_bad_vxlan"],
      [fromSpine({ inner: innerTo(BCAST), vxFlags: 0x80 }), "drop_bad_vxlan"],
      [fromSpine({ inner: innerTo(W2), vni: 4242 }), "drop_unknown_vni"],
      [fromSpine({ inner: innerTo(BCAST), vni: 0 }), "drop_unknown_vni"],
      [fromSpine({ inner: innerTo(W2, MCAST_V4) }), "drop_invalid_smac"],
      [fromSpine({ inner: innerTo(BCAST, ZERO_MAC) }), "drop_invalid_smac"],
      [fromSpine({ inner: retag(innerTo(W2), 0, 10) }), "drop_malformed"],
      [fromSpine({ inner: retag(innerTo(BCAST), 0, 10) }), "drop_malformed"],
      [fromSpine({ inner: innerTo(W2), mf: true }), "kernel"],
      [fromSpine({ inner: innerTo(W2), fragOffset: 100 }), "kernel"],
      [fromSpine({ inner: innerTo(W2), ihl: 4 }), "kernel"],
      [fromSpine({ inner: innerTo(W2), version: 6 }), "kernel"],
      [foreign, "kernel"],
      [fromSpine({ inner: innerTo(W2), dstMac: "02:00:00:00:99:99" }), "drop_outer_dst_mac"],
      [fromSpine({ inner: innerTo(BCAST), dstMac: BCAST }), "drop_outer_dst_mac"],
    );
    // random garbage addressed to the uplink (a fixed seed: the same garbage every run)
    const garbage = fc.sample(fc.uint8Array({ minLength: 2, maxLength: 200 }), { numRuns: 60, seed: 4789 });
    for (const g of garbage) frames.push([Buffer.concat([mac(sw.uplinkMac), mac(sw.spineMac), Buffer.from(g)]), "kernel"]);
    // and garbage behind a valid outer header up to the VXLAN flags, in an unknown VNI
    const tails = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 150 }), { numRuns: 40, seed: 1 });
    for (const t of tails) {
      const g = Buffer.concat([fromSpine({ inner: Buffer.alloc(0), vni: 0xabcdef }).subarray(0, 50), Buffer.from(t)]);
      frames.push([g, g.length < 64 ? "drop_malformed" : "drop_unknown_vni"]);
    }

    const before = await sw.counters();
    const caps = await captureAll();
    await sw.sendFromSpine(frames.map(([f]) => f));
    // control: a valid frame behind them arrives, so the captures were live
    const control = innerTo(W2, WR, "control");
    await sw.sendFromSpine([fromSpine({ inner: control })]);
    await caps.p2.waitFor(1, 5000);
    const [p1, p2, p3, spine] = await Promise.all([caps.p1.stop({ settleMs: 300 }), caps.p2.stop({ settleMs: 300 }), caps.p3.stop(), caps.spine.stop()]);
    expect(p2.map((p) => p.raw.toString("hex"))).toEqual([control.toString("hex")]);
    expect(p1).toHaveLength(0);
    expect(p3).toHaveLength(0);
    // VXLAN for another VTEP is not ours: the switch's kernel routes it like
    // any transit datagram (back to the spine, TTL 63); nothing else comes back
    const transit = spine.filter((p) => p.ip?.dst === "198.18.0.99");
    expect(transit.map((p) => [p.ip!.ttl, p.raw.subarray(14 + 20).equals(foreign.subarray(14 + 20))])).toEqual([[63, true]]);
    expect(notUnderlayChatter(spine.filter((p) => !transit.includes(p)))).toEqual([]);

    const after = await sw.counters();
    const want = (c: CounterName) => BigInt(frames.filter(([, k]) => k === c).length);
    for (const c of ["drop_malformed", "drop_bad_vxlan", "drop_unknown_vni", "drop_invalid_smac", "drop_outer_dst_mac"] as const) {
      expect(after[c]! - before[c]!, c).toBe(want(c));
    }
    expect(after.decap_fwd! - before.decap_fwd!).toBe(1n);
    // every frame left to the kernel was counted as such
    expect(after.uplink_pass_kernel! - before.uplink_pass_kernel!).toBeGreaterThanOrEqual(BigInt(frames.filter(([, k]) => k === "kernel").length));
    const st = await sw.api<{ switch: string }>("status");
    expect(st.switch).toBe(sw.name);
  });

  it("from hosts: broken L2 headers and invalid sources are dropped at the port; nothing leaves the switch", async () => {
    const payload = Buffer.alloc(46, 0x5a);
    const tagged = rawL2(W2, W3, [{ tpid: ETH_P_8021Q, tci: 10 }], ETH_P_IPV4, payload);
    const fromP1: [Buffer, CounterName][] = [];
    const fromP3: [Buffer, CounterName][] = [];
    for (let n = 14; n < 18; n++) fromP3.push([Buffer.from(tagged.subarray(0, n)), "drop_malformed"]);
    fromP3.push(
      [rawL2(W2, W3, [{ tpid: ETH_P_8021AD, tci: 10 }], ETH_P_IPV4, payload), "drop_malformed"],
      [rawL2(W2, W3, [{ tpid: ETH_P_8021Q, tci: 10 }, { tpid: ETH_P_8021Q, tci: 10 }], ETH_P_IPV4, payload), "drop_malformed"],
      [rawL2(W2, W3, [{ tpid: ETH_P_8021Q, tci: 0x2000 }], ETH_P_IPV4, payload), "drop_malformed"],
      [rawL2(W2, W3, [{ tpid: ETH_P_8021Q, tci: 0xfff }], ETH_P_IPV4, payload), "drop_malformed"],
      [rawL2(W2, W3, [{ tpid: ETH_P_8021Q, tci: 20 }], ETH_P_IPV4, payload), "drop_no_port_vni"],
      [rawL2(BCAST, MCAST_V4, [{ tpid: ETH_P_8021Q, tci: 10 }], ETH_P_ARP, payload), "drop_invalid_smac"],
    );
    fromP1.push(
      [rawL2(W2, W1, [{ tpid: ETH_P_8021Q, tci: 10 }], ETH_P_IPV4, payload), "drop_no_port_vni"],
      [rawL2(BCAST, ZERO_MAC, [], ETH_P_ARP, payload), "drop_invalid_smac"],
      [rawL2(W2, BCAST, [], ETH_P_IPV4, payload), "drop_invalid_smac"],
      [rawL2(W2, MCAST_V6, [], ETH_P_IPV4, payload), "drop_invalid_smac"],
    );
    // garbage with a group source address (never a valid sender) or an 802.1ad tag
    const garbage = fc.sample(fc.tuple(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 2, maxLength: 150 })), {
      numRuns: 60,
      seed: 7,
    });
    garbage.forEach(([d, s, rest], i) => {
      const src = Buffer.from(s);
      const r = Buffer.from(rest);
      if (i % 2 === 0) {
        src[0]! |= 1;
        r.writeUInt16BE(ETH_P_IPV4, 0);
        fromP1.push([Buffer.concat([Buffer.from(d), src, r]), "drop_invalid_smac"]);
      } else {
        r.writeUInt16BE(ETH_P_8021AD, 0);
        fromP1.push([Buffer.concat([Buffer.from(d), src, r]), "drop_malformed"]);
      }
    });

    const before = await sw.counters();
    const caps = await captureAll();
    await sw.sendFromHost("p3", fromP3.map(([f]) => f));
    await sw.sendFromHost("p1", fromP1.map(([f]) => f));
    const control = udpFrame({ dstMac: W2, srcMac: W1, srcIp: "198.51.100.1", dstIp: "198.51.100.99", srcPort: 1, dstPort: 2, payload: Buffer.from("control") });
    await sw.sendFromHost("p1", [control]);
    await caps.p2.waitFor(1, 5000);
    const [p1, p2, p3, spine] = await Promise.all([caps.p1.stop({ settleMs: 300 }), caps.p2.stop({ settleMs: 300 }), caps.p3.stop(), caps.spine.stop()]);
    expect(p2.map((p) => p.raw.toString("hex"))).toEqual([control.toString("hex")]);
    expect(p1).toHaveLength(0);
    expect(p3).toHaveLength(0);
    expect(vxlanOnly(spine)).toHaveLength(0);
    expect(notUnderlayChatter(spine)).toEqual([]);

    const after = await sw.counters();
    const all = [...fromP1, ...fromP3];
    for (const c of ["drop_malformed", "drop_no_port_vni", "drop_invalid_smac"] as const) {
      expect(after[c]! - before[c]!, c).toBe(BigInt(all.filter(([, k]) => k === c).length));
    }
    expect(after.local_fwd! - before.local_fwd!).toBe(1n);
    expect(after.bum_to_tc).toBe(before.bum_to_tc);
    // nothing invalid was learned
    const fdb = await sw.api<{ mac: string }[]>("fdb");
    expect(fdb.map((r) => r.mac).filter((m) => (parseInt(m.slice(0, 2), 16) & 1) === 1 || m === ZERO_MAC)).toEqual([]);
    await sw.api("status");
  });

  it("a truncated VXLAN datagram is not decapsulated: nothing reaches the host", async () => {
    // outer IPv4 total length says 120 bytes more than arrive; Linux's own VXLAN drops this in ip_rcv_core
    const full = fromSpine({ inner: innerTo(W2, WR, "x".repeat(160)) });
    const cut = full.subarray(0, full.length - 120);
    const c = await sw.captureHost("p2");
    await sw.sendFromSpine([cut]);
    const got = await c.stop({ settleMs: 500 });
    expect(got).toHaveLength(0);
  });
});

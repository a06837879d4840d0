// Packet capture inside a namespace, decoded by tshark.
//
//   const cap = await startCapture(ns, "v0", { filter: "udp port 4789", count: 1 });
//   await sendFrames(...);
//   const pkts = await cap.stop();          // waits for `count` (bounded), then decodes
//   expect(pkts[0].vxlan?.vni).toBe(100);
//
// Capturing is done by tcpdump (default) writing a pcap file: it prints
// "listening on" only after the socket is bound and the filter attached, and
// with --immediate-mode -U nothing is lost when it is stopped right after a
// send. (dumpcap/tshark buffer up to ~250 ms in the TPACKET_V3 ring and drop
// that on SIGINT, so tool: "tshark" waits `settleMs` before stopping.)
// Decoding runs `tshark -r FILE -T json --no-duplicate-keys` with IP/UDP
// checksum validation on; the raw bytes come from reading the pcap directly.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "./netns.ts";
import { type ParsedFrame, parseFrame, VXLAN_PORT } from "./packets.ts";
import { type NsRef, execAsync, isRunning, killTree, onProcessExit, sleep, spawnTracked, stopChild } from "./proc.ts";

// ---------------------------------------------------------------------------
// pcap files

export interface PcapRecord {
  /** Seconds since the epoch (fractional). */
  time: number;
  /** Length on the wire. */
  origLen: number;
  /** Captured bytes. */
  data: Buffer;
}

export interface Pcap {
  linkType: number;
  records: PcapRecord[];
}

export const LINKTYPE_ETHERNET = 1;

/**
 * Parses a classic pcap file (either byte order, µs or ns timestamps). A
 * trailing partial record (file still being written) is ignored.
 */
export function parsePcap(buf: Buffer): Pcap {
  if (buf.length < 24) return { linkType: LINKTYPE_ETHERNET, records: [] };
  const magicLE = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = buf.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw new Error(`not a pcap file (magic 0x${magicLE.toString(16)}; pcapng is not supported)`);
    }
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const orig = u32(off + 12);
    if (off + 16 + incl > buf.length) break;
    records.push({
      time: sec + frac / (nano ? 1e9 : 1e6),
      origLen: orig,
      data: Buffer.from(buf.subarray(off + 16, off + 16 + incl)),
    });
    off += 16 + incl;
  }
  return { linkType, records };
}

export function readPcap(file: string): Pcap {
  return parsePcap(readFileSync(file));
}

/** Writes frames as an Ethernet pcap (µs timestamps), e.g. to decode builder output with tshark. */
export function writePcap(file: string, frames: readonly Buffer[], startTime = 1): void {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [hdr];
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(startTime + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, f);
  });
  writeFileSync(file, Buffer.concat(parts));
}

/** Number of complete records in a pcap being written (cheap: walks headers only). */
function countPcapRecords(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return 0;
  }
  try {
    const size = statSync(file).size;
    if (size < 24) return 0;
    const h = Buffer.alloc(24);
    readSync(fd, h, 0, 24, 0);
    const le = h.readUInt32LE(0) === 0xa1b2c3d4 || h.readUInt32LE(0) === 0xa1b23c4d;
    const rh = Buffer.alloc(16);
    let off = 24;
    let n = 0;
    while (off + 16 <= size) {
      readSync(fd, rh, 0, 16, off);
      const incl = le ? rh.readUInt32LE(8) : rh.readUInt32BE(8);
      if (off + 16 + incl > size) break;
      off += 16 + incl;
      n++;
    }
    return n;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// decoded view

/** tshark's checksum status enum (PROTO_CHECKSUM_E_*): 0 bad, 1 good, 2 unverified, 3 not present, 4 illegal. */
export type ChecksumStatus = "bad" | "good" | "unverified" | "not-present" | "illegal" | "unknown";

function checksumStatus(v: string | undefined): ChecksumStatus {
  switch (v) {
    case "0":
      return "bad";
    case "1":
      return "good";
    case "2":
      return "unverified";
    case "3":
      return "not-present";
    case "4":
      return "illegal";
    default:
      return "unknown";
  }
}

/** Field name -> every value it took, in document order. */
export type FieldMap = Record<string, string[]>;

export interface DecodedEth {
  src: string;
  dst: string;
  /** eth.type (the type after the MACs, i.e. 0x8100 for a tagged frame). */
  type: number;
}

export interface DecodedVlan {
  /** 0x8100 (tshark layer "vlan") or 0x88a8 (layer "ieee8021ad"). */
  tpid: number;
  id: number;
  pcp: number;
  dei: number;
  /** Ethertype following the tag. */
  etype: number;
}

export interface DecodedIp {
  src: string;
  dst: string;
  ttl: number;
  proto: number;
  id: number;
  len: number;
  dscp: number;
  ecn: number;
  df: boolean;
  checksum: number;
  checksumStatus: ChecksumStatus;
}

export interface DecodedUdp {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
  /** "not-present" when the checksum is 0. */
  checksumStatus: ChecksumStatus;
}

export interface DecodedVxlan {
  /** tshark's 16-bit vxlan.flags (0x0800 = I flag only). */
  flags: number;
  iFlag: boolean;
  vni: number;
  /** Group Policy extension: G flag, D (don't learn) flag, and the policy ID (vxlan.gbp) when G is set. */
  gFlag: boolean;
  dFlag: boolean;
  gbp?: number;
}

export interface DecodedArp {
  opcode: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface DecodedIcmp {
  type: number;
  code: number;
  checksumStatus: ChecksumStatus;
  ident?: number;
  seq?: number;
}

/** One encapsulation level. */
export interface DecodedLayers {
  /** Protocol names at this level in order (from frame.protocols), e.g. ["eth","ethertype","ip","udp","vxlan"]. */
  protocols: string[];
  eth?: DecodedEth;
  /** Outer-first. */
  vlans: DecodedVlan[];
  vlan?: DecodedVlan;
  ip?: DecodedIp;
  arp?: DecodedArp;
  udp?: DecodedUdp;
  icmp?: DecodedIcmp;
  vxlan?: DecodedVxlan;
  /** The VXLAN payload frame. */
  inner?: DecodedLayers;
  /** Flattened tshark fields of each layer at this level, keyed by layer name. */
  layerFields: Record<string, FieldMap>;
}

export interface DecodedPacket extends DecodedLayers {
  /** frame.number (1-based). */
  number: number;
  /** Capture timestamp, epoch seconds. */
  time: number;
  /** Length on the wire. */
  len: number;
  /** frame.protocols as tshark printed it. */
  protocolsString: string;
  /** Every tshark field in the packet (all levels), e.g. fields["vxlan.vni"] -> ["100"]. */
  fields: FieldMap;
  /** The captured bytes. */
  raw: Buffer;
  /** Our own parse of `raw` (packets.ts), for byte-level assertions. */
  parsed: ParsedFrame;
}

function pushField(m: FieldMap, k: string, v: string): void {
  (m[k] ??= []).push(v);
}

/** Flattens a tshark JSON subtree into name -> values (descending into *_tree and nested protocol objects). */
function flattenInto(m: FieldMap, node: unknown, key?: string): void {
  if (node === null || node === undefined) return;
  if (Array.isArray(node)) {
    for (const n of node) flattenInto(m, n, key);
    return;
  }
  if (typeof node === "object") {
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) flattenInto(m, v, k);
    return;
  }
  if (key !== undefined) pushField(m, key, String(node));
}

function flatten(node: unknown): FieldMap {
  const m: FieldMap = {};
  flattenInto(m, node);
  return m;
}

const first = (m: FieldMap | undefined, k: string): string | undefined => m?.[k]?.[0];
const num = (s: string | undefined): number => (s === undefined ? NaN : s.startsWith("0x") ? parseInt(s, 16) : Number(s));

function buildLevel(protocols: string[], objs: Array<[string, unknown]>): DecodedLayers {
  const level: DecodedLayers = { protocols, vlans: [], layerFields: {} };
  for (const [p, obj] of objs) {
    const f = flatten(obj);
    // Several occurrences of one protocol at a level (QinQ) keep the first in layerFields.
    level.layerFields[p] ??= f;
    switch (p) {
      case "eth":
        level.eth ??= { src: first(f, "eth.src") ?? "", dst: first(f, "eth.dst") ?? "", type: num(first(f, "eth.type")) };
        break;
      case "vlan":
        level.vlans.push({
          tpid: 0x8100,
          id: num(first(f, "vlan.id")),
          pcp: num(first(f, "vlan.priority")),
          dei: num(first(f, "vlan.dei") ?? first(f, "vlan.cfi")),
          etype: num(first(f, "vlan.etype")),
        });
        break;
      case "ieee8021ad":
        level.vlans.push({
          tpid: 0x88a8,
          id: num(first(f, "ieee8021ad.id")),
          pcp: num(first(f, "ieee8021ad.priority")),
          dei: num(first(f, "ieee8021ad.dei")),
          // tshark files the S-tag's next ethertype under the 802.1ah field name.
          etype: num(first(f, "ieee8021ah.etype") ?? first(f, "ieee8021ad.etype")),
        });
        break;
      case "ip":
        level.ip ??= {
          src: first(f, "ip.src") ?? "",
          dst: first(f, "ip.dst") ?? "",
          ttl: num(first(f, "ip.ttl")),
          proto: num(first(f, "ip.proto")),
          id: num(first(f, "ip.id")),
          len: num(first(f, "ip.len")),
          dscp: num(first(f, "ip.dsfield.dscp")),
          ecn: num(first(f, "ip.dsfield.ecn")),
          df: first(f, "ip.flags.df") === "1",
          checksum: num(first(f, "ip.checksum")),
          checksumStatus: checksumStatus(first(f, "ip.checksum.status")),
        };
        break;
      case "arp":
        level.arp ??= {
          opcode: num(first(f, "arp.opcode")),
          senderMac: first(f, "arp.src.hw_mac") ?? "",
          senderIp: first(f, "arp.src.proto_ipv4") ?? "",
          targetMac: first(f, "arp.dst.hw_mac") ?? "",
          targetIp: first(f, "arp.dst.proto_ipv4") ?? "",
        };
        break;
      case "udp":
        level.udp ??= {
          srcPort: num(first(f, "udp.srcport")),
          dstPort: num(first(f, "udp.dstport")),
          length: num(first(f, "udp.length")),
          checksum: num(first(f, "udp.checksum")),
          checksumStatus: checksumStatus(first(f, "udp.checksum.status")),
        };
        break;
      case "icmp": {
        const ident = first(f, "icmp.ident");
        const seq = first(f, "icmp.seq");
        level.icmp ??= {
          type: num(first(f, "icmp.type")),
          code: num(first(f, "icmp.code")),
          checksumStatus: checksumStatus(first(f, "icmp.checksum.status")),
          ...(ident !== undefined ? { ident: num(ident) } : {}),
          ...(seq !== undefined ? { seq: num(seq) } : {}),
        };
        break;
      }
      case "vxlan":
        level.vxlan ??= {
          flags: num(first(f, "vxlan.flags")),
          iFlag: first(f, "vxlan.flag_i") === "1",
          vni: num(first(f, "vxlan.vni")),
          gFlag: first(f, "vxlan.flag_g") === "1",
          dFlag: first(f, "vxlan.flag_d") === "1",
          ...(first(f, "vxlan.flag_g") === "1" && first(f, "vxlan.gbp") !== undefined ? { gbp: num(first(f, "vxlan.gbp")) } : {}),
        };
        break;
    }
  }
  level.vlan = level.vlans[0];
  return level;
}

/**
 * Splits one tshark JSON packet into encapsulation levels. The layer objects
 * are keyed by protocol name (duplicates merged into arrays by
 * --no-duplicate-keys); frame.protocols gives the order, so the k-th "eth" in
 * it is layers.eth[k], and everything after "vxlan" belongs to the inner level.
 */
function decodeLayers(layers: Record<string, unknown>): { protocolsString: string; top: DecodedLayers } {
  const frame = flatten(layers.frame);
  const protocolsString = first(frame, "frame.protocols") ?? "";
  const protos = protocolsString.split(":").filter(Boolean);
  const seen: Record<string, number> = {};
  const levels: Array<{ protocols: string[]; objs: Array<[string, unknown]> }> = [{ protocols: [], objs: [] }];
  for (const p of protos) {
    const k = (seen[p] = (seen[p] ?? -1) + 1);
    const v = layers[p];
    const obj = Array.isArray(v) ? v[k] : k === 0 ? v : undefined;
    const cur = levels[levels.length - 1]!;
    cur.protocols.push(p);
    if (obj !== undefined) cur.objs.push([p, obj]);
    if (p === "vxlan") levels.push({ protocols: [], objs: [] });
  }
  const built = levels.map((l) => buildLevel(l.protocols, l.objs));
  for (let i = built.length - 2; i >= 0; i--) if (built[i + 1]!.protocols.length > 0) built[i]!.inner = built[i + 1];
  return { protocolsString, top: built[0]! };
}

export interface DecodeOptions {
  /** Extra UDP ports to decode as VXLAN (4789 is built in). */
  vxlanPorts?: readonly number[];
  /** Extra tshark -d "layer==value,proto" rules. */
  decodeAs?: readonly string[];
  /** Extra tshark -o pref:value settings. */
  prefs?: readonly string[];
}

/** Decodes a pcap file with tshark (checksum validation on) and joins it with the raw bytes. */
export async function decodePcap(file: string, opts: DecodeOptions = {}): Promise<DecodedPacket[]> {
  const pcap = readPcap(file);
  if (pcap.records.length === 0) return [];
  const args = ["-r", file, "-n", "-T", "json", "--no-duplicate-keys"];
  for (const p of ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE", ...(opts.prefs ?? [])]) args.push("-o", p);
  for (const port of opts.vxlanPorts ?? []) if (port !== VXLAN_PORT) args.push("-d", `udp.port==${port},vxlan`);
  for (const d of opts.decodeAs ?? []) args.push("-d", d);
  const out = await execAsync(null, "tshark", args, { timeoutMs: 120_000 });
  const json = JSON.parse(out || "[]") as Array<{ _source: { layers: Record<string, unknown> } }>;
  if (json.length !== pcap.records.length) {
    throw new Error(`tshark decoded ${json.length} packets but the pcap holds ${pcap.records.length}`);
  }
  const parseOpts = { vxlanPorts: [VXLAN_PORT, ...(opts.vxlanPorts ?? [])] };
  return json.map((pkt, i) => {
    const layers = pkt._source.layers;
    const rec = pcap.records[i]!;
    const { protocolsString, top } = decodeLayers(layers);
    const frame = flatten(layers.frame);
    return {
      ...top,
      number: num(first(frame, "frame.number")),
      time: rec.time,
      len: rec.origLen,
      protocolsString,
      fields: flatten(layers),
      raw: rec.data,
      parsed: parseFrame(rec.data, parseOpts),
    };
  });
}

/** Decodes in-memory frames with tshark (writes a temporary pcap). Handy to check builders against a real dissector. */
export async function decodeFrames(frames: readonly Buffer[], opts: DecodeOptions = {}): Promise<DecodedPacket[]> {
  const dir = mkdtempSync(join(tmpdir(), "vxh-decode-"));
  try {
    const file = join(dir, "frames.pcap");
    writePcap(file, frames);
    return await decodePcap(file, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// live capture

export interface CaptureOptions extends DecodeOptions {
  /**
   * Capture filter (pcap-filter syntax), e.g. "udp port 4789" or "arp". Beware
   * VLAN offload: veth strips the outer 802.1Q/802.1ad tag into skb metadata on
   * receive, so "udp" also matches a single-tagged UDP frame (libpcap still
   * writes the tag back into the captured bytes) and "vlan 10" works too.
   */
  filter?: string;
  /** Stop after this many packets; stop() waits (bounded by timeoutMs) until they arrived. */
  count?: number;
  /** Hard bound on the capture's lifetime from start (default 30 s); it stops itself after that. */
  timeoutMs?: number;
  /** Only packets received ("in") or sent ("out") by the interface (tcpdump -Q). Default both. */
  direction?: "in" | "out" | "inout";
  /** Snap length (default: whole frames). */
  snaplen?: number;
  /**
   * Kernel capture buffer (default 32 MiB). tcpdump --immediate-mode makes
   * libpcap use a TPACKET_V2 ring whose slots are sized for 64 KiB frames on
   * interfaces with offloads (veth), so the 2 MiB default holds only ~32
   * frames and a burst overflows it; 32 MiB holds ~500.
   */
  bufferMiB?: number;
  /** Capture program (default tcpdump). */
  tool?: "tcpdump" | "tshark";
  /** Lab to attach to: its cleanup kills the capture and its scratch dir holds the pcap. */
  lab?: Lab;
  /** How long to wait for the capture to be ready (default 10 s). */
  readyTimeoutMs?: number;
}

export interface StopOptions {
  /** Delay before stopping, for frames still in flight (default 0 for tcpdump, 300 ms for tshark). */
  settleMs?: number;
  /** Skip tshark; `stopRaw` semantics but still returns DecodedPacket-shaped objects with only raw/parsed filled. */
  decode?: boolean;
}

export interface Capture {
  readonly ns: NsRef;
  readonly ifname: string;
  /** The pcap being written (removed at lab cleanup, or at stop() without a lab unless keep). */
  readonly file: string;
  /** Packets written to the file so far. */
  count(): number;
  /** Resolves with the packet count once it is >= n, or when timeoutMs (default: rest of the capture's lifetime) passes. */
  waitFor(n: number, timeoutMs?: number): Promise<number>;
  /** Stops capturing (after waiting for `count` if one was given) and returns the decoded packets. */
  stop(opts?: StopOptions): Promise<DecodedPacket[]>;
  /** Stops capturing and returns the raw pcap records without running tshark. */
  stopRaw(opts?: Pick<StopOptions, "settleMs">): Promise<PcapRecord[]>;
  /** Kills the capture immediately (sync). */
  kill(): void;
  /**
   * Packets the kernel dropped because the capture ring overflowed, as the
   * tool reported at exit (tcpdump: "N packets dropped by kernel"); undefined
   * before the capture has stopped or if the tool didn't say.
   */
  dropped(): number | undefined;
  /** The capture tool's stderr so far. */
  stderr(): string;
}

const READY_PATTERNS: Record<"tcpdump" | "tshark", RegExp> = {
  tcpdump: /listening on /,
  tshark: /Capture started|Capturing on /,
};

/**
 * Starts capturing on ifname inside ns and resolves once the capture socket is
 * live (filter attached), so frames sent after the await are captured.
 */
export async function startCapture(ns: NsRef, ifname: string, opts: CaptureOptions = {}): Promise<Capture> {
  const tool = opts.tool ?? "tcpdump";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const dir = opts.lab ? opts.lab.tmpdir : mkdtempSync(join(tmpdir(), "vxh-cap-"));
  const file = join(dir, `cap-${ifname}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}.pcap`);
  // `timeout` inside the namespace bounds the capture even if this process is SIGKILLed.
  const secs = String(Math.ceil(timeoutMs / 1000) + 1);
  let args: string[];
  if (tool === "tcpdump") {
    args = ["-s", "INT", secs, "tcpdump", "-i", ifname, "-n", "-U", "--immediate-mode", "-Z", "root", "-w", file];
    if (opts.count !== undefined) args.push("-c", String(opts.count));
    if (opts.snaplen !== undefined) args.push("-s", String(opts.snaplen));
    args.push("-B", String((opts.bufferMiB ?? 32) * 1024));
    if (opts.direction && opts.direction !== "inout") args.push("-Q", opts.direction);
    if (opts.filter) args.push(opts.filter);
  } else {
    args = ["-s", "INT", secs, "tshark", "-i", ifname, "-n", "-q", "-F", "pcap", "-w", file];
    if (opts.count !== undefined) args.push("-c", String(opts.count));
    if (opts.snaplen !== undefined) args.push("-s", String(opts.snaplen));
    args.push("-B", String(opts.bufferMiB ?? 32));
    if (opts.direction && opts.direction !== "inout") throw new Error("direction needs tool: tcpdump");
    if (opts.filter) args.push("-f", opts.filter);
  }
  const child = spawnTracked(ns, "timeout", args);
  opts.lab?.track(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout?.resume();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const started = Date.now();
  const where = `${ifname}${ns === null ? "" : ` in netns ${ns}`}`;

  // Wait for readiness: the tool's banner plus the pcap header on disk.
  const readyBy = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    const fileReady = existsSync(file) && statSync(file).size >= 24;
    if (READY_PATTERNS[tool].test(stderr) && fileReady) break;
    if (!isRunning(child)) {
      await exited;
      throw new Error(`capture on ${where} exited before it was ready: ${stderr.trim()}`);
    }
    if (Date.now() > readyBy) {
      killTree(child, "SIGKILL");
      throw new Error(`capture on ${where} not ready after ${opts.readyTimeoutMs ?? 10_000} ms: ${stderr.trim()}`);
    }
    await sleep(10);
  }

  const deadline = started + timeoutMs;
  const count = (): number => countPcapRecords(file);
  const waitFor = async (n: number, t?: number): Promise<number> => {
    const until = t === undefined ? deadline : Date.now() + t;
    for (;;) {
      const c = count();
      if (c >= n || Date.now() >= until) return c;
      if (!isRunning(child)) return count();
      await sleep(20);
    }
  };

  // Without a lab the scratch dir is ours: removed after stop, or at exit.
  const removeDir = (): void => {
    if (!opts.lab && !process.env.VXGATE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onProcessExit(removeDir);

  let stopped: Promise<PcapRecord[]> | undefined;
  const finish = (sopts: Pick<StopOptions, "settleMs">): Promise<PcapRecord[]> => {
    stopped ??= (async () => {
      if (opts.count !== undefined) await waitFor(opts.count);
      const settle = sopts.settleMs ?? (tool === "tshark" ? 300 : 0);
      if (settle > 0 && isRunning(child)) await sleep(settle);
      // SIGINT to `timeout`, which forwards it to the capture tool (which flushes and exits).
      if (isRunning(child)) child.kill("SIGINT");
      await Promise.race([exited, sleep(5000)]);
      if (isRunning(child)) await stopChild(child, { signal: "SIGKILL" });
      return readPcap(file).records;
    })();
    return stopped;
  };
  const release = (): void => {
    unregister();
    removeDir();
  };

  return {
    ns,
    ifname,
    file,
    count,
    waitFor,
    async stopRaw(sopts: Pick<StopOptions, "settleMs"> = {}): Promise<PcapRecord[]> {
      try {
        return await finish(sopts);
      } finally {
        release();
      }
    },
    async stop(sopts: StopOptions = {}): Promise<DecodedPacket[]> {
      try {
        const records = await finish(sopts);
        if (sopts.decode === false) {
          return records.map((r, i) => ({
            protocols: [],
            vlans: [],
            layerFields: {},
            number: i + 1,
            time: r.time,
            len: r.origLen,
            protocolsString: "",
            fields: {},
            raw: r.data,
            parsed: parseFrame(r.data, { vxlanPorts: [VXLAN_PORT, ...(opts.vxlanPorts ?? [])] }),
          }));
        }
        return await decodePcap(file, opts);
      } finally {
        release();
      }
    },
    kill(): void {
      killTree(child, "SIGKILL");
    },
    dropped(): number | undefined {
      const m = /(\d+) packets? dropped by kernel/.exec(stderr) ?? /[Dd]ropped:? (\d+)/.exec(stderr);
      return m ? Number(m[1]) : undefined;
    },
    stderr: () => stderr,
  };
}

// IGMP on the wire: versions 1 (RFC 1112), 2 (RFC 2236) and 3 (RFC 3376),
// and the Ethernet/IPv4 framing around it as control packets arrive on a port
// and as the querier sends them.
//
// v1/v2 messages (8 octets):
//   Type (1) | Max Resp Time (1) | Checksum (2) | Group Address (4)
//   0x11 query, 0x12 v1 report, 0x16 v2 report, 0x17 v2 leave
// v3 query (type 0x11, >= 12 octets, RFC 3376 4.1):
//   Type | Max Resp Code | Checksum | Group (4) | Resv:4 S:1 QRV:3 | QQIC | N (2) | Source (4) * N
// v3 report (type 0x22, RFC 3376 4.2):
//   Type | Reserved | Checksum | Reserved (2) | M (2) | Group Record * M
//   Group Record: Type (1) | Aux Data Len (1, in 32-bit words) | N (2) | Group (4) | Source (4) * N | Aux (4 * len)
//
// Decoding is strict about what could mislead the snooper (checksum, lengths,
// non-multicast groups) and lenient where the RFCs ask receivers to be:
// octets past the defined fields are ignored (RFC 2236 2.5, RFC 3376 4.1.10 /
// 4.2.11) but still covered by the checksum, auxiliary data is skipped, and
// group records of an unknown type are skipped. Encoders take our own typed
// objects; an impossible value there is a programming error (RangeError).

import { formatIpv4, formatMac, parseMac, tryParseIpv4 } from "../../config/net.ts";

export type IgmpMessage =
  | {
      type: "query";
      version: 1 | 2 | 3;
      /** "0.0.0.0" = general query */
      group: string;
      /** v1 queries carry no time: they decode as 10000 (RFC 2236 4) and encode as 0 whatever is given */
      maxRespMs: number;
      /** v3 only: Suppress Router-Side Processing */
      sFlag?: boolean;
      /** v3 only: Querier's Robustness Variable, 0..7 */
      qrv?: number;
      /** v3 only: Querier's Query Interval, seconds */
      qqicS?: number;
      /** v3 only: group-and-source-specific query */
      sources?: string[];
    }
  | { type: "report"; version: 1 | 2; group: string }
  | { type: "leave"; group: string }
  | { type: "v3report"; records: IgmpGroupRecord[] };

/** RFC 3376 4.2.12 record types. */
export const RecordType = {
  MODE_IS_INCLUDE: 1,
  MODE_IS_EXCLUDE: 2,
  CHANGE_TO_INCLUDE: 3,
  CHANGE_TO_EXCLUDE: 4,
  ALLOW_NEW_SOURCES: 5,
  BLOCK_OLD_SOURCES: 6,
} as const;

export interface IgmpGroupRecord {
  /** MODE_IS_INCLUDE=1, MODE_IS_EXCLUDE=2, CHANGE_TO_INCLUDE=3, CHANGE_TO_EXCLUDE=4, ALLOW_NEW=5, BLOCK_OLD=6 */
  type: 1 | 2 | 3 | 4 | 5 | 6;
  group: string;
  sources: string[];
}

export type IgmpErrorReason = "truncated" | "checksum" | "unknown-type" | "bad-group" | "bad-record" | "not-igmp" | "bad-ip";

export class IgmpError extends Error {
  override name = "IgmpError";
  constructor(
    readonly reason: IgmpErrorReason,
    message: string,
  ) {
    super(message);
  }
}

const T_QUERY = 0x11;
const T_V1_REPORT = 0x12;
const T_V2_REPORT = 0x16;
const T_LEAVE = 0x17;
const T_V3_REPORT = 0x22;

/** RFC 2236 4: a v1 query's zero Max Response Time means 10 seconds. */
const V1_MAX_RESP_MS = 10_000;

// ---------------------------------------------------------------------------
// Addresses

/** 224.0.0.0/4 */
export function isMulticast(ip: string): boolean {
  const n = tryParseIpv4(ip);
  return n !== undefined && n >>> 28 === 0xe;
}

/** 224.0.0.0/24: local network control block, never snooped (RFC 4541 2.1.2). */
export function isLinkLocalGroup(g: string): boolean {
  const n = tryParseIpv4(g);
  return n !== undefined && n >>> 8 === 0xe00000;
}

// ---------------------------------------------------------------------------
// Checksum and the RFC 3376 4.1.1 / 4.1.7 floating-point codes

/** Internet checksum (RFC 1071) of b; 0 when b already holds a valid one. */
function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Code -> value: < 128 literal, else 1|exp:3|mant:4 = (mant | 0x10) << (exp + 3). */
export function decodeFloatCode(code: number): number {
  if (code < 0x80) return code;
  return ((code & 0x0f) | 0x10) << (((code >> 4) & 0x07) + 3);
}

/** Value -> code, rounding down to the nearest representable value (a querier
 *  that asks hosts for less time than configured stays inside its own timers)
 *  and saturating at 31744. */
export function encodeFloatCode(value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`not a time code value: ${value}`);
  const v = Math.floor(value);
  if (v < 0x80) return v;
  if (v >= 31744) return 0xff;
  let exp = 0;
  while (v >> (exp + 3) > 0x1f) exp++;
  return 0x80 | (exp << 4) | ((v >> (exp + 3)) & 0x0f);
}

// ---------------------------------------------------------------------------
// IGMP message

function readIp(b: Buffer, off: number): string {
  return formatIpv4(b.readUInt32BE(off));
}

/** The IGMP message (bytes after the IPv4 header). Throws IgmpError. */
export function decodeIgmp(b: Buffer): IgmpMessage {
  if (b.length < 8) throw new IgmpError("truncated", `IGMP message of ${b.length} octets (minimum 8)`);
  if (inetChecksum(b) !== 0) throw new IgmpError("checksum", "IGMP checksum mismatch");
  const type = b[0]!;
  switch (type) {
    case T_QUERY:
      return decodeQuery(b);
    case T_V1_REPORT:
    case T_V2_REPORT: {
      const group = readIp(b, 4);
      if (!isMulticast(group)) throw new IgmpError("bad-group", `report for non-multicast group ${group}`);
      return { type: "report", version: type === T_V1_REPORT ? 1 : 2, group };
    }
    case T_LEAVE: {
      const group = readIp(b, 4);
      if (!isMulticast(group)) throw new IgmpError("bad-group", `leave for non-multicast group ${group}`);
      return { type: "leave", group };
    }
    case T_V3_REPORT:
      return decodeV3Report(b);
    default:
      throw new IgmpError("unknown-type", `IGMP type 0x${type.toString(16).padStart(2, "0")}`);
  }
}

function decodeQuery(b: Buffer): IgmpMessage {
  const group = readIp(b, 4);
  if (group !== "0.0.0.0" && !isMulticast(group)) throw new IgmpError("bad-group", `query for non-multicast group ${group}`);
  const code = b[1]!;
  // RFC 3376 7.1: the length decides the version; 9..11 octets is none of them.
  if (b.length === 8) {
    if (code === 0) return { type: "query", version: 1, group, maxRespMs: V1_MAX_RESP_MS };
    return { type: "query", version: 2, group, maxRespMs: code * 100 };
  }
  if (b.length < 12) throw new IgmpError("truncated", `query of ${b.length} octets (8 or >= 12)`);
  const n = b.readUInt16BE(10);
  if (12 + 4 * n > b.length) throw new IgmpError("truncated", `query lists ${n} sources, ${b.length - 12} octets left`);
  const sources: string[] = [];
  for (let i = 0; i < n; i++) sources.push(readIp(b, 12 + 4 * i));
  return {
    type: "query",
    version: 3,
    group,
    maxRespMs: decodeFloatCode(code) * 100,
    sFlag: (b[8]! & 0x08) !== 0,
    qrv: b[8]! & 0x07,
    qqicS: decodeFloatCode(b[9]!),
    sources,
  };
}

function decodeV3Report(b: Buffer): IgmpMessage {
  const m = b.readUInt16BE(6);
  const records: IgmpGroupRecord[] = [];
  let off = 8;
  for (let r = 0; r < m; r++) {
    if (off + 8 > b.length) throw new IgmpError("bad-record", `group record ${r} header runs past the end`);
    const rtype = b[off]!;
    const auxWords = b[off + 1]!;
    const n = b.readUInt16BE(off + 2);
    const group = readIp(b, off + 4);
    const srcEnd = off + 8 + 4 * n;
    if (srcEnd > b.length) throw new IgmpError("bad-record", `group record ${r} lists ${n} sources past the end`);
    const end = srcEnd + 4 * auxWords;
    if (end > b.length) throw new IgmpError("bad-record", `group record ${r} auxiliary data runs past the end`);
    if (rtype >= 1 && rtype <= 6) {
      if (!isMulticast(group)) throw new IgmpError("bad-group", `group record ${r} for non-multicast group ${group}`);
      const sources: string[] = [];
      for (let i = 0; i < n; i++) sources.push(readIp(b, off + 8 + 4 * i));
      records.push({ type: rtype as IgmpGroupRecord["type"], group, sources });
    }
    off = end;
  }
  return { type: "v3report", records };
}

function ipBytes(ip: string, what: string): number {
  const n = tryParseIpv4(ip);
  if (n === undefined) throw new RangeError(`${what}: not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

function multicastGroup(g: string, what: string): number {
  const n = ipBytes(g, what);
  if (n >>> 28 !== 0xe) throw new RangeError(`${what}: ${g} is not a multicast group`);
  return n;
}

/** Encode one message with its checksum. Throws RangeError for values that
 *  cannot be put on the wire. */
export function encodeIgmp(m: IgmpMessage): Buffer {
  let b: Buffer;
  switch (m.type) {
    case "query":
      b = encodeQuery(m);
      break;
    case "report":
      if (m.version !== 1 && m.version !== 2) throw new RangeError(`report version ${String(m.version)}`);
      b = Buffer.alloc(8);
      b[0] = m.version === 1 ? T_V1_REPORT : T_V2_REPORT;
      b.writeUInt32BE(multicastGroup(m.group, "report"), 4);
      break;
    case "leave":
      b = Buffer.alloc(8);
      b[0] = T_LEAVE;
      b.writeUInt32BE(multicastGroup(m.group, "leave"), 4);
      break;
    case "v3report":
      b = encodeV3Report(m.records);
      break;
    default:
      throw new RangeError(`unknown IGMP message type ${JSON.stringify((m as { type: unknown }).type)}`);
  }
  b.writeUInt16BE(inetChecksum(b), 2);
  return b;
}

function encodeQuery(m: IgmpMessage & { type: "query" }): Buffer {
  const group = ipBytes(m.group, "query group");
  if (group !== 0 && group >>> 28 !== 0xe) throw new RangeError(`query group ${m.group} is neither 0.0.0.0 nor multicast`);
  if (!Number.isFinite(m.maxRespMs) || m.maxRespMs < 0) throw new RangeError(`maxRespMs ${m.maxRespMs}`);
  if (m.version === 1 || m.version === 2) {
    const b = Buffer.alloc(8);
    b[0] = T_QUERY;
    if (m.version === 2) {
      // 1..255 tenths: 0 would read back as a v1 query.
      if (m.maxRespMs < 100) throw new RangeError(`v2 query maxRespMs ${m.maxRespMs} < 100`);
      b[1] = Math.min(255, Math.floor(m.maxRespMs / 100));
    }
    b.writeUInt32BE(group, 4);
    return b;
  }
  if (m.version !== 3) throw new RangeError(`query version ${String(m.version)}`);
  const sources = m.sources ?? [];
  if (sources.length > 0xffff) throw new RangeError(`${sources.length} sources in one query`);
  const qrv = m.qrv ?? 0;
  if (!Number.isInteger(qrv) || qrv < 0 || qrv > 7) throw new RangeError(`qrv ${qrv} not in 0..7`);
  const b = Buffer.alloc(12 + 4 * sources.length);
  b[0] = T_QUERY;
  b[1] = encodeFloatCode(m.maxRespMs / 100);
  b.writeUInt32BE(group, 4);
  b[8] = (m.sFlag ? 0x08 : 0) | qrv;
  b[9] = encodeFloatCode(m.qqicS ?? 0);
  b.writeUInt16BE(sources.length, 10);
  sources.forEach((s, i) => b.writeUInt32BE(ipBytes(s, "query source"), 12 + 4 * i));
  return b;
}

function encodeV3Report(records: IgmpGroupRecord[]): Buffer {
  if (records.length > 0xffff) throw new RangeError(`${records.length} group records`);
  let len = 8;
  for (const r of records) {
    if (!Number.isInteger(r.type) || r.type < 1 || r.type > 6) throw new RangeError(`group record type ${r.type}`);
    if (r.sources.length > 0xffff) throw new RangeError(`${r.sources.length} sources in one record`);
    len += 8 + 4 * r.sources.length;
  }
  const b = Buffer.alloc(len);
  b[0] = T_V3_REPORT;
  b.writeUInt16BE(records.length, 6);
  let off = 8;
  for (const r of records) {
    b[off] = r.type; // aux data length stays 0: RFC 3376 4.2.10 defines none
    b.writeUInt16BE(r.sources.length, off + 2);
    b.writeUInt32BE(multicastGroup(r.group, "group record"), off + 4);
    off += 8;
    for (const s of r.sources) {
      b.writeUInt32BE(ipBytes(s, "record source"), off);
      off += 4;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------
// Frames

const ETH_IPV4 = 0x0800;
const ETH_VLAN = 0x8100;
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);
const IPPROTO_IGMP = 2;

export interface IgmpFrame {
  srcMac: string;
  dstMac: string;
  /** 0 when untagged */
  vlan: number;
  srcIp: string;
  dstIp: string;
  ttl: number;
  message: IgmpMessage;
}

/** A whole frame as it arrives on a port: Ethernet (+ at most one 802.1Q tag),
 *  IPv4 (options allowed), IGMP. Octets past the IPv4 total length (Ethernet
 *  padding) are ignored. Throws IgmpError. */
export function decodeIgmpFrame(frame: Buffer): IgmpFrame {
  if (frame.length < 14) throw new IgmpError("truncated", `frame of ${frame.length} octets`);
  let off = 12;
  let etype = frame.readUInt16BE(off);
  let vlan = 0;
  if (etype === ETH_VLAN) {
    if (frame.length < 18) throw new IgmpError("truncated", "802.1Q tag runs past the end");
    vlan = frame.readUInt16BE(14) & 0x0fff;
    off = 16;
    etype = frame.readUInt16BE(off);
    if (VLAN_TPIDS.has(etype)) throw new IgmpError("not-igmp", "more than one VLAN tag");
  }
  if (etype !== ETH_IPV4) throw new IgmpError("not-igmp", `ethertype 0x${etype.toString(16).padStart(4, "0")}`);
  const ip = off + 2;
  if (frame.length < ip + 20) throw new IgmpError("truncated", "IPv4 header runs past the end");
  const vihl = frame[ip]!;
  if (vihl >> 4 !== 4) throw new IgmpError("bad-ip", `IP version ${vihl >> 4}`);
  const hlen = (vihl & 0x0f) * 4;
  if (hlen < 20) throw new IgmpError("bad-ip", `IHL ${hlen / 4} < 5`);
  if (ip + hlen > frame.length) throw new IgmpError("bad-ip", `IHL ${hlen / 4} runs past the end`);
  if (frame[ip + 9] !== IPPROTO_IGMP) throw new IgmpError("not-igmp", `IP protocol ${frame[ip + 9]}`);
  const total = frame.readUInt16BE(ip + 2);
  if (total < hlen) throw new IgmpError("bad-ip", `total length ${total} < header length ${hlen}`);
  if (ip + total > frame.length) throw new IgmpError("bad-ip", `total length ${total} runs past the end`);
  if (inetChecksum(frame.subarray(ip, ip + hlen)) !== 0) throw new IgmpError("bad-ip", "IPv4 header checksum mismatch");
  // MF or a fragment offset: IGMP is never fragmented, and a fragment cannot be checked.
  if (frame.readUInt16BE(ip + 6) & 0x3fff) throw new IgmpError("bad-ip", "IPv4 fragment");
  return {
    dstMac: formatMac(frame.subarray(0, 6)),
    srcMac: formatMac(frame.subarray(6, 12)),
    vlan,
    ttl: frame[ip + 8]!,
    srcIp: readIp(frame, ip + 12),
    dstIp: readIp(frame, ip + 16),
    message: decodeIgmp(frame.subarray(ip + hlen, ip + total)),
  };
}

/** RFC 2113 Router Alert, value 0: routers examine the packet. */
const ROUTER_ALERT = [0x94, 0x04, 0x00, 0x00];
/** Internetwork control precedence, as RFC 3376 4 asks for IGMP. */
const TOS_INTERNETWORK_CONTROL = 0xc0;

/** A complete Ethernet frame carrying `message`: dst MAC from the IPv4 group
 *  (RFC 1112 6.4), 802.1Q tag when vlan != 0, IPv4 TTL 1 with Router Alert, DF
 *  clear. Not padded to 60 octets: the NIC pads on transmit. */
export function encodeIgmpFrame(o: { srcMac: string; vlan?: number; srcIp: string; dstIp: string; message: IgmpMessage }): Buffer {
  const dst = multicastGroup(o.dstIp, "frame destination");
  const src = ipBytes(o.srcIp, "frame source");
  const vlan = o.vlan ?? 0;
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw new RangeError(`vlan ${vlan} not in 0..4094`);
  const igmp = encodeIgmp(o.message);
  const ip = vlan === 0 ? 14 : 18;
  const hlen = 20 + ROUTER_ALERT.length;
  const f = Buffer.alloc(ip + hlen + igmp.length);
  f[0] = 0x01;
  f[1] = 0x00;
  f[2] = 0x5e;
  f.writeUIntBE(dst & 0x7fffff, 3, 3);
  parseMac(o.srcMac).copy(f, 6);
  if (vlan !== 0) {
    f.writeUInt16BE(ETH_VLAN, 12);
    f.writeUInt16BE(vlan, 14);
  }
  f.writeUInt16BE(ETH_IPV4, ip - 2);
  f[ip] = 0x40 | (hlen / 4);
  f[ip + 1] = TOS_INTERNETWORK_CONTROL;
  f.writeUInt16BE(hlen + igmp.length, ip + 2);
  // identification 0, flags/fragment 0 (DF clear)
  f[ip + 8] = 1; // TTL 1: never leaves the link
  f[ip + 9] = IPPROTO_IGMP;
  f.writeUInt32BE(src, ip + 12);
  f.writeUInt32BE(dst, ip + 16);
  Buffer.from(ROUTER_ALERT).copy(f, ip + 20);
  f.writeUInt16BE(inetChecksum(f.subarray(ip, ip + hlen)), ip + 10);
  igmp.copy(f, ip + hlen);
  return f;
}

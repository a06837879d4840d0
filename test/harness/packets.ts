// Pure frame builders and a lenient parser for tests: Ethernet (+802.1Q/802.1ad
// tags), ARP, IPv4, UDP, ICMP echo, VXLAN. Builders return complete Buffers
// with correct checksums unless told otherwise; parseFrame() turns bytes back
// into a nested object for assertions.

export const ETH_P_IPV4 = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const VXLAN_PORT = 4789;
export const VXLAN_FLAG_I = 0x08;
export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;

export type MacLike = string | Buffer;
export type Ipv4Like = string | number | Buffer;

// ---------------------------------------------------------------------------
// addresses

/** "aa:bb:cc:dd:ee:ff" (or "aa-bb-..", or 6-byte Buffer) -> 6-byte Buffer. */
export function mac(m: MacLike): Buffer {
  if (Buffer.isBuffer(m)) {
    if (m.length !== 6) throw new Error(`MAC buffer must be 6 bytes, got ${m.length}`);
    return Buffer.from(m);
  }
  const parts = m.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`bad MAC "${m}"`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function macStr(b: Buffer, off = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push((b[off + i] ?? 0).toString(16).padStart(2, "0"));
  return out.join(":");
}

/** "10.0.0.1" | 0x0a000001 | 4-byte Buffer -> 4-byte Buffer. */
export function ipv4Addr(a: Ipv4Like): Buffer {
  if (Buffer.isBuffer(a)) {
    if (a.length !== 4) throw new Error(`IPv4 buffer must be 4 bytes, got ${a.length}`);
    return Buffer.from(a);
  }
  const b = Buffer.alloc(4);
  if (typeof a === "number") {
    b.writeUInt32BE(a >>> 0);
    return b;
  }
  const parts = a.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`bad IPv4 "${a}"`);
  parts.forEach((p, i) => (b[i] = Number(p)));
  return b;
}

export function ipv4Str(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

// ---------------------------------------------------------------------------
// checksums

/** One's-complement sum of 16-bit words over the concatenated buffers, folded, not inverted. */
function onesSum(bufs: readonly Buffer[]): number {
  let sum = 0;
  let odd: number | undefined; // pending high byte when a buffer ends mid-word
  for (const b of bufs) {
    let i = 0;
    if (odd !== undefined && b.length > 0) {
      sum += (odd << 8) | b[0]!;
      odd = undefined;
      i = 1;
    }
    for (; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (i < b.length) odd = b[i]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** RFC 1071 Internet checksum of the concatenated buffers. */
export function internetChecksum(...bufs: Buffer[]): number {
  return ~onesSum(bufs) & 0xffff;
}

/** Header checksum for an IPv4 header (the checksum field itself is treated as zero). */
export function ipv4HeaderChecksum(header: Buffer): number {
  const h = Buffer.from(header);
  h.writeUInt16BE(0, 10);
  return internetChecksum(h);
}

function pseudoHeader(src: Ipv4Like, dst: Ipv4Like, proto: number, len: number): Buffer {
  const p = Buffer.alloc(12);
  ipv4Addr(src).copy(p, 0);
  ipv4Addr(dst).copy(p, 4);
  p[9] = proto;
  p.writeUInt16BE(len, 10);
  return p;
}

/** UDP checksum over pseudo header + segment (checksum field treated as zero); 0 is sent as 0xffff. */
export function udpChecksum(srcIp: Ipv4Like, dstIp: Ipv4Like, segment: Buffer): number {
  const s = Buffer.from(segment);
  s.writeUInt16BE(0, 6);
  const c = internetChecksum(pseudoHeader(srcIp, dstIp, IPPROTO_UDP, s.length), s);
  return c === 0 ? 0xffff : c;
}

// ---------------------------------------------------------------------------
// Ethernet / VLAN

export interface VlanTag {
  /** VLAN id 0..4095. */
  id: number;
  pcp?: number;
  dei?: boolean;
  /** Default 0x8100. */
  tpid?: number;
}

export interface EthernetOptions {
  dst: MacLike;
  src: MacLike;
  /** One tag, or an outer-first list (QinQ). */
  vlan?: VlanTag | VlanTag[];
  ethertype: number;
  payload: Buffer;
  /** Pad with zeros to the 60-byte minimum (without FCS). Default false: veth doesn't care. */
  pad?: boolean;
}

export function vlanTag(t: VlanTag): Buffer {
  if (t.id < 0 || t.id > 4095) throw new Error(`VLAN id ${t.id} out of range`);
  const b = Buffer.alloc(4);
  b.writeUInt16BE(t.tpid ?? ETH_P_8021Q, 0);
  b.writeUInt16BE((((t.pcp ?? 0) & 7) << 13) | (t.dei ? 1 << 12 : 0) | t.id, 2);
  return b;
}

export function ethernet(o: EthernetOptions): Buffer {
  const tags = o.vlan === undefined ? [] : Array.isArray(o.vlan) ? o.vlan : [o.vlan];
  const type = Buffer.alloc(2);
  type.writeUInt16BE(o.ethertype);
  const f = Buffer.concat([mac(o.dst), mac(o.src), ...tags.map(vlanTag), type, o.payload]);
  if (o.pad && f.length < 60) return Buffer.concat([f, Buffer.alloc(60 - f.length)]);
  return f;
}

// ---------------------------------------------------------------------------
// ARP

export interface ArpOptions {
  op: "request" | "reply" | number;
  senderMac: MacLike;
  senderIp: Ipv4Like;
  /** Default 00:00:00:00:00:00. */
  targetMac?: MacLike;
  targetIp: Ipv4Like;
}

/** The 28-byte ARP body (Ethernet/IPv4). */
export function arp(o: ArpOptions): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // htype Ethernet
  b.writeUInt16BE(ETH_P_IPV4, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(o.op === "request" ? ARP_REQUEST : o.op === "reply" ? ARP_REPLY : o.op, 6);
  mac(o.senderMac).copy(b, 8);
  ipv4Addr(o.senderIp).copy(b, 14);
  mac(o.targetMac ?? "00:00:00:00:00:00").copy(b, 18);
  ipv4Addr(o.targetIp).copy(b, 24);
  return b;
}

export interface ArpRequestOptions {
  srcMac: MacLike;
  srcIp: Ipv4Like;
  targetIp: Ipv4Like;
  /** Ethernet destination; default broadcast. */
  dstMac?: MacLike;
  vlan?: VlanTag | VlanTag[];
  pad?: boolean;
}

/** Complete "who-has targetIp tell srcIp" frame. */
export function arpRequest(o: ArpRequestOptions): Buffer {
  return ethernet({
    dst: o.dstMac ?? BROADCAST_MAC,
    src: o.srcMac,
    vlan: o.vlan,
    ethertype: ETH_P_ARP,
    payload: arp({ op: "request", senderMac: o.srcMac, senderIp: o.srcIp, targetIp: o.targetIp }),
    pad: o.pad,
  });
}

export interface ArpReplyOptions {
  srcMac: MacLike;
  srcIp: Ipv4Like;
  dstMac: MacLike;
  dstIp: Ipv4Like;
  vlan?: VlanTag | VlanTag[];
  pad?: boolean;
}

/** Complete "srcIp is-at srcMac" frame sent to dstMac. */
export function arpReply(o: ArpReplyOptions): Buffer {
  return ethernet({
    dst: o.dstMac,
    src: o.srcMac,
    vlan: o.vlan,
    ethertype: ETH_P_ARP,
    payload: arp({ op: "reply", senderMac: o.srcMac, senderIp: o.srcIp, targetMac: o.dstMac, targetIp: o.dstIp }),
    pad: o.pad,
  });
}

// ---------------------------------------------------------------------------
// IPv4

export interface Ipv4Options {
  src: Ipv4Like;
  dst: Ipv4Like;
  protocol: number;
  payload: Buffer;
  /** Default 64. */
  ttl?: number;
  /** Identification, default 0. */
  id?: number;
  /** Whole TOS byte (dscp << 2 | ecn); default 0. */
  tos?: number;
  /** Don't-fragment; default false. */
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Options (padded to a multiple of 4). */
  options?: Buffer;
  /** Force this header checksum (e.g. to send a bad one). */
  checksum?: number;
  /** Force this total length. */
  totalLength?: number;
}

export function ipv4(o: Ipv4Options): Buffer {
  let opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const hl = 20 + opts.length;
  if (hl > 60) throw new Error("IPv4 options too long");
  const h = Buffer.alloc(hl);
  h[0] = 0x40 | (hl / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totalLength ?? hl + o.payload.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.protocol;
  ipv4Addr(o.src).copy(h, 12);
  ipv4Addr(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(o.checksum ?? ipv4HeaderChecksum(h), 10);
  return Buffer.concat([h, o.payload]);
}

// ---------------------------------------------------------------------------
// UDP

export interface UdpOptions {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  /** Needed for the checksum (pseudo header). */
  srcIp?: Ipv4Like;
  dstIp?: Ipv4Like;
  /**
   * "auto" (default): computed when srcIp/dstIp are given, else 0.
   * "none": 0 (no checksum). A number forces that value.
   */
  checksum?: "auto" | "none" | number;
}

export function udp(o: UdpOptions): Buffer {
  const s = Buffer.alloc(8 + o.payload.length);
  s.writeUInt16BE(o.srcPort, 0);
  s.writeUInt16BE(o.dstPort, 2);
  s.writeUInt16BE(s.length, 4);
  o.payload.copy(s, 8);
  const mode = o.checksum ?? "auto";
  let c = 0;
  if (typeof mode === "number") c = mode;
  else if (mode === "auto" && o.srcIp !== undefined && o.dstIp !== undefined) c = udpChecksum(o.srcIp, o.dstIp, s);
  s.writeUInt16BE(c, 6);
  return s;
}

// ---------------------------------------------------------------------------
// ICMP

export interface IcmpEchoOptions {
  /** Default "request". */
  type?: "request" | "reply";
  /** Echo identifier (tshark: icmp.ident). */
  ident: number;
  seq: number;
  payload?: Buffer;
}

export function icmpEcho(o: IcmpEchoOptions): Buffer {
  const payload = o.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + payload.length);
  b[0] = o.type === "reply" ? ICMP_ECHO_REPLY : ICMP_ECHO_REQUEST;
  b[1] = 0;
  b.writeUInt16BE(o.ident, 4);
  b.writeUInt16BE(o.seq, 6);
  payload.copy(b, 8);
  b.writeUInt16BE(internetChecksum(b), 2);
  return b;
}

// ---------------------------------------------------------------------------
// whole frames

export interface L2Options {
  srcMac: MacLike;
  dstMac: MacLike;
  vlan?: VlanTag | VlanTag[];
}

export interface L3Options {
  srcIp: Ipv4Like;
  dstIp: Ipv4Like;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
}

export interface UdpFrameOptions extends L2Options, L3Options {
  srcPort: number;
  dstPort: number;
  payload?: Buffer;
  /** Compute the UDP checksum (default true); false sends 0. */
  udpChecksum?: boolean;
}

/** Ethernet + IPv4 + UDP frame. */
export function udpFrame(o: UdpFrameOptions): Buffer {
  const seg = udp({
    srcPort: o.srcPort,
    dstPort: o.dstPort,
    payload: o.payload ?? Buffer.alloc(0),
    srcIp: o.srcIp,
    dstIp: o.dstIp,
    checksum: o.udpChecksum === false ? "none" : "auto",
  });
  const pkt = ipv4({ src: o.srcIp, dst: o.dstIp, protocol: IPPROTO_UDP, payload: seg, ttl: o.ttl, id: o.id, tos: o.tos, df: o.df });
  return ethernet({ dst: o.dstMac, src: o.srcMac, vlan: o.vlan, ethertype: ETH_P_IPV4, payload: pkt });
}

export interface IcmpEchoFrameOptions extends L2Options, L3Options, IcmpEchoOptions {}

/** Ethernet + IPv4 + ICMP echo request/reply frame. */
export function icmpEchoFrame(o: IcmpEchoFrameOptions): Buffer {
  const pkt = ipv4({
    src: o.srcIp,
    dst: o.dstIp,
    protocol: IPPROTO_ICMP,
    payload: icmpEcho({ type: o.type, ident: o.ident, seq: o.seq, payload: o.payload }),
    ttl: o.ttl,
    id: o.id,
    tos: o.tos,
    df: o.df,
  });
  return ethernet({ dst: o.dstMac, src: o.srcMac, vlan: o.vlan, ethertype: ETH_P_IPV4, payload: pkt });
}

// ---------------------------------------------------------------------------
// VXLAN

export interface VxlanHeaderOptions {
  vni: number;
  /** Flags byte; default 0x08 (I flag), plus 0x80 (G) when gbp is given. */
  flags?: number;
  /** Group Policy extension: the policy ID (a mirror copy's HOST ID), with the D (don't learn) bit. */
  gbp?: number;
}

/** The 8-byte VXLAN header (RFC 7348). */
export function vxlanHeader(o: VxlanHeaderOptions): Buffer {
  if (o.vni < 0 || o.vni > 0xffffff) throw new Error(`VNI ${o.vni} out of range`);
  const b = Buffer.alloc(8);
  b[0] = o.flags ?? (o.gbp !== undefined ? VXLAN_FLAG_I | 0x80 : VXLAN_FLAG_I);
  if (o.gbp !== undefined) {
    b[1] = 0x40;
    b.writeUInt16BE(o.gbp, 2);
  }
  b.writeUInt32BE((o.vni << 8) >>> 0, 4);
  return b;
}

/** Deterministic source port in 49152..65535 from the inner Ethernet header (like an entropy hash). */
export function vxlanSourcePort(inner: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < Math.min(inner.length, 14); i++) h = Math.imul(h ^ inner[i]!, 0x01000193) >>> 0;
  return 49152 + (h % 16384);
}

export interface VxlanEncapOptions {
  outer: L2Options &
    L3Options & {
      /** Default vxlanSourcePort(inner). */
      srcPort?: number;
      /** Default 4789. */
      dstPort?: number;
      /** Compute the outer UDP checksum; default false (0, as RFC 7348 recommends and Linux sends). */
      udpChecksum?: boolean;
    };
  vni: number;
  flags?: number;
  /** Group Policy ID (G flag + D bit): a mirror copy's HOST ID. */
  gbp?: number;
  /** Complete inner Ethernet frame (no FCS). */
  inner: Buffer;
}

/** Outer Ethernet/IPv4/UDP/VXLAN around `inner`. DF defaults to true on the outer header. */
export function vxlanEncap(o: VxlanEncapOptions): Buffer {
  const out = o.outer;
  const seg = udp({
    srcPort: out.srcPort ?? vxlanSourcePort(o.inner),
    dstPort: out.dstPort ?? VXLAN_PORT,
    payload: Buffer.concat([vxlanHeader({ vni: o.vni, flags: o.flags, gbp: o.gbp }), o.inner]),
    srcIp: out.srcIp,
    dstIp: out.dstIp,
    checksum: out.udpChecksum ? "auto" : "none",
  });
  const pkt = ipv4({
    src: out.srcIp,
    dst: out.dstIp,
    protocol: IPPROTO_UDP,
    payload: seg,
    ttl: out.ttl,
    id: out.id,
    tos: out.tos,
    df: out.df ?? true,
  });
  return ethernet({ dst: out.dstMac, src: out.srcMac, vlan: out.vlan, ethertype: ETH_P_IPV4, payload: pkt });
}

// ---------------------------------------------------------------------------
// parsing

export interface ParsedVlan {
  tpid: number;
  pcp: number;
  dei: boolean;
  id: number;
}

export interface ParsedArp {
  htype: number;
  ptype: number;
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface ParsedIpv4 {
  version: number;
  headerLength: number;
  tos: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  checksumOk: boolean;
  src: string;
  dst: string;
  options: Buffer;
}

export interface ParsedUdp {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
  /** null when the checksum is 0 (not used) or can't be checked (truncated). */
  checksumOk: boolean | null;
}

export interface ParsedIcmp {
  type: number;
  code: number;
  checksum: number;
  checksumOk: boolean;
  /** Echo request/reply only. */
  ident?: number;
  seq?: number;
}

export interface ParsedVxlan {
  flags: number;
  iFlag: boolean;
  vni: number;
  reserved1: number;
  reserved2: number;
}

export interface ParsedFrame {
  /** Bytes in this frame (for inner frames: the encapsulated length). */
  length: number;
  eth: { dst: string; src: string; /** Ethertype after any VLAN tags. */ ethertype: number };
  /** Outer-first. */
  vlans: ParsedVlan[];
  /** First tag, if any. */
  vlan?: ParsedVlan;
  arp?: ParsedArp;
  ipv4?: ParsedIpv4;
  udp?: ParsedUdp;
  icmp?: ParsedIcmp;
  vxlan?: ParsedVxlan;
  /** The frame carried by VXLAN. */
  inner?: ParsedFrame;
  /** Unparsed bytes after the last header understood (L4 payload, trimmed to the IP length). */
  payload: Buffer;
  /** Ethernet padding after the IP datagram. */
  trailer: Buffer;
  /** Truncation or malformation notes; parsing stops where one is recorded. */
  errors: string[];
}

export interface ParseOptions {
  /** UDP destination ports decoded as VXLAN (default [4789]). */
  vxlanPorts?: readonly number[];
}

/** Leniently parses an Ethernet frame; never throws on malformed input (see `errors`). */
export function parseFrame(buf: Buffer, opts: ParseOptions = {}): ParsedFrame {
  const vxlanPorts = opts.vxlanPorts ?? [VXLAN_PORT];
  const f: ParsedFrame = {
    length: buf.length,
    eth: { dst: "", src: "", ethertype: 0 },
    vlans: [],
    payload: Buffer.alloc(0),
    trailer: Buffer.alloc(0),
    errors: [],
  };
  if (buf.length < 14) {
    f.errors.push(`frame too short for Ethernet (${buf.length} bytes)`);
    f.payload = buf;
    return f;
  }
  f.eth.dst = macStr(buf, 0);
  f.eth.src = macStr(buf, 6);
  let off = 12;
  let type = buf.readUInt16BE(off);
  while (type === ETH_P_8021Q || type === ETH_P_8021AD) {
    if (buf.length < off + 6) {
      f.errors.push("truncated VLAN tag");
      f.eth.ethertype = type;
      f.payload = buf.subarray(off);
      return f;
    }
    const tci = buf.readUInt16BE(off + 2);
    f.vlans.push({ tpid: type, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, id: tci & 0xfff });
    off += 4;
    type = buf.readUInt16BE(off);
  }
  f.vlan = f.vlans[0];
  f.eth.ethertype = type;
  off += 2;
  const l3 = buf.subarray(off);
  f.payload = l3;

  if (type === ETH_P_ARP) {
    if (l3.length < 28) {
      f.errors.push("truncated ARP");
      return f;
    }
    f.arp = {
      htype: l3.readUInt16BE(0),
      ptype: l3.readUInt16BE(2),
      op: l3.readUInt16BE(6),
      senderMac: macStr(l3, 8),
      senderIp: ipv4Str(l3, 14),
      targetMac: macStr(l3, 18),
      targetIp: ipv4Str(l3, 24),
    };
    f.payload = Buffer.alloc(0);
    f.trailer = l3.subarray(28);
    return f;
  }
  if (type !== ETH_P_IPV4) return f;

  if (l3.length < 20) {
    f.errors.push("truncated IPv4 header");
    return f;
  }
  const hl = (l3[0]! & 0x0f) * 4;
  if (hl < 20 || l3.length < hl) {
    f.errors.push(`bad IPv4 header length ${hl}`);
    return f;
  }
  const hdr = l3.subarray(0, hl);
  const totalLength = l3.readUInt16BE(2);
  const flags = l3.readUInt16BE(6);
  const checksum = l3.readUInt16BE(10);
  f.ipv4 = {
    version: l3[0]! >> 4,
    headerLength: hl,
    tos: l3[1]!,
    dscp: l3[1]! >> 2,
    ecn: l3[1]! & 3,
    totalLength,
    id: l3.readUInt16BE(4),
    df: (flags & 0x4000) !== 0,
    mf: (flags & 0x2000) !== 0,
    fragOffset: flags & 0x1fff,
    ttl: l3[8]!,
    protocol: l3[9]!,
    checksum,
    checksumOk: internetChecksum(hdr) === 0,
    src: ipv4Str(l3, 12),
    dst: ipv4Str(l3, 16),
    options: Buffer.from(l3.subarray(20, hl)),
  };
  let end = l3.length;
  if (totalLength < hl) f.errors.push(`IPv4 total length ${totalLength} < header length`);
  else if (totalLength > l3.length) f.errors.push(`IPv4 datagram truncated (${l3.length} of ${totalLength} bytes)`);
  else end = totalLength;
  f.trailer = l3.subarray(end);
  const l4 = l3.subarray(hl, end);
  f.payload = l4;
  if (f.ipv4.fragOffset !== 0 || f.ipv4.mf) return f; // don't parse L4 of fragments

  if (f.ipv4.protocol === IPPROTO_ICMP) {
    if (l4.length < 8) {
      f.errors.push("truncated ICMP");
      return f;
    }
    const t = l4[0]!;
    f.icmp = { type: t, code: l4[1]!, checksum: l4.readUInt16BE(2), checksumOk: internetChecksum(l4) === 0 };
    if (t === ICMP_ECHO_REQUEST || t === ICMP_ECHO_REPLY) {
      f.icmp.ident = l4.readUInt16BE(4);
      f.icmp.seq = l4.readUInt16BE(6);
    }
    f.payload = l4.subarray(8);
    return f;
  }
  if (f.ipv4.protocol !== IPPROTO_UDP) return f;

  if (l4.length < 8) {
    f.errors.push("truncated UDP header");
    return f;
  }
  const ulen = l4.readUInt16BE(4);
  const ucsum = l4.readUInt16BE(6);
  let seg = l4;
  if (ulen < 8 || ulen > l4.length) f.errors.push(`UDP length ${ulen} doesn't fit the ${l4.length}-byte datagram`);
  else seg = l4.subarray(0, ulen);
  f.udp = {
    srcPort: l4.readUInt16BE(0),
    dstPort: l4.readUInt16BE(2),
    length: ulen,
    checksum: ucsum,
    checksumOk:
      ucsum === 0 || f.errors.length > 0
        ? null
        : internetChecksum(pseudoHeader(f.ipv4.src, f.ipv4.dst, IPPROTO_UDP, seg.length), seg) === 0,
  };
  const body = seg.subarray(8);
  f.payload = body;
  if (!vxlanPorts.includes(f.udp.dstPort)) return f;

  if (body.length < 8) {
    f.errors.push("truncated VXLAN header");
    return f;
  }
  f.vxlan = {
    flags: body[0]!,
    iFlag: (body[0]! & VXLAN_FLAG_I) !== 0,
    vni: body.readUInt32BE(4) >>> 8,
    reserved1: body.readUInt32BE(0) & 0xffffff,
    reserved2: body[7]!,
  };
  const inner = body.subarray(8);
  f.payload = Buffer.alloc(0);
  f.inner = parseFrame(inner, opts);
  return f;
}

/** Lower-case hex, no separators. */
export function toHex(b: Buffer): string {
  return b.toString("hex");
}

/** Parses hex with optional whitespace/colons (handy for pasting dumps into tests). */
export function fromHex(s: string): Buffer {
  const clean = s.replace(/[\s:]/g, "");
  if (clean.length % 2 || /[^0-9a-fA-F]/.test(clean)) throw new Error("bad hex string");
  return Buffer.from(clean, "hex");
}

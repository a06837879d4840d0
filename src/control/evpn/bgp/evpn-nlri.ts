// EVPN NLRI (AFI 25 / SAFI 70), RFC 7432 §7:
//
//   +-----------------------------------+
//   |    Route Type (1 octet)           |
//   +-----------------------------------+
//   |     Length (1 octet)              |   octets of Route Type specific
//   +-----------------------------------+
//   | Route Type specific (variable)    |
//   +-----------------------------------+
//
// Typed route types:
//   2  MAC/IP Advertisement   RFC 7432 §7.2   (VXLAN use: RFC 8365 §5.1.3)
//   3  Inclusive Multicast Ethernet Tag (IMET)   RFC 7432 §7.3
//   6  Selective Multicast Ethernet Tag (SMET)   RFC 9251 §9.1
// Every other route type (1 Ethernet A-D, 4 Ethernet Segment, 5 IP Prefix, ...)
// is kept raw as { routeType, value } and re-encoded byte for byte.
// NOTE RFC 7606 §5.4: a speaker MUST discard routes of an NLRI type it does not
// recognize (without resetting the session). The codec keeps them so they can
// be logged and so encode(decode(x)) is exact; the RIB must drop them
// (isKnownEvpnRouteType).
// A type-6 (SMET) route whose own fields do not parse (a length that is not 0,
// 32 or 128 bits, trailing octets) while its Length octet frames it correctly
// is kept raw with `malformed` set, and the routes around it decode normally:
// multicast membership must never cost a session (the receiver discards that
// one route, see isMalformedEvpnRoute). A Length that overruns the NLRI, or a
// malformed type 2 or 3, still fails the whole NLRI (RFC 7606 §5.3).
//
// Labels. The MPLS Label fields are 3 octets. For VXLAN, RFC 8365 §5.1.3 says
// the VNI is carried in the MPLS Label1 field (and in the PMSI Tunnel
// attribute's label field) and that the whole 24-bit field is the VNI (not a
// 20-bit label shifted left by 4 with a bottom-of-stack bit). FRR (vni2label)
// and GoBGP both put the VNI in all 24 bits. Route objects therefore carry
// the raw 24-bit field value; use vniFromLabel/labelFromVni for VXLAN and
// mplsLabelFromField/fieldFromMplsLabel for MPLS.

import { bytesToEsi, bytesToIp, bytesToMac, esiToBytes, ipToBytes, macToBytes } from './addr.ts';
import { BgpEncodeError, WireTruncatedError } from './errors.ts';
import { decodeRd, encodeRd, formatRd, type RouteDistinguisher } from './rd.ts';
import { Reader, u24, u32 } from './wire.ts';

export const EvpnRouteType = {
  ETHERNET_AD: 1,
  MAC_IP: 2,
  IMET: 3,
  ETHERNET_SEGMENT: 4,
  IP_PREFIX: 5,
  SMET: 6,
} as const;

/** Route type 2 (RFC 7432 §7.2). `ip` absent = IP Address Length 0. */
export interface EvpnMacIpRoute {
  type: 'mac-ip';
  rd: RouteDistinguisher;
  esi: string;
  ethernetTag: number;
  mac: string;
  ip?: string;
  /** Raw 24-bit MPLS Label1 field; for VXLAN this is the L2 VNI (vniFromLabel). */
  label1: number;
  /** Raw 24-bit MPLS Label2 field (symmetric IRB: the L3 VNI, RFC 9135). */
  label2?: number;
}

/** Route type 3 (RFC 7432 §7.3). */
export interface EvpnImetRoute {
  type: 'imet';
  rd: RouteDistinguisher;
  ethernetTag: number;
  originatorIp: string;
}

/** SMET flags octet (RFC 9251 §9.1): least-significant bit first v1, v2, v3, then IE (1 = exclude). */
export interface SmetFlags {
  igmpV1: boolean;
  igmpV2: boolean;
  igmpV3: boolean;
  exclude: boolean;
  /** The upper 4 (reserved) bits, present only when non-zero so re-encoding is exact. */
  reserved?: number;
}

/** Route type 6 (RFC 9251 §9.1). `source` absent = (*,G); `group` absent = wildcard group (length 0). */
export interface EvpnSmetRoute {
  type: 'smet';
  rd: RouteDistinguisher;
  ethernetTag: number;
  source?: string;
  group?: string;
  originatorIp: string;
  /**
   * Absent only when the NLRI had no flags octet (pre-RFC 9251 draft encoders);
   * re-encoded the same way.
   */
  flags?: SmetFlags;
}

/** Any route type this codec does not interpret. `value` excludes the type and length octets. */
export interface EvpnRawRoute {
  type: 'raw';
  routeType: number;
  value: Buffer;
  /** Set when this is a typed route (SMET) whose fields did not parse: why. Such a route is discarded on receipt. */
  malformed?: string;
}

export type EvpnRoute = EvpnMacIpRoute | EvpnImetRoute | EvpnSmetRoute | EvpnRawRoute;

export const VNI_MAX = 0xffffff;

/** RFC 8365 §5.1.3: the VNI is the whole 24-bit label field. */
export function vniFromLabel(labelField: number): number {
  return labelField & 0xffffff;
}

/** RFC 8365 §5.1.3: the label field to send for a VNI (identity on 24 bits, validated). */
export function labelFromVni(vni: number): number {
  if (!Number.isInteger(vni) || vni < 0 || vni > VNI_MAX) throw new BgpEncodeError(`VNI ${vni} is not a 24-bit value`);
  return vni;
}

/** MPLS interpretation of a 3-octet label field (RFC 3032 stack entry top 24 bits): label = high 20 bits. */
export function mplsLabelFromField(labelField: number): number {
  return (labelField >>> 4) & 0xfffff;
}

/** MPLS label (20 bits) to the 3-octet field, bottom-of-stack bit set by default. */
export function fieldFromMplsLabel(label: number, bottomOfStack = true): number {
  if (!Number.isInteger(label) || label < 0 || label > 0xfffff) throw new BgpEncodeError(`MPLS label ${label} is not a 20-bit value`);
  return ((label << 4) | (bottomOfStack ? 1 : 0)) >>> 0;
}

export function isKnownEvpnRouteType(t: number): boolean {
  return t >= 1 && t <= 11;
}

/** A route the codec could frame but not parse (only type 6 so far): discard it on receipt, never reset the session. */
export function isMalformedEvpnRoute(r: EvpnRoute): boolean {
  return r.type === 'raw' && r.malformed !== undefined;
}

export function evpnRouteTypeOf(r: EvpnRoute): number {
  switch (r.type) {
    case 'mac-ip':
      return EvpnRouteType.MAC_IP;
    case 'imet':
      return EvpnRouteType.IMET;
    case 'smet':
      return EvpnRouteType.SMET;
    case 'raw':
      return r.routeType;
  }
}

// ---------------------------------------------------------------- encode

/** IP field with its length-in-bits prefix; undefined -> length 0. */
function ipWithLen(ip: string | undefined): Buffer {
  if (ip === undefined) return Buffer.from([0]);
  const b = ipToBytes(ip);
  return Buffer.concat([Buffer.from([b.length * 8]), b]);
}

function smetFlagsByte(f: SmetFlags): number {
  const reserved = f.reserved ?? 0;
  if (!Number.isInteger(reserved) || reserved < 0 || reserved > 0xf) throw new BgpEncodeError('SMET reserved flag bits must fit 4 bits');
  return (reserved << 4) | (f.exclude ? 0x08 : 0) | (f.igmpV3 ? 0x04 : 0) | (f.igmpV2 ? 0x02 : 0) | (f.igmpV1 ? 0x01 : 0);
}

/** The route-type-specific value (without type and length octets). */
export function encodeEvpnRouteValue(r: EvpnRoute): Buffer {
  switch (r.type) {
    case 'mac-ip': {
      const parts = [
        encodeRd(r.rd),
        esiToBytes(r.esi),
        u32(r.ethernetTag, 'Ethernet Tag'),
        Buffer.from([48]),
        macToBytes(r.mac),
        ipWithLen(r.ip),
        u24(r.label1, 'MPLS Label1'),
      ];
      if (r.label2 !== undefined) parts.push(u24(r.label2, 'MPLS Label2'));
      return Buffer.concat(parts);
    }
    case 'imet':
      return Buffer.concat([encodeRd(r.rd), u32(r.ethernetTag, 'Ethernet Tag'), ipWithLen(r.originatorIp)]);
    case 'smet': {
      const parts = [encodeRd(r.rd), u32(r.ethernetTag, 'Ethernet Tag'), ipWithLen(r.source), ipWithLen(r.group), ipWithLen(r.originatorIp)];
      if (r.flags) parts.push(Buffer.from([smetFlagsByte(r.flags)]));
      return Buffer.concat(parts);
    }
    case 'raw':
      return Buffer.from(r.value);
  }
}

/** One NLRI: type, length, value. */
export function encodeEvpnRoute(r: EvpnRoute): Buffer {
  const value = encodeEvpnRouteValue(r);
  const t = evpnRouteTypeOf(r);
  if (!Number.isInteger(t) || t < 0 || t > 255) throw new BgpEncodeError(`EVPN route type ${t} out of range`);
  if (value.length > 255) throw new BgpEncodeError(`EVPN route value of ${value.length} octets does not fit the 1-octet length`);
  return Buffer.concat([Buffer.from([t, value.length]), value]);
}

export function encodeEvpnNlri(routes: readonly EvpnRoute[]): Buffer {
  return Buffer.concat(routes.map(encodeEvpnRoute));
}

// ---------------------------------------------------------------- decode

class NlriSyntax extends Error {}

function readIpWithLen(r: Reader, what: string, allowZero: boolean): string | undefined {
  const bits = r.u8(`${what} length`);
  if (bits === 0 && allowZero) return undefined;
  if (bits !== 32 && bits !== 128) throw new NlriSyntax(`${what} length ${bits} bits (expected ${allowZero ? '0, ' : ''}32 or 128)`);
  return bytesToIp(r.bytes(bits / 8, what));
}

function decodeMacIp(r: Reader): EvpnMacIpRoute {
  // Length rule (RFC 7432 §7.2): 8 RD + 10 ESI + 4 tag + 1 + 6 MAC + 1 + {0,4,16} IP + 3 label1 [+ 3 label2]
  // = 33, 36, 37, 40, 49 or 52 octets.
  const rd = decodeRd(r);
  const esi = bytesToEsi(r.bytes(10, 'ESI'));
  const ethernetTag = r.u32('Ethernet Tag');
  const macBits = r.u8('MAC length');
  if (macBits !== 48) throw new NlriSyntax(`MAC/IP route MAC length ${macBits} bits (RFC 7432 §7.2: MUST be 48)`);
  const mac = bytesToMac(r.bytes(6, 'MAC'));
  const ip = readIpWithLen(r, 'MAC/IP route IP', true);
  const label1 = r.u24('MPLS Label1');
  const route: EvpnMacIpRoute = { type: 'mac-ip', rd, esi, ethernetTag, mac, label1 };
  if (ip !== undefined) route.ip = ip;
  if (r.remaining === 3) route.label2 = r.u24('MPLS Label2');
  if (!r.done) throw new NlriSyntax(`MAC/IP route has ${r.remaining} trailing octets (only 0 or 3 allowed after Label1)`);
  return route;
}

function decodeImet(r: Reader): EvpnImetRoute {
  // Length rule (RFC 7432 §7.3): 8 RD + 4 tag + 1 + {4,16} = 17 or 29 octets.
  const rd = decodeRd(r);
  const ethernetTag = r.u32('Ethernet Tag');
  const originatorIp = readIpWithLen(r, 'IMET originating router IP', false)!;
  if (!r.done) throw new NlriSyntax(`IMET route has ${r.remaining} trailing octets`);
  return { type: 'imet', rd, ethernetTag, originatorIp };
}

function decodeSmet(r: Reader): EvpnSmetRoute {
  // Length rule (RFC 9251 §9.1): 8 RD + 4 tag + 1 + {0,4,16} source + 1 + {0,4,16} group
  // + 1 + {4,16} originator + 1 flags.
  const rd = decodeRd(r);
  const ethernetTag = r.u32('Ethernet Tag');
  const source = readIpWithLen(r, 'SMET multicast source', true);
  const group = readIpWithLen(r, 'SMET multicast group', true);
  const originatorIp = readIpWithLen(r, 'SMET originator router', false)!;
  const route: EvpnSmetRoute = { type: 'smet', rd, ethernetTag, originatorIp };
  if (source !== undefined) route.source = source;
  if (group !== undefined) route.group = group;
  if (r.remaining === 1) {
    const f = r.u8('SMET flags');
    const flags: SmetFlags = { igmpV1: (f & 0x01) !== 0, igmpV2: (f & 0x02) !== 0, igmpV3: (f & 0x04) !== 0, exclude: (f & 0x08) !== 0 };
    if (f >> 4) flags.reserved = f >> 4;
    route.flags = flags;
  }
  if (!r.done) throw new NlriSyntax(`SMET route has ${r.remaining} trailing octets`);
  return route;
}

function decodeRouteValue(routeType: number, value: Buffer): EvpnRoute {
  const r = new Reader(value);
  try {
    switch (routeType) {
      case EvpnRouteType.MAC_IP:
        return decodeMacIp(r);
      case EvpnRouteType.IMET:
        return decodeImet(r);
      case EvpnRouteType.SMET:
        try {
          return decodeSmet(r);
        } catch (e) {
          if (!(e instanceof NlriSyntax) && !(e instanceof WireTruncatedError)) throw e;
          const why = e instanceof WireTruncatedError ? `route type 6 of ${value.length} octets is too short (${e.message})` : e.message;
          return { type: 'raw', routeType, value, malformed: why };
        }
      default:
        return { type: 'raw', routeType, value };
    }
  } catch (e) {
    if (e instanceof WireTruncatedError) throw new NlriSyntax(`route type ${routeType} of ${value.length} octets is too short (${e.message})`);
    throw e;
  }
}

export type EvpnNlriDecodeResult = { ok: true; routes: EvpnRoute[] } | { ok: false; reason: string };

/**
 * Decodes a sequence of EVPN NLRI (the NLRI part of MP_REACH_NLRI or the
 * Withdrawn Routes part of MP_UNREACH_NLRI). Fails on any syntax error: a
 * Length field overrunning the buffer, or a typed route whose Length does not
 * match its internal fields. The caller applies RFC 7606 §5.3 (session reset
 * or AFI/SAFI disable; the NLRI cannot be trusted).
 */
export function decodeEvpnNlri(buf: Buffer): EvpnNlriDecodeResult {
  const routes: EvpnRoute[] = [];
  const r = new Reader(buf);
  try {
    while (!r.done) {
      const at = r.offset;
      if (r.remaining < 2) return { ok: false, reason: `EVPN NLRI at offset ${at}: ${r.remaining} octet(s) left, need type and length` };
      const t = r.u8();
      const len = r.u8();
      if (len > r.remaining) return { ok: false, reason: `EVPN NLRI at offset ${at}: route type ${t} length ${len} overruns the ${r.remaining} remaining octets` };
      routes.push(decodeRouteValue(t, r.bytes(len)));
    }
  } catch (e) {
    if (e instanceof NlriSyntax) return { ok: false, reason: `EVPN NLRI: ${e.message}` };
    if (e instanceof WireTruncatedError) return { ok: false, reason: `EVPN NLRI: ${e.message}` };
    throw e;
  }
  return { ok: true, routes };
}

// ---------------------------------------------------------------- keys

/**
 * Octets that identify the route for BGP route-key processing (RIB key),
 * per the "for the purpose of BGP route key processing" text of each type:
 *   type 1 (RFC 7432 §7.1): RD, ESI, Ethernet Tag (not the label)
 *   type 2 (§7.2): RD, Ethernet Tag, MAC length, MAC, IP length, IP (not ESI, not labels)
 *   type 3 (§7.3): RD, Ethernet Tag, IP length, originating router IP
 *   type 4 (§7.4): RD, ESI, IP length, originating router IP (the whole value)
 *   type 5 (RFC 9136 §3.1): RD, Ethernet Tag, IP prefix length, IP prefix (not ESI, GW IP, label)
 *   type 6 (RFC 9251 §9.1): everything but the Flags octet
 *   other: the whole value
 */
export function evpnRouteKeyBytes(r: EvpnRoute): Buffer {
  switch (r.type) {
    case 'mac-ip':
      return Buffer.concat([encodeRd(r.rd), u32(r.ethernetTag), Buffer.from([48]), macToBytes(r.mac), ipWithLen(r.ip)]);
    case 'imet':
      return encodeEvpnRouteValue(r);
    case 'smet': {
      const v = encodeEvpnRouteValue(r);
      return r.flags ? v.subarray(0, v.length - 1) : v;
    }
    case 'raw': {
      const v = r.value;
      if (r.routeType === EvpnRouteType.ETHERNET_AD && v.length === 25) return v.subarray(0, 22);
      if (r.routeType === EvpnRouteType.IP_PREFIX && (v.length === 34 || v.length === 58)) {
        const alen = v.length === 34 ? 4 : 16;
        return Buffer.concat([v.subarray(0, 8), v.subarray(18, 22), v.subarray(22, 23 + alen)]);
      }
      return v;
    }
  }
}

/**
 * A string RIB key: route type, ":", then the key octets one character each
 * (latin1: half the length of hex, so half the hashing and comparing in the
 * RIB's maps, a million times over). Injective per route type; an identifier
 * only, never shown (formatEvpnRoute is for people).
 */
export function evpnRouteKey(r: EvpnRoute): string {
  return `${evpnRouteTypeOf(r)}:${evpnRouteKeyBytes(r).toString('latin1')}`;
}

/** FRR-like one-line form for logs: "[2]:[0]:[48]:[00:11:22:33:44:55]:[32]:[10.1.1.1] rd 10.0.0.1:2 label 100". */
export function formatEvpnRoute(r: EvpnRoute): string {
  switch (r.type) {
    case 'mac-ip': {
      const ip = r.ip === undefined ? '[0]' : `[${r.ip.includes(':') ? 128 : 32}]:[${r.ip}]`;
      const l2 = r.label2 === undefined ? '' : `/${r.label2}`;
      return `[2]:[${r.ethernetTag}]:[48]:[${r.mac}]:${ip} rd ${formatRd(r.rd)} esi ${r.esi} label ${r.label1}${l2}`;
    }
    case 'imet':
      return `[3]:[${r.ethernetTag}]:[${r.originatorIp.includes(':') ? 128 : 32}]:[${r.originatorIp}] rd ${formatRd(r.rd)}`;
    case 'smet': {
      const f = r.flags ? ` flags v1=${+r.flags.igmpV1} v2=${+r.flags.igmpV2} v3=${+r.flags.igmpV3} ${r.flags.exclude ? 'exclude' : 'include'}` : '';
      return `[6]:[${r.ethernetTag}]:[${r.source ?? '*'}]:[${r.group ?? '*'}]:[${r.originatorIp}] rd ${formatRd(r.rd)}${f}`;
    }
    case 'raw':
      return `[${r.routeType}]:raw:${r.value.toString('hex')}${r.malformed !== undefined ? ` (malformed: ${r.malformed})` : ''}`;
  }
}

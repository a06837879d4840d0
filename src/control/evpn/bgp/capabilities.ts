// Capabilities Optional Parameter (RFC 5492 §4): a sequence of
//   Capability Code (1) | Capability Length (1) | Capability Value (variable)
//
// Typed: Multiprotocol Extensions (1, RFC 4760 §8), Route Refresh (2, RFC 2918),
// 4-octet AS (65, RFC 6793). Every other capability, and a typed code whose
// value does not have the defined shape (wrong length, non-zero reserved
// octet), is kept raw and re-encoded byte for byte. Whether a raw capability
// is acceptable is decided by validateOpen (open.ts), not by the decoder.
//
// Graceful Restart (64, RFC 4724 §3 + the N bit of RFC 8538 §2) stays a raw
// capability in the list (so a received OPEN re-encodes byte for byte);
// encodeGracefulRestart / decodeGracefulRestart / gracefulRestartOf give the
// typed view:
//
//   Restart Flags (4 bits: R 0x8, N 0x4) | Restart Time (12 bits, seconds)
//   { AFI (2) | SAFI (1) | Flags for Address Family (1: F 0x80) }*

import { BgpEncodeError } from './errors.ts';
import { Reader, u16, u32 } from './wire.ts';

export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  EXTENDED_NEXT_HOP: 5,
  EXTENDED_MESSAGE: 6,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ADD_PATH: 69,
  ENHANCED_ROUTE_REFRESH: 70,
  LONG_LIVED_GRACEFUL_RESTART: 71,
  FQDN: 73,
  /** Pre-standard Cisco route refresh; FRR still advertises it. */
  ROUTE_REFRESH_OLD: 128,
} as const;

/** Address Family Identifiers used here (IANA). */
export const Afi = { IPV4: 1, IPV6: 2, L2VPN: 25 } as const;
/** Subsequent AFIs used here (IANA). */
export const Safi = { UNICAST: 1, MULTICAST: 2, EVPN: 70 } as const;

/** AS_TRANS (RFC 6793 §9): the 2-octet My AS of a speaker whose AS does not fit. */
export const AS_TRANS = 23456;

export type Capability =
  | { type: 'multiprotocol'; afi: number; safi: number }
  | { type: 'route-refresh' }
  | { type: 'four-octet-as'; asn: number }
  | { type: 'raw'; code: number; value: Buffer };

export function capabilityCodeOf(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol':
      return CapabilityCode.MULTIPROTOCOL;
    case 'route-refresh':
      return CapabilityCode.ROUTE_REFRESH;
    case 'four-octet-as':
      return CapabilityCode.FOUR_OCTET_AS;
    case 'raw':
      return c.code;
  }
}

function capabilityValue(c: Capability): Buffer {
  switch (c.type) {
    case 'multiprotocol':
      // AFI (2) | Reserved (1, zero) | SAFI (1)
      return Buffer.concat([u16(c.afi, 'AFI'), Buffer.from([0]), Buffer.from([checkByte(c.safi, 'SAFI')])]);
    case 'route-refresh':
      return Buffer.alloc(0);
    case 'four-octet-as':
      return u32(c.asn, '4-octet AS');
    case 'raw':
      return Buffer.from(c.value);
  }
}

function checkByte(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new BgpEncodeError(`${what} ${v} out of range`);
  return v;
}

/** One capability TLV. */
export function encodeCapability(c: Capability): Buffer {
  const v = capabilityValue(c);
  if (v.length > 255) throw new BgpEncodeError(`capability value of ${v.length} octets > 255`);
  return Buffer.concat([Buffer.from([checkByte(capabilityCodeOf(c), 'capability code'), v.length]), v]);
}

export function encodeCapabilities(caps: readonly Capability[]): Buffer {
  return Buffer.concat(caps.map(encodeCapability));
}

function decodeOne(code: number, value: Buffer): Capability {
  switch (code) {
    case CapabilityCode.MULTIPROTOCOL:
      if (value.length === 4 && value[2] === 0) return { type: 'multiprotocol', afi: value.readUInt16BE(0), safi: value[3]! };
      break;
    case CapabilityCode.ROUTE_REFRESH:
      if (value.length === 0) return { type: 'route-refresh' };
      break;
    case CapabilityCode.FOUR_OCTET_AS:
      if (value.length === 4) return { type: 'four-octet-as', asn: value.readUInt32BE(0) };
      break;
  }
  return { type: 'raw', code, value };
}

/**
 * Decodes the value of one Capabilities Optional Parameter. Throws
 * WireTruncatedError when a Capability Length overruns the parameter (the
 * OPEN decoder turns that into a NOTIFICATION).
 */
export function decodeCapabilities(r: Reader): Capability[] {
  const caps: Capability[] = [];
  while (!r.done) {
    const code = r.u8('capability code');
    const len = r.u8('capability length');
    caps.push(decodeOne(code, r.bytes(len, `capability ${code} value`)));
  }
  return caps;
}

/** Convenience: does the list advertise AFI/SAFI? */
export function hasMultiprotocol(caps: readonly Capability[], afi: number, safi: number): boolean {
  return caps.some((c) => c.type === 'multiprotocol' && c.afi === afi && c.safi === safi);
}

// ---------------------------------------------------------------------------
// Graceful Restart (RFC 4724 §3, RFC 8538 §2)

/** Restart Flags (the high 4 bits of the first two octets). */
export const GR_FLAG_RESTARTING = 0x8;
export const GR_FLAG_NOTIFICATION = 0x4;
/** Flags for Address Family: forwarding state preserved. */
export const GR_AF_FORWARDING = 0x80;
/** The Restart Time field is 12 bits. */
export const GR_RESTART_TIME_MAX = 4095;

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state for this AFI/SAFI was preserved across the restart. */
  forwardingPreserved: boolean;
  /** The other (reserved) bits of the family's flag octet, when non-zero. */
  otherFlags?: number;
}

export interface GracefulRestartCapability {
  /** R bit: the sender has restarted (RFC 4724 §3). */
  restarting: boolean;
  /** N bit: the sender supports Graceful Restart for NOTIFICATION messages (RFC 8538 §2). */
  notification: boolean;
  /** Restart Time in seconds, 0..4095. */
  restartTime: number;
  /** Empty: the sender only acts as a receiving (helper) speaker. */
  families: GracefulRestartFamily[];
  /** The two reserved Restart Flags bits, when non-zero. */
  otherFlags?: number;
}

/** The Graceful Restart capability TLV (kept raw in the capability list). */
export function encodeGracefulRestart(gr: GracefulRestartCapability): Capability {
  if (!Number.isInteger(gr.restartTime) || gr.restartTime < 0 || gr.restartTime > GR_RESTART_TIME_MAX) {
    throw new BgpEncodeError(`graceful restart time ${gr.restartTime} out of range 0..${GR_RESTART_TIME_MAX}`);
  }
  const other = gr.otherFlags ?? 0;
  if (!Number.isInteger(other) || other < 0 || other > 3) throw new BgpEncodeError(`graceful restart reserved flags ${other} out of range 0..3`);
  const flags = (gr.restarting ? GR_FLAG_RESTARTING : 0) | (gr.notification ? GR_FLAG_NOTIFICATION : 0) | other;
  const head = Buffer.alloc(2);
  head.writeUInt16BE((flags << 12) | gr.restartTime);
  const fams = gr.families.map((f) => {
    const o = f.otherFlags ?? 0;
    if (!Number.isInteger(o) || o < 0 || o > 0x7f) throw new BgpEncodeError(`graceful restart AF flags ${o} out of range 0..127`);
    return Buffer.concat([u16(f.afi, 'AFI'), Buffer.from([checkByte(f.safi, 'SAFI'), (f.forwardingPreserved ? GR_AF_FORWARDING : 0) | o])]);
  });
  return { type: 'raw', code: CapabilityCode.GRACEFUL_RESTART, value: Buffer.concat([head, ...fams]) };
}

/**
 * The typed view of a Graceful Restart capability; undefined for another
 * capability or a malformed value (shorter than 2 octets, or a family list
 * that is not a whole number of 4-octet tuples): such a capability is treated
 * as not advertised, so nothing is retained for that peer.
 */
export function decodeGracefulRestart(c: Capability): GracefulRestartCapability | undefined {
  if (c.type !== 'raw' || c.code !== CapabilityCode.GRACEFUL_RESTART) return undefined;
  const v = c.value;
  if (v.length < 2 || (v.length - 2) % 4 !== 0) return undefined;
  const head = v.readUInt16BE(0);
  const flags = head >> 12;
  const gr: GracefulRestartCapability = {
    restarting: (flags & GR_FLAG_RESTARTING) !== 0,
    notification: (flags & GR_FLAG_NOTIFICATION) !== 0,
    restartTime: head & 0x0fff,
    families: [],
  };
  if (flags & 3) gr.otherFlags = flags & 3;
  for (let o = 2; o < v.length; o += 4) {
    const f: GracefulRestartFamily = { afi: v.readUInt16BE(o), safi: v[o + 2]!, forwardingPreserved: (v[o + 3]! & GR_AF_FORWARDING) !== 0 };
    if (v[o + 3]! & 0x7f) f.otherFlags = v[o + 3]! & 0x7f;
    gr.families.push(f);
  }
  return gr;
}

/** The first well-formed Graceful Restart capability of an OPEN's list. */
export function gracefulRestartOf(caps: readonly Capability[]): GracefulRestartCapability | undefined {
  for (const c of caps) {
    const gr = decodeGracefulRestart(c);
    if (gr) return gr;
  }
  return undefined;
}

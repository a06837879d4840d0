// Capabilities Optional Parameter (RFC 5492 §4): a sequence of
//   Capability Code (1) | Capability Length (1) | Capability Value (variable)
//
// Typed: Multiprotocol Extensions (1, RFC 4760 §8), Route Refresh (2, RFC 2918),
// 4-octet AS (65, RFC 6793). Every other capability, and a typed code whose
// value does not have the defined shape (wrong length, non-zero reserved
// octet), is kept raw and re-encoded byte for byte. Whether a raw capability
// is acceptable is decided by validateOpen (open.ts), not by the decoder.

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

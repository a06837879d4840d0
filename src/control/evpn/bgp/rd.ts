// Route Distinguishers (RFC 4364 §4.2) and the administrator:assigned value
// layout they share with route-target extended communities (RFC 4360 §3,
// RFC 5668).
//
//   RD type 0 / RT type 0x00:  2-octet ASN   : 4-octet number   "65000:100"
//   RD type 1 / RT type 0x01:  IPv4 address  : 2-octet number   "10.0.0.1:100"
//   RD type 2 / RT type 0x02:  4-octet ASN   : 2-octet number   "4200000000:100"
//
// Text form: "ASN:n" parses as type 0 when ASN fits 16 bits, else type 2. A
// type-2 value whose ASN happens to fit 16 bits is ambiguous in that syntax;
// it is formatted with an "L" suffix on the ASN ("65000L:100", the usual
// router CLI notation for a 4-octet AS) so that parse(format(x)) is always x.

import { bytesToIpv4, ipv4ToBytes, isIpv4 } from './addr.ts';
import { BgpEncodeError } from './errors.ts';
import { Reader, u16, u32 } from './wire.ts';

export type AdminAssigned =
  | { format: 'as2'; asn: number; value: number }
  | { format: 'ipv4'; ip: string; value: number }
  | { format: 'as4'; asn: number; value: number };

/** RD; types 0/1/2 are typed, any other type field keeps its 8 octets. */
export type RouteDistinguisher = AdminAssigned | { format: 'raw'; bytes: Buffer };

const FORMAT_TO_TYPE = { as2: 0, ipv4: 1, as4: 2 } as const;

/** The 6-octet value part (administrator + assigned number). */
export function encodeAdminValue(v: AdminAssigned): Buffer {
  switch (v.format) {
    case 'as2':
      return Buffer.concat([u16(v.asn, 'RD/RT 2-octet ASN'), u32(v.value, 'RD/RT assigned number')]);
    case 'ipv4':
      return Buffer.concat([ipv4ToBytes(v.ip), u16(v.value, 'RD/RT assigned number')]);
    case 'as4':
      return Buffer.concat([u32(v.asn, 'RD/RT 4-octet ASN'), u16(v.value, 'RD/RT assigned number')]);
  }
}

/** Decodes a 6-octet value part for type 0/1/2. */
export function decodeAdminValue(type: 0 | 1 | 2, r: Reader): AdminAssigned {
  switch (type) {
    case 0:
      return { format: 'as2', asn: r.u16('RD ASN'), value: r.u32('RD number') };
    case 1:
      return { format: 'ipv4', ip: bytesToIpv4(r.bytes(4, 'RD IPv4')), value: r.u16('RD number') };
    case 2:
      return { format: 'as4', asn: r.u32('RD ASN'), value: r.u16('RD number') };
  }
}

export function adminTypeOf(v: AdminAssigned): 0 | 1 | 2 {
  return FORMAT_TO_TYPE[v.format];
}

export function encodeRd(rd: RouteDistinguisher): Buffer {
  if (rd.format === 'raw') {
    if (rd.bytes.length !== 8) throw new BgpEncodeError(`raw RD must be 8 octets, got ${rd.bytes.length}`);
    return Buffer.from(rd.bytes);
  }
  return Buffer.concat([u16(FORMAT_TO_TYPE[rd.format]), encodeAdminValue(rd)]);
}

/** Reads 8 octets. */
export function decodeRd(r: Reader): RouteDistinguisher {
  const t = r.peekU8(1);
  const hi = r.peekU8(0);
  if (hi === 0 && (t === 0 || t === 1 || t === 2)) {
    r.skip(2);
    return decodeAdminValue(t, r);
  }
  return { format: 'raw', bytes: r.bytes(8, 'RD') };
}

export function formatAdminValue(v: AdminAssigned): string {
  switch (v.format) {
    case 'as2':
      return `${v.asn}:${v.value}`;
    case 'ipv4':
      return `${v.ip}:${v.value}`;
    case 'as4':
      return v.asn <= 0xffff ? `${v.asn}L:${v.value}` : `${v.asn}:${v.value}`;
  }
}

const DEC = /^(0|[1-9]\d{0,9})$/;

/** Parses "65000:100", "10.0.0.1:100", "4200000000:100", "65000L:100"; undefined when invalid. */
export function parseAdminValue(s: string): AdminAssigned | undefined {
  const i = s.lastIndexOf(':');
  if (i <= 0) return undefined;
  const left = s.slice(0, i);
  const right = s.slice(i + 1);
  if (!DEC.test(right)) return undefined;
  const value = Number(right);
  if (isIpv4(left)) {
    return value <= 0xffff ? { format: 'ipv4', ip: left, value } : undefined;
  }
  const forced4 = left.endsWith('L') || left.endsWith('l');
  const asnText = forced4 ? left.slice(0, -1) : left;
  if (!DEC.test(asnText)) return undefined;
  const asn = Number(asnText);
  if (asn > 0xffffffff) return undefined;
  if (!forced4 && asn <= 0xffff) {
    return value <= 0xffffffff ? { format: 'as2', asn, value } : undefined;
  }
  return value <= 0xffff ? { format: 'as4', asn, value } : undefined;
}

export function formatRd(rd: RouteDistinguisher): string {
  if (rd.format === 'raw') return `raw:${rd.bytes.toString('hex')}`;
  return formatAdminValue(rd);
}

/** Parses the text forms above; throws BgpEncodeError (it is config input, not wire input). */
export function parseRd(s: string): RouteDistinguisher {
  const v = parseAdminValue(s);
  if (!v) throw new BgpEncodeError(`not a route distinguisher: ${JSON.stringify(s)}`);
  return v;
}

/** Like parseRd but returns undefined instead of throwing. */
export function tryParseRd(s: string): RouteDistinguisher | undefined {
  return parseAdminValue(s);
}

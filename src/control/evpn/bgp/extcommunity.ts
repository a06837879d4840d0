// Extended communities (RFC 4360), the 8-octet values carried in the
// EXTENDED_COMMUNITIES path attribute (attributes/ext-communities.ts).
//
// Typed here: the ones EVPN/VXLAN needs. A value is decoded to its typed form
// only when its reserved fields are zero (and, for MAC Mobility, no unknown
// flag bit is set); anything else is kept raw so that re-encoding reproduces
// the received octets exactly. RFC 7606 §7.14: an unrecognized type/sub-type
// is never an error.
//
//   route-target      type 0x00/0x01/0x02 sub 0x02   RFC 4360 §4, RFC 5668
//   encapsulation     type 0x03 sub 0x0c             RFC 9012 §4.1; tunnel type 8 = VXLAN (RFC 8365 §5.1.3)
//   default-gateway   type 0x03 sub 0x0d             RFC 7432 §7.8
//   mac-mobility      type 0x06 sub 0x00             RFC 7432 §7.7 (flags: 0x01 = sticky/static; 32-bit sequence)
//   esi-label         type 0x06 sub 0x01             RFC 7432 §7.5 (flags: 0x01 = single-active; 24-bit label)
//   es-import-rt      type 0x06 sub 0x02             RFC 7432 §7.6
//   router-mac        type 0x06 sub 0x03             RFC 9135 §8.1
//   multicast-flags   type 0x06 sub 0x09             RFC 9251 §9.4 (2-octet Flags, least significant
//                                                    bit I = IGMP Proxy Support, next M = MLD Proxy
//                                                    Support; 4 reserved octets)

import { bytesToMac, macToBytes } from './addr.ts';
import { BgpEncodeError } from './errors.ts';
import { type AdminAssigned, adminTypeOf, decodeAdminValue, encodeAdminValue, formatAdminValue, parseAdminValue } from './rd.ts';
import { Reader, u16, u24, u32 } from './wire.ts';

/** RFC 9012 / IANA "BGP Tunnel Encapsulation Attribute Tunnel Types" values used with EVPN (RFC 8365 §5.1.3). */
export const TunnelEncapType = {
  L2TPV3: 1,
  GRE: 2,
  VXLAN: 8,
  NVGRE: 9,
  MPLS: 10,
  VXLAN_GPE: 12,
  MPLS_IN_GRE: 11,
  GENEVE: 19,
} as const;

export const ExtCommunityType = {
  TRANSITIVE_TWO_OCTET_AS: 0x00,
  TRANSITIVE_IPV4: 0x01,
  TRANSITIVE_FOUR_OCTET_AS: 0x02,
  TRANSITIVE_OPAQUE: 0x03,
  EVPN: 0x06,
} as const;

export const ExtCommunitySubtype = {
  ROUTE_TARGET: 0x02,
  ROUTE_ORIGIN: 0x03,
  ENCAPSULATION: 0x0c,
  DEFAULT_GATEWAY: 0x0d,
  MAC_MOBILITY: 0x00,
  ESI_LABEL: 0x01,
  ES_IMPORT_RT: 0x02,
  ROUTER_MAC: 0x03,
  MULTICAST_FLAGS: 0x09,
} as const;

/** Multicast Flags extended community bits (RFC 9251 §9.4), in its 2-octet Flags field. */
export const MCAST_FLAG_IGMP_PROXY = 0x0001;
export const MCAST_FLAG_MLD_PROXY = 0x0002;

export type ExtCommunity =
  | { type: 'route-target'; target: AdminAssigned }
  | { type: 'encapsulation'; tunnelType: number }
  | { type: 'default-gateway' }
  | { type: 'mac-mobility'; sticky: boolean; sequence: number }
  | { type: 'esi-label'; singleActive: boolean; label: number }
  | { type: 'es-import-rt'; mac: string }
  | { type: 'router-mac'; mac: string }
  | { type: 'multicast-flags'; igmpProxy: boolean; mldProxy: boolean }
  | { type: 'raw'; bytes: Buffer };

const ZERO6 = Buffer.alloc(6);

export function encodeExtCommunity(c: ExtCommunity): Buffer {
  switch (c.type) {
    case 'route-target':
      return Buffer.concat([Buffer.from([adminTypeOf(c.target), ExtCommunitySubtype.ROUTE_TARGET]), encodeAdminValue(c.target)]);
    case 'encapsulation':
      return Buffer.concat([Buffer.from([0x03, 0x0c, 0, 0, 0, 0]), u16(c.tunnelType, 'encapsulation tunnel type')]);
    case 'default-gateway':
      return Buffer.concat([Buffer.from([0x03, 0x0d]), ZERO6]);
    case 'mac-mobility':
      return Buffer.concat([Buffer.from([0x06, 0x00, c.sticky ? 0x01 : 0x00, 0x00]), u32(c.sequence, 'MAC mobility sequence')]);
    case 'esi-label':
      return Buffer.concat([Buffer.from([0x06, 0x01, c.singleActive ? 0x01 : 0x00, 0, 0]), u24(c.label, 'ESI label')]);
    case 'es-import-rt':
      return Buffer.concat([Buffer.from([0x06, 0x02]), macToBytes(c.mac)]);
    case 'router-mac':
      return Buffer.concat([Buffer.from([0x06, 0x03]), macToBytes(c.mac)]);
    case 'multicast-flags':
      return Buffer.concat([
        Buffer.from([0x06, ExtCommunitySubtype.MULTICAST_FLAGS]),
        u16((c.igmpProxy ? MCAST_FLAG_IGMP_PROXY : 0) | (c.mldProxy ? MCAST_FLAG_MLD_PROXY : 0)),
        Buffer.alloc(4),
      ]);
    case 'raw':
      if (c.bytes.length !== 8) throw new BgpEncodeError(`raw extended community must be 8 octets, got ${c.bytes.length}`);
      return Buffer.from(c.bytes);
  }
}

/** Decodes exactly 8 octets; never fails on content (unknown -> raw). */
export function decodeExtCommunity(b: Buffer): ExtCommunity {
  if (b.length !== 8) throw new BgpEncodeError('extended community must be 8 octets');
  const type = b[0]!;
  const sub = b[1]!;
  const r = new Reader(b, 2);
  const raw: ExtCommunity = { type: 'raw', bytes: Buffer.from(b) };
  if ((type === 0x00 || type === 0x01 || type === 0x02) && sub === ExtCommunitySubtype.ROUTE_TARGET) {
    return { type: 'route-target', target: decodeAdminValue(type, r) };
  }
  if (type === 0x03 && sub === 0x0c) {
    if (b.readUInt32BE(2) !== 0) return raw;
    return { type: 'encapsulation', tunnelType: b.readUInt16BE(6) };
  }
  if (type === 0x03 && sub === 0x0d) {
    return b.subarray(2).equals(ZERO6) ? { type: 'default-gateway' } : raw;
  }
  if (type === 0x06) {
    switch (sub) {
      case 0x00: {
        const flags = b[2]!;
        if ((flags & ~0x01) !== 0 || b[3] !== 0) return raw;
        return { type: 'mac-mobility', sticky: (flags & 0x01) !== 0, sequence: b.readUInt32BE(4) };
      }
      case 0x01: {
        const flags = b[2]!;
        if ((flags & ~0x01) !== 0 || b[3] !== 0 || b[4] !== 0) return raw;
        return { type: 'esi-label', singleActive: (flags & 0x01) !== 0, label: (b[5]! << 16) | (b[6]! << 8) | b[7]! };
      }
      case 0x02:
        return { type: 'es-import-rt', mac: bytesToMac(b.subarray(2)) };
      case 0x03:
        return { type: 'router-mac', mac: bytesToMac(b.subarray(2)) };
      case 0x09: {
        // typed only when no other flag bit and no reserved octet is set (exact re-encoding)
        const flags = b.readUInt16BE(2);
        if ((flags & ~(MCAST_FLAG_IGMP_PROXY | MCAST_FLAG_MLD_PROXY)) !== 0 || b.readUInt32BE(4) !== 0) return raw;
        return { type: 'multicast-flags', igmpProxy: (flags & MCAST_FLAG_IGMP_PROXY) !== 0, mldProxy: (flags & MCAST_FLAG_MLD_PROXY) !== 0 };
      }
    }
  }
  return raw;
}

/** Route target text: "65000:100" / "10.0.0.1:100" / "4200000000:100" (see rd.ts for the "L" suffix). */
export function formatRouteTarget(c: Extract<ExtCommunity, { type: 'route-target' }>): string {
  return formatAdminValue(c.target);
}

export function parseRouteTarget(s: string): Extract<ExtCommunity, { type: 'route-target' }> {
  const target = parseAdminValue(s);
  if (!target) throw new BgpEncodeError(`not a route target: ${JSON.stringify(s)}`);
  return { type: 'route-target', target };
}

/** One-line human form, for logs and CLI. */
export function formatExtCommunity(c: ExtCommunity): string {
  switch (c.type) {
    case 'route-target':
      return `RT:${formatAdminValue(c.target)}`;
    case 'encapsulation':
      return `ENCAP:${c.tunnelType === TunnelEncapType.VXLAN ? 'VXLAN' : c.tunnelType}`;
    case 'default-gateway':
      return 'DEFAULT-GW';
    case 'mac-mobility':
      return `MM:${c.sequence}${c.sticky ? ':sticky' : ''}`;
    case 'esi-label':
      return `ESI-LABEL:${c.label}${c.singleActive ? ':single-active' : ''}`;
    case 'es-import-rt':
      return `ES-IMPORT-RT:${c.mac}`;
    case 'router-mac':
      return `RMAC:${c.mac}`;
    case 'multicast-flags':
      return `MCAST-FLAGS:${[c.igmpProxy ? 'IGMP' : '', c.mldProxy ? 'MLD' : ''].filter(Boolean).join(',') || '-'}`;
    case 'raw':
      return `RAW:${c.bytes.toString('hex')}`;
  }
}

// MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), both optional
// non-transitive (RFC 4760 §3, §4):
//
//   MP_REACH_NLRI:   AFI (2) | SAFI (1) | Next Hop Length (1) | Next Hop (var) | Reserved (1) | NLRI (var)
//   MP_UNREACH_NLRI: AFI (2) | SAFI (1) | Withdrawn Routes (var)
//
// AFI 25 / SAFI 70 (L2VPN EVPN, RFC 7432 §7) is typed: the next hop is one
// IPv4 (4 octets) or IPv6 (16, or 32 = global + link-local) address, the NLRI
// are EVPN routes. Any other AFI/SAFI keeps next hop and NLRI raw.
//
// RFC 7606 §7.11 / §5.3 / §3(j): if the next hop length is inconsistent with
// the AFI/SAFI, or the NLRI cannot be parsed, the NLRI cannot be reliably
// located, so neither treat-as-withdraw nor attribute-discard is possible:
// session reset (RFC 4760 §7 NOTIFICATION: UPDATE Message Error / Optional
// Attribute Error, data = the attribute). AFI/SAFI disable is the allowed
// alternative; it is a session-layer choice, the codec reports session-reset.

import { bytesToIp, ipToBytes } from '../addr.ts';
import { Afi, Safi } from '../capabilities.ts';
import { BgpEncodeError } from '../errors.ts';
import { decodeEvpnNlri, encodeEvpnNlri, type EvpnRoute } from '../evpn-nlri.ts';
import { UpdateSubcode } from '../notification.ts';
import { u16 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_NON_TRANSITIVE, type WithFlags } from './types.ts';

export interface MpReachEvpnAttr extends WithFlags {
  type: 'mp-reach';
  family: 'evpn';
  nextHop: string;
  /** The second address of a 32-octet IPv6 next hop. */
  linkLocalNextHop?: string;
  routes: EvpnRoute[];
  /** The Reserved octet, present only when non-zero (RFC 4760: SHOULD be ignored on receipt). */
  reserved?: number;
}

export interface MpReachRawAttr extends WithFlags {
  type: 'mp-reach';
  family: 'raw';
  afi: number;
  safi: number;
  nextHop: Buffer;
  nlri: Buffer;
  reserved?: number;
}

export type MpReachAttr = MpReachEvpnAttr | MpReachRawAttr;

export interface MpUnreachEvpnAttr extends WithFlags {
  type: 'mp-unreach';
  family: 'evpn';
  routes: EvpnRoute[];
}

export interface MpUnreachRawAttr extends WithFlags {
  type: 'mp-unreach';
  family: 'raw';
  afi: number;
  safi: number;
  withdrawn: Buffer;
}

export type MpUnreachAttr = MpUnreachEvpnAttr | MpUnreachRawAttr;

function reset(reason: string): AttrMalformed {
  return new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason, { action: 'session-reset' });
}

function isEvpn(afi: number, safi: number): boolean {
  return afi === Afi.L2VPN && safi === Safi.EVPN;
}

export const mpReachCodec: AttributeCodec<MpReachAttr> = {
  code: AttrCode.MP_REACH_NLRI,
  type: 'mp-reach',
  name: 'MP_REACH_NLRI',
  flags: OPTIONAL_NON_TRANSITIVE,
  malformed: 'session-reset',
  // §3(c): wrong O/T bits -> treat-as-withdraw. The content is still parsed
  // (the NLRI can be located), so the routes can be withdrawn; nothing in
  // §7.11 asks for more than that for a flags-only error.
  flagError: 'treat-as-withdraw',
  section: 'RFC 7606 §7.11, §5.3, §3(j)',
  decode(value) {
    if (value.length < 5) throw reset(`MP_REACH_NLRI length ${value.length} < 5`);
    const afi = value.readUInt16BE(0);
    const safi = value[2]!;
    const nhLen = value[3]!;
    if (4 + nhLen + 1 > value.length) throw reset(`MP_REACH_NLRI next hop length ${nhLen} overruns the attribute (${value.length} octets)`);
    const nh = Buffer.from(value.subarray(4, 4 + nhLen));
    const reserved = value[4 + nhLen]!;
    const nlri = Buffer.from(value.subarray(5 + nhLen));
    if (!isEvpn(afi, safi)) {
      const a: MpReachRawAttr = { type: 'mp-reach', family: 'raw', afi, safi, nextHop: nh, nlri };
      if (reserved) a.reserved = reserved;
      return a;
    }
    if (nhLen !== 4 && nhLen !== 16 && nhLen !== 32) throw reset(`MP_REACH_NLRI EVPN next hop length ${nhLen} (expected 4, 16 or 32)`);
    const d = decodeEvpnNlri(nlri);
    if (!d.ok) throw reset(`MP_REACH_NLRI: ${d.reason}`);
    const a: MpReachEvpnAttr = {
      type: 'mp-reach',
      family: 'evpn',
      nextHop: bytesToIp(nhLen === 32 ? nh.subarray(0, 16) : nh),
      routes: d.routes,
    };
    if (nhLen === 32) a.linkLocalNextHop = bytesToIp(nh.subarray(16));
    if (reserved) a.reserved = reserved;
    return a;
  },
  encode(a) {
    const reserved = a.reserved ?? 0;
    if (!Number.isInteger(reserved) || reserved < 0 || reserved > 255) throw new BgpEncodeError(`MP_REACH reserved ${reserved} out of range`);
    let afi: number, safi: number, nh: Buffer, nlri: Buffer;
    if (a.family === 'evpn') {
      afi = Afi.L2VPN;
      safi = Safi.EVPN;
      nh = ipToBytes(a.nextHop);
      if (a.linkLocalNextHop !== undefined) {
        if (nh.length !== 16) throw new BgpEncodeError('a link-local next hop needs an IPv6 global next hop');
        const ll = ipToBytes(a.linkLocalNextHop);
        if (ll.length !== 16) throw new BgpEncodeError('link-local next hop must be IPv6');
        nh = Buffer.concat([nh, ll]);
      }
      nlri = encodeEvpnNlri(a.routes);
    } else {
      afi = a.afi;
      safi = a.safi;
      nh = a.nextHop;
      nlri = a.nlri;
    }
    if (nh.length > 255) throw new BgpEncodeError('next hop longer than 255 octets');
    if (!Number.isInteger(safi) || safi < 0 || safi > 255) throw new BgpEncodeError(`SAFI ${safi} out of range`);
    return Buffer.concat([u16(afi, 'AFI'), Buffer.from([safi, nh.length]), nh, Buffer.from([reserved]), nlri]);
  },
};

export const mpUnreachCodec: AttributeCodec<MpUnreachAttr> = {
  code: AttrCode.MP_UNREACH_NLRI,
  type: 'mp-unreach',
  name: 'MP_UNREACH_NLRI',
  flags: OPTIONAL_NON_TRANSITIVE,
  malformed: 'session-reset',
  flagError: 'treat-as-withdraw',
  section: 'RFC 7606 §7.12, §5.3, §3(j)',
  decode(value) {
    if (value.length < 3) throw reset(`MP_UNREACH_NLRI length ${value.length} < 3`);
    const afi = value.readUInt16BE(0);
    const safi = value[2]!;
    const rest = Buffer.from(value.subarray(3));
    if (!isEvpn(afi, safi)) return { type: 'mp-unreach', family: 'raw', afi, safi, withdrawn: rest };
    const d = decodeEvpnNlri(rest);
    if (!d.ok) throw reset(`MP_UNREACH_NLRI: ${d.reason}`);
    return { type: 'mp-unreach', family: 'evpn', routes: d.routes };
  },
  encode(a) {
    if (a.family === 'evpn') return Buffer.concat([u16(Afi.L2VPN), Buffer.from([Safi.EVPN]), encodeEvpnNlri(a.routes)]);
    if (!Number.isInteger(a.safi) || a.safi < 0 || a.safi > 255) throw new BgpEncodeError(`SAFI ${a.safi} out of range`);
    return Buffer.concat([u16(a.afi, 'AFI'), Buffer.from([a.safi]), a.withdrawn]);
  },
};

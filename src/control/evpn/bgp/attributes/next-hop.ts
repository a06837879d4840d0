// NEXT_HOP (type 3, well-known mandatory for conventional IPv4 NLRI;
// RFC 4271 §5.1.3). Value: 4-octet IPv4 address.
// RFC 7606 §7.3: length != 4 -> treat-as-withdraw. (EVPN next hops travel in
// MP_REACH_NLRI; semantic next-hop checks belong to the RIB.)

import { bytesToIpv4, ipv4ToBytes } from '../addr.ts';
import { UpdateSubcode } from '../notification.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, WELL_KNOWN, type WithFlags } from './types.ts';

export interface NextHopAttr extends WithFlags {
  type: 'next-hop';
  address: string;
}

export const nextHopCodec: AttributeCodec<NextHopAttr> = {
  code: AttrCode.NEXT_HOP,
  type: 'next-hop',
  name: 'NEXT_HOP',
  flags: WELL_KNOWN,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.3',
  decode(value) {
    if (value.length !== 4) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `NEXT_HOP length ${value.length} != 4`);
    return { type: 'next-hop', address: bytesToIpv4(value) };
  },
  encode(a) {
    return ipv4ToBytes(a.address);
  },
};

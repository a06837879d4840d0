// Route reflection attributes (RFC 4456 §8), both optional non-transitive:
//   ORIGINATOR_ID (type 9): 4-octet router id.
//   CLUSTER_LIST (type 10): list of 4-octet cluster ids.
// RFC 7606 §7.9: ORIGINATOR_ID length != 4 -> treat-as-withdraw.
// RFC 7606 §7.10: CLUSTER_LIST length not a non-zero multiple of 4 -> treat-as-withdraw.
// Both: received from an external peer -> attribute-discard (§7.9, §7.10).

import { bytesToIpv4, ipv4ToBytes } from '../addr.ts';
import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_NON_TRANSITIVE, type WithFlags } from './types.ts';

export interface OriginatorIdAttr extends WithFlags {
  type: 'originator-id';
  id: string;
}

export interface ClusterListAttr extends WithFlags {
  type: 'cluster-list';
  ids: string[];
}

export const originatorIdCodec: AttributeCodec<OriginatorIdAttr> = {
  code: AttrCode.ORIGINATOR_ID,
  type: 'originator-id',
  name: 'ORIGINATOR_ID',
  flags: OPTIONAL_NON_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.9',
  decode(value, ctx) {
    if (ctx.ebgp) throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'ORIGINATOR_ID from an external peer (RFC 7606 §7.9)', { action: 'attribute-discard' });
    if (value.length !== 4) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ORIGINATOR_ID length ${value.length} != 4`);
    return { type: 'originator-id', id: bytesToIpv4(value) };
  },
  encode(a) {
    return ipv4ToBytes(a.id);
  },
};

export const clusterListCodec: AttributeCodec<ClusterListAttr> = {
  code: AttrCode.CLUSTER_LIST,
  type: 'cluster-list',
  name: 'CLUSTER_LIST',
  flags: OPTIONAL_NON_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.10',
  decode(value, ctx) {
    if (ctx.ebgp) throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'CLUSTER_LIST from an external peer (RFC 7606 §7.10)', { action: 'attribute-discard' });
    if (value.length === 0 || value.length % 4 !== 0) {
      throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `CLUSTER_LIST length ${value.length} is not a non-zero multiple of 4`);
    }
    const ids: string[] = [];
    for (let i = 0; i < value.length; i += 4) ids.push(bytesToIpv4(value.subarray(i, i + 4)));
    return { type: 'cluster-list', ids };
  },
  encode(a) {
    if (a.ids.length === 0) throw new BgpEncodeError('CLUSTER_LIST must not be empty (RFC 7606 §7.10)');
    return Buffer.concat(a.ids.map(ipv4ToBytes));
  },
};

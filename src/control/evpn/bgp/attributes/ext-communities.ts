// EXTENDED_COMMUNITIES (type 16, optional transitive; RFC 4360 §2): a list of
// 8-octet extended communities (typed in ../extcommunity.ts).
// RFC 7606 §7.14: length not a non-zero multiple of 8 -> treat-as-withdraw;
// an unrecognized type/sub-type is not an error (kept raw).

import { BgpEncodeError } from '../errors.ts';
import { decodeExtCommunity, encodeExtCommunity, type ExtCommunity } from '../extcommunity.ts';
import { UpdateSubcode } from '../notification.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_TRANSITIVE, type WithFlags } from './types.ts';

export interface ExtCommunitiesAttr extends WithFlags {
  type: 'ext-communities';
  communities: ExtCommunity[];
}

export const extCommunitiesCodec: AttributeCodec<ExtCommunitiesAttr> = {
  code: AttrCode.EXTENDED_COMMUNITIES,
  type: 'ext-communities',
  name: 'EXTENDED_COMMUNITIES',
  flags: OPTIONAL_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.14',
  decode(value) {
    if (value.length === 0 || value.length % 8 !== 0) {
      throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `EXTENDED_COMMUNITIES length ${value.length} is not a non-zero multiple of 8`);
    }
    const communities: ExtCommunity[] = [];
    for (let i = 0; i < value.length; i += 8) communities.push(decodeExtCommunity(value.subarray(i, i + 8)));
    return { type: 'ext-communities', communities };
  },
  encode(a) {
    if (a.communities.length === 0) throw new BgpEncodeError('EXTENDED_COMMUNITIES must not be empty (RFC 7606 §7.14)');
    return Buffer.concat(a.communities.map(encodeExtCommunity));
  },
};

// MULTI_EXIT_DISC (type 4, optional non-transitive; RFC 4271 §5.1.4) and
// LOCAL_PREF (type 5, well-known; RFC 4271 §5.1.5). Both: 4-octet value.
// RFC 7606 §7.4: MED length != 4 -> treat-as-withdraw.
// RFC 7606 §7.5: LOCAL_PREF from an external peer -> attribute-discard
// (whatever its content); from an internal peer, length != 4 -> treat-as-withdraw.

import { UpdateSubcode } from '../notification.ts';
import { u32 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_NON_TRANSITIVE, WELL_KNOWN, type WithFlags } from './types.ts';

export interface MedAttr extends WithFlags {
  type: 'med';
  value: number;
}

export interface LocalPrefAttr extends WithFlags {
  type: 'local-pref';
  value: number;
}

export const medCodec: AttributeCodec<MedAttr> = {
  code: AttrCode.MULTI_EXIT_DISC,
  type: 'med',
  name: 'MULTI_EXIT_DISC',
  flags: OPTIONAL_NON_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.4',
  decode(value) {
    if (value.length !== 4) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `MULTI_EXIT_DISC length ${value.length} != 4`);
    return { type: 'med', value: value.readUInt32BE(0) };
  },
  encode(a) {
    return u32(a.value, 'MED');
  },
};

export const localPrefCodec: AttributeCodec<LocalPrefAttr> = {
  code: AttrCode.LOCAL_PREF,
  type: 'local-pref',
  name: 'LOCAL_PREF',
  flags: WELL_KNOWN,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.5',
  decode(value, ctx) {
    if (ctx.ebgp) {
      throw new AttrMalformed(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'LOCAL_PREF received from an external peer (RFC 7606 §7.5)', { action: 'attribute-discard' });
    }
    if (value.length !== 4) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `LOCAL_PREF length ${value.length} != 4`);
    return { type: 'local-pref', value: value.readUInt32BE(0) };
  },
  encode(a) {
    return u32(a.value, 'LOCAL_PREF');
  },
};

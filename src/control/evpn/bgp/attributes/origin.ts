// ORIGIN (type 1, well-known mandatory; RFC 4271 §4.3 / §5.1.1).
// Value: 1 octet, 0 IGP, 1 EGP, 2 INCOMPLETE.
// RFC 7606 §7.1: wrong length or undefined value -> treat-as-withdraw.

import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, WELL_KNOWN, type WithFlags } from './types.ts';

export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;

export interface OriginAttr extends WithFlags {
  type: 'origin';
  value: 0 | 1 | 2;
}

export const originCodec: AttributeCodec<OriginAttr> = {
  code: AttrCode.ORIGIN,
  type: 'origin',
  name: 'ORIGIN',
  flags: WELL_KNOWN,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.1',
  decode(value) {
    if (value.length !== 1) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ORIGIN length ${value.length} != 1`);
    const v = value[0]!;
    if (v > 2) throw new AttrMalformed(UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, `ORIGIN value ${v} undefined`);
    return { type: 'origin', value: v as 0 | 1 | 2 };
  },
  encode(a) {
    if (a.value !== 0 && a.value !== 1 && a.value !== 2) throw new BgpEncodeError(`ORIGIN ${String(a.value)} invalid`);
    return Buffer.from([a.value]);
  },
};

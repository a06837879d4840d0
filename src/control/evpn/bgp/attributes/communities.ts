// COMMUNITIES (type 8, optional transitive; RFC 1997): a list of 4-octet values.
// RFC 7606 §7.8: length not a non-zero multiple of 4 -> treat-as-withdraw.

import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { u32 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_TRANSITIVE, type WithFlags } from './types.ts';

/** RFC 1997 / IANA well-known communities. */
export const WellKnownCommunity = {
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NOPEER: 0xffffff04,
  BLACKHOLE: 0xffff029a,
} as const;

export interface CommunitiesAttr extends WithFlags {
  type: 'communities';
  communities: number[];
}

export const communitiesCodec: AttributeCodec<CommunitiesAttr> = {
  code: AttrCode.COMMUNITIES,
  type: 'communities',
  name: 'COMMUNITIES',
  flags: OPTIONAL_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.8',
  decode(value) {
    if (value.length === 0 || value.length % 4 !== 0) {
      throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `COMMUNITIES length ${value.length} is not a non-zero multiple of 4`);
    }
    const communities: number[] = [];
    for (let i = 0; i < value.length; i += 4) communities.push(value.readUInt32BE(i));
    return { type: 'communities', communities };
  },
  encode(a) {
    if (a.communities.length === 0) throw new BgpEncodeError('COMMUNITIES must not be empty (RFC 7606 §7.8)');
    return Buffer.concat(a.communities.map((c) => u32(c, 'community')));
  },
};

const NAMES: Record<number, string> = {
  [WellKnownCommunity.NO_EXPORT]: 'no-export',
  [WellKnownCommunity.NO_ADVERTISE]: 'no-advertise',
  [WellKnownCommunity.NO_EXPORT_SUBCONFED]: 'no-export-subconfed',
  [WellKnownCommunity.NOPEER]: 'nopeer',
  [WellKnownCommunity.BLACKHOLE]: 'blackhole',
};

/** "65000:100", or the well-known name. */
export function formatCommunity(c: number): string {
  return NAMES[c] ?? `${Math.floor(c / 0x10000)}:${c & 0xffff}`;
}

/** Inverse of formatCommunity; throws BgpEncodeError. */
export function parseCommunity(s: string): number {
  for (const [k, v] of Object.entries(NAMES)) if (v === s) return Number(k);
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(s);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) throw new BgpEncodeError(`not a community: ${JSON.stringify(s)}`);
  return Number(m[1]) * 0x10000 + Number(m[2]);
}

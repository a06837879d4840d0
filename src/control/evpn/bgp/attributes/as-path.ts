// AS_PATH (type 2, well-known mandatory; RFC 4271 §4.3 / §5.1.2), with
// 4-octet ASNs (RFC 6793: this codec assumes the 4-octet AS capability was
// negotiated, which vxgate requires).
// Value: segments of  Type (1) | Count (1, in ASNs) | ASNs (4 octets each).
// Segment types: 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET (RFC 5065).
//
// RFC 7606 §7.2: malformed -> treat-as-withdraw. Malformed means an
// unrecognized segment type, a segment overrunning the attribute, a trailing
// single octet (underrun), or a zero-count segment. Also malformed: AS 0
// anywhere (RFC 7607 §2), and, when checked, a leftmost AS that is not the
// eBGP peer's (RFC 4271 §6.3; RFC 7606 §7.2 says treat-as-withdraw).

import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { Reader, u32 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, WELL_KNOWN, type WithFlags } from './types.ts';

export type AsPathSegmentType = 'set' | 'sequence' | 'confed-sequence' | 'confed-set';

export interface AsPathSegment {
  type: AsPathSegmentType;
  asns: number[];
}

export interface AsPathAttr extends WithFlags {
  type: 'as-path';
  segments: AsPathSegment[];
}

const SEG_CODE: Record<AsPathSegmentType, number> = { set: 1, sequence: 2, 'confed-sequence': 3, 'confed-set': 4 };
const SEG_TYPE: Record<number, AsPathSegmentType> = { 1: 'set', 2: 'sequence', 3: 'confed-sequence', 4: 'confed-set' };

function malformed(reason: string): AttrMalformed {
  // RFC 4271 §6.3: Malformed AS_PATH carries no data.
  return new AttrMalformed(UpdateSubcode.MALFORMED_AS_PATH, reason, { noData: true });
}

export const asPathCodec: AttributeCodec<AsPathAttr> = {
  code: AttrCode.AS_PATH,
  type: 'as-path',
  name: 'AS_PATH',
  flags: WELL_KNOWN,
  malformed: 'treat-as-withdraw',
  section: 'RFC 7606 §7.2',
  decode(value, ctx) {
    const r = new Reader(value);
    const segments: AsPathSegment[] = [];
    while (!r.done) {
      if (r.remaining < 2) throw malformed('AS_PATH underrun: 1 trailing octet');
      const t = r.u8();
      const n = r.u8();
      const type = SEG_TYPE[t];
      if (!type) throw malformed(`AS_PATH segment type ${t} unrecognized`);
      if (n === 0) throw malformed('AS_PATH segment with zero ASNs');
      if (n * 4 > r.remaining) throw malformed(`AS_PATH segment of ${n} ASNs overruns the ${r.remaining} remaining octets`);
      const asns: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = r.u32();
        if (a === 0) throw malformed('AS_PATH contains AS 0 (RFC 7607 §2)');
        asns.push(a);
      }
      segments.push({ type, asns });
    }
    if (ctx.ebgp && ctx.peerAs !== undefined) {
      const first = segments[0];
      if (!first || first.type !== 'sequence' || first.asns[0] !== ctx.peerAs) {
        throw malformed(`AS_PATH leftmost AS is not the peer AS ${ctx.peerAs} (RFC 4271 §6.3)`);
      }
    }
    return { type: 'as-path', segments };
  },
  encode(a) {
    const parts: Buffer[] = [];
    for (const s of a.segments) {
      const code = SEG_CODE[s.type];
      if (!code) throw new BgpEncodeError(`AS_PATH segment type ${String(s.type)} invalid`);
      if (s.asns.length === 0) throw new BgpEncodeError('AS_PATH segment must not be empty');
      // A sequence longer than 255 is split (same path); a set cannot be split.
      if (s.asns.length > 255 && (s.type === 'set' || s.type === 'confed-set')) throw new BgpEncodeError('AS_SET of more than 255 ASNs');
      for (let i = 0; i < s.asns.length; i += 255) {
        const chunk = s.asns.slice(i, i + 255);
        parts.push(Buffer.from([code, chunk.length]), ...chunk.map((x) => u32(x, 'ASN')));
      }
    }
    return Buffer.concat(parts);
  },
};

/** Path length for best-path selection (RFC 4271 §9.1.2.2): a set counts 1, confederation segments 0. */
export function asPathLength(a: AsPathAttr): number {
  let n = 0;
  for (const s of a.segments) {
    if (s.type === 'sequence') n += s.asns.length;
    else if (s.type === 'set') n += 1;
  }
  return n;
}

/** "65001 65002 {65003,65004} (65010)" */
export function formatAsPath(a: AsPathAttr): string {
  return a.segments
    .map((s) => {
      const body = s.asns.join(s.type.endsWith('set') ? ',' : ' ');
      switch (s.type) {
        case 'sequence':
          return body;
        case 'set':
          return `{${body}}`;
        case 'confed-sequence':
          return `(${body})`;
        case 'confed-set':
          return `[${body}]`;
      }
    })
    .join(' ');
}

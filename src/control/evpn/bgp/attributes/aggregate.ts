// ATOMIC_AGGREGATE (type 6, well-known discretionary; RFC 4271 §5.1.6): empty value.
// AGGREGATOR (type 7, optional transitive; RFC 4271 §5.1.7) with a 4-octet AS
// (RFC 6793: 4-octet AS + 4-octet IPv4 = 8 octets).
// RFC 7606 §7.6: ATOMIC_AGGREGATE length != 0 -> attribute-discard.
// RFC 7606 §7.7: AGGREGATOR length != 8 (4-octet AS session) -> attribute-discard.
// RFC 7607 §2: AGGREGATOR with AS 0 -> malformed -> attribute-discard (§7.7).
// Flag errors: these are the attributes whose own §7 rule (discard) is taken
// as "the specification for the attribute mandates different handling" of
// RFC 7606 §3(c); neither affects route selection, so discarding is safe (§8).

import { bytesToIpv4, ipv4ToBytes } from '../addr.ts';
import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { u32 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_TRANSITIVE, WELL_KNOWN, type WithFlags } from './types.ts';

export interface AtomicAggregateAttr extends WithFlags {
  type: 'atomic-aggregate';
}

export interface AggregatorAttr extends WithFlags {
  type: 'aggregator';
  asn: number;
  address: string;
}

export const atomicAggregateCodec: AttributeCodec<AtomicAggregateAttr> = {
  code: AttrCode.ATOMIC_AGGREGATE,
  type: 'atomic-aggregate',
  name: 'ATOMIC_AGGREGATE',
  flags: WELL_KNOWN,
  malformed: 'attribute-discard',
  section: 'RFC 7606 §7.6',
  decode(value) {
    if (value.length !== 0) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ATOMIC_AGGREGATE length ${value.length} != 0`);
    return { type: 'atomic-aggregate' };
  },
  encode() {
    return Buffer.alloc(0);
  },
};

export const aggregatorCodec: AttributeCodec<AggregatorAttr> = {
  code: AttrCode.AGGREGATOR,
  type: 'aggregator',
  name: 'AGGREGATOR',
  flags: OPTIONAL_TRANSITIVE,
  malformed: 'attribute-discard',
  section: 'RFC 7606 §7.7',
  decode(value) {
    if (value.length !== 8) throw new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `AGGREGATOR length ${value.length} != 8 (4-octet AS)`);
    const asn = value.readUInt32BE(0);
    if (asn === 0) throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'AGGREGATOR AS 0 (RFC 7607 §2)');
    return { type: 'aggregator', asn, address: bytesToIpv4(value.subarray(4)) };
  },
  encode(a) {
    if (a.asn === 0) throw new BgpEncodeError('AGGREGATOR AS must not be 0 (RFC 7607)');
    return Buffer.concat([u32(a.asn, 'AGGREGATOR AS'), ipv4ToBytes(a.address)]);
  },
};

import { describe, expect, it } from 'vitest';
import {
  AttrFlag,
  decodePathAttributeValue,
  encodePathAttribute,
  type DecodeContext,
  type PathAttribute,
  parseRd,
  prepareForPropagation,
  asPathLength,
  formatAsPath,
  formatCommunity,
  parseCommunity,
  WellKnownCommunity,
  arTypeOf,
  PmsiArType,
  withArType,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const IBGP: DecodeContext = { ebgp: false };

/** Splits one attribute (header included) and decodes its value. */
function decodeOne(b: Buffer, ctx: DecodeContext = IBGP): PathAttribute {
  const flags = b[0]!;
  const code = b[1]!;
  const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
  const len = ext ? b.readUInt16BE(2) : b[2]!;
  const value = b.subarray(ext ? 4 : 3);
  expect(value.length).toBe(len);
  return decodePathAttributeValue(flags, code, value, ctx);
}

const rd = parseRd('10.0.0.1:2');
const IMET_HEX = '03 11 | 0001 0a000001 0002 | 00000000 | 20 0a000001';

const table: [string, PathAttribute, string][] = [
  ['ORIGIN IGP', { type: 'origin', value: 0 }, '40 01 01 00'],
  ['ORIGIN INCOMPLETE', { type: 'origin', value: 2 }, '40 01 01 02'],
  ['AS_PATH empty (iBGP-originated)', { type: 'as-path', segments: [] }, '40 02 00'],
  [
    'AS_PATH sequence of 4-octet ASNs + set',
    {
      type: 'as-path',
      segments: [
        { type: 'sequence', asns: [65001, 65002, 4200000000] },
        { type: 'set', asns: [65010, 65011] },
      ],
    },
    '40 02 18 | 02 03 0000fde9 0000fdea fa56ea00 | 01 02 0000fdf2 0000fdf3',
  ],
  ['AS_PATH confederation segments', { type: 'as-path', segments: [{ type: 'confed-sequence', asns: [1] }, { type: 'confed-set', asns: [2] }] }, '40 02 0c | 03 01 00000001 | 04 01 00000002'],
  ['NEXT_HOP', { type: 'next-hop', address: '10.0.0.1' }, '40 03 04 0a000001'],
  ['MULTI_EXIT_DISC', { type: 'med', value: 100 }, '80 04 04 00000064'],
  ['LOCAL_PREF', { type: 'local-pref', value: 100 }, '40 05 04 00000064'],
  ['ATOMIC_AGGREGATE', { type: 'atomic-aggregate' }, '40 06 00'],
  ['AGGREGATOR (4-octet AS)', { type: 'aggregator', asn: 4200000000, address: '10.0.0.1' }, 'c0 07 08 fa56ea00 0a000001'],
  ['COMMUNITIES', { type: 'communities', communities: [0xfde90064, WellKnownCommunity.NO_EXPORT] }, 'c0 08 08 fde90064 ffffff01'],
  ['ORIGINATOR_ID', { type: 'originator-id', id: '10.0.0.1' }, '80 09 04 0a000001'],
  ['CLUSTER_LIST', { type: 'cluster-list', ids: ['10.0.0.1', '10.0.0.2'] }, '80 0a 08 0a000001 0a000002'],
  [
    'MP_REACH_NLRI EVPN, IPv4 next hop, IMET',
    { type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes: [{ type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' }] },
    `80 0e 1c | 0019 46 | 04 0a000001 | 00 | ${IMET_HEX}`,
  ],
  [
    'MP_REACH_NLRI EVPN with Extended Length on a short value (FRR style), kept in flags',
    { type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes: [{ type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' }], flags: 0x90 },
    `90 0e 001c | 0019 46 | 04 0a000001 | 00 | ${IMET_HEX}`,
  ],
  [
    'MP_REACH_NLRI EVPN, IPv6 next hop',
    { type: 'mp-reach', family: 'evpn', nextHop: '2001:db8::1', routes: [] },
    '80 0e 15 | 0019 46 | 10 20010db8000000000000000000000001 | 00',
  ],
  [
    'MP_REACH_NLRI EVPN, IPv6 global + link-local next hop',
    { type: 'mp-reach', family: 'evpn', nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', routes: [] },
    '80 0e 25 | 0019 46 | 20 20010db8000000000000000000000001 fe800000000000000000000000000001 | 00',
  ],
  ['MP_REACH_NLRI EVPN, non-zero reserved octet kept', { type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes: [], reserved: 1 }, '80 0e 09 | 0019 46 | 04 0a000001 | 01'],
  [
    'MP_REACH_NLRI other AFI/SAFI kept raw',
    { type: 'mp-reach', family: 'raw', afi: 1, safi: 1, nextHop: hex('0a000001'), nlri: hex('18 0a0101') },
    '80 0e 0d | 0001 01 | 04 0a000001 | 00 | 18 0a0101',
  ],
  ['MP_UNREACH_NLRI EVPN', { type: 'mp-unreach', family: 'evpn', routes: [{ type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' }] }, `80 0f 16 | 0019 46 | ${IMET_HEX}`],
  ['MP_UNREACH_NLRI EVPN End-of-RIB', { type: 'mp-unreach', family: 'evpn', routes: [] }, '80 0f 03 | 0019 46'],
  ['MP_UNREACH_NLRI raw', { type: 'mp-unreach', family: 'raw', afi: 2, safi: 1, withdrawn: hex('40 20010db800000000') }, '80 0f 0c | 0002 01 | 40 20010db800000000'],
  [
    'EXTENDED_COMMUNITIES',
    {
      type: 'ext-communities',
      communities: [
        { type: 'route-target', target: { format: 'as2', asn: 65001, value: 100 } },
        { type: 'encapsulation', tunnelType: 8 },
      ],
    },
    'c0 10 10 | 0002 fde9 00000064 | 030c 00000000 0008',
  ],
  [
    'PMSI_TUNNEL ingress replication IPv4, VNI 100 in the label (RFC 6514 §5, RFC 8365 §5.1.3)',
    { type: 'pmsi-tunnel', leafInfoRequired: false, label: 100, tunnel: { type: 'ingress-replication', endpoint: '10.0.0.1' } },
    'c0 16 09 | 00 | 06 | 000064 | 0a000001',
  ],
  [
    'PMSI_TUNNEL ingress replication IPv6, leaf info required',
    { type: 'pmsi-tunnel', leafInfoRequired: true, label: 0xffffff, tunnel: { type: 'ingress-replication', endpoint: '2001:db8::2' } },
    'c0 16 15 | 01 | 06 | ffffff | 20010db8000000000000000000000002',
  ],
  [
    'PMSI_TUNNEL other tunnel type kept raw, extra flag bits kept',
    { type: 'pmsi-tunnel', leafInfoRequired: false, otherFlags: 0x80, label: 0, tunnel: { type: 'raw', tunnelType: 3, id: hex('0a000001 e8010101') } },
    'c0 16 0d | 80 | 03 | 000000 | 0a000001 e8010101',
  ],
  [
    'PMSI_TUNNEL Replicator-AR route: tunnel type 0x0A, T = 01 AR-REPLICATOR (RFC 9574 §4)',
    { type: 'pmsi-tunnel', leafInfoRequired: false, otherFlags: 0x08, label: 100, tunnel: { type: 'assisted-replication', endpoint: '10.0.0.101' } },
    'c0 16 09 | 08 | 0a | 000064 | 0a000065',
  ],
  [
    'PMSI_TUNNEL regular IR route of an AR-LEAF: T = 10 (RFC 9574 §4)',
    { type: 'pmsi-tunnel', leafInfoRequired: false, otherFlags: 0x10, label: 100, tunnel: { type: 'ingress-replication', endpoint: '10.0.0.1' } },
    'c0 16 09 | 10 | 06 | 000064 | 0a000001',
  ],
  [
    'PMSI_TUNNEL AR tunnel with a 5-octet identifier kept raw',
    { type: 'pmsi-tunnel', leafInfoRequired: false, label: 100, tunnel: { type: 'raw', tunnelType: 10, id: hex('0a00006501') } },
    'c0 16 0a | 00 | 0a | 000064 | 0a00006501',
  ],
  ['unknown optional transitive (large communities, 32)', { type: 'unknown', code: 32, flags: 0xc0, value: hex('0000fde9 00000001 00000002') }, 'c0 20 0c 0000fde9 00000001 00000002'],
  ['unknown optional transitive with Partial', { type: 'unknown', code: 99, flags: 0xe0, value: hex('abcd') }, 'e0 63 02 abcd'],
  ['unknown optional non-transitive', { type: 'unknown', code: 200, flags: 0x80, value: Buffer.alloc(0) }, '80 c8 00'],
  ['COMMUNITIES with Partial bit kept', { type: 'communities', communities: [1], flags: 0xe0 }, 'e0 08 04 00000001'],
  ['ORIGIN with Extended Length kept', { type: 'origin', value: 1, flags: 0x50 }, '50 01 0001 01'],
];

describe('path attributes: table round trips', () => {
  it.each(table)('%s', (_n, attr, wire) => {
    const b = hex(wire);
    expect(encodePathAttribute(attr)).toEqual(b);
    expect(decodeOne(b)).toEqual(attr);
  });
});

describe('extended length (RFC 4271 §4.3)', () => {
  it('encodes with Extended Length only when the value exceeds 255 octets, and decodes it', () => {
    const many: PathAttribute = { type: 'communities', communities: Array.from({ length: 64 }, (_, i) => i) }; // 256 octets
    const b = encodePathAttribute(many);
    expect(b[0]).toBe(0xc0 | AttrFlag.EXTENDED_LENGTH);
    expect(b.readUInt16BE(2)).toBe(256);
    expect(b.length).toBe(4 + 256);
    expect(decodeOne(b)).toEqual(many);

    const few: PathAttribute = { type: 'communities', communities: Array.from({ length: 63 }, (_, i) => i) }; // 252 octets
    const c = encodePathAttribute(few);
    expect(c[0]).toBe(0xc0);
    expect(c[2]).toBe(252);
    expect(decodeOne(c)).toEqual(few);
  });

  it('an unknown attribute longer than 255 gets Extended Length', () => {
    const a: PathAttribute = { type: 'unknown', code: 100, flags: 0xc0, value: Buffer.alloc(300, 7) };
    const b = encodePathAttribute(a);
    expect(b[0]).toBe(0xd0);
    expect(decodeOne(b)).toEqual({ ...a, flags: 0xd0 });
  });

  it('canonical O/T bits are forced even when kept flags say otherwise', () => {
    expect(encodePathAttribute({ type: 'origin', value: 0, flags: 0xc0 })[0]).toBe(0x40);
  });
});

describe('helpers', () => {
  it('RFC 9574 T field: read and set without touching the other flag bits', () => {
    const ir = { type: 'pmsi-tunnel' as const, leafInfoRequired: true, otherFlags: 0x80, label: 100, tunnel: { type: 'ingress-replication' as const, endpoint: '10.0.0.1' } };
    expect(arTypeOf(ir)).toBe(PmsiArType.RNVE);
    const leaf = withArType(ir, PmsiArType.AR_LEAF);
    expect(leaf.otherFlags).toBe(0x90);
    expect(arTypeOf(leaf)).toBe(PmsiArType.AR_LEAF);
    expect(encodePathAttribute(leaf)).toEqual(hex('c0 16 09 | 91 | 06 | 000064 | 0a000001'));
    expect(arTypeOf(withArType(leaf, PmsiArType.AR_REPLICATOR))).toBe(PmsiArType.AR_REPLICATOR);
    const rnve = withArType({ ...ir, otherFlags: 0x10 }, PmsiArType.RNVE);
    expect(rnve).not.toHaveProperty('otherFlags');
  });

  it('prepareForPropagation sets Partial on unknown transitive and drops unknown non-transitive (RFC 4271 §5)', () => {
    const attrs: PathAttribute[] = [
      { type: 'origin', value: 0 },
      { type: 'unknown', code: 99, flags: 0xc0, value: hex('01') },
      { type: 'unknown', code: 98, flags: 0x80, value: hex('02') },
    ];
    expect(prepareForPropagation(attrs)).toEqual([
      { type: 'origin', value: 0 },
      { type: 'unknown', code: 99, flags: 0xe0, value: hex('01') },
    ]);
  });

  it('AS path length and text', () => {
    const a = { type: 'as-path' as const, segments: [{ type: 'sequence' as const, asns: [1, 2] }, { type: 'set' as const, asns: [3, 4] }, { type: 'confed-sequence' as const, asns: [5] }] };
    expect(asPathLength(a)).toBe(3);
    expect(formatAsPath(a)).toBe('1 2 {3,4} (5)');
  });

  it('AS_SEQUENCE longer than 255 is split on encode', () => {
    const asns = Array.from({ length: 300 }, (_, i) => i + 1);
    const b = encodePathAttribute({ type: 'as-path', segments: [{ type: 'sequence', asns }] });
    const d = decodeOne(b);
    expect(d).toEqual({ type: 'as-path', segments: [{ type: 'sequence', asns: asns.slice(0, 255) }, { type: 'sequence', asns: asns.slice(255) }] });
  });

  it('community text', () => {
    expect(formatCommunity(0xfde90064)).toBe('65001:100');
    expect(parseCommunity('65001:100')).toBe(0xfde90064);
    expect(parseCommunity('no-export')).toBe(WellKnownCommunity.NO_EXPORT);
    expect(() => parseCommunity('70000:1')).toThrow();
  });

  it('encoders refuse values the wire cannot carry', () => {
    expect(() => encodePathAttribute({ type: 'communities', communities: [] })).toThrow();
    expect(() => encodePathAttribute({ type: 'med', value: -1 })).toThrow();
    expect(() => encodePathAttribute({ type: 'next-hop', address: '10.0.0' })).toThrow();
    expect(() => encodePathAttribute({ type: 'aggregator', asn: 0, address: '10.0.0.1' })).toThrow();
    expect(() => encodePathAttribute({ type: 'as-path', segments: [{ type: 'set', asns: Array.from({ length: 256 }, (_, i) => i + 1) }] })).toThrow();
    expect(() => encodePathAttribute({ type: 'unknown', code: 99, flags: 0xc0, value: Buffer.alloc(70000) })).toThrow();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToIpv6,
  decodeEvpnNlri,
  encodeEvpnNlri,
  encodeEvpnRoute,
  ESI_ZERO,
  type EvpnRoute,
  evpnRouteKey,
  fieldFromMplsLabel,
  formatEvpnRoute,
  isKnownEvpnRouteType,
  isMalformedEvpnRoute,
  labelFromVni,
  mplsLabelFromField,
  parseRd,
  vniFromLabel,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const rd = parseRd('10.0.0.1:2');

// Byte vectors written out by hand from the RFC layouts.
const RD_HEX = '0001 0a000001 0002'; // type 1 (IPv4 admin), 10.0.0.1, assigned 2
const ESI0 = '00000000000000000000';

const vectors: [string, EvpnRoute, string][] = [
  [
    // RFC 7432 §7.2: type 2, len 33: RD(8) ESI(10) tag(4) maclen=48 MAC(6) iplen=0 label1(3); VNI 100 in all 24 bits (RFC 8365 §5.1.3)
    'type 2 MAC only, VNI 100',
    { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', label1: labelFromVni(100) },
    `02 21 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 00 | 000064`,
  ],
  [
    'type 2 MAC+IPv4 with L3 VNI in label2 (len 40)',
    { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', ip: '10.1.1.10', label1: 100, label2: 5000 },
    `02 28 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 20 0a01010a | 000064 | 001388`,
  ],
  [
    'type 2 MAC+IPv4 (len 37)',
    { type: 'mac-ip', rd, esi: '01:02:03:04:05:06:07:08:09:0a', ethernetTag: 7, mac: 'aa:bb:cc:dd:ee:ff', ip: '10.1.1.10', label1: 100 },
    `02 25 | ${RD_HEX} | 0102030405060708090a | 00000007 | 30 | aabbccddeeff | 20 0a01010a | 000064`,
  ],
  [
    'type 2 MAC+IPv6 (len 49)',
    { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', ip: '2001:db8::5', label1: 100 },
    `02 31 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 80 20010db8000000000000000000000005 | 000064`,
  ],
  [
    'type 2 MAC+IPv6+label2 (len 52)',
    { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', ip: '2001:db8::5', label1: 100, label2: 200 },
    `02 34 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 80 20010db8000000000000000000000005 | 000064 | 0000c8`,
  ],
  [
    'type 2 MAC + label2, no IP (len 36)',
    { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', label1: 100, label2: 200 },
    `02 24 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 00 | 000064 | 0000c8`,
  ],
  [
    // RFC 7432 §7.3: type 3, len 17: RD(8) tag(4) iplen=32 IP(4)
    'type 3 IMET IPv4',
    { type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' },
    `03 11 | ${RD_HEX} | 00000000 | 20 0a000001`,
  ],
  [
    'type 3 IMET IPv6 (len 29)',
    { type: 'imet', rd: parseRd('65000:100'), ethernetTag: 100, originatorIp: '2001:db8::1' },
    '03 1d | 0000 fde8 00000064 | 00000064 | 80 20010db8000000000000000000000001',
  ],
  [
    // RFC 9251 §9.1: RD, tag, srclen=0, grplen=32 grp, origlen=32 orig, flags (0x02 = IGMPv2)
    'type 6 SMET (*,G) IGMPv2',
    { type: 'smet', rd, ethernetTag: 0, group: '239.1.1.1', originatorIp: '10.0.0.1', flags: { igmpV1: false, igmpV2: true, igmpV3: false, exclude: false } },
    `06 18 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 20 0a000001 | 02`,
  ],
  [
    'type 6 SMET (S,G) IGMPv3 exclude',
    {
      type: 'smet',
      rd,
      ethernetTag: 0,
      source: '10.2.2.2',
      group: '239.1.1.1',
      originatorIp: '10.0.0.1',
      flags: { igmpV1: false, igmpV2: false, igmpV3: true, exclude: true },
    },
    `06 1c | ${RD_HEX} | 00000000 | 20 0a020202 | 20 ef010101 | 20 0a000001 | 0c`,
  ],
  [
    'type 6 SMET with reserved flag bits kept',
    { type: 'smet', rd, ethernetTag: 0, group: '239.1.1.1', originatorIp: '10.0.0.1', flags: { igmpV1: true, igmpV2: false, igmpV3: false, exclude: false, reserved: 0xa } },
    `06 18 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 20 0a000001 | a1`,
  ],
  [
    'type 6 SMET without flags octet (pre-RFC draft encoders)',
    { type: 'smet', rd, ethernetTag: 0, group: '239.1.1.1', originatorIp: '10.0.0.1' },
    `06 17 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 20 0a000001`,
  ],
  [
    'type 1 Ethernet A-D kept raw',
    { type: 'raw', routeType: 1, value: hex(`${RD_HEX} 0102030405060708090a ffffffff 000000`) },
    `01 19 | ${RD_HEX} 0102030405060708090a ffffffff 000000`,
  ],
  [
    'type 4 Ethernet Segment kept raw',
    { type: 'raw', routeType: 4, value: hex(`${RD_HEX} 0102030405060708090a 20 0a000001`) },
    `04 17 | ${RD_HEX} 0102030405060708090a 20 0a000001`,
  ],
  ['unknown type 200 kept raw', { type: 'raw', routeType: 200, value: hex('deadbeef') }, 'c8 04 deadbeef'],
  ['unknown type with empty value', { type: 'raw', routeType: 99, value: Buffer.alloc(0) }, '63 00'],
];

describe('EVPN NLRI (RFC 7432 §7, RFC 9251)', () => {
  it.each(vectors)('%s', (_name, route, wire) => {
    const bytes = hex(wire);
    expect(encodeEvpnRoute(route)).toEqual(bytes);
    const d = decodeEvpnNlri(bytes);
    expect(d).toEqual({ ok: true, routes: [route] });
    if (d.ok) expect(encodeEvpnNlri(d.routes)).toEqual(bytes);
    expect(formatEvpnRoute(route)).toBeTypeOf('string');
  });

  it('decodes a concatenation of all vectors in order', () => {
    const all = Buffer.concat(vectors.map((v) => hex(v[2])));
    const d = decodeEvpnNlri(all);
    expect(d.ok && d.routes).toEqual(vectors.map((v) => v[1]));
  });

  const bad: [string, string][] = [
    ['type 2 MAC length 47', `02 21 | ${RD_HEX} | ${ESI0} | 00000000 | 2f | 001122334455 | 00 | 000064`],
    ['type 2 IP length 24', `02 24 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 18 0a0101 | 000064`],
    ['type 2 IP length 32 with 3 octets', `02 24 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 20 0a0101 | 000064`],
    ['type 2 one trailing octet (len 34)', `02 22 | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 00 | 000064 | 01`],
    ['type 2 missing label (len 30)', `02 1e | ${RD_HEX} | ${ESI0} | 00000000 | 30 | 001122334455 | 00`],
    ['type 3 length 16', `03 10 | ${RD_HEX} | 00000000 | 20 0a0000`],
    ['type 3 IP length 0', `03 0d | ${RD_HEX} | 00000000 | 00`],
    ['type 3 trailing octet', `03 12 | ${RD_HEX} | 00000000 | 20 0a000001 | 00`],
    ['length overruns buffer', '02 21 0001'],
    ['lone type octet', '02'],
    ['valid route then a lone octet', `03 11 | ${RD_HEX} | 00000000 | 20 0a000001 | 03`],
  ];
  it.each(bad)('length rules: %s', (_n, wire) => {
    const d = decodeEvpnNlri(hex(wire));
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(/EVPN NLRI/);
  });

  // A type-6 route whose fields do not parse but whose Length frames it: kept raw,
  // marked malformed, the routes around it decode (multicast never costs the session).
  const badSmet: [string, string, RegExp][] = [
    ['two trailing octets', `06 19 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 20 0a000001 | 0200`, /SMET route has 2 trailing octets/],
    ['group length 8', `06 15 | ${RD_HEX} | 00000000 | 00 | 08 ef | 20 0a000001 | 02`, /SMET multicast group length 8 bits/],
    ['originator length 0', `06 14 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 00 | 02`, /SMET originator router length 0 bits/],
    ['cut in the source', `06 0f | ${RD_HEX} | 00000000 | 20 0a01`, /too short/],
    ['empty value', '06 00', /too short/],
  ];
  it.each(badSmet)('malformed type 6 (%s): kept raw and marked, the neighbours decode, re-encoded exactly', (_n, wire, why) => {
    const before = `03 11 | ${RD_HEX} | 00000000 | 20 0a000001`;
    const after = `06 18 | ${RD_HEX} | 00000000 | 00 | 20 ef010101 | 20 0a000001 | 02`;
    const bytes = hex(`${before} ${wire} ${after}`);
    const d = decodeEvpnNlri(bytes);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.routes.map((r) => r.type)).toEqual(['imet', 'raw', 'smet']);
    const bad = d.routes[1]!;
    expect(bad).toMatchObject({ type: 'raw', routeType: 6, value: hex(wire).subarray(2), malformed: expect.stringMatching(why) });
    expect(isMalformedEvpnRoute(bad)).toBe(true);
    expect(isMalformedEvpnRoute(d.routes[2]!)).toBe(false);
    expect(formatEvpnRoute(bad)).toMatch(/^\[6\]:raw:.* \(malformed: /);
    expect(encodeEvpnNlri(d.routes)).toEqual(bytes);
  });

  it('empty NLRI decodes to no routes', () => {
    expect(decodeEvpnNlri(Buffer.alloc(0))).toEqual({ ok: true, routes: [] });
  });
});

describe('VNI in the label field (RFC 8365 §5.1.3)', () => {
  it('uses all 24 bits for the VNI', () => {
    expect(labelFromVni(100)).toBe(100);
    expect(vniFromLabel(0xffffff)).toBe(0xffffff);
    expect(labelFromVni(16777215)).toBe(16777215);
    expect(() => labelFromVni(16777216)).toThrow();
    expect(() => labelFromVni(-1)).toThrow();
    expect(() => labelFromVni(1.5)).toThrow();
  });
  it('MPLS interpretation is the high 20 bits', () => {
    expect(fieldFromMplsLabel(100)).toBe((100 << 4) | 1);
    expect(mplsLabelFromField(fieldFromMplsLabel(1048575, false))).toBe(1048575);
    expect(() => fieldFromMplsLabel(1 << 20)).toThrow();
  });
  it('route type registry', () => {
    expect(isKnownEvpnRouteType(2)).toBe(true);
    expect(isKnownEvpnRouteType(200)).toBe(false);
  });
});

describe('RIB keys', () => {
  const base: EvpnRoute = { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', ip: '10.1.1.10', label1: 100 };
  it('type 2: ESI and labels are not part of the key (RFC 7432 §7.2)', () => {
    expect(evpnRouteKey({ ...base, esi: '01:00:00:00:00:00:00:00:00:01', label1: 200, label2: 7 })).toBe(evpnRouteKey(base));
  });
  it('type 2: RD, tag, MAC and IP are', () => {
    const k = evpnRouteKey(base);
    expect(evpnRouteKey({ ...base, rd: parseRd('10.0.0.1:3') })).not.toBe(k);
    expect(evpnRouteKey({ ...base, ethernetTag: 1 })).not.toBe(k);
    expect(evpnRouteKey({ ...base, mac: '00:11:22:33:44:56' })).not.toBe(k);
    expect(evpnRouteKey({ ...base, ip: '10.1.1.11' })).not.toBe(k);
    const { ip: _ip, ...noIp } = base;
    expect(evpnRouteKey(noIp as EvpnRoute)).not.toBe(k);
    expect(k).toBe(`2:${hex(`${RD_HEX} 00000000 30 001122334455 20 0a01010a`).toString('latin1')}`);
  });
  it('type 3 key is the whole value; type 6 key excludes flags', () => {
    const imet: EvpnRoute = { type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' };
    expect(evpnRouteKey(imet)).toBe(`3:${hex(`${RD_HEX} 00000000 20 0a000001`).toString('latin1')}`);
    const smet: EvpnRoute = { type: 'smet', rd, ethernetTag: 0, group: '239.1.1.1', originatorIp: '10.0.0.1', flags: { igmpV1: false, igmpV2: true, igmpV3: false, exclude: false } };
    expect(evpnRouteKey({ ...smet, flags: { igmpV1: false, igmpV2: false, igmpV3: true, exclude: true } })).toBe(evpnRouteKey(smet));
    expect(evpnRouteKey({ ...smet, group: '239.1.1.2' })).not.toBe(evpnRouteKey(smet));
  });
  it('type 1 (raw) key excludes the label, type 5 key excludes ESI/GW/label', () => {
    const ad = (label: string): EvpnRoute => ({ type: 'raw', routeType: 1, value: hex(`${RD_HEX} 0102030405060708090a ffffffff ${label}`) });
    expect(evpnRouteKey(ad('000001'))).toBe(evpnRouteKey(ad('000002')));
    const t5 = (esi: string, gw: string, label: string): EvpnRoute => ({ type: 'raw', routeType: 5, value: hex(`${RD_HEX} ${esi} 00000000 18 0a010100 ${gw} ${label}`) });
    expect(evpnRouteKey(t5(ESI0, '00000000', '000064'))).toBe(evpnRouteKey(t5('0102030405060708090a', '0a000001', '0000c8')));
  });
});

const arbRd = fc.oneof(
  fc.record({ format: fc.constant('as2' as const), asn: fc.integer({ min: 0, max: 0xffff }), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ format: fc.constant('ipv4' as const), ip: fc.ipV4(), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ format: fc.constant('as4' as const), asn: fc.integer({ min: 0, max: 0xffffffff }), value: fc.integer({ min: 0, max: 0xffff }) }),
);
const hexBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => [...a].map((x) => x.toString(16).padStart(2, '0')).join(':'));
// IPv6 in canonical RFC 5952 text, as the decoder produces it.
const arbIp = fc.oneof(fc.ipV4(), fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => bytesToIpv6(Buffer.from(a))));
const u24 = fc.integer({ min: 0, max: 0xffffff });
const arbEvpnRoute: fc.Arbitrary<EvpnRoute> = fc.oneof(
  fc
    .record(
      { rd: arbRd, esi: hexBytes(10), ethernetTag: fc.integer({ min: 0, max: 0xffffffff }), mac: hexBytes(6), ip: arbIp, label1: u24, label2: u24 },
      { requiredKeys: ['rd', 'esi', 'ethernetTag', 'mac', 'label1'] },
    )
    .map((r) => ({ type: 'mac-ip' as const, ...r })),
  fc.record({ rd: arbRd, ethernetTag: fc.integer({ min: 0, max: 0xffffffff }), originatorIp: arbIp }).map((r) => ({ type: 'imet' as const, ...r })),
  fc
    .record(
      {
        rd: arbRd,
        ethernetTag: fc.integer({ min: 0, max: 0xffffffff }),
        source: arbIp,
        group: arbIp,
        originatorIp: arbIp,
        flags: fc.record({ igmpV1: fc.boolean(), igmpV2: fc.boolean(), igmpV3: fc.boolean(), exclude: fc.boolean() }),
      },
      { requiredKeys: ['rd', 'ethernetTag', 'originatorIp'] },
    )
    .map((r) => ({ type: 'smet' as const, ...r })),
  fc
    .record({ routeType: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 2 && t !== 3 && t !== 6), value: fc.uint8Array({ maxLength: 255 }) })
    .map((r) => ({ type: 'raw' as const, routeType: r.routeType, value: Buffer.from(r.value) })),
);

describe('EVPN NLRI property', () => {
  it('decode(encode(routes)) == routes and encode(decode(bytes)) == bytes', () => {
    fc.assert(
      fc.property(fc.array(arbEvpnRoute, { maxLength: 6 }), (routes) => {
        const bytes = encodeEvpnNlri(routes);
        const d = decodeEvpnNlri(bytes);
        expect(d).toEqual({ ok: true, routes });
        if (d.ok) expect(encodeEvpnNlri(d.routes)).toEqual(bytes);
      }),
    );
  });
});

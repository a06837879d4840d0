import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToIpv6,
  decodeRd,
  encodeRd,
  formatRd,
  ipv6ToBytes,
  parseRd,
  Reader,
  type RouteDistinguisher,
  tryParseRd,
} from '../../src/control/evpn/bgp/index.ts';

describe('route distinguisher (RFC 4364 §4.2)', () => {
  // [text, object, wire hex]
  const table: [string, RouteDistinguisher, string][] = [
    ['65000:100', { format: 'as2', asn: 65000, value: 100 }, '0000fde800000064'],
    ['0:0', { format: 'as2', asn: 0, value: 0 }, '0000000000000000'],
    ['65535:4294967295', { format: 'as2', asn: 65535, value: 4294967295 }, '0000ffffffffffff'],
    ['10.0.0.1:100', { format: 'ipv4', ip: '10.0.0.1', value: 100 }, '00010a0000010064'],
    ['10.0.0.1:2', { format: 'ipv4', ip: '10.0.0.1', value: 2 }, '00010a0000010002'],
    ['4200000000:100', { format: 'as4', asn: 4200000000, value: 100 }, '0002fa56ea000064'],
    ['65000L:7', { format: 'as4', asn: 65000, value: 7 }, '00020000fde80007'],
  ];

  it.each(table)('%s', (text, rd, hex) => {
    expect(parseRd(text)).toEqual(rd);
    expect(formatRd(rd)).toBe(text);
    expect(encodeRd(rd).toString('hex')).toBe(hex);
    expect(decodeRd(new Reader(Buffer.from(hex, 'hex')))).toEqual(rd);
  });

  it('keeps unknown RD types raw and re-encodes them', () => {
    const b = Buffer.from('0003010203040506', 'hex');
    const rd = decodeRd(new Reader(b));
    expect(rd).toEqual({ format: 'raw', bytes: b });
    expect(encodeRd(rd)).toEqual(b);
    expect(formatRd(rd)).toBe('raw:0003010203040506');
  });

  it.each(['', ':1', '1:', 'a:1', '10.0.0.1:65536', '4200000000:65536', '4294967296:1', '1.2.3:4', '65000:4294967296', '01:2', '1:2:3x'])(
    'rejects %j',
    (s) => {
      expect(tryParseRd(s)).toBeUndefined();
      expect(() => parseRd(s)).toThrow();
    },
  );

  it('property: parse(format(rd)) == rd and decode(encode(rd)) == rd', () => {
    const arb = fc.oneof(
      fc.record({ format: fc.constant('as2' as const), asn: fc.integer({ min: 0, max: 0xffff }), value: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ format: fc.constant('ipv4' as const), ip: fc.ipV4(), value: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ format: fc.constant('as4' as const), asn: fc.integer({ min: 0, max: 0xffffffff }), value: fc.integer({ min: 0, max: 0xffff }) }),
    );
    fc.assert(
      fc.property(arb, (rd) => {
        expect(parseRd(formatRd(rd))).toEqual(rd);
        expect(decodeRd(new Reader(encodeRd(rd)))).toEqual(rd);
      }),
    );
  });
});

describe('IPv6 text (RFC 5952)', () => {
  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ])('%s -> %s', (input, canonical) => {
    expect(bytesToIpv6(ipv6ToBytes(input))).toBe(canonical);
  });

  it.each(['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7'])('rejects %j', (s) => {
    expect(() => ipv6ToBytes(s)).toThrow();
  });

  it('property: canonical text round-trips through bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
        const b = Buffer.from(a);
        const s = bytesToIpv6(b);
        expect(ipv6ToBytes(s)).toEqual(b);
      }),
    );
  });
});

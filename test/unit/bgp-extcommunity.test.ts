import { describe, expect, it } from 'vitest';
import {
  decodeExtCommunity,
  encodeExtCommunity,
  type ExtCommunity,
  formatExtCommunity,
  formatRouteTarget,
  parseRouteTarget,
  TunnelEncapType,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

const typed: [string, ExtCommunity, string][] = [
  ['RT AS2 65001:100 (type 0x00 sub 0x02)', { type: 'route-target', target: { format: 'as2', asn: 65001, value: 100 } }, '00 02 | fde9 | 00000064'],
  ['RT IPv4 10.0.0.1:100 (type 0x01 sub 0x02)', { type: 'route-target', target: { format: 'ipv4', ip: '10.0.0.1', value: 100 } }, '01 02 | 0a000001 | 0064'],
  ['RT AS4 4200000000:100 (type 0x02 sub 0x02)', { type: 'route-target', target: { format: 'as4', asn: 4200000000, value: 100 } }, '02 02 | fa56ea00 | 0064'],
  ['encapsulation VXLAN (0x03/0x0c, RFC 9012 §4.1)', { type: 'encapsulation', tunnelType: TunnelEncapType.VXLAN }, '03 0c | 00000000 | 0008'],
  ['default gateway (0x03/0x0d, RFC 7432 §7.8)', { type: 'default-gateway' }, '03 0d | 000000000000'],
  ['MAC mobility sticky seq 5 (RFC 7432 §7.7)', { type: 'mac-mobility', sticky: true, sequence: 5 }, '06 00 | 01 | 00 | 00000005'],
  ['MAC mobility seq 0x12345678', { type: 'mac-mobility', sticky: false, sequence: 0x12345678 }, '06 00 | 00 | 00 | 12345678'],
  ['ESI label single-active 100', { type: 'esi-label', singleActive: true, label: 100 }, '06 01 | 01 | 0000 | 000064'],
  ['ES-import RT', { type: 'es-import-rt', mac: '00:11:22:33:44:55' }, '06 02 | 001122334455'],
  ["router's MAC (0x06/0x03, RFC 9135)", { type: 'router-mac', mac: 'aa:bb:cc:00:11:22' }, '06 03 | aabbcc001122'],
  ['Multicast Flags: IGMP proxy (0x06/0x09, RFC 9251 §9.4)', { type: 'multicast-flags', igmpProxy: true, mldProxy: false }, '06 09 | 0001 | 00000000'],
  ['Multicast Flags: IGMP and MLD proxy', { type: 'multicast-flags', igmpProxy: true, mldProxy: true }, '06 09 | 0003 | 00000000'],
  ['Multicast Flags: none', { type: 'multicast-flags', igmpProxy: false, mldProxy: false }, '06 09 | 0000 | 00000000'],
];

const raw: [string, string][] = [
  ['route origin', '00 03 fde9 00000064'],
  ['non-transitive RT (0x40)', '40 02 fde9 00000064'],
  ['MAC mobility with an unknown flag bit', '06 00 02 00 00000001'],
  ['MAC mobility with non-zero reserved', '06 00 00 01 00000001'],
  ['encapsulation with non-zero reserved', '03 0c 00000001 0008'],
  ['default gateway with non-zero value', '03 0d 000000000001'],
  ['ESI label with reserved bits', '06 01 01 0100 000064'],
  ['unknown EVPN subtype (0x0a, EVI-RT type 0)', '06 0a fde900000064'],
  ['Multicast Flags with an unassigned flag bit', '06 09 0004 00000000'],
  ['Multicast Flags with non-zero reserved octets', '06 09 0001 00000001'],
  ['color', '03 0b 0000 00000064'],
];

describe('extended communities', () => {
  it.each(typed)('%s', (_n, c, wire) => {
    const b = hex(wire);
    expect(encodeExtCommunity(c)).toEqual(b);
    expect(decodeExtCommunity(b)).toEqual(c);
    expect(formatExtCommunity(c)).toBeTypeOf('string');
  });

  it.each(raw)('keeps %s raw and re-encodes it', (_n, wire) => {
    const b = hex(wire);
    const c = decodeExtCommunity(b);
    expect(c).toEqual({ type: 'raw', bytes: b });
    expect(encodeExtCommunity(c)).toEqual(b);
  });

  it.each(['65001:100', '10.0.0.1:100', '4200000000:100', '65001L:1'])('route target text %s', (s) => {
    const rt = parseRouteTarget(s);
    expect(formatRouteTarget(rt)).toBe(s);
    expect(decodeExtCommunity(encodeExtCommunity(rt))).toEqual(rt);
  });

  it('refuses values that do not fit', () => {
    expect(() => encodeExtCommunity({ type: 'encapsulation', tunnelType: 70000 })).toThrow();
    expect(() => encodeExtCommunity({ type: 'mac-mobility', sticky: false, sequence: 2 ** 32 })).toThrow();
    expect(() => encodeExtCommunity({ type: 'raw', bytes: Buffer.alloc(7) })).toThrow();
    expect(() => encodeExtCommunity({ type: 'router-mac', mac: '00:11:22:33:44' })).toThrow();
    expect(() => parseRouteTarget('nope')).toThrow();
  });

  it('formats the Multicast Flags community', () => {
    expect(formatExtCommunity({ type: 'multicast-flags', igmpProxy: true, mldProxy: false })).toBe('MCAST-FLAGS:IGMP');
    expect(formatExtCommunity({ type: 'multicast-flags', igmpProxy: true, mldProxy: true })).toBe('MCAST-FLAGS:IGMP,MLD');
  });
});

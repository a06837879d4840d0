import { describe, expect, it } from 'vitest';
import {
  buildEvpnUpdates,
  buildEvpnWithdrawals,
  decodeMessage,
  decodeUpdateBody,
  encodeMessage,
  ESI_ZERO,
  type EvpnRoute,
  evpnEndOfRib,
  evpnRoutesOf,
  frameMessage,
  isEndOfRib,
  labelFromVni,
  parseRd,
  type UpdateDecodeOptions,
  type UpdateDecodeResult,
  type UpdateMessage,
  UpdateSubcode,
  vniFromLabel,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const MARKER = 'ffffffffffffffffffffffffffffffff';
const rd = parseRd('10.0.0.1:2');

// ---------------------------------------------------------------------------
// Hand-derived vectors (RFC 4271 §4.3, RFC 4760 §3, RFC 7432 §7.2/§7.3,
// RFC 6514 §5, RFC 4360, RFC 9012 §4.1, RFC 8365 §5.1.3).

const IMET: EvpnRoute = { type: 'imet', rd, ethernetTag: 0, originatorIp: '10.0.0.1' };
const IMET_HEX = '03 11 | 0001 0a000001 0002 | 00000000 | 20 0a000001'; // 19 octets

const MP_REACH_IMET = `80 0e 1c | 0019 46 | 04 0a000001 | 00 | ${IMET_HEX}`; // 3 + 28 = 31
const ORIGIN_IGP = '40 01 01 00'; // 4
const AS_PATH_65001 = '40 02 06 | 02 01 0000fde9'; // 9
const LOCAL_PREF_100 = '40 05 04 00000064'; // 7
const EXT_RT_ENCAP = 'c0 10 10 | 0002 fde9 00000064 | 030c 00000000 0008'; // 19
const PMSI_IR = 'c0 16 09 | 00 | 06 | 000064 | 0a000001'; // 12: flags, IR, VNI 100, endpoint 10.0.0.1

/** Type-3 IMET + PMSI ingress replication, MP_REACH first (RFC 7606 §5.1). */
const IMET_UPDATE_HEX = `${MARKER} 0069 02 | 0000 | 0052 | ${MP_REACH_IMET} | ${ORIGIN_IGP} | ${AS_PATH_65001} | ${LOCAL_PREF_100} | ${EXT_RT_ENCAP} | ${PMSI_IR}`;
const IMET_UPDATE: UpdateMessage = {
  type: 'update',
  withdrawnRoutes: [],
  attributes: [
    { type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes: [IMET] },
    { type: 'origin', value: 0 },
    { type: 'as-path', segments: [{ type: 'sequence', asns: [65001] }] },
    { type: 'local-pref', value: 100 },
    {
      type: 'ext-communities',
      communities: [
        { type: 'route-target', target: { format: 'as2', asn: 65001, value: 100 } },
        { type: 'encapsulation', tunnelType: 8 },
      ],
    },
    { type: 'pmsi-tunnel', leafInfoRequired: false, label: labelFromVni(100), tunnel: { type: 'ingress-replication', endpoint: '10.0.0.1' } },
  ],
  nlri: [],
};

/** Type-2 MAC 00:11:22:33:44:55, VNI 100, RD 10.0.0.1:2, with MAC mobility seq 1. */
const MACIP: EvpnRoute = { type: 'mac-ip', rd, esi: ESI_ZERO, ethernetTag: 0, mac: '00:11:22:33:44:55', label1: labelFromVni(100) };
const MACIP_HEX = '02 21 | 0001 0a000001 0002 | 00000000000000000000 | 00000000 | 30 | 001122334455 | 00 | 000064'; // 35
const MACIP_UPDATE_HEX = `${MARKER} 006f 02 | 0000 | 0058 | 80 0e 2c 0019 46 04 0a000001 00 ${MACIP_HEX} | ${ORIGIN_IGP} | 40 02 00 | ${LOCAL_PREF_100} | c0 10 18 0002fde900000064 030c000000000008 0600000000000001`;
const MACIP_UPDATE: UpdateMessage = {
  type: 'update',
  withdrawnRoutes: [],
  attributes: [
    { type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes: [MACIP] },
    { type: 'origin', value: 0 },
    { type: 'as-path', segments: [] },
    { type: 'local-pref', value: 100 },
    {
      type: 'ext-communities',
      communities: [
        { type: 'route-target', target: { format: 'as2', asn: 65001, value: 100 } },
        { type: 'encapsulation', tunnelType: 8 },
        { type: 'mac-mobility', sticky: false, sequence: 1 },
      ],
    },
  ],
  nlri: [],
};

describe('UPDATE hand vectors', () => {
  it.each([
    ['type 3 IMET + PMSI ingress replication', IMET_UPDATE_HEX, IMET_UPDATE],
    ['type 2 MAC/IP, VNI 100, MAC mobility', MACIP_UPDATE_HEX, MACIP_UPDATE],
  ] as const)('%s', (_n, wire, msg) => {
    const b = hex(wire);
    expect(b.readUInt16BE(16)).toBe(b.length);
    expect(encodeMessage(msg)).toEqual(b);
    expect(decodeMessage(b)).toEqual({ ok: true, message: msg, discarded: [] });
  });

  it('the VNI is read back from label1 and the PMSI label', () => {
    const d = decodeMessage(hex(IMET_UPDATE_HEX));
    if (!d.ok || d.message.type !== 'update') throw new Error('decode failed');
    const pmsi = d.message.attributes.find((a) => a.type === 'pmsi-tunnel');
    expect(pmsi?.type === 'pmsi-tunnel' && vniFromLabel(pmsi.label)).toBe(100);
    const m = decodeMessage(hex(MACIP_UPDATE_HEX));
    if (!m.ok || m.message.type !== 'update') throw new Error('decode failed');
    const r = evpnRoutesOf(m.message);
    expect(r.nextHop).toBe('10.0.0.1');
    expect(r.announced[0]?.type === 'mac-ip' && vniFromLabel(r.announced[0].label1)).toBe(100);
  });
});

// ---------------------------------------------------------------------------
// RFC 7606

/** UPDATE body from attribute hex strings (+ optional IPv4 fields). */
function body(attrs: string[], opts: { withdrawn?: string; nlri?: string; taLenDelta?: number } = {}): Buffer {
  const w = hex(opts.withdrawn ?? '');
  const a = Buffer.concat(attrs.map(hex));
  const n = hex(opts.nlri ?? '');
  const wl = Buffer.alloc(2);
  wl.writeUInt16BE(w.length);
  const al = Buffer.alloc(2);
  al.writeUInt16BE(a.length + (opts.taLenDelta ?? 0));
  return Buffer.concat([wl, w, al, a, n]);
}

const EVPN_BASE = [MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001, LOCAL_PREF_100];
const IPV4_BASE = [ORIGIN_IGP, AS_PATH_65001, '40 03 04 0a000001'];
const IPV4_NLRI = '18 0a0101'; // 10.1.1.0/24

type Expect =
  | { ok: true; discarded?: number; check?: (r: Extract<UpdateDecodeResult, { ok: true }>) => void }
  | { action: 'treat-as-withdraw'; evpn?: number; ipv4?: number }
  | { action: 'session-reset'; subcode: number; data?: string };

function verify(r: UpdateDecodeResult, e: Expect): void {
  if ('ok' in e) {
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (r.ok) {
      expect(r.discarded.length).toBe(e.discarded ?? 0);
      for (const d of r.discarded) {
        expect(d.action).toBe('attribute-discard');
        expect(d.notification).toBeUndefined();
      }
      e.check?.(r);
    }
    return;
  }
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (r.ok) return;
  expect(r.error.action, r.error.reason).toBe(e.action);
  expect(r.error.reason).toMatch(/RFC/);
  if (e.action === 'treat-as-withdraw') {
    expect(r.error.notification).toBeUndefined();
    expect(r.error.withdraw?.evpn.length).toBe(e.evpn ?? 0);
    expect(r.error.withdraw?.ipv4.length).toBe(e.ipv4 ?? 0);
  } else {
    expect(r.error.notification?.code).toBe(3);
    expect(r.error.notification?.subcode).toBe(e.subcode);
    if (e.data !== undefined) expect(r.error.notification?.data).toEqual(hex(e.data));
  }
}

const TAW_EVPN: Expect = { action: 'treat-as-withdraw', evpn: 1 };
const TAW_V4: Expect = { action: 'treat-as-withdraw', ipv4: 1 };
const DISCARD1: Expect = { ok: true, discarded: 1 };
const S = UpdateSubcode;

type Case = [string, Buffer, Expect, UpdateDecodeOptions?];
const cases: Case[] = [
  ['valid EVPN UPDATE', body(EVPN_BASE), { ok: true }],
  ['valid IPv4 UPDATE', body(IPV4_BASE, { nlri: IPV4_NLRI }), { ok: true }],
  ['MP_UNREACH only, no other attribute', body(['80 0f 16 0019 46 ' + IMET_HEX]), { ok: true }],
  ['MP_REACH without NEXT_HOP is fine (RFC 4760 §3)', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001]), { ok: true }],

  // §7.1 ORIGIN
  ['ORIGIN length 2 (§7.1)', body([MP_REACH_IMET, '40 01 02 0000', AS_PATH_65001]), TAW_EVPN],
  ['ORIGIN length 0 (§7.1)', body([MP_REACH_IMET, '40 01 00', AS_PATH_65001]), TAW_EVPN],
  ['ORIGIN value 3 (§7.1)', body([MP_REACH_IMET, '40 01 01 03', AS_PATH_65001]), TAW_EVPN],
  // §7.2 AS_PATH
  ['AS_PATH segment type 5 (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 06 05 01 0000fde9']), TAW_EVPN],
  ['AS_PATH zero-length segment (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 02 02 00']), TAW_EVPN],
  ['AS_PATH segment overrun (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 06 02 02 0000fde9']), TAW_EVPN],
  ['AS_PATH trailing octet (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 07 02 01 0000fde9 02']), TAW_EVPN],
  ['AS_PATH 2-octet encoding on a 4-octet session (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 04 02 01 fde9']), TAW_EVPN],
  ['AS_PATH with AS 0 (RFC 7607)', body([MP_REACH_IMET, ORIGIN_IGP, '40 02 06 02 01 00000000']), TAW_EVPN],
  ['AS_PATH leftmost AS is not the eBGP peer (§7.2)', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001]), TAW_EVPN, { ebgp: true, peerAs: 65002 }],
  ['AS_PATH leftmost AS is the eBGP peer', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001]), { ok: true }, { ebgp: true, peerAs: 65001 }],
  // §7.3 NEXT_HOP
  ['NEXT_HOP length 5 (§7.3)', body([ORIGIN_IGP, AS_PATH_65001, '40 03 05 0a00000100'], { nlri: IPV4_NLRI }), TAW_V4],
  // §7.4 MED
  ['MED length 3 (§7.4)', body([...EVPN_BASE, '80 04 03 000064']), TAW_EVPN],
  // §7.5 LOCAL_PREF
  ['LOCAL_PREF length 3 from iBGP (§7.5)', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001, '40 05 03 000064']), TAW_EVPN],
  [
    'LOCAL_PREF from eBGP is discarded (§7.5)',
    body(EVPN_BASE),
    { ok: true, discarded: 1, check: (r) => expect(r.update.attributes.some((a) => a.type === 'local-pref')).toBe(false) },
    { ebgp: true },
  ],
  // §7.6 / §7.7
  ['ATOMIC_AGGREGATE length 1 (§7.6)', body([...EVPN_BASE, '40 06 01 00']), DISCARD1],
  ['AGGREGATOR length 6 (§7.7)', body([...EVPN_BASE, 'c0 07 06 fde9 0a000001']), DISCARD1],
  ['AGGREGATOR AS 0 (RFC 7607, §7.7)', body([...EVPN_BASE, 'c0 07 08 00000000 0a000001']), DISCARD1],
  // §7.8 COMMUNITIES
  ['COMMUNITIES length 5 (§7.8)', body([...EVPN_BASE, 'c0 08 05 0000000000']), TAW_EVPN],
  ['COMMUNITIES length 0 (§7.8)', body([...EVPN_BASE, 'c0 08 00']), TAW_EVPN],
  // §7.9 / §7.10
  ['ORIGINATOR_ID length 5 (§7.9)', body([...EVPN_BASE, '80 09 05 0a00000100']), TAW_EVPN],
  ['ORIGINATOR_ID from eBGP is discarded (§7.9)', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001, '80 09 04 0a000001']), DISCARD1, { ebgp: true }],
  ['CLUSTER_LIST length 6 (§7.10)', body([...EVPN_BASE, '80 0a 06 0a0000010000']), TAW_EVPN],
  ['CLUSTER_LIST from eBGP is discarded (§7.10)', body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001, '80 0a 04 0a000001']), DISCARD1, { ebgp: true }],
  // §7.14 EXTENDED_COMMUNITIES
  ['EXTENDED_COMMUNITIES length 12 (§7.14)', body([...EVPN_BASE, 'c0 10 0c 0002fde900000064 00000000']), TAW_EVPN],
  ['EXTENDED_COMMUNITIES unknown type is not an error (§7.14)', body([...EVPN_BASE, 'c0 10 08 ab cd 000000000000']), { ok: true }],
  // PMSI_TUNNEL
  ['PMSI_TUNNEL length 3', body([...EVPN_BASE, 'c0 16 03 000600']), TAW_EVPN],
  ['PMSI_TUNNEL ingress replication endpoint of 5 octets', body([...EVPN_BASE, 'c0 16 0a 00 06 000064 0a00000100']), TAW_EVPN],
  // §7.11 / §5.3 MP_REACH_NLRI / MP_UNREACH_NLRI
  ['MP_REACH length 4 (§7.11)', body(['80 0e 04 0019 46 04', ORIGIN_IGP, AS_PATH_65001]), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR, data: '800e04 0019 46 04' }],
  ['MP_REACH EVPN next hop length 5 (§7.11)', body([`80 0e 1d 0019 46 05 0a00000100 00 ${IMET_HEX}`, ORIGIN_IGP, AS_PATH_65001]), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  ['MP_REACH next hop overrunning the attribute (§7.11)', body(['80 0e 08 0019 46 10 0a000001', ORIGIN_IGP, AS_PATH_65001]), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  [
    'MP_REACH EVPN route length overrun (§5.3)',
    body(['80 0e 0c 0019 46 04 0a000001 00 03 11 00', ORIGIN_IGP, AS_PATH_65001]),
    { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR, data: '800e0c 0019 46 04 0a000001 00 03 11 00' },
  ],
  ['MP_REACH type-2 with MAC length 47 (§5.3)', body([`80 0e 2c 0019 46 04 0a000001 00 ${MACIP_HEX.replace('| 30 |', '| 2f |')}`, ORIGIN_IGP, AS_PATH_65001]), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  ['MP_UNREACH length 2 (§7.12)', body(['80 0f 02 0019']), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  ['MP_UNREACH bad EVPN NLRI (§5.3)', body(['80 0f 05 0019 46 03 11']), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  ['MP_REACH with unsupported AFI/SAFI kept raw', body(['80 0e 0d 0001 01 04 0a000001 00 18 0a0101', ORIGIN_IGP, AS_PATH_65001]), { ok: true }],
  // §3(g) duplicates
  [
    'duplicate ORIGIN: repeat discarded, first kept (§3(g))',
    body([MP_REACH_IMET, ORIGIN_IGP, AS_PATH_65001, '40 01 01 01']),
    { ok: true, discarded: 1, check: (r) => expect(r.update.attributes.filter((a) => a.type === 'origin')).toEqual([{ type: 'origin', value: 0 }]) },
  ],
  ['duplicate malformed COMMUNITIES: the repeat is not even parsed (§3(g))', body([...EVPN_BASE, 'c0 08 04 00000001', 'c0 08 03 000000']), DISCARD1],
  ['duplicate unknown optional attribute (§3(g))', body([...EVPN_BASE, 'c0 63 01 01', 'c0 63 01 02']), DISCARD1],
  ['duplicate MP_REACH (§3(g))', body([...EVPN_BASE, MP_REACH_IMET]), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST, data: '' }],
  ['duplicate MP_UNREACH (§3(g))', body(['80 0f 03 0019 46', '80 0f 03 0019 46']), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  // §3(c) flags
  ['ORIGIN marked optional (§3(c))', body([MP_REACH_IMET, 'c0 01 01 00', AS_PATH_65001]), TAW_EVPN],
  ['ORIGIN marked non-transitive (§3(c))', body([MP_REACH_IMET, '00 01 01 00', AS_PATH_65001]), TAW_EVPN],
  ['AS_PATH marked optional (§3(c))', body([MP_REACH_IMET, ORIGIN_IGP, 'c0 02 06 02 01 0000fde9']), TAW_EVPN],
  ['MED marked well-known (§3(c))', body([...EVPN_BASE, '40 04 04 00000064']), TAW_EVPN],
  ['COMMUNITIES marked non-transitive (§3(c))', body([...EVPN_BASE, '80 08 04 00000001']), TAW_EVPN],
  ['EXTENDED_COMMUNITIES marked well-known (§3(c))', body([...EVPN_BASE, '40 10 08 0002fde900000064']), TAW_EVPN],
  ['PMSI_TUNNEL marked non-transitive (§3(c))', body([...EVPN_BASE, '80 16 09 00 06 000064 0a000001']), TAW_EVPN],
  ['ATOMIC_AGGREGATE marked optional: discarded (§3(c) + §7.6)', body([...EVPN_BASE, 'c0 06 00']), DISCARD1],
  ['AGGREGATOR marked well-known: discarded (§3(c) + §7.7)', body([...EVPN_BASE, '40 07 08 0000fde9 0a000001']), DISCARD1],
  ['MP_REACH marked transitive: still parsed and withdrawn (§3(c))', body([`c0 0e 1c 0019 46 04 0a000001 00 ${IMET_HEX}`, ORIGIN_IGP, AS_PATH_65001]), TAW_EVPN],
  [
    'Partial bit on ORIGIN is tolerated and kept',
    body([MP_REACH_IMET, '60 01 01 00', AS_PATH_65001]),
    { ok: true, check: (r) => expect(r.update.attributes[1]).toEqual({ type: 'origin', value: 0, flags: 0x60 }) },
  ],
  // §3(d) missing well-known mandatory
  ['missing ORIGIN with MP_REACH (§3(d))', body([MP_REACH_IMET, AS_PATH_65001]), TAW_EVPN],
  ['missing AS_PATH with MP_REACH (§3(d))', body([MP_REACH_IMET, ORIGIN_IGP]), TAW_EVPN],
  ['missing NEXT_HOP with IPv4 NLRI (§3(d))', body([ORIGIN_IGP, AS_PATH_65001], { nlri: IPV4_NLRI }), TAW_V4],
  ['no attributes at all with IPv4 NLRI (§3(d))', body([], { nlri: IPV4_NLRI }), TAW_V4],
  // RFC 4271 §6.3 unrecognized well-known
  ['unrecognized well-known attribute', body([...EVPN_BASE, '40 63 02 abcd']), { action: 'session-reset', subcode: S.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, data: '40 63 02 abcd' }],
  ['unknown optional transitive attribute is kept', body([...EVPN_BASE, 'c0 63 02 abcd']), { ok: true, check: (r) => expect(r.update.attributes.at(-1)).toEqual({ type: 'unknown', code: 99, flags: 0xc0, value: hex('abcd') }) }],
  // §4 attribute length framing
  ['last attribute overruns Total Path Attribute Length, after MP_REACH (§4)', body([...EVPN_BASE, '40 05 0a 00000064']), TAW_EVPN],
  ['two octets left after the last attribute (§4)', body([...EVPN_BASE, '4001']), TAW_EVPN],
  ['Extended Length header cut short (§4)', body([...EVPN_BASE, '50 01 00']), TAW_EVPN],
  ['MP_REACH itself overruns the attributes (§4 + §3(j))', body([ORIGIN_IGP, AS_PATH_65001, '80 0e ff 0019 46 04 0a000001 00']), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  ['framing error, IPv4 NLRI, no MP attribute (§4)', body([ORIGIN_IGP, AS_PATH_65001, '40 03 09 0a000001'], { nlri: IPV4_NLRI }), TAW_V4],
  ['framing error with no NLRI anywhere (§4 + §5.2)', body([ORIGIN_IGP, '40 02 09 00']), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  // §5.2 no NLRI
  ['malformed ORIGIN and no NLRI at all (§5.2)', body(['40 01 02 0000', AS_PATH_65001]), { action: 'session-reset', subcode: S.ATTRIBUTE_LENGTH_ERROR, data: '40 01 02 0000' }],
  ['malformed AS_PATH and no NLRI at all (§5.2)', body([ORIGIN_IGP, '40 02 02 02 00']), { action: 'session-reset', subcode: S.MALFORMED_AS_PATH, data: '' }],
  ['malformed ATOMIC_AGGREGATE and no NLRI: discard is fine (§5.2)', body([ORIGIN_IGP, '40 06 01 00']), DISCARD1],
  ['malformed COMMUNITIES in an End-of-RIB-shaped UPDATE (§5.2)', body(['80 0f 03 0019 46', 'c0 08 01 00']), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  ['malformed COMMUNITIES with an MP_UNREACH carrying routes', body([`80 0f 16 0019 46 ${IMET_HEX}`, 'c0 08 01 00']), TAW_EVPN],
  // §3(h) strongest action
  ['treat-as-withdraw + discard -> treat-as-withdraw (§3(h))', body([MP_REACH_IMET, '40 01 01 07', AS_PATH_65001, '40 06 01 00']), TAW_EVPN],
  ['treat-as-withdraw then duplicate MP_REACH -> session reset (§3(h))', body([MP_REACH_IMET, '40 01 01 07', AS_PATH_65001, MP_REACH_IMET]), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  ['treat-as-withdraw then bad MP_UNREACH -> session reset (§3(h))', body([MP_REACH_IMET, '40 01 01 07', AS_PATH_65001, '80 0f 02 0019']), { action: 'session-reset', subcode: S.OPTIONAL_ATTRIBUTE_ERROR }],
  [
    'MP_REACH after a malformed attribute is still withdrawn',
    body([ORIGIN_IGP, 'c0 08 03 000000', AS_PATH_65001, MP_REACH_IMET]),
    TAW_EVPN,
  ],
  // RFC 4271 §6.3 / §3(b) / §5.3 length fields and NLRI syntax
  ['Total Path Attribute Length overruns the message (§3(b))', body(EVPN_BASE, { taLenDelta: 1 }), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST, data: '' }],
  ['Withdrawn Routes Length overruns the message', hex('00ff 0000'), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  ['Withdrawn Routes Length leaves no room for Total Path Attribute Length', hex('0001 18 00'), { action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST }],
  ['NLRI prefix length 33 (§5.3)', body(IPV4_BASE, { nlri: '21 0a010101 00' }), { action: 'session-reset', subcode: S.INVALID_NETWORK_FIELD, data: '' }],
  ['NLRI prefix overrun (§5.3)', body(IPV4_BASE, { nlri: '18 0a01' }), { action: 'session-reset', subcode: S.INVALID_NETWORK_FIELD }],
  ['Withdrawn Routes prefix overrun (§5.3)', body([], { withdrawn: '20 0a01' }), { action: 'session-reset', subcode: S.INVALID_NETWORK_FIELD }],
];

describe('RFC 7606 classification', () => {
  it.each(cases)('%s', (_n, b, e, opts) => {
    verify(decodeUpdateBody(b, opts), e);
    // Same outcome through the whole-message path.
    const m = decodeMessage(frameMessage(2, b), opts);
    if (m.ok) expect(decodeUpdateBody(b, opts).ok).toBe(true);
    else expect(m.error.action).toBe((decodeUpdateBody(b, opts) as { error: { action: string } }).error.action);
  });

  it('treat-as-withdraw carries every route of the UPDATE (RFC 7606 §2)', () => {
    const r = decodeUpdateBody(body([`80 0f 16 0019 46 ${IMET_HEX}`, `80 0e 2c 0019 46 04 0a000001 00 ${MACIP_HEX}`, '40 01 01 09', AS_PATH_65001, '40 03 04 0a000001'], { withdrawn: '10 0a09', nlri: IPV4_NLRI }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.withdraw).toEqual({ ipv4: ['10.9.0.0/16', '10.1.1.0/24'], evpn: [IMET, MACIP] });
  });
});

describe('truncation at every offset', () => {
  const msg = hex(IMET_UPDATE_HEX);
  const b = msg.subarray(19);

  it('a truncated message is a classified header error', () => {
    for (let cut = 0; cut < msg.length; cut++) {
      const r = decodeMessage(msg.subarray(0, cut));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.action).toBe('session-reset');
        expect(r.error.notification?.code).toBe(1);
      }
    }
  });

  it('a truncated body (header length fixed up) is a classified error', () => {
    for (let cut = 0; cut < b.length; cut++) {
      const r = decodeMessage(frameMessage(2, b.subarray(0, cut)));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.action).toBe('session-reset');
        expect(r.error.reason).not.toMatch(/internal/);
        expect(r.error.notification?.code).toBe(cut < 4 ? 1 : 3);
      }
    }
  });

  it('a truncated attribute list (Total Path Attribute Length fixed up) follows §4 / §3(j) / §3(d)', () => {
    const attrs = b.subarray(4);
    const boundaries = new Map<number, Expect>([
      [0, { ok: true }], // empty UPDATE: IPv4 End-of-RIB
      [31, TAW_EVPN], // MP_REACH only: ORIGIN missing (§3(d))
      [35, TAW_EVPN], // + ORIGIN: AS_PATH missing (§3(d))
      [44, { ok: true }], // + AS_PATH: complete
      [51, { ok: true }],
      [70, { ok: true }],
      [82, { ok: true }],
    ]);
    for (let k = 0; k <= attrs.length; k++) {
      const bb = Buffer.concat([hex('0000'), Buffer.from([k >> 8, k & 0xff]), attrs.subarray(0, k)]);
      const r = decodeUpdateBody(bb);
      const e = boundaries.get(k) ?? (k < 31 ? ({ action: 'session-reset', subcode: S.MALFORMED_ATTRIBUTE_LIST } as const) : TAW_EVPN);
      verify(r, e);
    }
  });
});

describe('builders and helpers', () => {
  it('End-of-RIB', () => {
    expect(isEndOfRib(evpnEndOfRib())).toEqual({ afi: 25, safi: 70 });
    expect(isEndOfRib({ type: 'update', withdrawnRoutes: [], attributes: [], nlri: [] })).toEqual({ afi: 1, safi: 1 });
    expect(isEndOfRib(IMET_UPDATE)).toBeUndefined();
  });

  it('buildEvpnUpdates splits into messages of at most 4096 octets, MP_REACH first', () => {
    const routes: EvpnRoute[] = Array.from({ length: 300 }, (_, i) => ({ ...MACIP, mac: `00:11:22:33:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`, ip: '10.1.1.1' }));
    const ups = buildEvpnUpdates({ nextHop: '10.0.0.1', routes, attributes: IMET_UPDATE.attributes.slice(1) });
    expect(ups.length).toBeGreaterThan(1);
    const back: EvpnRoute[] = [];
    for (const u of ups) {
      const b = encodeMessage(u);
      expect(b.length).toBeLessThanOrEqual(4096);
      expect(u.attributes[0]?.type).toBe('mp-reach');
      const d = decodeMessage(b);
      expect(d.ok).toBe(true);
      if (d.ok && d.message.type === 'update') back.push(...evpnRoutesOf(d.message).announced);
    }
    expect(back).toEqual(routes);
    // A full batch is close to the limit (packing is not wasteful).
    expect(encodeMessage(ups[0]!).length).toBeGreaterThan(4096 - 60);
  });

  it('buildEvpnWithdrawals', () => {
    const routes: EvpnRoute[] = Array.from({ length: 500 }, (_, i) => ({ ...IMET, ethernetTag: i }));
    const ups = buildEvpnWithdrawals(routes);
    const back: EvpnRoute[] = [];
    for (const u of ups) {
      const b = encodeMessage(u);
      expect(b.length).toBeLessThanOrEqual(4096);
      const d = decodeMessage(b);
      if (d.ok && d.message.type === 'update') back.push(...evpnRoutesOf(d.message).withdrawn);
    }
    expect(back).toEqual(routes);
  });

  it('encodeMessage refuses an UPDATE over 4096 octets', () => {
    const routes = Array.from({ length: 200 }, () => MACIP);
    expect(() => encodeMessage({ type: 'update', withdrawnRoutes: [], attributes: [{ type: 'mp-reach', family: 'evpn', nextHop: '10.0.0.1', routes }], nlri: [] })).toThrow(/4096/);
  });
});

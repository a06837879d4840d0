// Property tests: the decoders never throw, whatever the input, and every
// outcome is classified; successful decodes re-encode to the same octets.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToIpv6,
  decodeMessage,
  decodeUpdateBody,
  encodeMessage,
  type EvpnRoute,
  type ExtCommunity,
  frameMessage,
  type MessageDecodeResult,
  type PathAttribute,
  type UpdateMessage,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const MARKER = 'ffffffffffffffffffffffffffffffff';

const SEEDS = [
  // type-3 IMET + PMSI (see bgp-update.test.ts)
  `${MARKER} 0069 02 0000 0052 800e1c 0019 46 04 0a000001 00 0311 0001 0a000001 0002 00000000 20 0a000001 40010100 400206 0201 0000fde9 40050400000064 c01010 0002fde900000064 030c000000000008 c01609 00 06 000064 0a000001`,
  // type-2 MAC/IP + MAC mobility
  `${MARKER} 006f 02 0000 0058 800e2c 0019 46 04 0a000001 00 0221 0001 0a000001 0002 00000000000000000000 00000000 30 001122334455 00 000064 40010100 400200 40050400000064 c01018 0002fde900000064 030c000000000008 0600000000000001`,
  // IPv4 UPDATE with withdrawn routes and NLRI
  `${MARKER} 003c 02 0003 100a09 0014 40010100 400206 0201 0000fde9 4003040a000001 100a01 19c0a80180 00 200a000001`,
  // OPEN
  `${MARKER} 0031 01 04 fde9 00b4 0a000001 14 0206 0104 0019 0046 0202 0200 0206 4104 0000fde9`,
  // NOTIFICATION, ROUTE-REFRESH, KEEPALIVE, EoR
  `${MARKER} 0019 03 0301 deadbeef`,
  `${MARKER} 0017 05 0019 00 46`,
  `${MARKER} 0013 04`,
  `${MARKER} 001d 02 0000 0006 800f03 0019 46`,
].map(hex);

const ACTIONS = new Set(['session-reset', 'treat-as-withdraw', 'attribute-discard']);

/** The decoder's contract on arbitrary input. */
function checkOutcome(input: Buffer, r: MessageDecodeResult): void {
  if (r.ok) {
    for (const d of r.discarded) expect(d.action).toBe('attribute-discard');
    // Exact re-encoding when nothing was dropped.
    if (r.discarded.length === 0) expect(encodeMessage(r.message).toString('hex')).toBe(input.toString('hex'));
    return;
  }
  expect(ACTIONS.has(r.error.action)).toBe(true);
  expect(r.error.action).not.toBe('attribute-discard');
  expect(r.error.reason).not.toMatch(/^internal/);
  if (r.error.action === 'session-reset') {
    expect(r.error.notification).toBeDefined();
    expect(r.error.notification!.code).toBeGreaterThanOrEqual(1);
    expect(r.error.notification!.code).toBeLessThanOrEqual(7);
  } else {
    expect(r.error.notification).toBeUndefined();
    expect(r.error.withdraw).toBeDefined();
  }
}

/** Rewrites the header length so mutations reach the body decoders. */
function fixLength(b: Buffer): Buffer {
  if (b.length < 19 || b.length > 4096) return b;
  const c = Buffer.from(b);
  c.writeUInt16BE(c.length, 16);
  return c;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(b: Buffer, m: Mutation): Buffer {
  // Mutations avoid the marker (offsets 0..15) most of the time by aiming at the rest.
  const at = 16 + (m.at % Math.max(1, b.length - 16));
  switch (m.kind) {
    case 'set': {
      const c = Buffer.from(b);
      if (at < c.length) c[at] = m.value;
      return c;
    }
    case 'flip': {
      const c = Buffer.from(b);
      if (at < c.length) c[at] = c[at]! ^ (1 << m.bit);
      return c;
    }
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    case 'insert':
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    case 'truncate':
      return b.subarray(0, at);
  }
}

describe('decoder robustness (fast-check)', () => {
  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (a) => {
        const b = Buffer.from(a);
        checkOutcome(b, decodeMessage(b));
        const u = decodeUpdateBody(b);
        if (!u.ok) expect(u.error.reason).not.toMatch(/^internal/);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bodies behind a valid header never throw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 400 }), (type, a) => {
        const b = frameMessage(type, Buffer.from(a));
        checkOutcome(b, decodeMessage(b));
        checkOutcome(b, decodeMessage(b, { ebgp: true, peerAs: 65001 }));
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid messages never throw, and what decodes re-encodes exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SEEDS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (seed, ms, fix) => {
        let b: Buffer = SEEDS[seed]!;
        for (const m of ms) b = mutate(b, m);
        if (fix) b = fixLength(b);
        checkOutcome(b, decodeMessage(b));
      }),
      { numRuns: 5000 },
    );
  });

  it('UPDATE attribute bytes replaced by random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 20 }), (attrs, nlri) => {
        const body = Buffer.concat([hex('0000'), Buffer.from([attrs.length >> 8, attrs.length & 0xff]), Buffer.from(attrs), Buffer.from(nlri)]);
        const b = frameMessage(2, body);
        checkOutcome(b, decodeMessage(b));
      }),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------
// Structured round trip: decode(encode(x)) deep-equals x for generated UPDATEs.

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u24 = fc.integer({ min: 0, max: 0xffffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const colonHex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => [...a].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const ip6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => bytesToIpv6(Buffer.from(a)));
const ip = fc.oneof(fc.ipV4(), ip6);
const rd = fc.oneof(
  fc.record({ format: fc.constant('as2' as const), asn: u16, value: u32 }),
  fc.record({ format: fc.constant('ipv4' as const), ip: fc.ipV4(), value: u16 }),
  fc.record({ format: fc.constant('as4' as const), asn: u32, value: u16 }),
);
const route: fc.Arbitrary<EvpnRoute> = fc.oneof(
  fc.record({ rd, esi: colonHex(10), ethernetTag: u32, mac: colonHex(6), ip, label1: u24, label2: u24 }, { requiredKeys: ['rd', 'esi', 'ethernetTag', 'mac', 'label1'] }).map((r) => ({ type: 'mac-ip' as const, ...r })),
  fc.record({ rd, ethernetTag: u32, originatorIp: ip }).map((r) => ({ type: 'imet' as const, ...r })),
  fc
    .record({ rd, ethernetTag: u32, source: ip, group: ip, originatorIp: ip, flags: fc.record({ igmpV1: fc.boolean(), igmpV2: fc.boolean(), igmpV3: fc.boolean(), exclude: fc.boolean() }) }, { requiredKeys: ['rd', 'ethernetTag', 'originatorIp'] })
    .map((r) => ({ type: 'smet' as const, ...r })),
  fc.record({ routeType: fc.constantFrom(1, 4, 5, 7, 11, 200), value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }).map((r) => ({ type: 'raw' as const, ...r })),
);
const extComm: fc.Arbitrary<ExtCommunity> = fc.oneof(
  rd.map((target) => ({ type: 'route-target' as const, target })),
  u16.map((tunnelType) => ({ type: 'encapsulation' as const, tunnelType })),
  fc.constant({ type: 'default-gateway' as const }),
  fc.record({ sticky: fc.boolean(), sequence: u32 }).map((r) => ({ type: 'mac-mobility' as const, ...r })),
  fc.record({ singleActive: fc.boolean(), label: u24 }).map((r) => ({ type: 'esi-label' as const, ...r })),
  colonHex(6).map((mac) => ({ type: 'router-mac' as const, mac })),
  colonHex(6).map((mac) => ({ type: 'es-import-rt' as const, mac })),
);
const optional: fc.Arbitrary<PathAttribute>[] = [
  u32.map((value) => ({ type: 'med' as const, value })),
  u32.map((value) => ({ type: 'local-pref' as const, value })),
  fc.constant({ type: 'atomic-aggregate' as const }),
  fc.record({ asn: fc.integer({ min: 1, max: 0xffffffff }), address: fc.ipV4() }).map((r) => ({ type: 'aggregator' as const, ...r })),
  fc.array(u32, { minLength: 1, maxLength: 70 }).map((communities) => ({ type: 'communities' as const, communities })),
  fc.ipV4().map((id) => ({ type: 'originator-id' as const, id })),
  fc.array(fc.ipV4(), { minLength: 1, maxLength: 5 }).map((ids) => ({ type: 'cluster-list' as const, ids })),
  fc.array(extComm, { minLength: 1, maxLength: 6 }).map((communities) => ({ type: 'ext-communities' as const, communities })),
  fc
    .record({ leafInfoRequired: fc.boolean(), label: u24, endpoint: ip })
    .map((r) => ({ type: 'pmsi-tunnel' as const, leafInfoRequired: r.leafInfoRequired, label: r.label, tunnel: { type: 'ingress-replication' as const, endpoint: r.endpoint } })),
  fc.record({ code: fc.constantFrom(17, 18, 32, 99, 250), flags: fc.constantFrom(0xc0, 0xe0, 0x80, 0xd0), value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }).map((r) => ({ type: 'unknown' as const, ...r, flags: r.value.length > 255 ? r.flags | 0x10 : r.flags })),
];
const asPath = fc
  .array(fc.record({ type: fc.constantFrom('set' as const, 'sequence' as const, 'confed-sequence' as const, 'confed-set' as const), asns: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 10 }) }), { maxLength: 4 })
  .map((segments) => ({ type: 'as-path' as const, segments }));

const evpnUpdate: fc.Arbitrary<UpdateMessage> = fc
  .record({
    nextHop: fc.oneof(fc.ipV4(), ip6),
    routes: fc.array(route, { maxLength: 8 }),
    withdrawn: fc.array(route, { maxLength: 4 }),
    origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
    asPath,
    extra: fc.subarray(optional.map((_, i) => i)).chain((idx) => fc.tuple(...idx.map((i) => optional[i]!))),
  })
  .map(({ nextHop, routes, withdrawn, origin, asPath, extra }) => {
    const attributes: PathAttribute[] = [{ type: 'mp-reach', family: 'evpn', nextHop, routes }];
    if (withdrawn.length) attributes.push({ type: 'mp-unreach', family: 'evpn', routes: withdrawn });
    attributes.push({ type: 'origin', value: origin }, asPath, ...extra);
    return { type: 'update' as const, withdrawnRoutes: [], attributes, nlri: [] };
  });

describe('structured round trip (fast-check)', () => {
  it('decode(encode(update)) deep-equals update', () => {
    fc.assert(
      fc.property(evpnUpdate, (u) => {
        let b: Buffer;
        try {
          b = encodeMessage(u);
        } catch (e) {
          // Only the 4096-octet limit may refuse a generated UPDATE.
          expect(String(e)).toMatch(/4096/);
          return;
        }
        const d = decodeMessage(b);
        expect(d).toEqual({ ok: true, message: u, discarded: [] });
      }),
      { numRuns: 1000 },
    );
  });
});

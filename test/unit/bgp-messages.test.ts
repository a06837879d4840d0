import { describe, expect, it } from 'vitest';
import {
  Afi,
  AS_TRANS,
  type BgpMessage,
  CeaseSubcode,
  decodeMessage,
  decodeShutdownCommunication,
  describeNotification,
  encodeKeepalive,
  encodeMessage,
  encodeShutdownCommunication,
  ErrorCode,
  MessageHeaderSubcode,
  type OpenMessage,
  OpenSubcode,
  peerAsOf,
  readFrame,
  Safi,
  UpdateSubcode,
  validateOpen,
} from '../../src/control/evpn/bgp/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const MARKER = 'ffffffffffffffffffffffffffffffff';

const OPEN_FRR: OpenMessage = {
  type: 'open',
  version: 4,
  myAs: 65001,
  holdTime: 180,
  bgpId: '10.0.0.1',
  capabilities: [{ type: 'multiprotocol', afi: Afi.L2VPN, safi: Safi.EVPN }, { type: 'route-refresh' }, { type: 'four-octet-as', asn: 65001 }],
};

const messages: [string, BgpMessage, string][] = [
  ['KEEPALIVE', { type: 'keepalive' }, `${MARKER} 0013 04`],
  [
    // RFC 4271 §4.2 + RFC 5492: one capability per optional parameter (FRR/GoBGP layout)
    'OPEN with MP L2VPN/EVPN, route refresh, 4-octet AS',
    OPEN_FRR,
    `${MARKER} 0031 01 | 04 fde9 00b4 0a000001 14 | 02 06 01 04 0019 00 46 | 02 02 02 00 | 02 06 41 04 0000fde9`,
  ],
  [
    'OPEN with all capabilities in one parameter',
    { ...OPEN_FRR, capabilityGrouping: [3] },
    `${MARKER} 002d 01 | 04 fde9 00b4 0a000001 10 | 02 0e 01 04 0019 00 46 02 00 41 04 0000fde9`,
  ],
  [
    'OPEN with 4-octet AS (AS_TRANS) and unknown capabilities kept raw',
    {
      type: 'open',
      version: 4,
      myAs: AS_TRANS,
      holdTime: 0,
      bgpId: '192.0.2.1',
      capabilities: [
        { type: 'four-octet-as', asn: 4200000000 },
        { type: 'raw', code: 64, value: hex('0078') },
        { type: 'raw', code: 70, value: Buffer.alloc(0) },
        { type: 'raw', code: 1, value: hex('00190146') }, // MP with a non-zero reserved octet
      ],
    },
    `${MARKER} 0037 01 | 04 5ba0 0000 c0000201 1a | 02 06 41 04 fa56ea00 | 02 04 40 02 0078 | 02 02 46 00 | 02 06 01 04 0019 01 46`,
  ],
  ['OPEN without optional parameters', { type: 'open', version: 4, myAs: 1, holdTime: 3, bgpId: '1.1.1.1', capabilities: [] }, `${MARKER} 001d 01 | 04 0001 0003 01010101 00`],
  ['NOTIFICATION Cease / Administrative Shutdown', { type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) }, `${MARKER} 0015 03 | 06 02`],
  ['NOTIFICATION with data', { type: 'notification', code: 3, subcode: 1, data: hex('deadbeef') }, `${MARKER} 0019 03 | 03 01 deadbeef`],
  ['ROUTE-REFRESH L2VPN/EVPN', { type: 'route-refresh', afi: 25, safi: 70 }, `${MARKER} 0017 05 | 0019 00 46`],
  ['ROUTE-REFRESH BoRR (RFC 7313)', { type: 'route-refresh', afi: 25, safi: 70, subtype: 1 }, `${MARKER} 0017 05 | 0019 01 46`],
  [
    'UPDATE End-of-RIB for L2VPN/EVPN',
    { type: 'update', withdrawnRoutes: [], attributes: [{ type: 'mp-unreach', family: 'evpn', routes: [] }], nlri: [] },
    `${MARKER} 001d 02 | 0000 | 0006 | 80 0f 03 0019 46`,
  ],
  ['UPDATE End-of-RIB for IPv4 unicast', { type: 'update', withdrawnRoutes: [], attributes: [], nlri: [] }, `${MARKER} 0017 02 | 0000 0000`],
  [
    'UPDATE IPv4 unicast',
    {
      type: 'update',
      withdrawnRoutes: ['10.9.0.0/16'],
      attributes: [
        { type: 'origin', value: 0 },
        { type: 'as-path', segments: [{ type: 'sequence', asns: [65001] }] },
        { type: 'next-hop', address: '10.0.0.1' },
      ],
      nlri: ['10.1.0.0/16', '192.168.1.128/25', '0.0.0.0/0', '10.0.0.1/32'],
    },
    `${MARKER} 003c 02 | 0003 10 0a09 | 0014 | 40 01 01 00 | 40 02 06 02 01 0000fde9 | 40 03 04 0a000001 | 10 0a01 19 c0a80180 00 20 0a000001`,
  ],
];

describe('messages: table round trips', () => {
  it.each(messages)('%s', (_n, msg, wire) => {
    const b = hex(wire);
    expect(encodeMessage(msg)).toEqual(b);
    const d = decodeMessage(b);
    expect(d).toEqual({ ok: true, message: msg, discarded: [] });
  });
  it('encodeKeepalive', () => {
    expect(encodeKeepalive()).toEqual(hex(`${MARKER} 0013 04`));
  });
});

describe('header errors (RFC 4271 §6.1)', () => {
  const cases: [string, string, number, number, string][] = [
    ['marker not all ones', `fffffffffffffffffffffffffffffffe 0013 04`, 1, MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, ''],
    ['length 18', `${MARKER} 0012 04`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0012'],
    ['length 4097', `${MARKER} 1001 02`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '1001'],
    ['unknown type 9', `${MARKER} 0013 09`, 1, MessageHeaderSubcode.BAD_MESSAGE_TYPE, '09'],
    ['type 0', `${MARKER} 0013 00`, 1, MessageHeaderSubcode.BAD_MESSAGE_TYPE, '00'],
    ['KEEPALIVE of 20 octets', `${MARKER} 0014 04 00`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0014'],
    ['OPEN of 28 octets', `${MARKER} 001c 01 040001000301010101`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '001c'],
    ['UPDATE of 22 octets', `${MARKER} 0016 02 000000`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0016'],
    ['NOTIFICATION of 20 octets', `${MARKER} 0014 03 06`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0014'],
    ['ROUTE-REFRESH of 24 octets (RFC 7313 §5)', `${MARKER} 0018 05 00190046 00`, ErrorCode.ROUTE_REFRESH_MESSAGE, 1, `${MARKER} 0018 05 00190046 00`],
    ['buffer shorter than the header', `${MARKER} 00`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0011'],
    ['buffer shorter than the length field', `${MARKER} 0017 02 0000`, 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '0017'],
  ];
  it.each(cases)('%s', (_n, wire, code, subcode, data) => {
    const d = decodeMessage(hex(wire));
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.action).toBe('session-reset');
      expect(d.error.notification).toEqual({ code, subcode, data: hex(data) });
    }
  });
});

describe('OPEN errors (RFC 4271 §6.2, RFC 5492, RFC 7607)', () => {
  const open = (body: string) => {
    const b = hex(body);
    const len = (19 + b.length).toString(16).padStart(4, '0');
    return hex(`${MARKER} ${len} 01 ${body}`);
  };
  const cases: [string, string, number, number, string][] = [
    ['version 3', '03 fde9 00b4 0a000001 00', 2, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, '0004'],
    ['version 5', '05 fde9 00b4 0a000001 00', 2, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, '0004'],
    ['My AS 0', '04 0000 00b4 0a000001 00', 2, OpenSubcode.BAD_PEER_AS, ''],
    ['hold time 1', '04 fde9 0001 0a000001 00', 2, OpenSubcode.UNACCEPTABLE_HOLD_TIME, ''],
    ['hold time 2', '04 fde9 0002 0a000001 00', 2, OpenSubcode.UNACCEPTABLE_HOLD_TIME, ''],
    ['BGP identifier 0', '04 fde9 00b4 00000000 00', 2, OpenSubcode.BAD_BGP_IDENTIFIER, ''],
    ['optional parameter type 1 (authentication)', '04 fde9 00b4 0a000001 03 01 01 00', 2, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, ''],
    ['optional parameter type 255 (RFC 9072 not supported)', '04 fde9 00b4 0a000001 03 ff 01 00', 2, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, ''],
    ['Opt Parm Len larger than the rest', '04 fde9 00b4 0a000001 05 02 00', 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '001f'],
    ['Opt Parm Len smaller than the rest', '04 fde9 00b4 0a000001 00 02 00', 1, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, '001f'],
    ['parameter length overrun', '04 fde9 00b4 0a000001 02 02 05', 2, OpenSubcode.UNSPECIFIC, ''],
    ['single trailing parameter octet', '04 fde9 00b4 0a000001 01 02', 2, OpenSubcode.UNSPECIFIC, ''],
    ['capability length overrun', '04 fde9 00b4 0a000001 04 02 02 41 04', 2, OpenSubcode.UNSPECIFIC, ''],
    ['4-octet AS capability with AS 0', '04 5ba0 00b4 0a000001 08 02 06 41 04 00000000', 2, OpenSubcode.BAD_PEER_AS, ''],
  ];
  it.each(cases)('%s', (_n, body, code, subcode, data) => {
    const d = decodeMessage(open(body));
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.action).toBe('session-reset');
      expect(d.error.notification).toEqual({ code, subcode, data: hex(data) });
    }
  });

  it('validateOpen: peer-specific checks', () => {
    expect(validateOpen(OPEN_FRR, { peerAs: 65001, requiredCapabilities: [{ type: 'multiprotocol', afi: 25, safi: 70 }, { type: 'four-octet-as', asn: 0 }] })).toBeUndefined();
    expect(validateOpen(OPEN_FRR, { peerAs: 65002 })?.notification).toEqual({ code: 2, subcode: OpenSubcode.BAD_PEER_AS, data: Buffer.alloc(0) });
    expect(validateOpen(OPEN_FRR, { ibgp: true, localBgpId: '10.0.0.1' })?.notification?.subcode).toBe(OpenSubcode.BAD_BGP_IDENTIFIER);
    expect(validateOpen(OPEN_FRR, { ibgp: false, localBgpId: '10.0.0.1' })).toBeUndefined();
    expect(validateOpen(OPEN_FRR, { minHoldTime: 200 })?.notification?.subcode).toBe(OpenSubcode.UNACCEPTABLE_HOLD_TIME);
    const noEvpn: OpenMessage = { ...OPEN_FRR, capabilities: [{ type: 'multiprotocol', afi: 1, safi: 1 }] };
    const e = validateOpen(noEvpn, { requiredCapabilities: [{ type: 'multiprotocol', afi: 25, safi: 70 }, { type: 'four-octet-as', asn: 0 }] });
    expect(e?.notification).toEqual({
      code: ErrorCode.OPEN_MESSAGE,
      subcode: OpenSubcode.UNSUPPORTED_CAPABILITY,
      data: hex('01 04 0019 00 46 | 41 04 00000000'),
    });
    // RFC 6793 §4.1: a 4-octet AS must be announced with My AS = AS_TRANS.
    const as4: OpenMessage = { ...OPEN_FRR, capabilities: [{ type: 'four-octet-as', asn: 4200000000 }] };
    expect(peerAsOf(as4)).toBe(4200000000);
    expect(validateOpen(as4, {})?.notification?.subcode).toBe(OpenSubcode.BAD_PEER_AS);
    expect(validateOpen({ ...as4, myAs: AS_TRANS }, { peerAs: 4200000000 })).toBeUndefined();
  });
});

describe('NOTIFICATION registry', () => {
  it('names codes and subcodes', () => {
    expect(describeNotification(3, UpdateSubcode.MALFORMED_AS_PATH)).toBe('UPDATE Message Error / Malformed AS_PATH');
    expect(describeNotification(6, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)).toBe('Cease / Connection Collision Resolution');
    expect(describeNotification(2, OpenSubcode.UNSUPPORTED_CAPABILITY)).toBe('OPEN Message Error / Unsupported Capability');
    expect(describeNotification(1, 3)).toBe('Message Header Error / Bad Message Type');
    expect(describeNotification(42, 9)).toBe('code 42 / subcode 9');
  });
  it('RFC 9003 shutdown communication', () => {
    const d = encodeShutdownCommunication('maintenance ✓');
    expect(d[0]).toBe(Buffer.byteLength('maintenance ✓'));
    expect(decodeShutdownCommunication(d)).toBe('maintenance ✓');
    expect(decodeShutdownCommunication(hex('05 6162'))).toBeUndefined();
    expect(decodeShutdownCommunication(hex('02 ffff'))).toBeUndefined();
    expect(() => encodeShutdownCommunication('x'.repeat(256))).toThrow();
  });
});

describe('stream framing', () => {
  const stream = Buffer.concat(messages.map((m) => hex(m[2])));

  it('reads every message out of a stream, whatever the chunking', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      let buf = stream.subarray(0, cut);
      let rest = stream.subarray(cut);
      const got: Buffer[] = [];
      for (;;) {
        const f = readFrame(buf);
        if (f.status === 'frame') {
          got.push(Buffer.from(f.message));
          buf = buf.subarray(f.next);
          continue;
        }
        expect(f.status).toBe('incomplete');
        if (f.status === 'incomplete') expect(f.need).toBeGreaterThan(0);
        if (rest.length === 0) break;
        buf = Buffer.concat([buf, rest]);
        rest = Buffer.alloc(0);
      }
      expect(got.map((g) => g.toString('hex'))).toEqual(messages.map((m) => hex(m[2]).toString('hex')));
    }
  });

  it('reports a header error as soon as the header is in', () => {
    const f = readFrame(hex(`${MARKER} 2000 02`));
    expect(f.status).toBe('error');
    if (f.status === 'error') expect(f.error.notification?.subcode).toBe(MessageHeaderSubcode.BAD_MESSAGE_LENGTH);
    expect(readFrame(hex(`${MARKER} 00`))).toEqual({ status: 'incomplete', need: 2 });
  });
});

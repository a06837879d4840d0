// IGMP codec: hand-derived octets (RFC 1112 / 2236 / 3376 field layouts, the
// checksums worked out independently and checked below), the RFC 3376
// floating-point codes, every malformed case, frames, and property tests.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeFloatCode,
  decodeIgmp,
  decodeIgmpFrame,
  encodeFloatCode,
  encodeIgmp,
  encodeIgmpFrame,
  IgmpError,
  type IgmpMessage,
  isLinkLocalGroup,
  isMulticast,
} from "../../src/control/mcast/igmp.ts";

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ""), "hex");

/** RFC 1071, written again here so the vectors are not checked by the code under test. */
function onesSum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function expectIgmpError(f: () => unknown, reason: IgmpError["reason"]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(IgmpError);
    expect((e as IgmpError).reason).toBe(reason);
    return;
  }
  expect.fail(`expected IgmpError(${reason})`);
}

// Canonical messages: decode(hex) deep-equals the message and encode(message) gives hex back.
const table: [string, IgmpMessage, string][] = [
  ["v1 general query (RFC 1112: Max Resp 0, read as 10 s per RFC 2236 4)", { type: "query", version: 1, group: "0.0.0.0", maxRespMs: 10000 }, "11 00 eeff 00000000"],
  ["v2 general query, 10 s", { type: "query", version: 2, group: "0.0.0.0", maxRespMs: 10000 }, "11 64 ee9b 00000000"],
  ["v2 group-specific query, 1 s", { type: "query", version: 2, group: "239.1.1.1", maxRespMs: 1000 }, "11 0a fef2 ef010101"],
  ["v1 report", { type: "report", version: 1, group: "239.1.1.1" }, "12 00 fdfc ef010101"],
  ["v2 report", { type: "report", version: 2, group: "239.1.1.1" }, "16 00 f9fc ef010101"],
  ["v2 leave", { type: "leave", group: "239.1.1.1" }, "17 00 f8fc ef010101"],
  [
    "v3 general query, QRV 2, QQIC 125 s",
    { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 10000, sFlag: false, qrv: 2, qqicS: 125, sources: [] },
    "11 64 ec1e 00000000 | 02 7d 0000",
  ],
  [
    "v3 group-and-source-specific query, S flag",
    { type: "query", version: 3, group: "239.1.1.1", maxRespMs: 1000, sFlag: true, qrv: 2, qqicS: 125, sources: ["10.0.0.1", "10.0.0.2"] },
    "11 0a e070 ef010101 | 0a 7d 0002 | 0a000001 0a000002",
  ],
  [
    "v3 query, Max Resp Code 0x8e = 240 tenths, QQIC 0x8e = 240 s, QRV 7",
    { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 24000, sFlag: false, qrv: 7, qqicS: 240, sources: [] },
    "11 8e e6e3 00000000 | 07 8e 0000",
  ],
  [
    "v3 query, largest codes 0xff = 31744, QRV 0",
    { type: "query", version: 3, group: "224.0.1.22", maxRespMs: 3174400, sFlag: false, qrv: 0, qqicS: 31744, sources: [] },
    "11 ff 0beb e0000116 | 00 ff 0000",
  ],
  [
    "v3 query, 127 is the last literal code, 0x80 the first float (128)",
    { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 12700, sFlag: false, qrv: 0, qqicS: 128, sources: [] },
    "11 7f ee00 00000000 | 00 80 0000",
  ],
  ["v3 report, no records", { type: "v3report", records: [] }, "22 00 ddff 0000 0000"],
  [
    "v3 report: IS_IN with sources, IS_EX {}, BLOCK",
    {
      type: "v3report",
      records: [
        { type: 1, group: "239.1.1.1", sources: ["10.0.0.1", "10.0.0.2"] },
        { type: 2, group: "239.1.1.2", sources: [] },
        { type: 6, group: "239.1.1.3", sources: ["10.0.0.3"] },
      ],
    },
    "22 00 e6e7 0000 0003 | 01 00 0002 ef010101 0a000001 0a000002 | 02 00 0000 ef010102 | 06 00 0001 ef010103 0a000003",
  ],
  [
    "v3 report: TO_IN {}, TO_EX, ALLOW, IS_IN {} for a link-local group (the codec does not filter)",
    {
      type: "v3report",
      records: [
        { type: 3, group: "239.1.1.1", sources: [] },
        { type: 4, group: "239.1.1.2", sources: ["10.0.0.1"] },
        { type: 5, group: "239.1.1.3", sources: ["10.0.0.2"] },
        { type: 1, group: "224.0.0.1", sources: [] },
      ],
    },
    "22 00 0ce9 0000 0004 | 03 00 0000 ef010101 | 04 00 0001 ef010102 0a000001 | 05 00 0001 ef010103 0a000002 | 01 00 0000 e0000001",
  ],
];

// Accepted but not canonical: decoded to the message, which re-encodes to `canonical`.
const lenient: [string, string, IgmpMessage, string][] = [
  ["v2 report with trailing octets (RFC 2236 2.5: ignored, but checksummed)", "16 00 5c5f ef010101 deadbeef", { type: "report", version: 2, group: "239.1.1.1" }, "16 00 f9fc ef010101"],
  ["v1 report with a non-zero unused octet", "12 64 fd98 ef010101", { type: "report", version: 1, group: "239.1.1.1" }, "12 00 fdfc ef010101"],
  [
    "v3 query with reserved bits set and trailing data (RFC 3376 4.1.10)",
    "11 64 e809 00000000 f2 7d 0000 0a0a0a0a",
    { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 10000, sFlag: false, qrv: 2, qqicS: 125, sources: [] },
    "11 64 ec1e 00000000 02 7d 0000",
  ],
  [
    "v3 report with auxiliary data (skipped) and a record of unknown type 7 (skipped)",
    "22 00 9d8a 0000 0002 | 01 01 0001 ef010101 0a000001 11223344 | 07 00 0001 ef010102 0a000002",
    { type: "v3report", records: [{ type: 1, group: "239.1.1.1", sources: ["10.0.0.1"] }] },
    "22 00 e2f9 0000 0001 | 01 00 0001 ef010101 0a000001",
  ],
  ["v3 report with trailing octets after the last record", "22 00 ebfb 0000 0001 | 02 00 0000 ef010101 | 00000000", { type: "v3report", records: [{ type: 2, group: "239.1.1.1", sources: [] }] }, "22 00 ebfb 0000 0001 | 02 00 0000 ef010101"],
  ["checksum written as 0xffff instead of 0x0000 (the same one's-complement value)", "11 ff ffff e0000116 | 00 ff 0000 | 0beb", { type: "query", version: 3, group: "224.0.1.22", maxRespMs: 3174400, sFlag: false, qrv: 0, qqicS: 31744, sources: [] }, "11 ff 0beb e0000116 | 00 ff 0000"],
];

describe("IGMP messages: hex round trip", () => {
  it.each(table)("%s", (_name, msg, h) => {
    const bytes = hex(h);
    expect(onesSum(bytes)).toBe(0xffff);
    expect(decodeIgmp(bytes)).toEqual(msg);
    expect(encodeIgmp(msg).toString("hex")).toBe(bytes.toString("hex"));
  });

  it.each(lenient)("%s", (_name, h, msg, canonical) => {
    expect(onesSum(hex(h))).toBe(0xffff);
    expect(onesSum(hex(canonical))).toBe(0xffff);
    expect(decodeIgmp(hex(h))).toEqual(msg);
    expect(encodeIgmp(msg).toString("hex")).toBe(hex(canonical).toString("hex"));
  });

  it("a v1 query encodes Max Resp 0 whatever maxRespMs says", () => {
    expect(encodeIgmp({ type: "query", version: 1, group: "0.0.0.0", maxRespMs: 0 }).toString("hex")).toBe("1100eeff00000000");
  });

  it("v3 query fields default to S=0, QRV 0, QQIC 0, no sources", () => {
    const b = encodeIgmp({ type: "query", version: 3, group: "0.0.0.0", maxRespMs: 10000 });
    expect(b.toString("hex")).toBe(hex("11 64 ee9b 00000000 00 00 0000").toString("hex"));
  });
});

describe("RFC 3376 4.1.1 / 4.1.7 floating-point codes", () => {
  it.each([
    [0, 0],
    [1, 1],
    [127, 127],
    [0x80, 128], // exp 0, mant 0: 16 << 3
    [0x8e, 240], // exp 0, mant 14: 30 << 3
    [0x8f, 248],
    [0x90, 256], // exp 1: 16 << 4
    [0xa5, 21 << 5],
    [0xf0, 16 << 10],
    [0xff, 31744], // 31 << 10
  ])("code %i -> %i", (code, value) => {
    expect(decodeFloatCode(code)).toBe(value);
    expect(encodeFloatCode(value)).toBe(code);
  });

  it("encoding rounds down to the nearest representable value and saturates", () => {
    expect(encodeFloatCode(129)).toBe(0x80);
    expect(encodeFloatCode(255)).toBe(0x8f); // 248
    expect(encodeFloatCode(100.9)).toBe(100);
    expect(encodeFloatCode(1e9)).toBe(0xff);
    expect(() => encodeFloatCode(-1)).toThrow(RangeError);
    expect(() => encodeFloatCode(Number.NaN)).toThrow(RangeError);
  });

  it("every value maps to the largest code value not above it", () => {
    const values = Array.from({ length: 256 }, (_, c) => decodeFloatCode(c));
    for (let v = 0; v <= 33000; v++) {
      const got = decodeFloatCode(encodeFloatCode(v));
      const best = Math.max(...values.filter((x) => x <= v));
      if (got !== best) expect.fail(`value ${v}: got ${got}, best ${best}`);
    }
  });

  it("v3 queries carry maxRespMs in tenths through the float code (floor)", () => {
    const m = decodeIgmp(encodeIgmp({ type: "query", version: 3, group: "0.0.0.0", maxRespMs: 25_555 }));
    expect(m).toMatchObject({ maxRespMs: 24_800 });
  });
});

describe("IGMP messages: malformed input", () => {
  it.each<[string, string, IgmpError["reason"]]>([
    ["1-octet message", "11", "truncated"],
    ["7-octet message", "16 00 f9fc ef0101", "truncated"],
    ["empty", "", "truncated"],
    ["bad checksum", "16 00 f9fd ef010101", "checksum"],
    ["checksum of a report with one bit flipped in the group", "16 00 f9fc ef010100", "checksum"],
    ["unknown type 0x13 (DVMRP)", "13 00 ecff 00000000", "unknown-type"],
    ["v2 report for 10.0.0.1", "16 00 dffe 0a000001", "bad-group"],
    ["v1 report for 0.0.0.0", "12 00 edff 00000000", "bad-group"],
    ["leave for 10.0.0.1", "17 00 defe 0a000001", "bad-group"],
    ["query for unicast group 10.0.0.1", "11 64 e49a 0a000001", "bad-group"],
    ["query truncated at 10 octets (RFC 3376 7.1: neither v2 nor v3)", "11 64 ec1e 00000000 02 7d", "truncated"],
    ["query of 9 octets", "11 64 ed9b 00000000 01", "truncated"],
    ["query of 11 octets", "11 64 ec1e 00000000 02 7d 00", "truncated"],
    ["v3 query whose source count runs past the end", "11 64 ec1d 00000000 02 7d 0001", "truncated"],
    ["v3 record whose source count runs past the end", "22 00 e2f8 0000 0001 | 01 00 0002 ef010101 0a000001", "bad-record"],
    ["v3 record whose aux data runs past the end", "22 00 ebfa 0000 0001 | 02 01 0000 ef010101", "bad-record"],
    ["v3 report claiming 2 records, holding 1", "22 00 ebfa 0000 0002 | 02 00 0000 ef010101", "bad-record"],
    ["v3 record header cut short", "22 00 ecfc 0000 0001 | 02 00 0000 ef01", "bad-record"],
    ["v3 record for 10.0.0.1", "22 00 d1fd 0000 0001 | 02 00 0000 0a000001", "bad-group"],
  ])("%s -> %s", (_name, h, reason) => {
    const b = hex(h);
    // Every checksum-sensitive vector has a correct checksum, so the intended check fires.
    if (reason !== "checksum" && b.length >= 8) expect(onesSum(b)).toBe(0xffff);
    expectIgmpError(() => decodeIgmp(b), reason);
  });

  it("IgmpError is an Error with its reason", () => {
    const e = new IgmpError("bad-ip", "x");
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("IgmpError");
    expect(e.reason).toBe("bad-ip");
    expect(e.message).toBe("x");
  });
});

describe("IGMP messages: encoder refuses what cannot be sent", () => {
  it.each<[string, IgmpMessage]>([
    ["report for a unicast group", { type: "report", version: 2, group: "10.0.0.1" }],
    ["report of version 3", { type: "report", version: 3 as 2, group: "239.1.1.1" }],
    ["leave with a bad address", { type: "leave", group: "239.1.1" }],
    ["query for a unicast group", { type: "query", version: 2, group: "10.0.0.1", maxRespMs: 1000 }],
    ["v2 query with maxResp 0 (would read back as v1)", { type: "query", version: 2, group: "0.0.0.0", maxRespMs: 50 }],
    ["negative maxResp", { type: "query", version: 3, group: "0.0.0.0", maxRespMs: -1 }],
    ["QRV 8", { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 1000, qrv: 8 }],
    ["bad query source", { type: "query", version: 3, group: "239.1.1.1", maxRespMs: 1000, sources: ["x"] }],
    ["record of type 7", { type: "v3report", records: [{ type: 7 as 1, group: "239.1.1.1", sources: [] }] }],
    ["record for a unicast group", { type: "v3report", records: [{ type: 2, group: "10.1.1.1", sources: [] }] }],
  ])("%s", (_name, m) => {
    expect(() => encodeIgmp(m)).toThrow(RangeError);
  });

  it("v2 maxResp above 25.5 s saturates at 255 tenths", () => {
    expect(encodeIgmp({ type: "query", version: 2, group: "0.0.0.0", maxRespMs: 60000 })[1]).toBe(255);
  });
});

describe("address helpers", () => {
  it.each([
    ["224.0.0.0", true, true],
    ["224.0.0.255", true, true],
    ["224.0.1.0", true, false],
    ["239.255.255.255", true, false],
    ["223.255.255.255", false, false],
    ["240.0.0.0", false, false],
    ["10.0.0.1", false, false],
    ["0.0.0.0", false, false],
    ["not an ip", false, false],
  ])("%s: multicast %s, link-local %s", (ip, mc, ll) => {
    expect(isMulticast(ip)).toBe(mc);
    expect(isLinkLocalGroup(ip)).toBe(ll);
  });
});

// ---------------------------------------------------------------------------
// Frames

const QUERY_V3 = "11 64 ec1e 00000000 02 7d 0000";
const GENERAL_QUERY: IgmpMessage = { type: "query", version: 3, group: "0.0.0.0", maxRespMs: 10000, sFlag: false, qrv: 2, qqicS: 125, sources: [] };
// IPv4: 4/6 (Router Alert), TOS 0xc0, total 36, id 0, no flags, TTL 1, proto 2, checksum, 10.0.0.1 -> 224.0.0.1, RA 94040000
const QUERY_IP = "46 c0 0024 0000 0000 01 02 3a12 0a000001 e0000001 94040000";
const QUERY_FRAME = `01005e000001 020000000001 0800 | ${QUERY_IP} | ${QUERY_V3}`;
const QUERY_FRAME_VLAN20 = `01005e000001 020000000001 8100 0014 0800 | ${QUERY_IP} | ${QUERY_V3}`;
// A host's v2 report to 239.1.1.1 with Router Alert, padded to 60 octets.
const REPORT_FRAME = `01005e010101 02aabbccdd05 0800 | 46 c0 0020 0000 0000 01 02 6968 c0a80a05 ef010101 94040000 | 16 00 f9fc ef010101 | ${"00".repeat(14)}`;
// A leave without IP options, DF set, id 0x1234, tagged VLAN 20 with PCP 6.
const LEAVE_FRAME = "01005e000002 02aabbccdd06 8100 c014 0800 | 45 00 001c 1234 4000 01 02 bcfb c0a80a06 e0000002 | 17 00 f8fc ef010101";
// A v3 report to 224.0.0.22.
const V3_FRAME = "01005e000016 02aabbccdd07 0800 | 46 c0 0028 0000 0000 01 02 794a c0a80a07 e0000016 94040000 | 22 00 ebfb 0000 0001 02 00 0000 ef010101";

/** Recompute the IPv4 header checksum after a test has mutated the header. */
function fixIpChecksum(f: Buffer, ip: number): Buffer {
  const hlen = (f[ip]! & 0x0f) * 4;
  f.writeUInt16BE(0, ip + 10);
  f.writeUInt16BE(~onesSum(f.subarray(ip, ip + hlen)) & 0xffff, ip + 10);
  return f;
}

describe("IGMP frames", () => {
  it("encodes the querier's general query (untagged): MAC from the group, TTL 1, Router Alert", () => {
    const f = encodeIgmpFrame({ srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", dstIp: "224.0.0.1", message: GENERAL_QUERY });
    expect(f.toString("hex")).toBe(hex(QUERY_FRAME).toString("hex"));
    expect(onesSum(f.subarray(14, 38))).toBe(0xffff);
  });

  it("encodes with an 802.1Q tag when vlan != 0", () => {
    const f = encodeIgmpFrame({ srcMac: "02:00:00:00:00:01", vlan: 20, srcIp: "10.0.0.1", dstIp: "224.0.0.1", message: GENERAL_QUERY });
    expect(f.toString("hex")).toBe(hex(QUERY_FRAME_VLAN20).toString("hex"));
  });

  it("maps only the low 23 bits of the group into the MAC", () => {
    const f = encodeIgmpFrame({ srcMac: "02:00:00:00:00:01", srcIp: "0.0.0.0", dstIp: "239.129.2.3", message: { type: "query", version: 2, group: "239.129.2.3", maxRespMs: 1000 } });
    expect(f.subarray(0, 6).toString("hex")).toBe("01005e010203");
  });

  it.each([
    ["query", QUERY_FRAME, { dstMac: "01:00:5e:00:00:01", srcMac: "02:00:00:00:00:01", vlan: 0, ttl: 1, srcIp: "10.0.0.1", dstIp: "224.0.0.1", message: GENERAL_QUERY }],
    ["tagged query", QUERY_FRAME_VLAN20, { vlan: 20, message: GENERAL_QUERY }],
    ["padded v2 report", REPORT_FRAME, { srcMac: "02:aa:bb:cc:dd:05", vlan: 0, srcIp: "192.168.10.5", dstIp: "239.1.1.1", message: { type: "report", version: 2, group: "239.1.1.1" } }],
    ["leave, no options, DF, PCP bits", LEAVE_FRAME, { vlan: 20, srcIp: "192.168.10.6", dstIp: "224.0.0.2", ttl: 1, message: { type: "leave", group: "239.1.1.1" } }],
    ["v3 report", V3_FRAME, { dstMac: "01:00:5e:00:00:16", dstIp: "224.0.0.22", message: { type: "v3report", records: [{ type: 2, group: "239.1.1.1", sources: [] }] } }],
  ])("decodes a %s", (_name, h, want) => {
    expect(decodeIgmpFrame(hex(h))).toMatchObject(want);
  });

  it("encode then decode gives the message back", () => {
    const message: IgmpMessage = { type: "query", version: 3, group: "239.1.1.1", maxRespMs: 1000, sFlag: false, qrv: 2, qqicS: 125, sources: ["10.1.1.1"] };
    const f = encodeIgmpFrame({ srcMac: "02:00:00:00:00:09", vlan: 4094, srcIp: "10.0.0.9", dstIp: "239.1.1.1", message });
    expect(decodeIgmpFrame(f)).toEqual({ srcMac: "02:00:00:00:00:09", dstMac: "01:00:5e:01:01:01", vlan: 4094, srcIp: "10.0.0.9", dstIp: "239.1.1.1", ttl: 1, message });
  });

  it("refuses to build frames it cannot", () => {
    const o = { srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", dstIp: "224.0.0.1", message: GENERAL_QUERY };
    expect(() => encodeIgmpFrame({ ...o, dstIp: "10.0.0.2" })).toThrow(RangeError);
    expect(() => encodeIgmpFrame({ ...o, vlan: 4095 })).toThrow(RangeError);
    expect(() => encodeIgmpFrame({ ...o, srcIp: "1.2.3" })).toThrow(RangeError);
    expect(() => encodeIgmpFrame({ ...o, srcMac: "zz" })).toThrow();
  });

  const mutate = (h: string, f: (b: Buffer) => Buffer | void) => () => {
    const b = hex(h);
    return f(b) ?? b;
  };

  it.each<[string, () => Buffer, IgmpError["reason"]]>([
    ["10-octet frame", () => hex("01005e000001 0200000000"), "truncated"],
    ["tag cut short", () => hex("01005e000001 020000000001 8100 00"), "truncated"],
    ["IPv4 header cut short", () => hex("01005e000001 020000000001 0800 46c0 0024"), "truncated"],
    ["IPv6 ethertype", mutate(QUERY_FRAME, (b) => void b.writeUInt16BE(0x86dd, 12)), "not-igmp"],
    ["ARP", mutate(QUERY_FRAME, (b) => void b.writeUInt16BE(0x0806, 12)), "not-igmp"],
    ["two VLAN tags", () => hex(`01005e000001 020000000001 8100 0014 8100 0015 0800 | ${QUERY_IP} | ${QUERY_V3}`), "not-igmp"],
    ["802.1ad outer tag", mutate(QUERY_FRAME_VLAN20, (b) => void b.writeUInt16BE(0x88a8, 12)), "not-igmp"],
    ["UDP", mutate(QUERY_FRAME, (b) => fixIpChecksum(((b[23] = 17), b), 14)), "not-igmp"],
    ["IP version 6 under ethertype IPv4", mutate(QUERY_FRAME, (b) => void (b[14] = 0x66)), "bad-ip"],
    ["IHL 4", mutate(QUERY_FRAME, (b) => void (b[14] = 0x44)), "bad-ip"],
    ["IHL 15 past the end", mutate(LEAVE_FRAME, (b) => void (b[18] = 0x4f)), "bad-ip"],
    ["bad header checksum", mutate(QUERY_FRAME, (b) => void (b[24] ^= 1)), "bad-ip"],
    ["total length past the buffer", mutate(QUERY_FRAME, (b) => fixIpChecksum((b.writeUInt16BE(0x25, 16), b), 14)), "bad-ip"],
    ["total length below the header", mutate(QUERY_FRAME, (b) => fixIpChecksum((b.writeUInt16BE(20, 16), b), 14)), "bad-ip"],
    ["more fragments", mutate(QUERY_FRAME, (b) => fixIpChecksum((b.writeUInt16BE(0x2000, 20), b), 14)), "bad-ip"],
    ["fragment offset", mutate(QUERY_FRAME, (b) => fixIpChecksum((b.writeUInt16BE(0x0001, 20), b), 14)), "bad-ip"],
    ["IGMP checksum", mutate(REPORT_FRAME, (b) => void (b[41] ^= 1)), "checksum"],
    ["IGMP cut by the total length", mutate(REPORT_FRAME, (b) => fixIpChecksum((b.writeUInt16BE(0x1f, 16), b), 14)), "truncated"],
  ])("%s -> %s", (_name, frame, reason) => {
    expectIgmpError(() => decodeIgmpFrame(frame()), reason);
  });

  it("the DF bit alone is fine", () => {
    const b = hex(QUERY_FRAME);
    fixIpChecksum((b.writeUInt16BE(0x4000, 20), b), 14);
    expect(decodeIgmpFrame(b).message).toEqual(GENERAL_QUERY);
  });
});

// ---------------------------------------------------------------------------
// Properties

const TYPES = [0x11, 0x12, 0x16, 0x17, 0x22];

/** Give random octets a valid checksum so decoding gets past it. */
function withChecksum(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes);
  if (b.length < 4) return b;
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(~onesSum(b) & 0xffff, 2);
  return b;
}

function decodeOrIgmpError(b: Buffer): IgmpMessage | undefined {
  try {
    return decodeIgmp(b);
  } catch (e) {
    if (!(e instanceof IgmpError)) throw e;
    return undefined;
  }
}

/** A valid decode re-encodes to a message that decodes the same, and encoding is then a fixed point. */
function checkStable(b: Buffer): void {
  const m = decodeOrIgmpError(b);
  if (!m) return;
  const e1 = encodeIgmp(m);
  const m2 = decodeIgmp(e1);
  expect(m2).toEqual(m);
  expect(encodeIgmp(m2).equals(e1)).toBe(true);
}

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
const group = fc.tuple(fc.integer({ min: 224, max: 239 }), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
const code = fc.nat(255).map(decodeFloatCode);

const message: fc.Arbitrary<IgmpMessage> = fc.oneof(
  fc.record({ type: fc.constant("query" as const), version: fc.constant(1 as const), group: fc.oneof(fc.constant("0.0.0.0"), group), maxRespMs: fc.constant(10000) }),
  fc.record({ type: fc.constant("query" as const), version: fc.constant(2 as const), group: fc.oneof(fc.constant("0.0.0.0"), group), maxRespMs: fc.integer({ min: 1, max: 255 }).map((t) => t * 100) }),
  fc.record({
    type: fc.constant("query" as const),
    version: fc.constant(3 as const),
    group: fc.oneof(fc.constant("0.0.0.0"), group),
    maxRespMs: code.map((t) => t * 100),
    sFlag: fc.boolean(),
    qrv: fc.integer({ min: 0, max: 7 }),
    qqicS: code,
    sources: fc.array(ipv4, { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant("report" as const), version: fc.constantFrom(1 as const, 2 as const), group }),
  fc.record({ type: fc.constant("leave" as const), group }),
  fc.record({
    type: fc.constant("v3report" as const),
    records: fc.array(fc.record({ type: fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const, 5 as const, 6 as const), group, sources: fc.array(ipv4, { maxLength: 4 }) }), { maxLength: 5 }),
  }),
);

describe("IGMP properties", () => {
  it("random octets never throw anything but IgmpError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        decodeOrIgmpError(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("random octets with a known type and a valid checksum: IgmpError or a stable decode", () => {
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 80 }), (type, rest) => {
        checkStable(withChecksum(Uint8Array.from([type, ...rest])));
      }),
      { numRuns: 5000 },
    );
  });

  it("mutated valid messages: IgmpError or a stable decode", () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.nat(255), fc.boolean(), (m, at, v, fix) => {
        const b = encodeIgmp(m);
        b[at % b.length] = v;
        checkStable(fix ? withChecksum(b) : b);
      }),
      { numRuns: 3000 },
    );
  });

  it("decode(encode(m)) = m for every valid message", () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeIgmp(encodeIgmp(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  it("frames: random octets and mutated frames throw only IgmpError", () => {
    const base = [QUERY_FRAME, QUERY_FRAME_VLAN20, REPORT_FRAME, LEAVE_FRAME, V3_FRAME].map(hex);
    fc.assert(
      fc.property(fc.constantFrom(...base), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(80), (frame, edits, cut) => {
        const b = Buffer.from(frame.subarray(0, Math.max(0, frame.length - cut)));
        for (const [at, v] of edits) if (b.length) b[at % b.length] = v;
        try {
          decodeIgmpFrame(b);
        } catch (e) {
          if (!(e instanceof IgmpError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeIgmpFrame(Buffer.from(bytes));
        } catch (e) {
          if (!(e instanceof IgmpError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("frames: decode(encode(frame)) for random messages, tags and addresses", () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 0, max: 4094 }), ipv4, group, (m, vlan, srcIp, dstIp) => {
        const f = encodeIgmpFrame({ srcMac: "02:00:00:00:00:01", vlan, srcIp, dstIp, message: m });
        const d = decodeIgmpFrame(f);
        expect(d).toMatchObject({ vlan, srcIp, dstIp, ttl: 1 });
        expect(d.message).toEqual(m);
      }),
      { numRuns: 1000 },
    );
  });
});

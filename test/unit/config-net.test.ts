import { describe, expect, it } from "vitest";
import {
  formatIpv4,
  formatMac,
  formatMacAt,
  ipv4UnicastProblem,
  isUnicastIpv4,
  isUnicastMac,
  macUnicastProblem,
  parseIpv4,
  parseMac,
  tryParseIpv4,
  tryParseMac,
} from "../../src/config/net.ts";

describe("parseIpv4 / formatIpv4", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.0.0.1", 0x0a000001],
    ["192.168.1.254", 0xc0a801fe],
    ["255.255.255.255", 0xffffffff],
  ])("%s <-> %d", (s, n) => {
    expect(parseIpv4(s)).toBe(n);
    expect(formatIpv4(n)).toBe(s);
  });

  it.each(["", "10.0.0", "10.0.0.1.2", "10.0.0.256", "010.0.0.1", "10.0.0.-1", "a.b.c.d", " 10.0.0.1", "10..0.1", "1e1.0.0.1"])(
    "rejects %j",
    (s) => {
      expect(() => parseIpv4(s)).toThrow(/invalid IPv4 address/);
      expect(tryParseIpv4(s)).toBeUndefined();
    },
  );

  it("formatIpv4 rejects non-u32", () => {
    expect(() => formatIpv4(-1)).toThrow(RangeError);
    expect(() => formatIpv4(2 ** 32)).toThrow(RangeError);
    expect(() => formatIpv4(1.5)).toThrow(RangeError);
  });

  it.each([
    ["10.0.0.1", undefined],
    ["0.0.0.0", "unspecified address"],
    ["0.1.2.3", "in 0.0.0.0/8 (this network)"],
    ["127.0.0.1", "loopback"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.255", "multicast"],
    ["240.0.0.1", "reserved (240.0.0.0/4)"],
    ["255.255.255.255", "broadcast"],
  ])("unicast check %s", (s, why) => {
    expect(ipv4UnicastProblem(parseIpv4(s))).toBe(why);
    expect(isUnicastIpv4(parseIpv4(s))).toBe(why === undefined);
  });
});

describe("parseMac / formatMac", () => {
  it.each(["02:00:00:00:01:01", "02-00-00-00-01-01", "02:00:00:00:01:01".toUpperCase()])("parses %s", (s) => {
    const b = parseMac(s);
    expect([...b]).toEqual([2, 0, 0, 0, 1, 1]);
    expect(formatMac(b)).toBe("02:00:00:00:01:01");
  });

  it("formats lower-case with leading zeros", () => {
    expect(formatMac(Buffer.from([0xaa, 0xb, 0xc, 0xdd, 0, 0xff]))).toBe("aa:0b:0c:dd:00:ff");
    expect(() => formatMac(Buffer.alloc(5))).toThrow(RangeError);
  });

  it("formatMacAt reads the six bytes at an offset, every octet value alike", () => {
    const b = Buffer.alloc(256 + 7);
    for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
    for (let at = 0; at + 6 <= b.length; at++) {
      const want = [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
      expect(formatMacAt(b, at)).toBe(want);
    }
  });

  it.each(["", "02:00:00:00:01", "02:00:00:00:01:01:01", "02:00-00:00:01:01", "0200.0000.0101", "g2:00:00:00:01:01", "2:0:0:0:1:1"])(
    "rejects %j",
    (s) => {
      expect(() => parseMac(s)).toThrow(/invalid MAC address/);
      expect(tryParseMac(s)).toBeUndefined();
    },
  );

  it.each([
    ["02:00:00:00:01:01", undefined],
    ["00:11:22:33:44:55", undefined],
    ["01:00:5e:00:00:01", "multicast"],
    ["33:33:00:00:00:01", "multicast"],
    ["ff:ff:ff:ff:ff:ff", "broadcast"],
    ["00:00:00:00:00:00", "all-zero"],
  ])("unicast check %s", (s, why) => {
    expect(macUnicastProblem(parseMac(s))).toBe(why);
    expect(isUnicastMac(parseMac(s))).toBe(why === undefined);
    expect(isUnicastMac(s)).toBe(why === undefined);
  });

  it("isUnicastMac is false for unparsable strings", () => {
    expect(isUnicastMac("nope")).toBe(false);
  });
});

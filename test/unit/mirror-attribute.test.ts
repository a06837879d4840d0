// The mirror session attribute (type 245): byte vectors written out by hand,
// every malformed case with its reason, and properties.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttrFlag, BgpEncodeError, encodePathAttribute, type PathAttribute, prepareForPropagation } from "../../src/control/evpn/bgp/index.ts";
import {
  decodeMirrorSessions,
  encodeMirrorSessions,
  findMirrorAttribute,
  MIRROR_ATTR_CODE,
  type MirrorSessionWire,
} from "../../src/control/mirror/attribute.ts";

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ""), "hex");

// Session "web1": both directions, match by MAC, no IPs.
const WEB1: MirrorSessionWire = {
  name: "web1",
  owner: "10.0.0.1",
  hostMac: "02:00:00:00:00:0a",
  hostVni: 100,
  serverMac: "02:00:00:00:00:fe",
  serverVni: 200,
  hostId: 1,
  direction: "both",
  match: "mac",
};
// type 1, length 30 | flags 00 | owner | host MAC | host VNI 100 | server MAC | server VNI 200 | HOST ID 1 | name "web1"
const WEB1_FIXED = "0a000001 02000000000a 000064 0200000000fe 0000c8 0001";
const WEB1_ENTRY = `01 1e | 00 ${WEB1_FIXED} | 04 77656231`;

const TAP: MirrorSessionWire = {
  name: "tap.db-2_x",
  owner: "192.0.2.7",
  hostMac: "aa:bb:cc:dd:ee:ff",
  hostVni: 16777215,
  hostIp: "10.1.1.10",
  serverMac: "02:42:ac:11:00:02",
  serverVni: 1,
  serverIp: "10.9.9.9",
  hostId: 65535,
  direction: "to-host",
  match: "ip",
};

const Z: MirrorSessionWire = {
  name: "z",
  owner: "10.0.0.2",
  hostMac: "02:00:00:00:00:01",
  hostVni: 100,
  hostIp: "10.1.1.1",
  serverMac: "02:00:00:00:00:fe",
  serverVni: 100,
  hostId: 258,
  direction: "from-host",
  match: "mac",
};
const A: MirrorSessionWire = {
  name: "a",
  owner: "10.0.0.2",
  hostMac: "02:00:00:00:00:01",
  hostVni: 100,
  serverMac: "02:00:00:00:00:fe",
  serverVni: 100,
  serverIp: "10.9.9.9",
  hostId: 7,
  direction: "both",
  match: "ip",
};

const LONG: MirrorSessionWire = {
  name: "abcdefghijklmnopqrstuvwxyz012345",
  owner: "172.16.0.1",
  hostMac: "0e:00:00:00:00:01",
  hostVni: 1,
  serverMac: "0e:00:00:00:00:02",
  serverVni: 1,
  hostId: 32768,
  direction: "from-host",
  match: "mac",
};

// [name, sessions, value hex]: encode gives exactly these bytes, decode exactly these objects.
const vectors: [string, MirrorSessionWire[], string][] = [
  ["no sessions: the version octet alone", [], "01"],
  ["one session, both directions, match MAC, no IPs (entry length 30)", [WEB1], `01 | ${WEB1_ENTRY}`],
  [
    // flags 0x1e = direction 2 (to-host) | 0x04 match IP | 0x08 host IP | 0x10 server IP; length 25 + 4 + 4 + 1 + 10 = 44
    "both IPs, to-host, match IP, VNI 2^24-1 and HOST ID 65535 (entry length 44)",
    [TAP],
    "01 | 01 2c | 1e c0000207 aabbccddeeff ffffff 0242ac110002 000001 ffff | 0a01010a | 0a090909 | 0a 7461702e64622d325f78",
  ],
  [
    // the order is kept ("z" before "a"): flags 0x09 = from-host | host IP; 0x14 = both | match IP | server IP
    "two sessions in the given order, one IP each",
    [Z, A],
    "01 | 01 1f | 09 0a000002 020000000001 000064 0200000000fe 000064 0102 | 0a010101 | 01 7a" +
      " | 01 1f | 14 0a000002 020000000001 000064 0200000000fe 000064 0007 | 0a090909 | 01 61",
  ],
  [
    "32-octet name (entry length 58)",
    [LONG],
    "01 | 01 3a | 01 ac100001 0e0000000001 000001 0e0000000002 000001 8000 | 20 6162636465666768696a6b6c6d6e6f707172737475767778797a303132333435",
  ],
  ["duplicates are the caller's business: both kept", [WEB1, WEB1], `01 | ${WEB1_ENTRY} | ${WEB1_ENTRY}`],
];

describe("mirror session attribute (245): vectors", () => {
  it.each(vectors)("%s", (_name, sessions, wire) => {
    const bytes = hex(wire);
    const a = encodeMirrorSessions(sessions);
    expect(a).toEqual({ type: "unknown", code: 245, flags: 0xc0, value: bytes });
    expect(decodeMirrorSessions(bytes)).toStrictEqual({ ok: true, sessions });
  });

  // Values a v1 receiver accepts though this encoder never writes them.
  const accepted: [string, string, MirrorSessionWire[], number | undefined][] = [
    ["reserved flag bits 0xe0 are ignored", `01 | 01 1e | e0 ${WEB1_FIXED} | 04 77656231`, [WEB1], undefined],
    ["octets after the name (fields of a later revision) are ignored", `01 | 01 21 | 00 ${WEB1_FIXED} | 04 77656231 | aabbcc`, [WEB1], undefined],
    ["an entry of an unknown type is skipped and counted", `01 | 07 03 aabbcc | ${WEB1_ENTRY}`, [WEB1], 1],
    ["unknown types 2 and 255, one of them empty", "01 | 02 01 00 | ff 00", [], 2],
  ];
  it.each(accepted)("accepts: %s", (_name, wire, sessions, skipped) => {
    const d = decodeMirrorSessions(hex(wire));
    expect(d).toStrictEqual(skipped === undefined ? { ok: true, sessions } : { ok: true, sessions, skipped });
  });
});

// A valid entry for session "web1" with its flags, HOST ID and tail (IPs, name, extension) replaced, length computed.
function entry(flags: string, fixed: string, tail: string): string {
  const body = hex(`${flags} ${fixed} ${tail}`);
  return `01 ${body.length.toString(16).padStart(2, "0")} ${body.toString("hex")}`;
}
const fixedWith = (o: { hostVni?: string; serverVni?: string; hostId?: string }) =>
  `0a000001 02000000000a ${o.hostVni ?? "000064"} 0200000000fe ${o.serverVni ?? "0000c8"} ${o.hostId ?? "0001"}`;

const malformed: [string, string, string][] = [
  ["empty value", "", "empty mirror attribute (no version octet)"],
  ["unknown version 2", "02", "mirror attribute version 2 (want 1)"],
  ["unknown version 0 before a valid entry", `00 | ${WEB1_ENTRY}`, "mirror attribute version 0 (want 1)"],
  ["version 255", "ff 01 02", "mirror attribute version 255 (want 1)"],
  ["only a type octet after the version", "01 01", "mirror attribute: 1 trailing octet at offset 1 (an entry needs a type and a length octet)"],
  ["one trailing octet after a valid entry", `01 | ${WEB1_ENTRY} | ff`, "mirror attribute: 1 trailing octet at offset 33 (an entry needs a type and a length octet)"],
  ["trailing garbage that reads as an overrunning entry", `01 | ${WEB1_ENTRY} | 01 05 0000`, "mirror entry at offset 33: length 5 runs past the end of the attribute (2 octets left)"],
  ["trailing zero padding", `01 | ${WEB1_ENTRY} | 0000`, "mirror entry at offset 33: type 0 is reserved"],
  ["entry type 0", "01 | 00 00", "mirror entry at offset 1: type 0 is reserved"],
  ["value truncated by one octet", `01 | 01 1e | 00 ${WEB1_FIXED} | 04 776562`, "mirror entry at offset 1: length 30 runs past the end of the attribute (29 octets left)"],
  ["entry length runs past the end", `01 | 01 ff | 00 ${WEB1_FIXED} | 04 77656231`, "mirror entry at offset 1: length 255 runs past the end of the attribute (30 octets left)"],
  ["an unknown-type entry that overruns is refused too", "01 | 09 04 aabbcc", "mirror entry at offset 1: length 4 runs past the end of the attribute (3 octets left)"],
  ["session shorter than its fixed fields", "01 | 01 05 | 00 0a000001", "mirror entry at offset 1: session of 5 octets is shorter than its 25 fixed octets"],
  ["empty session entry", "01 | 01 00", "mirror entry at offset 1: session of 0 octets is shorter than its 25 fixed octets"],
  ["direction code 3", `01 | ${entry("03", WEB1_FIXED, "04 77656231")}`, "mirror entry at offset 1: direction code 3 is reserved"],
  ["HOST ID 0", `01 | ${entry("00", fixedWith({ hostId: "0000" }), "04 77656231")}`, "mirror entry at offset 1: HOST ID 0"],
  ["host VNI 0", `01 | ${entry("00", fixedWith({ hostVni: "000000" }), "04 77656231")}`, "mirror entry at offset 1: host VNI 0"],
  ["server VNI 0", `01 | ${entry("00", fixedWith({ serverVni: "000000" }), "04 77656231")}`, "mirror entry at offset 1: server VNI 0"],
  ["host IP flagged, entry ends after the fixed fields", `01 | ${entry("08", WEB1_FIXED, "")}`, "mirror entry at offset 1: host IP flagged but only 0 octets follow the fixed fields"],
  ["host IP flagged, 3 octets of it", `01 | ${entry("08", WEB1_FIXED, "0a0101")}`, "mirror entry at offset 1: host IP flagged but only 3 octets follow the fixed fields"],
  ["server IP flagged but missing after the host IP", `01 | ${entry("18", WEB1_FIXED, "0a01010a 0a09")}`, "mirror entry at offset 1: server IP flagged but only 2 octets are left for it"],
  ["no name length octet", `01 | ${entry("00", WEB1_FIXED, "")}`, "mirror entry at offset 1: no name length octet"],
  ["no name length octet after both IPs", `01 | ${entry("18", WEB1_FIXED, "0a01010a 0a090909")}`, "mirror entry at offset 1: no name length octet"],
  ["empty name", `01 | ${entry("00", WEB1_FIXED, "00")}`, "mirror entry at offset 1: empty name"],
  ["name of 33 octets", `01 | ${entry("00", WEB1_FIXED, `21 ${"61".repeat(33)}`)}`, "mirror entry at offset 1: name length 33 exceeds 32"],
  ["name length 255", `01 | ${entry("00", WEB1_FIXED, "ff 61")}`, "mirror entry at offset 1: name length 255 exceeds 32"],
  ["name overruns its entry", `01 | ${entry("00", WEB1_FIXED, "05 77656231")}`, "mirror entry at offset 1: name of 5 octets overruns the entry (4 left)"],
  ["upper-case name octet", `01 | ${entry("00", WEB1_FIXED, "04 57656231")}`, "mirror entry at offset 1: name octet 0 is 0x57 (want [a-z0-9._-])"],
  ["space in the name", `01 | ${entry("00", WEB1_FIXED, "03 612062")}`, "mirror entry at offset 1: name octet 1 is 0x20 (want [a-z0-9._-])"],
  ["NUL in the name", `01 | ${entry("00", WEB1_FIXED, "02 6100")}`, "mirror entry at offset 1: name octet 1 is 0x00 (want [a-z0-9._-])"],
  ["slash in the name", `01 | ${entry("00", WEB1_FIXED, "03 612f62")}`, "mirror entry at offset 1: name octet 1 is 0x2f (want [a-z0-9._-])"],
  ["non-ASCII octet in the name", `01 | ${entry("00", WEB1_FIXED, "02 c3a9")}`, "mirror entry at offset 1: name octet 0 is 0xc3 (want [a-z0-9._-])"],
  ["a malformed second entry refuses the whole value", `01 | ${WEB1_ENTRY} | ${entry("00", fixedWith({ hostId: "0000" }), "01 61")}`, "mirror entry at offset 33: HOST ID 0"],
  ["a malformed entry after a skipped one", `01 | 05 01 00 | ${entry("02", WEB1_FIXED, "00")}`, "mirror entry at offset 4: empty name"],
];

describe("mirror session attribute (245): malformed values", () => {
  it.each(malformed)("%s", (_name, wire, reason) => {
    expect(decodeMirrorSessions(hex(wire))).toStrictEqual({ ok: false, reason });
  });

  it("refuses a value longer than an attribute can be", () => {
    const big = Buffer.alloc(0x10000);
    big[0] = 1;
    expect(decodeMirrorSessions(big)).toStrictEqual({ ok: false, reason: "mirror attribute of 65536 octets exceeds 65535" });
  });
});

describe("mirror session attribute (245): encode refuses what the format cannot carry", () => {
  const bad: [string, Partial<Record<keyof MirrorSessionWire, unknown>>, RegExp][] = [
    ["HOST ID 0", { hostId: 0 }, /HOST ID 0 out of range/],
    ["HOST ID 65536", { hostId: 65536 }, /HOST ID 65536 out of range/],
    ["HOST ID 1.5", { hostId: 1.5 }, /HOST ID 1.5 out of range/],
    ["host VNI above 24 bits", { hostVni: 0x1000000 }, /host VNI 16777216 is not a VNI/],
    ["host VNI 0", { hostVni: 0 }, /host VNI 0 is not a VNI/],
    ["server VNI above 24 bits", { serverVni: 2 ** 32 }, /server VNI 4294967296 is not a VNI/],
    ["server VNI negative", { serverVni: -1 }, /server VNI -1 is not a VNI/],
    ["empty name", { name: "" }, /name must be 1\.\.32 octets/],
    ["name of 33 octets", { name: "a".repeat(33) }, /name must be 1\.\.32 octets/],
    ["upper-case name", { name: "Web1" }, /name must be/],
    ["name with a space", { name: "web 1" }, /name must be/],
    ["non-ASCII name", { name: "wéb" }, /name must be/],
    ["owner not IPv4", { owner: "10.0.0" }, /owner "10.0.0" is not an IPv4 address/],
    ["owner IPv6", { owner: "2001:db8::1" }, /owner "2001:db8::1" is not an IPv4 address/],
    ["host IP with leading zeros", { hostIp: "10.01.1.1" }, /host IP "10.01.1.1" is not an IPv4 address/],
    ["server IP IPv6", { serverIp: "fd00::1" }, /server IP "fd00::1" is not an IPv4 address/],
    ["upper-case host MAC", { hostMac: "02:00:00:00:00:0A" }, /host MAC "02:00:00:00:00:0A" is not a lower-case/],
    ["short server MAC", { serverMac: "02:00:00:00:00" }, /server MAC "02:00:00:00:00" is not a lower-case/],
    ["unknown direction", { direction: "sideways" }, /direction "sideways"/],
    ["unknown match", { match: "vlan" }, /match "vlan"/],
  ];
  it.each(bad)("%s", (_name, patch, message) => {
    const s = { ...WEB1, ...patch } as MirrorSessionWire;
    expect(() => encodeMirrorSessions([s])).toThrow(BgpEncodeError);
    expect(() => encodeMirrorSessions([WEB1, s])).toThrow(message);
    expect(() => encodeMirrorSessions([WEB1, s])).toThrow(/mirror session #1/);
  });

  it("refuses more than 65535 octets in all", () => {
    const max = { ...TAP, name: "x".repeat(32) }; // 2 + 25 + 8 + 1 + 32 = 68 octets
    expect(encodeMirrorSessions(new Array(963).fill(max)).value.length).toBe(1 + 963 * 68);
    expect(() => encodeMirrorSessions(new Array(964).fill(max))).toThrow(/65553 octets exceeds 65535/);
  });
});

describe("mirror session attribute (245): in a route's attributes", () => {
  const origin: PathAttribute = { type: "origin", value: 0 };

  it("goes on the wire as an optional transitive attribute 245, extended length when needed", () => {
    expect(encodePathAttribute(encodeMirrorSessions([WEB1]))).toEqual(hex(`c0 f5 21 | 01 | ${WEB1_ENTRY}`));
    const many = encodeMirrorSessions(new Array(9).fill(WEB1)); // 1 + 9 * 32 = 289 octets
    expect(encodePathAttribute(many)).toEqual(Buffer.concat([hex("d0 f5 0121"), many.value]));
  });

  it("findMirrorAttribute: the raw value, also with the Partial bit a reflector sets", () => {
    const a = encodeMirrorSessions([WEB1, TAP]);
    expect(findMirrorAttribute([origin, a])).toBe(a.value);
    const reflected = prepareForPropagation([origin, a]);
    expect(reflected[1]).toMatchObject({ code: MIRROR_ATTR_CODE, flags: 0xc0 | AttrFlag.PARTIAL });
    expect(decodeMirrorSessions(findMirrorAttribute(reflected)!)).toStrictEqual({ ok: true, sessions: [WEB1, TAP] });
  });

  it("findMirrorAttribute: absent, another code, or 245 without the Optional and Transitive bits", () => {
    expect(findMirrorAttribute([])).toBeUndefined();
    expect(findMirrorAttribute([origin, { type: "unknown", code: 244, flags: 0xc0, value: hex("01") }])).toBeUndefined();
    expect(findMirrorAttribute([{ type: "unknown", code: 245, flags: 0x80, value: hex("01") }])).toBeUndefined();
    expect(findMirrorAttribute([{ type: "unknown", code: 245, flags: 0x40, value: hex("01") }])).toBeUndefined();
  });
});

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":"));
const sessionArb: fc.Arbitrary<MirrorSessionWire> = fc.record(
  {
    name: fc.stringMatching(/^[a-z0-9._-]{1,32}$/),
    owner: fc.ipV4(),
    hostMac: macArb,
    hostVni: fc.integer({ min: 1, max: 0xffffff }),
    hostIp: fc.ipV4(),
    serverMac: macArb,
    serverVni: fc.integer({ min: 1, max: 0xffffff }),
    serverIp: fc.ipV4(),
    hostId: fc.integer({ min: 1, max: 0xffff }),
    direction: fc.constantFrom("both" as const, "from-host" as const, "to-host" as const),
    match: fc.constantFrom("mac" as const, "ip" as const),
  },
  { requiredKeys: ["name", "owner", "hostMac", "hostVni", "serverMac", "serverVni", "hostId", "direction", "match"] },
).map((s) => ({ ...s })); // fc.record builds null-prototype objects; decode builds plain ones (toStrictEqual compares prototypes)

describe("mirror session attribute (245): properties", () => {
  it("decode(encode(x)) == x for random valid lists", () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 20 }), (list) => {
        expect(decodeMirrorSessions(encodeMirrorSessions(list).value)).toStrictEqual({ ok: true, sessions: list });
      }),
      { numRuns: 500 },
    );
  });

  it("decode never throws on random bytes, and whatever it accepts re-encodes", () => {
    const check = (b: Uint8Array) => {
      const d = decodeMirrorSessions(Buffer.from(b));
      if (d.ok) encodeMirrorSessions(d.sessions);
      else expect(d.reason).toMatch(/^(empty )?mirror /);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 2000 });
    // Mostly-valid framing: version 1 and plausible entry headers.
    const entryArb = fc.tuple(fc.constantFrom(0, 1, 1, 1, 2, 255), fc.uint8Array({ maxLength: 70 })).map(([t, body]) => [t, body.length, ...body]);
    fc.assert(fc.property(fc.array(entryArb, { maxLength: 5 }), fc.uint8Array({ maxLength: 3 }), (es, tail) => check(Uint8Array.from([1, ...es.flat(), ...tail]))), {
      numRuns: 2000,
    });
  });

  it("decode never throws on mutated and truncated valid values", () => {
    fc.assert(
      fc.property(
        fc.array(sessionArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (list, flips, cut) => {
          const b = Buffer.from(encodeMirrorSessions(list).value);
          for (const [at, v] of flips) b[at % b.length] = v;
          for (const v of [b, b.subarray(0, cut % (b.length + 1))]) {
            const d = decodeMirrorSessions(v);
            if (d.ok) encodeMirrorSessions(d.sessions);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

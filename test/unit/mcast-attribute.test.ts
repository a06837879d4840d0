// The multicast membership attribute (type 243): byte vectors written out by
// hand, every malformed case with its reason, the size budget, properties.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AttrFlag,
  BgpEncodeError,
  buildEvpnUpdates,
  encodeMessage,
  encodePathAttribute,
  type EvpnRoute,
  type PathAttribute,
  parseAdminValue,
  parseRd,
  prepareForPropagation,
  TunnelEncapType,
} from "../../src/control/evpn/bgp/index.ts";
import {
  decodeMcastMembership,
  encodeMcastMembership,
  encodeMcastMembershipFit,
  findMcastAttribute,
  MCAST_ATTR_CODE,
  MCAST_MAX_ENTRIES,
  McastAttributeError,
  type McastEntryWire,
  type McastMembershipWire,
} from "../../src/control/mcast/attribute.ts";

const valueOf = (w: McastMembershipWire) => encodeMcastMembershipFit(w).attribute.value;
const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ""), "hex");

// [name, membership given to encode, what decode gives back (canonical), wire]
// wire: version | flags | replicator | count | (source group)*
const vectors: [string, McastMembershipWire, McastMembershipWire, string][] = [
  ["replicator, no entries", { replicator: "10.0.0.9", entries: [] }, { replicator: "10.0.0.9", entries: [] }, "01 | 01 | 0a000009 | 0000"],
  ["nothing at all (the encoder allows it; McastEvpn does not send it)", { entries: [] }, { entries: [] }, "01 | 00 | 00000000 | 0000"],
  [
    "(*,G): any source is 0.0.0.0",
    { entries: [{ source: "*", group: "239.1.1.1" }] },
    { entries: [{ source: "*", group: "239.1.1.1" }] },
    "01 | 00 | 00000000 | 0001 | 00000000 ef010101",
  ],
  [
    "(S,G)",
    { entries: [{ source: "10.1.1.10", group: "232.1.1.1" }] },
    { entries: [{ source: "10.1.1.10", group: "232.1.1.1" }] },
    "01 | 00 | 00000000 | 0001 | 0a01010a e8010101",
  ],
  [
    "source 0.0.0.0 is read as *",
    { entries: [{ source: "0.0.0.0", group: "224.0.1.1" }] },
    { entries: [{ source: "*", group: "224.0.1.1" }] },
    "01 | 00 | 00000000 | 0001 | 00000000 e0000101",
  ],
  [
    // sorted by group (numerically: 224.0.0.251 < 232.0.0.1 < 239.0.0.2 < 239.0.0.10), then source ((*,G) first)
    "several entries: sorted by group then source, duplicates dropped, with the replicator flag",
    {
      replicator: "192.0.2.254",
      entries: [
        { source: "10.0.0.2", group: "239.0.0.10" },
        { source: "*", group: "239.0.0.2" },
        { source: "10.0.0.10", group: "239.0.0.10" },
        { source: "*", group: "239.0.0.10" },
        { source: "10.0.0.2", group: "239.0.0.10" },
        { source: "172.16.0.1", group: "232.0.0.1" },
        { source: "*", group: "224.0.0.251" },
      ],
    },
    {
      replicator: "192.0.2.254",
      entries: [
        { source: "*", group: "224.0.0.251" },
        { source: "172.16.0.1", group: "232.0.0.1" },
        { source: "*", group: "239.0.0.2" },
        { source: "*", group: "239.0.0.10" },
        { source: "10.0.0.2", group: "239.0.0.10" },
        { source: "10.0.0.10", group: "239.0.0.10" },
      ],
    },
    "01 | 01 | c00002fe | 0006" +
      " | 00000000 e00000fb | ac100001 e8000001 | 00000000 ef000002 | 00000000 ef00000a | 0a000002 ef00000a | 0a00000a ef00000a",
  ],
  [
    "the ends of the ranges: 224.0.0.0, 239.255.255.255, source 223.255.255.255",
    { entries: [{ source: "223.255.255.255", group: "239.255.255.255" }, { source: "*", group: "224.0.0.0" }] },
    { entries: [{ source: "*", group: "224.0.0.0" }, { source: "223.255.255.255", group: "239.255.255.255" }] },
    "01 | 00 | 00000000 | 0002 | 00000000 e0000000 | dfffffff efffffff",
  ],
];

describe("multicast membership attribute (243): vectors", () => {
  it.each(vectors)("%s", (_name, given, canonical, wire) => {
    const bytes = hex(wire);
    expect(encodeMcastMembership(given)).toEqual({ type: "unknown", code: 243, flags: 0xc0, value: bytes });
    expect(decodeMcastMembership(bytes)).toStrictEqual(canonical);
    // canonical in, the same bytes out
    expect(encodeMcastMembership(canonical)).toEqual({ type: "unknown", code: 243, flags: 0xc0, value: bytes });
  });

  it("the same membership in any order encodes to the same bytes", () => {
    const v = vectors[5]![1];
    const reversed = { ...v, entries: [...v.entries].reverse() };
    expect(encodeMcastMembership(reversed)).toEqual(encodeMcastMembership(v));
  });

  // Values a v1 receiver accepts though this encoder never writes them.
  const accepted: [string, string, McastMembershipWire][] = [
    ["unknown flag bits are ignored", "01 | fe | 00000000 | 0000", { entries: [] }],
    ["unknown flag bits beside the replicator flag", "01 | 81 | 0a000009 | 0000", { replicator: "10.0.0.9", entries: [] }],
    ["an address without the replicator flag is ignored", "01 | 00 | 0a000009 | 0001 | 00000000 ef010101", { entries: [{ source: "*", group: "239.1.1.1" }] }],
    ["octets after the last entry (fields of a later revision) are ignored", "01 | 00 | 00000000 | 0001 | 00000000 ef010101 | aabbcc", { entries: [{ source: "*", group: "239.1.1.1" }] }],
    ["a count of 0 with octets after it", "01 | 00 | 00000000 | 0000 | 00000000 ef010101", { entries: [] }],
    [
      "entries out of canonical order come back in wire order",
      "01 | 00 | 00000000 | 0002 | 00000000 ef000002 | 00000000 e0000001",
      { entries: [{ source: "*", group: "239.0.0.2" }, { source: "*", group: "224.0.0.1" }] },
    ],
  ];
  it.each(accepted)("accepts: %s", (_name, wire, w) => {
    expect(decodeMcastMembership(hex(wire))).toStrictEqual(w);
  });
});

const malformed: [string, string, string][] = [
  ["empty value", "", "multicast attribute of 0 octets is shorter than its 8 fixed octets"],
  ["the version octet alone", "01", "multicast attribute of 1 octets is shorter than its 8 fixed octets"],
  ["7 octets: no second count octet", "01 00 00000000 00", "multicast attribute of 7 octets is shorter than its 8 fixed octets"],
  ["version 0", "00 | 00 | 00000000 | 0000", "multicast attribute version 0 (want 1)"],
  ["version 2", "02 | 00 | 00000000 | 0000", "multicast attribute version 2 (want 1)"],
  ["version 255 before a valid body", "ff | 00 | 00000000 | 0001 | 00000000 ef010101", "multicast attribute version 255 (want 1)"],
  ["count 1, no entry", "01 | 00 | 00000000 | 0001", "multicast attribute: count 1 needs 8 octets of entries, 0 follow"],
  ["count 1, entry cut by one octet", "01 | 00 | 00000000 | 0001 | 00000000 ef0101", "multicast attribute: count 1 needs 8 octets of entries, 7 follow"],
  ["count 2, one entry", "01 | 00 | 00000000 | 0002 | 00000000 ef010101", "multicast attribute: count 2 needs 16 octets of entries, 8 follow"],
  ["count 65535", "01 | 00 | 00000000 | ffff | 00000000 ef010101", "multicast attribute: count 65535 needs 524280 octets of entries, 8 follow"],
  ["replicator flag with address 0.0.0.0", "01 | 01 | 00000000 | 0000", "multicast attribute: replicator flag set with address 0.0.0.0"],
  ["group unicast 10.0.0.1", "01 | 00 | 00000000 | 0001 | 00000000 0a000001", "multicast entry #0: group 10.0.0.1 is not a multicast address (224.0.0.0/4)"],
  ["group 0.0.0.0", "01 | 00 | 00000000 | 0001 | 00000000 00000000", "multicast entry #0: group 0.0.0.0 is not a multicast address (224.0.0.0/4)"],
  ["group 223.255.255.255 (just below 224/4)", "01 | 00 | 00000000 | 0001 | 00000000 dfffffff", "multicast entry #0: group 223.255.255.255 is not a multicast address (224.0.0.0/4)"],
  ["group 240.0.0.0 (just above 224/4)", "01 | 00 | 00000000 | 0001 | 00000000 f0000000", "multicast entry #0: group 240.0.0.0 is not a multicast address (224.0.0.0/4)"],
  ["group 255.255.255.255", "01 | 00 | 00000000 | 0001 | 00000000 ffffffff", "multicast entry #0: group 255.255.255.255 is not a multicast address (224.0.0.0/4)"],
  ["source is a multicast address", "01 | 00 | 00000000 | 0001 | ef000001 ef010101", "multicast entry #0: source 239.0.0.1 is a multicast address"],
  [
    "a bad second entry refuses the whole value",
    "01 | 01 | 0a000009 | 0002 | 00000000 ef010101 | 00000000 c0a80001",
    "multicast entry #1: group 192.168.0.1 is not a multicast address (224.0.0.0/4)",
  ],
];

describe("multicast membership attribute (243): malformed values", () => {
  it.each(malformed)("%s", (_name, wire, reason) => {
    let err: unknown;
    try {
      decodeMcastMembership(hex(wire));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(McastAttributeError);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(reason);
  });
});

describe("multicast membership attribute (243): encode refuses what the format cannot carry", () => {
  const bad: [string, McastMembershipWire, RegExp][] = [
    ["unicast group", { entries: [{ source: "*", group: "10.0.0.1" }] }, /entry #0: group 10\.0\.0\.1 is not a multicast address/],
    ["group 240.0.0.1", { entries: [{ source: "*", group: "240.0.0.1" }] }, /group 240\.0\.0\.1 is not a multicast address/],
    ["IPv6 group", { entries: [{ source: "*", group: "ff0e::1" }] }, /group "ff0e::1" is not an IPv4 address/],
    ["group with a leading zero", { entries: [{ source: "*", group: "239.01.1.1" }] }, /group "239\.01\.1\.1" is not an IPv4 address/],
    ["source neither * nor IPv4", { entries: [{ source: "any", group: "239.1.1.1" }] }, /source "any" is neither "\*" nor an IPv4 address/],
    ["multicast source", { entries: [{ source: "224.0.0.5", group: "239.1.1.1" }] }, /source 224\.0\.0\.5 is a multicast address/],
    [
      "the bad entry is named by its index",
      { entries: [{ source: "*", group: "239.1.1.1" }, { source: "*", group: "1.2.3.4" }] },
      /multicast entry #1: group 1\.2\.3\.4/,
    ],
    ["replicator 0.0.0.0", { replicator: "0.0.0.0", entries: [] }, /replicator "0\.0\.0\.0" is not an IPv4 address other than 0\.0\.0\.0/],
    ["replicator IPv6", { replicator: "fd00::1", entries: [] }, /replicator "fd00::1"/],
  ];
  it.each(bad)("%s", (_name, w, message) => {
    expect(() => encodeMcastMembership(w)).toThrow(BgpEncodeError);
    expect(() => encodeMcastMembership(w)).toThrow(message);
  });
});

/** n distinct (*,G) entries in 239.0.0.0/8, in canonical order. */
const groups = (n: number): McastEntryWire[] => Array.from({ length: n }, (_, i) => ({ source: "*", group: `239.0.${i >> 8}.${i & 0xff}` }));

describe("multicast membership attribute (243): size budget", () => {
  it("400 entries are one 3208-octet value; the 401st and later are left out, the last ones in canonical order", () => {
    expect(MCAST_MAX_ENTRIES).toBe(400);
    const all = groups(450);
    const full = encodeMcastMembershipFit({ entries: all.slice(0, 400) });
    expect(full).toMatchObject({ entries: 400, encoded: 400, omitted: 0 });
    expect(full.attribute.value.length).toBe(8 + 400 * 8);

    // given in reverse: the first 400 in canonical order are kept, whatever order they came in
    const over = encodeMcastMembershipFit({ replicator: "10.0.0.9", entries: [...all].reverse() });
    expect(over).toMatchObject({ entries: 450, encoded: 400, omitted: 50 });
    expect(over.attribute.value.readUInt16BE(6)).toBe(400);
    expect(decodeMcastMembership(over.attribute.value)).toStrictEqual({ replicator: "10.0.0.9", entries: all.slice(0, 400) });
    // encodeMcastMembership gives the same attribute
    expect(encodeMcastMembership({ replicator: "10.0.0.9", entries: all })).toEqual(over.attribute);
  });

  it("duplicates do not count against the budget", () => {
    const e = groups(400);
    expect(encodeMcastMembershipFit({ entries: [...e, ...e] })).toMatchObject({ entries: 400, encoded: 400, omitted: 0 });
  });

  it("a smaller budget can be asked for, never a larger one", () => {
    expect(encodeMcastMembershipFit({ entries: groups(10) }, 3)).toMatchObject({ entries: 10, encoded: 3, omitted: 7 });
    expect(encodeMcastMembershipFit({ entries: groups(500) }, 1000)).toMatchObject({ encoded: 400, omitted: 100 });
  });

  it("a full attribute still fits a type-3 UPDATE reflected with 4 RTs, cluster list of 4, and an eBGP AS path of 10", () => {
    const attr = encodeMcastMembership({ replicator: "10.0.0.9", entries: groups(400) });
    const attrs: PathAttribute[] = [
      { type: "origin", value: 0 },
      { type: "as-path", segments: [{ type: "sequence", asns: Array.from({ length: 10 }, (_, i) => 4200000000 + i) }] },
      { type: "local-pref", value: 100 },
      {
        type: "ext-communities",
        communities: [
          ...[100, 200, 300, 400].map((n) => ({ type: "route-target" as const, target: parseAdminValue(`65000:${n}`)! })),
          { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN },
        ],
      },
      { type: "originator-id", id: "10.0.0.1" },
      { type: "cluster-list", ids: ["10.0.0.254", "10.0.0.253", "10.0.0.252", "10.0.0.251"] },
      { type: "pmsi-tunnel", leafInfoRequired: false, label: 100, tunnel: { type: "ingress-replication", endpoint: "192.0.2.1" } },
      attr,
    ];
    const route: EvpnRoute = { type: "imet", rd: parseRd("10.0.0.1:1"), ethernetTag: 0, originatorIp: "192.0.2.1" };
    const [u, ...more] = buildEvpnUpdates({ nextHop: "192.0.2.1", routes: [route], attributes: attrs });
    expect(more).toEqual([]);
    const len = encodeMessage(u!).length;
    expect(len).toBe(3403);
    expect(len).toBeLessThanOrEqual(4096);
    // and leaves room for more (other features' attributes on the same route must stay small)
    expect(4096 - len).toBeGreaterThan(600);
  });
});

describe("multicast membership attribute (243): in a route's attributes", () => {
  const origin: PathAttribute = { type: "origin", value: 0 };
  const one = { entries: [{ source: "*", group: "239.1.1.1" }] };

  it("goes on the wire as an optional transitive attribute 243, extended length when needed", () => {
    expect(encodePathAttribute(encodeMcastMembership(one))).toEqual(hex("c0 f3 10 | 01 00 00000000 0001 | 00000000 ef010101"));
    const big = encodeMcastMembershipFit({ entries: groups(400) }).attribute;
    expect(encodePathAttribute(big)).toEqual(Buffer.concat([hex("d0 f3 0c88"), big.value]));
  });

  it("findMcastAttribute: the raw value, also with the Partial bit a reflector sets", () => {
    const a = encodeMcastMembership(one);
    expect(findMcastAttribute([origin, a])).toEqual(valueOf(one));
    const reflected = prepareForPropagation([origin, a]);
    expect(reflected[1]).toMatchObject({ code: MCAST_ATTR_CODE, flags: 0xc0 | AttrFlag.PARTIAL });
    expect(decodeMcastMembership(findMcastAttribute(reflected)!)).toStrictEqual(one);
  });

  it("findMcastAttribute: absent, another code, or 243 without the Optional and Transitive bits", () => {
    expect(findMcastAttribute([])).toBeUndefined();
    expect(findMcastAttribute([origin, { type: "unknown", code: 245, flags: 0xc0, value: hex("01") }])).toBeUndefined();
    expect(findMcastAttribute([{ type: "unknown", code: 243, flags: 0x80, value: hex("01") }])).toBeUndefined();
    expect(findMcastAttribute([{ type: "unknown", code: 243, flags: 0x40, value: hex("01") }])).toBeUndefined();
  });
});

const ipNum = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const entryArb: fc.Arbitrary<McastEntryWire> = fc.record({
  source: fc.oneof(
    fc.constant("*"),
    fc.ipV4().filter((ip) => {
      const a = Number(ip.split(".")[0]);
      return ip !== "0.0.0.0" && (a < 224 || a > 239);
    }),
  ),
  group: fc.tuple(fc.integer({ min: 224, max: 239 }), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join(".")),
}).map((e) => ({ ...e }));

function canonical(w: McastMembershipWire): McastMembershipWire {
  const seen = new Map<string, McastEntryWire>();
  for (const e of w.entries) seen.set(`${e.source}|${e.group}`, e);
  const entries = [...seen.values()]
    .sort((a, b) => ipNum(a.group) - ipNum(b.group) || (a.source === "*" ? 0 : ipNum(a.source)) - (b.source === "*" ? 0 : ipNum(b.source)))
    .slice(0, MCAST_MAX_ENTRIES);
  return { ...(w.replicator !== undefined ? { replicator: w.replicator } : {}), entries };
}

describe("multicast membership attribute (243): properties", () => {
  it("decode(encode(x)) == canonical(x) for random valid memberships", () => {
    fc.assert(
      fc.property(fc.option(fc.ipV4().filter((ip) => ip !== "0.0.0.0"), { nil: undefined }), fc.array(entryArb, { maxLength: 30 }), (replicator, entries) => {
        const w: McastMembershipWire = { ...(replicator !== undefined ? { replicator } : {}), entries };
        expect(decodeMcastMembership(valueOf(w))).toStrictEqual(canonical(w));
      }),
      { numRuns: 500 },
    );
  });

  it("decode throws nothing but McastAttributeError on random and mutated bytes, and what it accepts re-encodes", () => {
    const check = (b: Uint8Array) => {
      try {
        const w = decodeMcastMembership(Buffer.from(b));
        encodeMcastMembership(w);
      } catch (e) {
        expect(e).toBeInstanceOf(McastAttributeError);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), check), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(), (entries, flips, cut) => {
        const b = Buffer.from(valueOf({ entries }));
        for (const [at, v] of flips) b[at % b.length] = v;
        check(b);
        check(b.subarray(0, cut % (b.length + 1)));
      }),
      { numRuns: 1000 },
    );
  });
});

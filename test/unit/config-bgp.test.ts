import { describe, expect, it } from "vitest";
import { BASE, sectionFile } from "./config-section.ts";
import { importMatches, resolveEvpnVnis } from "../../src/control/evpn/config.ts";
import { parseConfig } from "../../src/config/load.ts";

const FILE = "b.yaml";
const { problems, textAt } = sectionFile(FILE);

const cases: { name: string; lines: string[]; want: string[]; at: string[] }[] = [
  {
    name: "missing asn and router_id point at the bgp key",
    lines: ["bgp:", "  neighbors: []"],
    want: ["b.yaml:10:1: missing required key 'asn' in bgp", "b.yaml:10:1: missing required key 'router_id' in bgp"],
    at: ["bgp:", "bgp:"],
  },
  {
    name: "asn range and router_id",
    lines: ["bgp:", "  asn: 4294967296", "  router_id: 0.0.0.0"],
    want: ["b.yaml:11:8: asn 4294967296 out of range 1..4294967295", "b.yaml:12:14: router_id must not be 0.0.0.0 (RFC 6286 §2.1)"],
    at: ["4294967296", "0.0.0.0"],
  },
  {
    name: "listen forms",
    lines: ["bgp:", "  asn: 1", "  router_id: 1.1.1.1", "  listen: 10.0.0.1:70000"],
    want: ["b.yaml:13:11: listen port 70000 out of range 1..65535"],
    at: ["10.0.0.1:70000"],
  },
  {
    name: "listen host not an address",
    lines: ["bgp:", "  asn: 1", "  router_id: 1.1.1.1", "  listen: spine:179"],
    want: ["b.yaml:13:11: listen host spine is not an IPv4 address (write IPv6 as [addr]:port)"],
    at: ["spine"],
  },
  {
    name: "neighbor fields",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  neighbors:",
      "    - address: 10.0.0.300",
      "      remote_asn: 0",
      "    - address: 10.0.0.2",
      "      remote_asn: 65001",
      "      role: client",
      "      hold_time: 2",
      "      passive: yes",
      "    - { remote_asn: 1 }",
    ],
    want: [
      'b.yaml:14:16: address "10.0.0.300" is not a valid IP address',
      "b.yaml:15:19: remote_asn 0 out of range 1..4294967295",
      'b.yaml:18:13: role "client" must be peer or rr-client',
      "b.yaml:19:18: hold_time 2 is not allowed: must be 0 or 3..65535 (RFC 4271 §4.2)",
      'b.yaml:20:16: passive must be true or false, got string "yes"',
      "b.yaml:21:7: missing required key 'address' in bgp.neighbors[2]",
    ],
    at: ["10.0.0.300", "0", "client", "2", "yes", "{ remote_asn"],
  },
  {
    name: "duplicate neighbors, rr-client over eBGP, own router id",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  neighbors:",
      "    - { address: 10.0.0.2, remote_asn: 65001 }",
      "    - { address: 10.0.0.2, remote_asn: 65002, role: rr-client }",
      "    - { address: 10.0.0.1, remote_asn: 65001 }",
    ],
    want: [
      "b.yaml:15:18: duplicate neighbor 10.0.0.2 (first at line 14)",
      "b.yaml:15:53: neighbor 10.0.0.2 is an rr-client but remote_asn 65002 is not asn 65001 (route reflection is iBGP only, RFC 4456)",
      "b.yaml:16:18: neighbor 10.0.0.1 is this switch's own router_id",
    ],
    at: ["10.0.0.2, remote_asn: 65002", "rr-client", "10.0.0.1"],
  },
  {
    name: "md5_password, ttl_security, max_prefixes: ranges, printable passwords (never echoed), restart needs a limit",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  neighbors:",
      "    - address: 10.0.0.2",
      "      remote_asn: 65001",
      '      md5_password: "tab\there"',
      "      ttl_security: 255",
      "      max_prefixes: 0",
      "    - address: 10.0.0.3",
      "      remote_asn: 65001",
      "      md5_password: 12345",
      "      ttl_security: 0",
      "      max_prefixes_restart: 30",
      `    - { address: 10.0.0.4, remote_asn: 65001, md5_password: "${"x".repeat(81)}", max_prefixes: 5, max_prefixes_restart: 86401 }`,
      '    - { address: 10.0.0.5, remote_asn: 65001, md5_password: "" }',
    ],
    want: [
      "b.yaml:16:21: md5_password: character 4 is not printable ASCII (space to ~)",
      "b.yaml:17:21: ttl_security 255 out of range 1..254",
      "b.yaml:18:21: max_prefixes 0 out of range 1..4294967295",
      "b.yaml:21:21: md5_password must be a string (put the password in quotes)",
      "b.yaml:22:21: ttl_security 0 out of range 1..254",
      "b.yaml:23:7: neighbor 10.0.0.3: max_prefixes_restart needs max_prefixes",
      "b.yaml:24:61: md5_password must be 1..80 characters long, got 81",
      "b.yaml:24:185: max_prefixes_restart 86401 out of range 0..86400",
      "b.yaml:25:61: md5_password must be 1..80 characters long, got 0",
    ],
    at: ['"tab', "255", "0", "12345", "0", "max_prefixes_restart", '"xxx', "86401", '""'],
  },
  {
    name: "smet: a boolean, at the value; a misspelt key is named",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  neighbors:",
      "    - address: 10.0.0.2",
      "      remote_asn: 65001",
      "      smet: rfc9251",
      "    - { address: 10.0.0.3, remote_asn: 65001, smet: 1 }",
      "    - { address: 10.0.0.4, remote_asn: 65001, smt: true }",
    ],
    want: [
      'b.yaml:16:13: smet must be true or false, got string "rfc9251"',
      "b.yaml:17:53: smet must be true or false, got 1",
      "b.yaml:18:47: unknown key 'smt' in bgp.neighbors[2] (did you mean 'smet'?)",
    ],
    at: ["rfc9251", "1", "smt"],
  },
  {
    name: "evpn section: window range, unknown key, vni overrides",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  evpn:",
      "    aggregation: { enabled: true, window_seconds: 601 }",
      "    mobility: { dup_detect_move: 3 }",
      "    vnis:",
      "      - vni: 300",
      "        rd: 10.0.0.1",
      "      - vni: 100",
      '        rd: "65001:5"',
      '        import_rt: ["65001:100", "*:100", "x:1"]',
      "        export_rt: []",
      "      - vni: 100",
      '        rd: "65001:5"',
    ],
    want: [
      "b.yaml:14:51: window_seconds 601 out of range 0..600",
      "b.yaml:15:17: unknown key 'dup_detect_move' in bgp.evpn.mobility (did you mean 'dup_detect_moves'?)",
      "b.yaml:17:14: evpn vni 300 is not declared under vnis",
      'b.yaml:18:13: rd "10.0.0.1" is not a valid route distinguisher (want ASN:N (2-octet ASN, 32-bit N), IP:N or ASN:N (4-octet ASN, 16-bit N))',
      'b.yaml:21:43: import_rt entry "x:1" is not a valid route target (want ASN:N, IP:N or 4-octet-ASN:N, or *:N)',
      "b.yaml:22:20: export_rt must have at least 1 entry",
      "b.yaml:23:14: duplicate evpn vni 100 (first at line 19)",
      "b.yaml:24:13: rd 65001:5 is used by more than one vni (first at line 20)",
    ],
    at: ["601", "dup_detect_move", "300", "10.0.0.1", '"x:1"', "[]", "100", '"65001:5"'],
  },
  {
    name: "a neighbor repeated through an alias is reported at the alias",
    lines: [
      "bgp:",
      "  asn: 65001",
      "  router_id: 10.0.0.1",
      "  neighbors:",
      "    - &spine { address: 10.0.0.254, remote_asn: 65000 }",
      "    - *spine",
    ],
    want: ["b.yaml:15:7: duplicate neighbor 10.0.0.254 (first at line 14)"],
    at: ["*spine"],
  },
];

describe("bgp config errors", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const got = problems(c.lines);
    expect(got).toEqual(c.want);
    expect(got.map((p, i) => textAt(c.lines, p).slice(0, c.at[i]!.length))).toEqual(c.at);
  });
});

describe("bgp config values", () => {
  it("fills defaults, normalises RD/RT text, enables reflection for rr-clients", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        "bgp:",
        "  asn: 4200000001",
        "  router_id: 10.0.0.1",
        '  listen: "[::]:1179"',
        "  neighbors:",
        "    - { address: 10.0.0.2, remote_asn: 4200000001, role: rr-client, aggregation: false, port: 1790 }",
        "    - { address: 'fd00::1', remote_asn: 65002, passive: true, hold_time: 0, description: spine }",
        "  evpn:",
        "    vnis:",
        "      - { vni: 200, rd: '65001L:7', import_rt: ['*:200', '10.0.0.9:200'] }",
      ].join("\n"),
      FILE,
    );
    expect(cfg.bgp).toEqual({
      asn: 4200000001,
      routerId: "10.0.0.1",
      listen: { host: "::", port: 1179 },
      neighbors: [
        { address: "10.0.0.2", remoteAsn: 4200000001, role: "rr-client", holdTime: 90, passive: false, port: 1790, aggregation: false },
        { address: "fd00::1", remoteAsn: 65002, role: "peer", holdTime: 0, passive: true, port: 179, description: "spine" },
      ],
      routeReflector: { clusterId: "10.0.0.1" },
      evpn: {
        advertiseLocalMacs: true,
        aggregation: { enabled: true, windowSeconds: 5 },
        mobility: { dupDetectMoves: 5, dupDetectSeconds: 180 },
        vnis: [{ vni: 200, rd: "65001L:7", importRt: ["*:200", "10.0.0.9:200"] }],
      },
    });
  });

  it("md5_password, ttl_security and max_prefixes reach the neighbor config", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        "bgp:",
        "  asn: 65001",
        "  router_id: 10.0.0.1",
        "  neighbors:",
        '    - { address: 10.0.0.2, remote_asn: 65001, md5_password: "p@ss word~80", ttl_security: 1, max_prefixes: 1000, max_prefixes_restart: 60 }',
        "    - { address: 10.0.0.3, remote_asn: 65001, max_prefixes: 1 }",
      ].join("\n"),
      FILE,
    );
    expect(cfg.bgp!.neighbors).toEqual([
      { address: "10.0.0.2", remoteAsn: 65001, role: "peer", holdTime: 90, passive: false, port: 179, md5Password: "p@ss word~80", ttlSecurity: 1, maxPrefixes: 1000, maxPrefixesRestart: 60 },
      { address: "10.0.0.3", remoteAsn: 65001, role: "peer", holdTime: 90, passive: false, port: 179, maxPrefixes: 1 },
    ]);
  });

  it("smet: true reaches the neighbor config; false and absent leave it out (default off)", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        "bgp:",
        "  asn: 65001",
        "  router_id: 10.0.0.1",
        "  neighbors:",
        "    - { address: 10.0.0.2, remote_asn: 65001, smet: true }",
        "    - { address: 10.0.0.3, remote_asn: 65001, smet: false }",
        "    - { address: 10.0.0.4, remote_asn: 65001 }",
      ].join("\n"),
      FILE,
    );
    expect(cfg.bgp!.neighbors).toEqual([
      { address: "10.0.0.2", remoteAsn: 65001, role: "peer", holdTime: 90, passive: false, port: 179, smet: true },
      { address: "10.0.0.3", remoteAsn: 65001, role: "peer", holdTime: 90, passive: false, port: 179 },
      { address: "10.0.0.4", remoteAsn: 65001, role: "peer", holdTime: 90, passive: false, port: 179 },
    ]);
  });

  it("derives RD and RT the way FRR does, honouring overrides", () => {
    const cfg = parseConfig(
      [...BASE, "bgp:", "  asn: 4200000001", "  router_id: 10.0.0.1", "  evpn:", "    vnis:", "      - { vni: 200, export_rt: ['65001:2000'] }"].join("\n"),
      FILE,
    );
    const r = resolveEvpnVnis(cfg.bgp!, [100, 200]);
    // 4200000001 & 0xffff = 59905
    expect(r[0]).toEqual({
      vni: 100,
      rd: { format: "ipv4", ip: "10.0.0.1", value: 1 },
      importRts: [
        { kind: "exact", rt: { format: "as2", asn: 59905, value: 100 } },
        { kind: "any-as", value: 100 },
      ],
      exportRts: [{ format: "as2", asn: 59905, value: 100 }],
    });
    expect(r[1]!.rd).toEqual({ format: "ipv4", ip: "10.0.0.1", value: 2 });
    expect(r[1]!.exportRts).toEqual([{ format: "as2", asn: 65001, value: 2000 }]);
    expect(importMatches({ kind: "any-as", value: 100 }, { format: "as2", asn: 65099, value: 100 })).toBe(true);
    expect(importMatches({ kind: "any-as", value: 100 }, { format: "ipv4", ip: "1.1.1.1", value: 100 })).toBe(false);
    expect(importMatches({ kind: "exact", rt: { format: "as2", asn: 1, value: 100 } }, { format: "as4", asn: 1, value: 100 })).toBe(false);
  });
});

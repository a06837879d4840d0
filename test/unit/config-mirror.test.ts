import { describe, expect, it } from "vitest";
import { BASE, sectionFile } from "./config-section.ts";
import { parseSessionJson, type MirrorSession } from "../../src/control/mirror/config.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError, type MirrorConfig } from "../../src/config/types.ts";

const FILE = "m.yaml";
const { problems, textAt } = sectionFile(FILE);

const HOST = '{ mac: "02:00:00:00:01:05", vni: 100 }';
const SERVER = '{ mac: "02:00:00:00:09:01", vni: 100 }';

interface Case {
  name: string;
  lines: string[];
  /** Replaces BASE (lines 1..9 still). */
  base?: string[];
  /** Exact problems, in order. */
  want: string[];
  /** What the text at each problem's line:col must start with. */
  at: string[];
}

const cases: Case[] = [
  {
    name: "host_id out of range",
    lines: ["mirror:", "  sessions:", "    - name: watch-web1", `      host: ${HOST}`, `      server: ${SERVER}`, "      host_id: 70000"],
    want: ["m.yaml:15:16: host_id 70000 out of range 1..65535"],
    at: ["70000"],
  },
  {
    name: "host_id not an integer, zero",
    lines: [
      "mirror:",
      "  sessions:",
      `    - { name: a, host: ${HOST}, server: ${SERVER}, host_id: "7" }`,
      `    - { name: b, host: ${HOST}, server: ${SERVER}, host_id: 0 }`,
    ],
    want: [
      'm.yaml:12:121: host_id must be an integer in 1..65535, got string "7"',
      "m.yaml:13:121: host_id 0 out of range 1..65535",
    ],
    at: ['"7"', "0 }"],
  },
  {
    name: "duplicate name and host_id point at the second, naming the first's line",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: watch-web1",
      `      host: ${HOST}`,
      `      server: ${SERVER}`,
      "      host_id: 7",
      "    - name: watch-web2",
      '      host: { mac: "02:00:00:00:01:06", vni: 100 }',
      `      server: ${SERVER}`,
      "      host_id: 7",
      "    - name: watch-web1",
      '      host: { mac: "02:00:00:00:01:07", vni: 100 }',
      `      server: ${SERVER}`,
      "      host_id: 8",
    ],
    want: [
      "m.yaml:19:16: host_id 7 is already used by session watch-web1 (line 15)",
      "m.yaml:20:13: name watch-web1 is already used by another session (line 12)",
    ],
    at: ["7", "watch-web1"],
  },
  {
    name: "server equal to host (same mac, same vni) points at server; other vni is fine",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: loop",
      `      host: ${HOST}`,
      '      server: { mac: "02-00-00-00-01-05", vni: 100 }',
      "      host_id: 1",
      "    - name: other-vni",
      `      host: ${HOST}`,
      '      server: { mac: "02:00:00:00:01:05", vni: 200 }',
      "      host_id: 2",
    ],
    want: ["m.yaml:14:7: session loop: server equals host"],
    at: ["server:"],
  },
  {
    name: "vnis not declared under vnis",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: watch-web1",
      '      host: { mac: "02:00:00:00:01:05", vni: 300 }',
      "      server:",
      '        mac: "02:00:00:00:09:01"',
      "        vni: 400",
      "      host_id: 7",
    ],
    want: [
      "m.yaml:13:46: session watch-web1: host vni 300 is not declared under vnis",
      "m.yaml:16:14: session watch-web1: server vni 400 is not declared under vnis",
    ],
    at: ["300", "400"],
  },
  {
    name: "vni membership is not checked when a vnis entry is itself invalid",
    base: [...BASE.slice(0, 8), "  - vni: 0"],
    lines: ["mirror:", "  sessions:", `    - { name: a, host: { mac: "02:00:00:00:01:05", vni: 300 }, server: ${SERVER}, host_id: 1 }`],
    want: ["m.yaml:9:10: vni 0 out of range 1..16777215"],
    at: ["0"],
  },
  {
    name: "match ip needs host.ip (not repeated when host.ip is there but wrong)",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: by-ip",
      `      host: ${HOST}`,
      `      server: ${SERVER}`,
      "      host_id: 1",
      "      match: ip",
      "    - name: bad-ip",
      '      host: { mac: "02:00:00:00:01:06", vni: 100, ip: 127.0.0.1 }',
      `      server: ${SERVER}`,
      "      host_id: 2",
      "      match: ip",
    ],
    want: [
      "m.yaml:16:14: session by-ip: match ip needs host.ip",
      "m.yaml:18:55: ip 127.0.0.1 is not a unicast IPv4 address (loopback)",
    ],
    at: ["ip", "127.0.0.1"],
  },
  {
    name: "direction and match say which words are allowed",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: a",
      `      host: ${HOST}`,
      `      server: ${SERVER}`,
      "      host_id: 1",
      "      direction: ingress",
      "      match: MAC",
    ],
    want: [
      'm.yaml:16:18: direction "ingress" must be one of: both, from-host, to-host',
      'm.yaml:17:14: match "MAC" must be one of: mac, ip',
    ],
    at: ["ingress", "MAC"],
  },
  {
    name: "sessions while mirroring is disabled point at the sessions key",
    lines: ["mirror:", "  enabled: false", "  sessions:", `    - { name: a, host: ${HOST}, server: ${SERVER}, host_id: 1 }`],
    want: ["m.yaml:12:3: mirror.enabled is false: remove the sessions or enable mirroring"],
    at: ["sessions:"],
  },
  {
    name: "MACs must be unicast, IPs unicast IPv4",
    lines: [
      "mirror:",
      "  sessions:",
      "    - name: a",
      '      host: { mac: "01:00:5e:00:00:01", vni: 100, ip: 224.0.0.5 }',
      '      server: { mac: "02:00:00:00:09", vni: 100, ip: 10.0.0.256 }',
      "      host_id: 1",
    ],
    want: [
      "m.yaml:13:20: mac 01:00:5e:00:00:01 is not a unicast MAC address (multicast)",
      "m.yaml:13:55: ip 224.0.0.5 is not a unicast IPv4 address (multicast)",
      'm.yaml:14:22: mac "02:00:00:00:09" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)',
      'm.yaml:14:54: ip "10.0.0.256" is not a valid IPv4 address',
    ],
    at: ['"01:00', "224.0.0.5", '"02:00', "10.0.0.256"],
  },
  {
    name: "bad name, missing keys, unknown keys with suggestions",
    lines: [
      "mirror:",
      "  enable: true",
      "  sessions:",
      "    - name: Watch_Web",
      `      host: ${HOST}`,
      '      server: { mac: "02:00:00:00:09:01", vnis: 100 }',
      "      hostid: 7",
    ],
    want: [
      "m.yaml:11:3: unknown key 'enable' in mirror (did you mean 'enabled'?)",
      "m.yaml:13:7: missing required key 'host_id' in mirror.sessions[0]",
      'm.yaml:13:13: name "Watch_Web" must match ^[a-z0-9][a-z0-9._-]{0,31}$',
      "m.yaml:15:7: missing required key 'vni' in mirror.sessions[0].server",
      "m.yaml:15:43: unknown key 'vnis' in mirror.sessions[0].server (did you mean 'vni'?)",
      "m.yaml:16:7: unknown key 'hostid' in mirror.sessions[0] (did you mean 'host_id'?)",
    ],
    at: ["enable", "name: Watch_Web", "Watch_Web", "server:", "vnis", "hostid"],
  },
  {
    name: "wrong types for the section, sessions and endpoints",
    lines: ["mirror:", "  enabled: yes", "  sessions:", "    - name: a", "      host: 02:00:00:00:01:05", "      server: []", "      host_id: 1"],
    want: [
      'm.yaml:11:12: enabled must be true or false, got string "yes"',
      'm.yaml:14:13: host must be a mapping, got string "02:00:00:00:01:05"',
      "m.yaml:15:15: server must be a mapping, got a list",
    ],
    at: ["yes", "02:00", "[]"],
  },
  {
    name: "mirror not a mapping",
    lines: ["mirror: [1]"],
    want: ["m.yaml:10:9: mirror must be a mapping, got a list"],
    at: ["[1]"],
  },
  {
    name: "every problem of every session is collected",
    lines: [
      "mirror:",
      "  enabled: false",
      "  sessions:",
      '    - { name: a, host: { mac: "02:00:00:00:01:05", vni: 100 }, server: { mac: "02:00:00:00:01:05", vni: 100 }, host_id: 5, match: ip }',
      '    - { name: a, host: { mac: "02:00:00:00:01:06", vni: 999 }, server: { mac: "02:00:00:00:09:01", vni: 200 }, host_id: 5, direction: out }',
    ],
    want: [
      "m.yaml:12:3: mirror.enabled is false: remove the sessions or enable mirroring",
      "m.yaml:13:64: session a: server equals host",
      "m.yaml:13:131: session a: match ip needs host.ip",
      "m.yaml:14:15: name a is already used by another session (line 13)",
      "m.yaml:14:57: session a: host vni 999 is not declared under vnis",
      "m.yaml:14:121: host_id 5 is already used by session a (line 13)",
      'm.yaml:14:135: direction "out" must be one of: both, from-host, to-host',
    ],
    at: ["sessions", "server", "ip }", "a, host", "999", "5, direction", "out"],
  },
  {
    name: "a session repeated through an alias is reported at the alias",
    lines: ["mirror:", "  sessions:", `    - &s { name: a, host: ${HOST}, server: ${SERVER}, host_id: 1 }`, "    - *s"],
    want: [
      "m.yaml:13:7: name a is already used by another session (line 12)",
      "m.yaml:13:7: host_id 1 is already used by session a (line 12)",
    ],
    at: ["*s", "*s"],
  },
];

describe("mirror config errors", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const got = problems(c.lines, c.base);
    expect(got).toEqual(c.want);
    expect(got.map((p, i) => textAt(c.lines, p, c.base).slice(0, c.at[i]!.length))).toEqual(c.at);
  });
});

describe("mirror config values", () => {
  it("parses a good section to the exact MirrorConfig (normalised, defaults filled)", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        "mirror:",
        "  enabled: true",
        "  sessions:",
        "    - name: watch-web1",
        "      host:   { mac: \"02:00:00:00:01:05\", vni: 100, ip: 10.1.0.5 }",
        "      server: { mac: \"02:00:00:00:09:01\", vni: 100 }",
        "      host_id: 7",
        "      direction: both",
        "      match: mac",
        "    - name: web2.tap_1",
        "      host:",
        "        mac: 02-AA-00-00-01-06",
        "        vni: 200",
        "        ip: 10.1.0.6",
        "      server: { mac: \"02:00:00:00:09:01\", vni: 100, ip: 10.9.0.1 }",
        "      host_id: 65535",
        "      direction: to-host",
        "      match: ip",
        "    - name: defaults",
        '      host: { mac: "02:00:00:00:01:07", vni: 100 }',
        '      server: { mac: "02:00:00:00:01:07", vni: 200 }',
        "      host_id: 1",
      ].join("\n"),
      FILE,
    );
    const want: MirrorConfig = {
      enabled: true,
      sessions: [
        {
          name: "watch-web1",
          host: { mac: "02:00:00:00:01:05", vni: 100, ip: "10.1.0.5" },
          server: { mac: "02:00:00:00:09:01", vni: 100 },
          hostId: 7,
          direction: "both",
          match: "mac",
        },
        {
          name: "web2.tap_1",
          host: { mac: "02:aa:00:00:01:06", vni: 200, ip: "10.1.0.6" },
          server: { mac: "02:00:00:00:09:01", vni: 100, ip: "10.9.0.1" },
          hostId: 65535,
          direction: "to-host",
          match: "ip",
        },
        {
          name: "defaults",
          host: { mac: "02:00:00:00:01:07", vni: 100 },
          server: { mac: "02:00:00:00:01:07", vni: 200 },
          hostId: 1,
          direction: "both",
          match: "mac",
        },
      ],
    };
    expect(cfg.mirror).toEqual(want);
    // Optional keys are absent, not undefined.
    expect("ip" in cfg.mirror.sessions[0]!.server).toBe(false);
  });

  it.each([
    ["no mirror section", [], { enabled: true, sessions: [] }],
    ["an empty mirror section", ["mirror:"], { enabled: true, sessions: [] }],
    ["empty sessions", ["mirror:", "  sessions:"], { enabled: true, sessions: [] }],
    ["disabled, no sessions", ["mirror: { enabled: false }"], { enabled: false, sessions: [] }],
    ["disabled, empty list", ["mirror:", "  enabled: false", "  sessions: []"], { enabled: false, sessions: [] }],
  ] as const)("defaults: %s", (_n, lines, want) => {
    expect(parseConfig([...BASE, ...lines].join("\n"), FILE).mirror).toEqual(want);
  });

  it("a bad mirror section fails the whole file", () => {
    expect(() => parseConfig([...BASE, "mirror:", "  sessions: [{ name: a }]"].join("\n"), FILE)).toThrow(ConfigError);
  });
});

describe("parseSessionJson", () => {
  const vnis = new Set([100, 200]);
  const existing: MirrorSession[] = [
    {
      name: "watch-web1",
      host: { mac: "02:00:00:00:01:05", vni: 100 },
      server: { mac: "02:00:00:00:09:01", vni: 100 },
      hostId: 7,
      direction: "both",
      match: "mac",
    },
  ];
  const ctx = { vnis, existing };
  const good = {
    name: "watch-web2",
    host: { mac: "02:00:00:00:01:06", vni: 100 },
    server: { mac: "02:00:00:00:09:01", vni: 200 },
    host_id: 8,
  };

  it("accepts a session, filling defaults", () => {
    expect(parseSessionJson(good, ctx)).toEqual({
      session: {
        name: "watch-web2",
        host: { mac: "02:00:00:00:01:06", vni: 100 },
        server: { mac: "02:00:00:00:09:01", vni: 200 },
        hostId: 8,
        direction: "both",
        match: "mac",
      },
    });
  });

  it("normalises addresses and keeps every field", () => {
    const body = {
      name: "web3",
      host: { mac: "02-AA-00-00-01-06", vni: 200, ip: "10.1.0.6" },
      server: { mac: "02:00:00:00:09:01", vni: 100, ip: "10.9.0.1" },
      host_id: 65535,
      direction: "from-host",
      match: "ip",
    };
    expect(parseSessionJson(body, ctx)).toEqual({
      session: {
        name: "web3",
        host: { mac: "02:aa:00:00:01:06", vni: 200, ip: "10.1.0.6" },
        server: { mac: "02:00:00:00:09:01", vni: 100, ip: "10.9.0.1" },
        hostId: 65535,
        direction: "from-host",
        match: "ip",
      },
    });
  });

  it.each<[string, unknown, string[]]>([
    ["host_id out of range", { ...good, host_id: 70000 }, ["host_id: 70000 out of range 1..65535"]],
    ["host_id not an integer", { ...good, host_id: 7.5 }, ["host_id: must be an integer in 1..65535, got 7.5"]],
    ["server equals host", { ...good, server: { mac: "02:00:00:00:01:06", vni: 100 } }, ["server: equals host"]],
    ["vni not declared", { ...good, host: { ...good.host, vni: 300 } }, ["host.vni: 300 is not declared on this switch"]],
    ["vni out of range", { ...good, server: { ...good.server, vni: 0 } }, ["server.vni: 0 out of range 1..16777215"]],
    ["duplicate name", { ...good, name: "watch-web1" }, ["name: watch-web1 is already used by another session"]],
    ["duplicate host_id", { ...good, host_id: 7 }, ["host_id: 7 is already used by session watch-web1"]],
    ["match ip without host.ip", { ...good, match: "ip" }, ["match: ip needs host.ip"]],
    ["bad words", { ...good, direction: "in", match: "arp" }, ['direction: "in" must be one of: both, from-host, to-host', 'match: "arp" must be one of: mac, ip']],
    ["bad name", { ...good, name: "-x" }, ['name: "-x" must match ^[a-z0-9][a-z0-9._-]{0,31}$']],
    [
      "addresses",
      { ...good, host: { mac: "ff:ff:ff:ff:ff:ff", vni: 100, ip: "0.0.0.0" }, server: { mac: 5, vni: "100" } },
      [
        "host.mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address (broadcast)",
        "host.ip: 0.0.0.0 is not a unicast IPv4 address (unspecified address)",
        "server.mac: must be a string, got 5",
        'server.vni: must be an integer in 1..16777215, got string "100"',
      ],
    ],
    [
      "missing and unknown keys",
      { name: "a", host: { mac: "02:00:00:00:01:06" }, server: good.server, hostid: 9 },
      [
        "missing required key 'vni' in host",
        "unknown key 'hostid' (did you mean 'host_id'?)",
        "missing required key 'host_id'",
      ],
    ],
    ["host not an object", { ...good, host: "02:00:00:00:01:06" }, ['host: must be a mapping, got string "02:00:00:00:01:06"']],
    ["body an array", [good], ["body must be a JSON object, got an array"]],
    ["body null", null, ["body must be a JSON object, got null"]],
    ["body a string", "{}", ["body must be a JSON object, got a string"]],
  ])("%s", (_n, body, errors) => {
    expect(parseSessionJson(body, ctx)).toEqual({ errors });
  });

  it("collects every problem, field checks first", () => {
    const body = { ...good, name: "watch-web1", host_id: 7, host: { ...good.host, vni: 300 }, direction: "up" };
    expect(parseSessionJson(body, ctx)).toEqual({
      errors: [
        'direction: "up" must be one of: both, from-host, to-host',
        "host.vni: 300 is not declared on this switch",
        "name: watch-web1 is already used by another session",
        "host_id: 7 is already used by session watch-web1",
      ],
    });
  });

  it("accepts a session parsed from JSON text", () => {
    const text = JSON.stringify({ ...good, direction: "to-host" });
    const r = parseSessionJson(JSON.parse(text), { vnis, existing: [] });
    expect("session" in r && r.session.direction).toBe("to-host");
  });
});

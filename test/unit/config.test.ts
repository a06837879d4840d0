import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile, parseConfig } from "../../src/config/load.ts";
import { ConfigError, type MulticastConfig, type SwitchConfig } from "../../src/config/types.ts";

/** The multicast section when a file has none: disabled, RFC 3376 timers. */
const MULTICAST_DEFAULTS: MulticastConfig = {
  enabled: false,
  timers: {
    queryIntervalMs: 125000,
    queryResponseIntervalMs: 10000,
    lastMemberQueryIntervalMs: 1000,
    lastMemberQueryCount: 2,
    robustness: 2,
    startupQueryIntervalMs: 31250,
    startupQueryCount: 2,
  },
  maxGroupsPerPort: 256,
  igmpRate: 100,
  vnis: [],
};

const FILE = "t.yaml";
const FULL = "test/fixtures/config/full.yaml";

/** Lines 1..6 of most cases; extra lines start at line 7. */
const BASE = ["switch:", "  name: leaf1", "vtep:", "  source_ip: 10.0.0.1", "uplinks:", "  - name: eth0"];
const VNI100 = ["vnis:", "  - vni: 100"];

/** The i-th unicast MAC 02:00:00:xx:xx:xx. */
function mac(i: number): string {
  return `02:00:00:${[16, 8, 0].map((s) => ((i >> s) & 255).toString(16).padStart(2, "0")).join(":")}`;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

/** The source text starting at a problem's line:col. */
function textAt(text: string, problem: string): string {
  const m = /^[^:]+:(\d+):(\d+): /.exec(problem);
  if (!m) throw new Error(`not a file:line:col problem: ${problem}`);
  const line = text.split("\n")[Number(m[1]) - 1];
  if (line === undefined) throw new Error(`line ${m[1]} is past the end`);
  return line.slice(Number(m[2]) - 1);
}

interface Case {
  name: string;
  lines: string[];
  /** Exact problems, in order. */
  want: string[];
  /** What the text at each problem's line:col must start with. */
  at: string[];
}

function run(cases: Case[]) {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const text = c.lines.join("\n") + "\n";
    const got = problems(text);
    expect(got).toEqual(c.want);
    expect(got.map((p) => textAt(text, p).slice(0, c.at[got.indexOf(p)]?.length ?? 0))).toEqual(c.at);
  });
}

describe("valid configs", () => {
  it("loads the full example to the normalised object", () => {
    const cfg = loadConfigFile(FULL);
    const want: SwitchConfig = {
      file: resolve(FULL),
      switch: { name: "leaf1" },
      vtep: { sourceIp: "10.0.0.1", udpPort: 4789 },
      uplinks: [
        { name: "eth0", nameAt: { file: FULL, line: 8, col: 5 } },
        { name: "eth1", nameAt: { file: FULL, line: 9, col: 5 } },
      ],
      ports: [
        { name: "h1", nameAt: { file: FULL, line: 11, col: 5 }, vni: 100, vlans: [] },
        { name: "h2", nameAt: { file: FULL, line: 13, col: 5 }, vni: 200, vlans: [] },
        {
          name: "trunk1",
          nameAt: { file: FULL, line: 15, col: 5 },
          vlans: [
            { vlan: 10, vni: 100 },
            { vlan: 20, vni: 200 },
          ],
        },
        {
          name: "trunk2",
          nameAt: { file: FULL, line: 19, col: 5 },
          vni: 300,
          vlans: [
            { vlan: 30, vni: 100 },
            { vlan: 40, vni: 200 },
          ],
        },
      ],
      vnis: [
        {
          vni: 100,
          learning: true,
          ageingSeconds: 300,
          flood: ["10.0.0.2", "10.0.0.3"],
          staticMacs: [
            { mac: "02:00:00:00:01:01", port: "h1" },
            { mac: "02:00:00:00:02:01", remote: "10.0.0.2" },
          ],
        },
        {
          vni: 200,
          learning: false,
          ageingSeconds: 0,
          flood: ["10.0.0.2"],
          staticMacs: [{ mac: "02:aa:bb:cc:dd:ee", port: "trunk1" }],
        },
        { vni: 300, learning: true, ageingSeconds: 300, flood: [], staticMacs: [] },
      ],
      tables: { fdb: 131072, vnis: 1024, floodPerVni: 32, remoteVteps: 2048, eventRing: 16777216, mcastGroups: 4096, mcastMembers: 32 },
      management: { socket: "/run/vxgate/leaf1-mgmt.sock", http: { host: "127.0.0.1", port: 8080 } },
      bgp: {
        asn: 65001,
        routerId: "10.0.0.1",
        listen: { host: "0.0.0.0", port: 179 },
        neighbors: [{ address: "10.0.0.254", remoteAsn: 65000, role: "peer", holdTime: 90, passive: false, port: 179 }],
        evpn: {
          advertiseLocalMacs: true,
          aggregation: { enabled: true, windowSeconds: 5 },
          mobility: { dupDetectMoves: 5, dupDetectSeconds: 180 },
          vnis: [],
        },
      },
      mirror: {
        enabled: true,
        sessions: [
          {
            name: "watch-h1",
            host: { mac: "02:00:00:00:01:01", vni: 100, ip: "10.1.0.5" },
            server: { mac: "02:00:00:00:09:01", vni: 200 },
            hostId: 7,
            direction: "from-host",
            match: "ip",
          },
        ],
      },
      multicast: MULTICAST_DEFAULTS,
    };
    expect(cfg).toEqual(want);
    // Optional keys are absent, not undefined.
    expect("vni" in cfg.ports[2]).toBe(false);
    expect("remote" in cfg.vnis[0].staticMacs[0]).toBe(false);
  });

  it("fills every default for a minimal file", () => {
    const cfg = parseConfig(BASE.join("\n"), FILE);
    expect(cfg).toEqual({
      file: FILE,
      switch: { name: "leaf1" },
      vtep: { sourceIp: "10.0.0.1", udpPort: 4789 },
      uplinks: [{ name: "eth0", nameAt: { file: FILE, line: 6, col: 5 } }],
      ports: [],
      vnis: [],
      tables: { fdb: 65536, vnis: 4096, floodPerVni: 64, remoteVteps: 4096, eventRing: 8388608, mcastGroups: 4096, mcastMembers: 32 },
      management: { socket: "/run/vxgate/leaf1.sock" },
      mirror: { enabled: true, sessions: [] },
      multicast: MULTICAST_DEFAULTS,
    } satisfies SwitchConfig);
    expect("bgp" in cfg).toBe(false);
    expect("http" in cfg.management).toBe(false);
  });

  it("treats empty optional sections as absent", () => {
    const cfg = parseConfig(
      [...BASE, "ports:", "vnis:", "  - vni: 5", "    flood:", "    static_macs:", "tables:", "management:"].join("\n"),
      FILE,
    );
    expect(cfg.ports).toEqual([]);
    expect(cfg.vnis).toEqual([{ vni: 5, learning: true, ageingSeconds: 300, flood: [], staticMacs: [] }]);
    expect(cfg.tables).toEqual({ fdb: 65536, vnis: 4096, floodPerVni: 64, remoteVteps: 4096, eventRing: 8388608, mcastGroups: 4096, mcastMembers: 32 });
    expect(cfg.management).toEqual({ socket: "/run/vxgate/leaf1.sock" });
  });

  it("accepts [::1] for http, hex integers, anchors and aliases", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        "ports:",
        "  - name: h1",
        "    vni: &blue 0x64",
        "vnis:",
        "  - vni: *blue",
        "management:",
        '  http: "[::1]:9000"',
      ].join("\n"),
      FILE,
    );
    expect(cfg.ports[0].vni).toBe(100);
    expect(cfg.vnis[0].vni).toBe(100);
    expect(cfg.management.http).toEqual({ host: "::1", port: 9000 });
  });

  it("allows an untagged vni together with vlans on one port", () => {
    const cfg = parseConfig(
      [...BASE, "ports:", "  - name: t1", "    vni: 100", "    vlans: {10: 200}", ...VNI100, "  - vni: 200"].join("\n"),
      FILE,
    );
    expect(cfg.ports[0]).toEqual({ name: "t1", nameAt: { file: FILE, line: 8, col: 5 }, vni: 100, vlans: [{ vlan: 10, vni: 200 }] });
  });

  it("keeps where each port's and uplink's name is written (block and flow style)", () => {
    const cfg = parseConfig([...BASE, "  - { name: eth1 }", "ports:", "  - { name: h1, vni: 100 }", "  -   name: h2", "      vni: 100", ...VNI100].join("\n"), FILE);
    expect(cfg.uplinks.map((u) => u.nameAt)).toEqual([
      { file: FILE, line: 6, col: 5 },
      { file: FILE, line: 7, col: 7 },
    ]);
    expect(cfg.ports.map((p) => p.nameAt)).toEqual([
      { file: FILE, line: 9, col: 7 },
      { file: FILE, line: 10, col: 7 },
    ]);
  });

  it("parseConfig does not touch the file system and loadConfigFile only reads", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxgate-config-"));
    const p = join(dir, "bad.yaml");
    const text = [...BASE, "bogus: 1"].join("\n");
    writeFileSync(p, text);
    expect(() => loadConfigFile(p)).toThrow(ConfigError);
    expect(readFileSync(p, "utf8")).toBe(text);
  });
});

describe("file and YAML errors", () => {
  it("reports an unreadable file", () => {
    const p = join(tmpdir(), "vxgate-no-such-dir", "none.yaml");
    try {
      loadConfigFile(p);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([`${p}:1:1: cannot read config file (ENOENT)`]);
    }
  });

  it("names the file as given in messages", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxgate-config-"));
    const p = join(dir, "switch.yaml");
    writeFileSync(p, [...BASE, "vnis:", "  - vni: 16777216"].join("\n"));
    expect(() => loadConfigFile(p)).toThrow(`${p}:8:10: vni 16777216 out of range 1..16777215`);
  });

  run([
    {
      // (the parser says where it gave up: 2:1, the next key)
      name: "unclosed flow map points at its {",
      lines: ["switch: {name: leaf1", "vtep:", "  source_ip: 10.0.0.1"],
      want: ["t.yaml:1:9: YAML syntax error: unclosed { opened here"],
      at: ["{name: leaf1"],
    },
    {
      // (the parser points at the value of the line above: 4:14)
      name: "over-indented key points at the key",
      lines: ["switch:", "  name: leaf1", "vtep:", "  source_ip: 10.0.0.1", "   udp_port: 1"],
      want: ["t.yaml:5:4: YAML syntax error: bad indentation: 'udp_port' is at column 4, not 3 like 'source_ip' above it"],
      at: ["udp_port"],
    },
    {
      name: "mapping items out of line",
      lines: ["switch:", "  - a", "  name: 1"],
      want: ["t.yaml:3:1: YAML syntax error: All mapping items must start at the same column"],
      at: ["  name"],
    },
    {
      name: "stray closing brace",
      lines: ["switch: {name: leaf1}}"],
      want: ['t.yaml:1:22: YAML syntax error: Unexpected flow-map-end token in YAML stream: "}"'],
      at: ["}"],
    },
    {
      name: "more than one document",
      lines: [...BASE, "---", "x: 1"],
      want: ["t.yaml:7:1: YAML syntax error: the file must hold a single YAML document"],
      at: ["---"],
    },
    {
      name: "unknown alias",
      lines: [...BASE, "vnis:", "  - vni: *blue"],
      want: ["t.yaml:8:10: YAML syntax error: unknown alias *blue"],
      at: ["*blue"],
    },
    {
      name: "tab indentation",
      lines: ["switch:", "\tname: leaf1"],
      want: ["t.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation"],
      at: ["\t"],
    },
    {
      // (the parser reports it where the file ends, 8:1)
      name: "unterminated quote points at the opening quote",
      lines: [...BASE, 'ports: [{name: "h1}]'],
      want: ['t.yaml:7:16: YAML syntax error: unclosed " opened here'],
      at: ['"h1}]'],
    },
    {
      name: "empty file",
      lines: ["# nothing here"],
      want: ["t.yaml:1:1: config file is empty"],
      at: ["#"],
    },
    {
      name: "root is a list",
      lines: ["- switch"],
      want: ["t.yaml:1:1: config must be a mapping, got a list"],
      at: ["- switch"],
    },
  ]);
});

/** A realistic file the syntax cases below break one mistake at a time. */
const REAL = [
  "switch:", // 1
  "  name: leaf1", // 2
  "vtep:", // 3
  "  source_ip: 10.0.0.1", // 4
  "  udp_port: 4789", // 5
  "uplinks:", // 6
  "  - name: eth0", // 7
  "ports:", // 8
  "  - name: h1", // 9
  "    vni: 100", // 10
  "vnis:", // 11
  "  - vni: 100", // 12
  "    flood: [10.0.0.2, 10.0.0.3]", // 13
  "    static_macs:", // 14
  '      - { mac: "02:00:00:00:01:01", port: h1 }', // 15
  "  - vni: 200", // 16
  "tables:", // 17
  "  vnis: 16", // 18
];

/** REAL with line `n` (1-based) replaced by `lines` (none: deleted). */
function edit(n: number, ...lines: string[]): string[] {
  return [...REAL.slice(0, n - 1), ...lines, ...REAL.slice(n)];
}

describe("YAML syntax errors point at the mistake", () => {
  it("the unbroken file loads", () => {
    expect(parseConfig(REAL.join("\n") + "\n", FILE).vnis.map((v) => v.vni)).toEqual([100, 200]);
  });

  it("a valid file with brackets and quotes in comments and strings loads", () => {
    const cfg = parseConfig(
      edit(13, "    flood: ['10.0.0.2', \"10.0.0.3\"]   # ]] not a bracket", "    # [ nor this {").join("\n"),
      FILE,
    );
    expect(cfg.vnis[0].flood).toEqual(["10.0.0.2", "10.0.0.3"]);
  });

  run([
    // --- indentation --------------------------------------------------------
    {
      // parser: 12:10 (the `100` of the line above), "Nested mappings are not allowed in compact mappings"
      name: "list entry key indented one space too much",
      lines: edit(13, "     flood: [10.0.0.2, 10.0.0.3]"),
      want: ["t.yaml:13:6: YAML syntax error: bad indentation: 'flood' is at column 6, not 5 like 'vni' above it"],
      at: ["flood:"],
    },
    {
      name: "list entry key indented one space too little (the parser is right)",
      lines: edit(13, "   flood: [10.0.0.2, 10.0.0.3]"),
      want: ["t.yaml:13:1: YAML syntax error: Sequence item without - indicator"],
      at: ["   flood:"],
    },
    {
      // parser: also 14:1, 16:1 and 16:3, confused by the line it already rejected
      name: "list entry key at the column of its dash: one problem, not three",
      lines: edit(13, "  flood: [10.0.0.2, 10.0.0.3]"),
      want: ["t.yaml:13:1: YAML syntax error: All mapping items must start at the same column"],
      at: ["  flood:"],
    },
    {
      // parser: 9:11 (the `h1` above)
      name: "port key indented two spaces too much",
      lines: edit(10, "      vni: 100"),
      want: ["t.yaml:10:7: YAML syntax error: bad indentation: 'vni' is at column 7, not 5 like 'name' above it"],
      at: ["vni: 100"],
    },
    {
      // parser: 16:1, "All mapping items must start at the same column"
      name: "key of a nested list entry indented one space too much",
      lines: edit(15, '      - mac: "02:00:00:00:01:01"', "         port: h1"),
      want: ["t.yaml:16:10: YAML syntax error: bad indentation: 'port' is at column 10, not 9 like 'mac' above it"],
      at: ["port: h1"],
    },
    {
      // parser: 4:14
      name: "second key of a mapping indented one space too much",
      lines: edit(5, "   udp_port: 4789"),
      want: ["t.yaml:5:4: YAML syntax error: bad indentation: 'udp_port' is at column 4, not 3 like 'source_ip' above it"],
      at: ["udp_port"],
    },
    {
      name: "second key of a mapping indented one space too little (the parser is right)",
      lines: edit(5, " udp_port: 4789"),
      want: ["t.yaml:5:1: YAML syntax error: All mapping items must start at the same column"],
      at: [" udp_port"],
    },
    {
      // parser: 5:1, the key that is where the file's 2-space step puts it
      name: "first key of a mapping indented one space too much",
      lines: edit(4, "   source_ip: 10.0.0.1"),
      want: ["t.yaml:4:4: YAML syntax error: bad indentation: 'source_ip' is at column 4, not 3 like 'udp_port' below it"],
      at: ["source_ip"],
    },
    {
      // parser: 4:13 (its own value)
      name: "first key of a mapping indented one space too little",
      lines: edit(4, " source_ip: 10.0.0.1"),
      want: ["t.yaml:4:2: YAML syntax error: bad indentation: 'source_ip' is at column 2, not 3 like 'udp_port' below it"],
      at: ["source_ip"],
    },
    {
      // parser: 8:1, "A block sequence may not be used as an implicit map key", at the second item
      name: "first list item indented one space too much",
      lines: edit(7, "   - name: eth0", "  - name: eth1"),
      want: ["t.yaml:7:4: YAML syntax error: bad indentation: this list item is at column 4, not 3 like the one below it"],
      at: ["- name: eth0"],
    },
    {
      // parser: 9:10, "Nested mappings are not allowed in compact mappings", at the `h1`
      name: "list item whose keys go on below it indented one space too little",
      lines: edit(9, " - name: h1"),
      want: ["t.yaml:9:2: YAML syntax error: bad indentation: this list item is at column 2, not 3 (where its 'name' lines up with 'vni' below it)"],
      at: ["- name: h1"],
    },
    {
      // parser: 10:1, "Sequence item without - indicator", at `vni` below it
      name: "list item whose keys go on below it indented one space too much",
      lines: edit(9, "   - name: h1"),
      want: ["t.yaml:9:4: YAML syntax error: bad indentation: this list item is at column 4, not 3 (where its 'name' lines up with 'vni' below it)"],
      at: ["- name: h1"],
    },
    {
      // parser: 19:7, "Nested mappings are not allowed in compact mappings", at the `16`
      name: "key dedented out of its mapping (it became a key of the mapping around it)",
      lines: edit(18, "  fdb: 1024", "vnis: 16", "  flood_per_vni: 8", "  remote_vteps: 512"),
      want: ["t.yaml:19:1: YAML syntax error: bad indentation: 'vnis' is at column 1, not 3 like 'fdb' above it"],
      at: ["vnis: 16"],
    },
    {
      // parser: 3:1, "Unexpected scalar at node end", and more after it
      name: "first line of the file indented",
      lines: edit(1, " switch:"),
      want: ["t.yaml:1:2: YAML syntax error: bad indentation: 'switch' is at column 2, not 1 like 'vtep' below it"],
      at: ["switch:"],
    },
    {
      // parser: 5:1, the comment line, "All mapping items must start at the same column"
      name: "over-indented key after a comment",
      lines: edit(5, "  # VXLAN's port", "   udp_port: 4789"),
      want: ["t.yaml:6:4: YAML syntax error: bad indentation: 'udp_port' is at column 4, not 3 like 'source_ip' above it"],
      at: ["udp_port"],
    },
    {
      // parser: 14:1, "All mapping items must start at the same column"
      name: "over-indented key after a flow value",
      lines: edit(14, "     static_macs:", '        - { mac: "02:00:00:00:01:01", port: h1 }'),
      want: ["t.yaml:14:6: YAML syntax error: bad indentation: 'static_macs' is at column 6, not 5 like 'flood' above it"],
      at: ["static_macs:"],
    },
    {
      name: "top-level key indented (the parser is right)",
      lines: edit(8, " ports:"),
      want: ["t.yaml:8:1: YAML syntax error: All mapping items must start at the same column"],
      at: [" ports:"],
    },
    // --- tabs ---------------------------------------------------------------
    {
      name: "tab for indentation (the parser is right)",
      lines: edit(10, "\tvni: 100"),
      want: ["t.yaml:10:1: YAML syntax error: Tabs are not allowed as indentation"],
      at: ["\t"],
    },
    {
      // parser: 10:1, "All mapping items must start at the same column"
      name: "tab after spaces",
      lines: edit(10, "  \tvni: 100"),
      want: ["t.yaml:10:3: YAML syntax error: Tabs are not allowed as indentation"],
      at: ["\tvni"],
    },
    {
      name: "every tab is reported",
      lines: edit(2, "\tname: leaf1").map((l) => (l === "    vni: 100" ? "\tvni: 100" : l)),
      want: [
        "t.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation",
        "t.yaml:10:1: YAML syntax error: Tabs are not allowed as indentation",
      ],
      at: ["\tname", "\tvni"],
    },
    {
      // parser: also 4:13, "Nested mappings are not allowed in compact mappings" (the tab made line 5 look deeper)
      name: "a tab that makes the next line look wrong is one problem",
      lines: edit(4, "\tsource_ip: 10.0.0.1").map((l) => (l === "    vni: 100" ? "\tvni: 100" : l)),
      want: [
        "t.yaml:4:1: YAML syntax error: Tabs are not allowed as indentation",
        "t.yaml:10:1: YAML syntax error: Tabs are not allowed as indentation",
      ],
      at: ["\tsource_ip", "\tvni"],
    },
    {
      // parser: also 16:1, about the next line, which is fine
      name: "tab after a list dash",
      lines: edit(15, '      -\tmac: "02:00:00:00:01:01"', "        port: h1"),
      want: ["t.yaml:15:8: YAML syntax error: Tabs are not allowed as indentation"],
      at: ["\tmac"],
    },
    // --- unclosed flow collections and quotes ------------------------------
    {
      // parser: 14:5, the next line
      name: "unclosed [",
      lines: edit(13, "    flood: [10.0.0.2, 10.0.0.3"),
      want: ["t.yaml:13:12: YAML syntax error: unclosed [ opened here"],
      at: ["[10.0.0.2, 10.0.0.3"],
    },
    {
      // parser: 14:1, past the end of the file
      name: "unclosed [ on the last line",
      lines: [...REAL.slice(0, 12), "    flood: [10.0.0.2, 10.0.0.3"],
      want: ["t.yaml:13:12: YAML syntax error: unclosed [ opened here"],
      at: ["[10.0.0.2"],
    },
    {
      // parser: 15:5, the line after the list
      name: "unclosed [ over two lines",
      lines: edit(13, "    flood: [10.0.0.2,", "            10.0.0.3", "    static_macs: []"),
      want: ["t.yaml:13:12: YAML syntax error: unclosed [ opened here"],
      at: ["[10.0.0.2,"],
    },
    {
      name: "a ] on a line not indented enough is not an unclosed [ (the parser is right)",
      lines: edit(13, "    flood: [10.0.0.2,", "    10.0.0.3]"),
      want: ["t.yaml:14:5: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]"],
      at: ["10.0.0.3]"],
    },
    {
      // parser: 16:3, the next list entry
      name: "unclosed {",
      lines: edit(15, '      - { mac: "02:00:00:00:01:01", port: h1'),
      want: ["t.yaml:15:9: YAML syntax error: unclosed { opened here"],
      at: ["{ mac:"],
    },
    {
      // parser: 15:46, at the ]
      name: "{ closed with ]",
      lines: edit(15, '      - { mac: "02:00:00:00:01:01", port: h1 ]'),
      want: ["t.yaml:15:9: YAML syntax error: unclosed { opened here"],
      at: ["{ mac:"],
    },
    {
      // parser: 9:1 twice
      name: "unclosed [ and { together",
      lines: [...REAL.slice(0, 7), "ports: [{name: h1, vni: 100", ...REAL.slice(10)],
      want: ["t.yaml:8:8: YAML syntax error: unclosed [ opened here (missing }])"],
      at: ["[{name: h1"],
    },
    {
      name: "stray closing bracket (the parser is right)",
      lines: edit(13, "    flood: [10.0.0.2, 10.0.0.3]]"),
      want: ['t.yaml:13:32: YAML syntax error: Unexpected flow-seq-end token in YAML stream: "]"'],
      at: ["]"],
    },
    {
      // parser: 2:15, the end of the line
      name: "unclosed double quote",
      lines: edit(2, '  name: "leaf1'),
      want: ['t.yaml:2:9: YAML syntax error: unclosed " opened here'],
      at: ['"leaf1'],
    },
    {
      // parser: 19:1, where the file ends
      name: "unclosed single quote, no quote after it",
      lines: [REAL[0], "  name: 'leaf1", ...edit(15, "      - { mac: 02:00:00:00:01:01, port: h1 }").slice(2)],
      want: ["t.yaml:2:9: YAML syntax error: unclosed ' opened here"],
      at: ["'leaf1"],
    },
    {
      // parser: 13:33 (end of line) and 14:5
      name: "unclosed quote inside [ ]",
      lines: edit(13, '    flood: ["10.0.0.2, 10.0.0.3]'),
      want: ['t.yaml:13:13: YAML syntax error: unclosed " opened here'],
      at: ['"10.0.0.2'],
    },
    // --- missing ':' ---------------------------------------------------------
    {
      name: "missing ':' after a key with a value",
      lines: edit(5, "  udp_port 4789"),
      want: ["t.yaml:5:3: YAML syntax error: Implicit map keys need to be followed by map values (missing ':' after 'udp_port'?)"],
      at: ["udp_port 4789"],
    },
    {
      name: "missing space after ':'",
      lines: edit(10, "    vni:100"),
      want: ["t.yaml:10:5: YAML syntax error: Implicit map keys need to be followed by map values (missing space after ':' in 'vni:100'?)"],
      at: ["vni:100"],
    },
    {
      name: "missing ':' after a section key",
      lines: edit(3, "vtep"),
      want: ["t.yaml:3:1: YAML syntax error: Implicit keys need to be on a single line (missing ':' after 'vtep'?)"],
      at: ["vtep"],
    },
    {
      // parser: also 12:10, 14:1, 16:1 and 16:3
      name: "missing ':' after a key holding a list: one problem",
      lines: edit(11, "vnis"),
      want: ["t.yaml:11:1: YAML syntax error: Implicit keys need to be on a single line (missing ':' after 'vnis'?)"],
      at: ["vnis"],
    },
    {
      name: "missing ':' after the only key of a section (valid YAML: a string)",
      lines: [...REAL.slice(0, 3), "  source_ip 10.0.0.1", ...REAL.slice(5)],
      want: ['t.yaml:4:3: vtep must be a mapping, got string "source_ip 10.0.0.1" (missing \':\' after \'source_ip\'?)'],
      at: ["source_ip 10.0.0.1"],
    },
    {
      name: "missing ':' in a list entry (valid YAML: a string)",
      lines: edit(7, "  - name eth0"),
      want: ['t.yaml:7:5: uplinks[0] must be a mapping, got string "name eth0" (missing \':\' after \'name\'?)'],
      at: ["name eth0"],
    },
    {
      name: "missing space after a list dash (valid YAML: a mapping)",
      lines: edit(7, "  -name: eth0"),
      want: ["t.yaml:7:3: uplinks must be a list, got a mapping (missing space after '-' in '-name'?)"],
      at: ["-name"],
    },
    // --- list items at the wrong depth --------------------------------------
    {
      name: "list item one space deeper than the one above (the parser is right)",
      lines: edit(7, "  - name: eth0", "   - name: eth1"),
      want: ["t.yaml:8:4: YAML syntax error: All sequence items must start at the same column"],
      at: ["- name: eth1"],
    },
    {
      // parser: also 8:2
      name: "list item one space shallower than the one above",
      lines: edit(7, "  - name: eth0", " - name: eth1"),
      want: ["t.yaml:8:1: YAML syntax error: A block sequence may not be used as an implicit map key"],
      at: [" - name: eth1"],
    },
    {
      // parser: also 11:5
      name: "list item at the depth of the keys of the entry above",
      lines: edit(10, "    vni: 100", "    - name: h2", "      vni: 100"),
      want: ["t.yaml:11:1: YAML syntax error: A block sequence may not be used as an implicit map key"],
      at: ["    - name: h2"],
    },
    // --- duplicate keys (valid YAML: the schema reports them) ---------------
    {
      name: "duplicate key in a list entry",
      lines: edit(13, "    flood: [10.0.0.2]", "    learning: false", "    flood: [10.0.0.3]"),
      want: ["t.yaml:15:5: duplicate key 'flood' in vnis[0] (first at line 13)"],
      at: ["flood: [10.0.0.3]"],
    },
    {
      name: "duplicate key in a flow mapping",
      lines: edit(15, '      - { mac: "02:00:00:00:01:01", port: h1, mac: "02:00:00:00:01:02" }'),
      want: ["t.yaml:15:47: duplicate key 'mac' in vnis[0].static_macs[0] (first at line 15)"],
      at: ['mac: "02:00:00:00:01:02"'],
    },
  ]);
});

describe("table sizes left at their default", () => {
  // Big files: the defaults are thousands of entries.
  it("too many vnis points at the first one beyond the limit", () => {
    const lines = [...BASE, "vnis:", ...Array.from({ length: 4097 }, (_, i) => `  - vni: ${i + 1}`), "tables:", "  fdb: 1024"];
    const text = lines.join("\n");
    const got = problems(text);
    expect(got).toEqual(["t.yaml:4104:5: too many vnis: 4097 declared, tables.vnis is 4096 (the default)"]);
    expect(textAt(text, got[0])).toBe("vni: 4097");
  });

  it("too many remote VTEP pairs points at the first one beyond the limit", () => {
    const ip = (i: number) => `10.1.${i >> 8}.${i & 255}`;
    const lines = [
      ...BASE,
      "vnis:",
      "  - vni: 100",
      "    static_macs:",
      ...Array.from({ length: 4096 }, (_, i) => `      - { mac: ${mac(i + 1)}, remote: ${ip(i + 1)} }`),
      "    flood: [10.0.0.2]", // the 4097th, after the static macs in the file
    ];
    const text = lines.join("\n");
    const got = problems(text);
    expect(got).toEqual([
      "t.yaml:4106:13: 4097 remote VTEP (vni, ip) pairs in flood lists and static macs, more than tables.remote_vteps 4096 (the default)",
    ]);
    expect(textAt(text, got[0])).toBe("10.0.0.2]");
  });

  it("too many static macs points at the first one beyond the limit", { timeout: 60_000 }, () => {
    const lines = [
      ...BASE,
      "ports: [{name: h1, vni: 100}]",
      ...VNI100,
      "    static_macs:",
      ...Array.from({ length: 65537 }, (_, i) => `      - { mac: ${mac(i + 1)}, port: h1 }`),
    ];
    const text = lines.join("\n");
    const got = problems(text);
    expect(got).toEqual(["t.yaml:65547:9: 65537 static macs, more than tables.fdb 65536 (the default)"]);
    expect(textAt(text, got[0])).toBe(`{ mac: ${mac(65537)}, port: h1 }`);
  });
});

describe("schema errors", () => {
  run([
    {
      name: "vni out of range",
      lines: [...BASE, "vnis:", "  - vni: 16777216"],
      want: ["t.yaml:8:10: vni 16777216 out of range 1..16777215"],
      at: ["16777216"],
    },
    {
      name: "vni zero",
      lines: [...BASE, "vnis:", "  - vni: 0"],
      want: ["t.yaml:8:10: vni 0 out of range 1..16777215"],
      at: ["0"],
    },
    {
      name: "integer given as a float",
      lines: [...BASE, "vnis:", "  - vni: 100.0", "  - vni: 1e2"],
      want: [
        "t.yaml:8:10: vni must be an integer in 1..16777215, got 100.0",
        "t.yaml:9:10: vni must be an integer in 1..16777215, got 1e2",
      ],
      at: ["100.0", "1e2"],
    },
    {
      name: "integer given as a string",
      lines: [...BASE, "vnis:", '  - vni: "100"'],
      want: ['t.yaml:8:10: vni must be an integer in 1..16777215, got string "100"'],
      at: ['"100"'],
    },
    {
      name: "integer too big for a double",
      lines: [...BASE, "vnis:", "  - vni: 99999999999999999999"],
      want: ["t.yaml:8:10: vni 99999999999999999999 out of range 1..16777215"],
      at: ["9999"],
    },
    {
      name: "negative integer",
      lines: [...BASE, "vnis:", "  - vni: 1", "    ageing: -1"],
      want: ["t.yaml:9:13: ageing -1 out of range 0..1000000"],
      at: ["-1"],
    },
    {
      name: "ageing too large",
      lines: [...BASE, "vnis:", "  - vni: 1", "    ageing: 1000001"],
      want: ["t.yaml:9:13: ageing 1000001 out of range 0..1000000"],
      at: ["1000001"],
    },
    {
      name: "boolean given as yes",
      lines: [...BASE, "vnis:", "  - vni: 1", "    learning: yes"],
      want: ['t.yaml:9:15: learning must be true or false, got string "yes"'],
      at: ["yes"],
    },
    {
      name: "udp_port out of range",
      lines: [...BASE, "  - name: eth1", "tables: {}", "vtep_x: 1"].slice(0, 4).concat(["  udp_port: 0", "uplinks:", "  - name: eth0"]),
      want: ["t.yaml:5:13: udp_port 0 out of range 1..65535"],
      at: ["0"],
    },
    {
      name: "bad switch name",
      lines: ["switch:", "  name: Leaf_1", ...BASE.slice(2)],
      want: ['t.yaml:2:9: name "Leaf_1" must match ^[a-z0-9][a-z0-9-]{0,31}$'],
      at: ["Leaf_1"],
    },
    {
      name: "switch name too long",
      lines: ["switch:", `  name: ${"a".repeat(33)}`, ...BASE.slice(2)],
      want: [`t.yaml:2:9: name "${"a".repeat(33)}" must match ^[a-z0-9][a-z0-9-]{0,31}$`],
      at: ["aaa"],
    },
    {
      name: "switch name is a number",
      lines: ["switch:", "  name: 123", ...BASE.slice(2)],
      want: ["t.yaml:2:9: name must be a string, got 123"],
      at: ["123"],
    },
    {
      name: "missing required key points at the owning key",
      lines: ["switch:", "  nam: leaf1", ...BASE.slice(2)],
      want: [
        "t.yaml:1:1: missing required key 'name' in switch",
        "t.yaml:2:3: unknown key 'nam' in switch (did you mean 'name'?)",
      ],
      at: ["switch", "nam"],
    },
    {
      name: "missing top-level sections",
      lines: ["switch:", "  name: leaf1"],
      want: ["t.yaml:1:1: missing required key 'vtep'", "t.yaml:1:1: missing required key 'uplinks'"],
      at: ["switch", "switch"],
    },
    {
      name: "empty required section",
      lines: ["switch:", "  name: leaf1", "vtep:", "uplinks:", "  - name: eth0"],
      want: ["t.yaml:3:1: missing required key 'source_ip' in vtep"],
      at: ["vtep"],
    },
    {
      name: "missing key in a list entry",
      lines: [...BASE, "vnis:", "  - learning: false"],
      want: ["t.yaml:8:5: missing required key 'vni' in vnis[0]"],
      at: ["learning"],
    },
    {
      name: "no uplinks",
      lines: [...BASE.slice(0, 4), "uplinks: []"],
      want: ["t.yaml:5:10: uplinks must have at least 1 entry"],
      at: ["[]"],
    },
    {
      name: "section of the wrong type",
      lines: ["switch:", "  name: leaf1", "vtep: 10.0.0.1", "uplinks: eth0"],
      want: [
        't.yaml:3:7: vtep must be a mapping, got string "10.0.0.1"',
        't.yaml:4:10: uplinks must be a list, got string "eth0"',
      ],
      at: ["10.0.0.1", "eth0"],
    },
    {
      name: "list entry of the wrong type",
      lines: [...BASE, "ports:", "  - h1"],
      want: ['t.yaml:8:5: ports[0] must be a mapping, got string "h1"'],
      at: ["h1"],
    },
    {
      name: "duplicate key",
      lines: ["switch:", "  name: leaf1", "vtep:", "  source_ip: 10.0.0.1", "  source_ip: 10.0.0.9", ...BASE.slice(4)],
      want: ["t.yaml:5:3: duplicate key 'source_ip' in vtep (first at line 4)"],
      at: ["source_ip: 10.0.0.9"],
    },
    {
      name: "duplicate top-level key",
      lines: [...BASE, "switch:", "  name: leaf2"],
      want: ["t.yaml:7:1: duplicate key 'switch' (first at line 1)"],
      at: ["switch"],
    },
    {
      name: "unknown keys with suggestions",
      lines: [
        "switch:",
        "  name: leaf1",
        "vtep:",
        "  source_ip: 10.0.0.1",
        "  udpport: 4789",
        "uplinks:",
        "  - name: eth0",
        "vni:",
        "  - vni: 1",
        "tables:",
        "  flood_per_vnis: 8",
        "  sourceIp: 1",
      ],
      want: [
        "t.yaml:5:3: unknown key 'udpport' in vtep (did you mean 'udp_port'?)",
        "t.yaml:8:1: unknown key 'vni' (did you mean 'vnis'?)",
        "t.yaml:11:3: unknown key 'flood_per_vnis' in tables (did you mean 'flood_per_vni'?)",
        "t.yaml:12:3: unknown key 'sourceIp' in tables (expected one of: fdb, vnis, flood_per_vni, remote_vteps, event_ring, mcast_groups, mcast_members)",
      ],
      at: ["udpport", "vni:", "flood_per_vnis", "sourceIp"],
    },
    {
      name: "unknown key in a nested list entry",
      lines: [...BASE, ...VNI100, "    static_macs:", "      - { mac: 02:00:00:00:00:01, port: h1, remot: 10.0.0.2 }"],
      want: [
        "t.yaml:10:41: static mac port h1 is not an access port",
        "t.yaml:10:45: unknown key 'remot' in vnis[0].static_macs[0] (did you mean 'remote'?)",
      ],
      at: ["h1", "remot"],
    },
    {
      name: "interface names",
      lines: [
        ...BASE.slice(0, 5),
        "  - name: eth0.1000-too-long",
        "  - name: a/b",
        '  - name: "a b"',
        "  - name: ..",
        '  - name: ""',
        "  - name: a:1",
      ],
      want: [
        't.yaml:6:11: name "eth0.1000-too-long" is not a valid interface name (longer than 15 bytes)',
        't.yaml:7:11: name "a/b" is not a valid interface name (contains \'/\')',
        't.yaml:8:11: name "a b" is not a valid interface name (contains whitespace)',
        't.yaml:9:11: name ".." is not a valid interface name (\'..\' is reserved)',
        't.yaml:10:11: name "" is not a valid interface name (empty)',
        't.yaml:11:11: name "a:1" is not a valid interface name (contains \':\')',
      ],
      at: ["eth0", "a/b", '"a b"', "..", '""', "a:1"],
    },
    {
      name: "source_ip not unicast or invalid",
      lines: [
        "switch:",
        "  name: leaf1",
        "vtep:",
        "  source_ip: 127.0.0.1",
        "uplinks:",
        "  - name: eth0",
        "vnis:",
        "  - vni: 1",
        "    flood: [0.0.0.0, 224.0.0.5, 255.255.255.255, 10.0.0, 010.0.0.2, 10.0.0.2]",
      ],
      want: [
        "t.yaml:4:14: source_ip 127.0.0.1 is not a unicast IPv4 address (loopback)",
        "t.yaml:9:13: flood entry 0.0.0.0 is not a unicast IPv4 address (unspecified address)",
        "t.yaml:9:22: flood entry 224.0.0.5 is not a unicast IPv4 address (multicast)",
        "t.yaml:9:33: flood entry 255.255.255.255 is not a unicast IPv4 address (broadcast)",
        't.yaml:9:50: flood entry "10.0.0" is not a valid IPv4 address',
        't.yaml:9:58: flood entry "010.0.0.2" is not a valid IPv4 address',
      ],
      at: ["127.0.0.1", "0.0.0.0", "224.0.0.5", "255.255.255.255", "10.0.0,", "010.0.0.2"],
    },
    {
      name: "flood entry not a string",
      lines: [...BASE, ...VNI100, "    flood: [10]"],
      want: ["t.yaml:9:13: flood entry must be a string, got 10"],
      at: ["10]"],
    },
    {
      name: "MACs",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}]",
        ...VNI100,
        "    static_macs:",
        "      - { mac: 02:00:00:00:01, port: h1 }",
        '      - { mac: "01:00:5e:00:00:01", port: h1 }',
        "      - { mac: ff-ff-ff-ff-ff-ff, port: h1 }",
        "      - { mac: 00:00:00:00:00:00, port: h1 }",
      ],
      want: [
        't.yaml:11:16: mac "02:00:00:00:01" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)',
        "t.yaml:12:16: mac 01:00:5e:00:00:01 is not a unicast MAC address (multicast)",
        "t.yaml:13:16: mac ff-ff-ff-ff-ff-ff is not a unicast MAC address (broadcast)",
        "t.yaml:14:16: mac 00:00:00:00:00:00 is not a unicast MAC address (all-zero)",
      ],
      at: ["02:00:00:00:01,", '"01:00', "ff-ff", "00:00"],
    },
    {
      name: "vlan out of range (map form and list form)",
      lines: [
        ...BASE,
        "ports:",
        "  - name: t1",
        "    vlans: {4095: 100, 10: 16777216}",
        "  - name: t2",
        "    vlans:",
        "      - { vlan: 0, vni: 100 }",
        ...VNI100,
      ],
      want: [
        "t.yaml:9:13: vlan 4095 out of range 1..4094",
        "t.yaml:9:28: vni 16777216 out of range 1..16777215",
        "t.yaml:12:17: vlan 0 out of range 1..4094",
      ],
      at: ["4095", "16777216", "0,"],
    },
    {
      name: "vlans of the wrong type",
      lines: [...BASE, "ports:", "  - name: t1", "    vlans: 10", ...VNI100],
      want: ["t.yaml:9:12: vlans must be a mapping of VLAN to VNI or a list of {vlan, vni}, got 10"],
      at: ["10"],
    },
    {
      name: "vlan key given as a string",
      lines: [...BASE, "ports:", "  - name: t1", '    vlans: {"10": 100}', ...VNI100],
      want: ['t.yaml:9:13: vlan must be an integer in 1..4094, got string "10"'],
      at: ['"10"'],
    },
    {
      name: "table sizes out of range",
      lines: [...BASE, "tables:", "  fdb: 8", "  vnis: 65537", "  flood_per_vni: 257", "  remote_vteps: 1048577"],
      want: [
        "t.yaml:8:8: fdb 8 out of range 16..16777216",
        "t.yaml:9:9: vnis 65537 out of range 1..65536",
        "t.yaml:10:18: flood_per_vni 257 out of range 1..256",
        "t.yaml:11:17: remote_vteps 1048577 out of range 1..1048576",
      ],
      at: ["8", "65537", "257", "1048577"],
    },
    {
      name: "event ring not a power of two, or too small",
      lines: [...BASE, "tables:", "  event_ring: 1000000"],
      want: ["t.yaml:8:15: event_ring 1000000 must be a power of two (e.g. 1048576)"],
      at: ["1000000"],
    },
    {
      name: "event ring below a page",
      lines: [...BASE, "tables:", "  event_ring: 1024"],
      want: ["t.yaml:8:15: event_ring 1024 out of range 4096..1073741824"],
      at: ["1024"],
    },
    {
      name: "management",
      lines: [...BASE, "management:", "  socket: run/leaf1.sock", "  http: 10.0.0.1:8080"],
      want: [
        't.yaml:8:11: socket must be an absolute path, got "run/leaf1.sock"',
        "t.yaml:9:9: http host 10.0.0.1 is not a loopback address (127.0.0.0/8 or [::1]): another address needs token_file (a file holding the bearer token HTTP clients must send)",
      ],
      at: ["run/", "10.0.0.1"],
    },
    {
      name: "management.http port out of range",
      lines: [...BASE, "management:", "  http: 127.0.0.1:65536"],
      want: ["t.yaml:8:9: http port 65536 out of range 1..65535"],
      at: ["127.0.0.1:65536"],
    },
    {
      name: "management.http port zero",
      lines: [...BASE, "management:", "  http: 127.0.0.1:0"],
      want: ["t.yaml:8:9: http port 0 out of range 1..65535"],
      at: ["127.0.0.1:0"],
    },
    {
      name: "management.http not HOST:PORT",
      lines: [...BASE, "management:", "  http: localhost"],
      want: [
        't.yaml:8:9: http "localhost" must be HOST:PORT with an IP address, e.g. 127.0.0.1:8080 or [::1]:8080',
      ],
      at: ["localhost"],
    },
    {
      name: "management.http IPv6 non-loopback",
      lines: [...BASE, "management:", '  http: "[fe80::1]:80"'],
      want: ["t.yaml:8:9: http host [fe80::1] is not a loopback address (127.0.0.0/8 or [::1]): another address needs token_file (a file holding the bearer token HTTP clients must send)"],
      at: ['"[fe80'],
    },
    {
      name: "socket path too long",
      lines: [...BASE, "management:", `  socket: /${"s".repeat(107)}`],
      want: ["t.yaml:8:11: socket path is longer than 107 bytes (unix socket limit)"],
      at: ["/sss"],
    },
    {
      name: "bgp keys are checked for duplicates",
      lines: [
        ...BASE,
        "bgp:",
        "  asn: 65001",
        "  router_id: 10.0.0.1",
        "  neighbors:",
        "    - { address: 10.0.0.9, address: 10.0.0.8, remote_asn: 1 }",
        "  asn: 65002",
      ],
      want: [
        "t.yaml:11:28: duplicate key 'address' in bgp.neighbors[0] (first at line 11)",
        "t.yaml:12:3: duplicate key 'asn' in bgp (first at line 8)",
      ],
      at: ["address: 10.0.0.8", "asn: 65002"],
    },
    {
      name: "unknown bgp key (details in config-bgp.test.ts)",
      lines: [...BASE, "bgp:", "  asn: 65001", "  router_id: 10.0.0.1", "  neighbours: []"],
      want: ["t.yaml:10:3: unknown key 'neighbours' in bgp (did you mean 'neighbors'?)"],
      at: ["neighbours"],
    },
    {
      name: "bgp not a mapping",
      lines: [...BASE, "bgp: [1]"],
      want: ["t.yaml:7:6: bgp must be a mapping, got a list"],
      at: ["[1]"],
    },
  ]);
});

describe("semantic errors", () => {
  run([
    {
      name: "duplicate vni",
      lines: [...BASE, ...VNI100, "  - vni: 200", "  - vni: 100"],
      want: ["t.yaml:10:10: duplicate vni 100 (first declared at line 8)"],
      at: ["100"],
    },
    {
      name: "port uses undeclared vni (untagged and via vlan)",
      lines: [...BASE, "ports:", "  - name: h1", "    vni: 300", "  - name: t1", "    vlans: {10: 100, 20: 400}", ...VNI100],
      want: [
        "t.yaml:9:10: port h1 uses vni 300, which is not declared under vnis",
        "t.yaml:11:26: port t1 uses vni 400, which is not declared under vnis",
      ],
      at: ["300", "400"],
    },
    {
      name: "duplicate vlan on a port (map form)",
      lines: [...BASE, "ports:", "  - name: t1", "    vlans:", "      10: 100", "      10: 200", ...VNI100, "  - vni: 200"],
      want: ["t.yaml:11:7: duplicate vlan 10 on port t1 (first at line 10)"],
      at: ["10: 200"],
    },
    {
      name: "duplicate vlan on a port (list form)",
      lines: [
        ...BASE,
        "ports:",
        "  - name: t1",
        "    vlans:",
        "      - { vlan: 10, vni: 100 }",
        "      - { vlan: 10, vni: 200 }",
        ...VNI100,
        "  - vni: 200",
      ],
      want: ["t.yaml:11:17: duplicate vlan 10 on port t1 (first at line 10)"],
      at: ["10, vni: 200"],
    },
    {
      name: "same vlan on different ports is fine, same vni twice on one port is not",
      lines: [
        ...BASE,
        "ports:",
        "  - name: t1",
        "    vlans: {10: 100}",
        "  - name: t2",
        "    vni: 100",
        "    vlans: {10: 100}",
        ...VNI100,
      ],
      want: ["t.yaml:12:17: vni 100 is mapped more than once on port t2 (first at line 11)"],
      at: ["100}"],
    },
    {
      name: "port with neither vni nor vlans",
      lines: [...BASE, "ports:", "  - name: h1", "  - name: h2", "    vlans: {}", ...VNI100],
      want: ["t.yaml:8:5: port h1 needs a vni or vlans", "t.yaml:9:5: port h2 needs a vni or vlans"],
      at: ["name: h1", "name: h2"],
    },
    {
      name: "interface name used twice",
      lines: [...BASE, "  - name: eth1", "  - name: eth1", "ports:", "  - name: eth0", "    vni: 100", ...VNI100],
      want: [
        "t.yaml:8:11: interface eth1 is used more than once (first as uplink at line 7)",
        "t.yaml:10:11: interface eth0 is used more than once (first as uplink at line 6)",
      ],
      at: ["eth1", "eth0"],
    },
    {
      name: "static mac needs exactly one of port / remote",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}]",
        ...VNI100,
        "    static_macs:",
        "      - { mac: 02:00:00:00:00:01, port: h1, remote: 10.0.0.2 }",
        "      - { mac: 02:00:00:00:00:02 }",
      ],
      want: [
        "t.yaml:11:9: static mac 02:00:00:00:00:01 has both port and remote (give exactly one)",
        "t.yaml:12:9: static mac 02:00:00:00:00:02 has neither port nor remote (give exactly one)",
      ],
      at: ["{ mac: 02:00:00:00:00:01", "{ mac: 02:00:00:00:00:02"],
    },
    {
      name: "static mac port must carry the vni",
      lines: [
        ...BASE,
        "ports:",
        "  - { name: h1, vni: 200 }",
        "  - { name: t1, vlans: {10: 100} }",
        ...VNI100,
        "  - vni: 200",
        "    static_macs:",
        "      - { mac: 02:00:00:00:00:01, port: h1 }",
        "      - { mac: 02:00:00:00:00:02, port: t1 }",
        "      - { mac: 02:00:00:00:00:03, port: h9 }",
        "      - { mac: 02:00:00:00:00:04, port: eth0 }",
      ],
      want: [
        "t.yaml:15:41: port t1 does not carry vni 200",
        "t.yaml:16:41: static mac port h9 is not an access port",
        "t.yaml:17:41: static mac port eth0 is an uplink, not an access port",
      ],
      at: ["t1", "h9", "eth0"],
    },
    {
      name: "same mac twice in a vni (after normalisation), fine across vnis",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}, {name: h2, vni: 200}]",
        ...VNI100,
        "    static_macs:",
        "      - { mac: 02:00:00:00:00:AA, port: h1 }",
        "      - { mac: 02-00-00-00-00-aa, remote: 10.0.0.2 }",
        "  - vni: 200",
        "    static_macs:",
        "      - { mac: 02:00:00:00:00:aa, port: h2 }",
      ],
      want: ["t.yaml:12:16: duplicate static mac 02:00:00:00:00:aa in vni 100 (first at line 11)"],
      at: ["02-00-00-00-00-aa"],
    },
    {
      name: "flood entries: local source_ip and duplicates",
      lines: [...BASE, ...VNI100, "    flood:", "      - 10.0.0.2", "      - 10.0.0.1", "      - 10.0.0.2"],
      want: [
        "t.yaml:11:9: flood entry 10.0.0.1 is the local source_ip",
        "t.yaml:12:9: duplicate flood entry 10.0.0.2 (first at line 10)",
      ],
      at: ["10.0.0.1", "10.0.0.2"],
    },
    {
      name: "remote static mac at the local VTEP",
      lines: [...BASE, ...VNI100, "    static_macs:", "      - { mac: 02:00:00:00:00:01, remote: 10.0.0.1 }"],
      want: ["t.yaml:10:43: remote 10.0.0.1 is the local source_ip"],
      at: ["10.0.0.1 }"],
    },
    {
      name: "too many flood targets (remote + local ports)",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}, {name: t1, vlans: {5: 100}}, {name: h2, vni: 200}]",
        ...VNI100,
        "    flood: [10.0.0.2, 10.0.0.3]",
        "  - vni: 200",
        "tables:",
        "  flood_per_vni: 3",
      ],
      want: ["t.yaml:10:5: vni 100 has 4 flood targets (2 remote + 2 access ports), more than tables.flood_per_vni 3"],
      at: ["flood:"],
    },
    {
      name: "too many flood targets with no flood list points at the vni",
      lines: [...BASE, "ports: [{name: h1, vni: 100}, {name: h2, vni: 100}]", ...VNI100, "tables: {flood_per_vni: 1}"],
      want: ["t.yaml:9:10: vni 100 has 2 flood targets (0 remote + 2 access ports), more than tables.flood_per_vni 1"],
      at: ["100"],
    },
    {
      // (was 10:5, the third entry: nothing is wrong with vni 300 in itself)
      name: "more vnis than tables.vnis points at tables.vnis",
      lines: [...BASE, ...VNI100, "  - vni: 200", "  - vni: 300", "tables:", "  vnis: 2"],
      want: ["t.yaml:12:9: too many vnis: 3 declared, tables.vnis is 2"],
      at: ["2"],
    },
    {
      name: "more vnis than tables.vnis (flow style)",
      lines: [...BASE, "vnis: [{vni: 1}, {vni: 2}]", "tables: {fdb: 1024, vnis: 1}"],
      want: ["t.yaml:8:27: too many vnis: 2 declared, tables.vnis is 1"],
      at: ["1}"],
    },
    {
      name: "more remote VTEP pairs than tables.remote_vteps",
      lines: [
        ...BASE,
        ...VNI100,
        "    flood: [10.0.0.2]",
        "    static_macs: [{ mac: 02:00:00:00:00:01, remote: 10.0.0.3 }]",
        "tables: { remote_vteps: 1 }",
      ],
      // (was 7:1, the `vnis:` key)
      want: [
        "t.yaml:11:25: 2 remote VTEP (vni, ip) pairs in flood lists and static macs, more than tables.remote_vteps 1",
      ],
      at: ["1 }"],
    },
    {
      name: "more static macs than tables.fdb points at tables.fdb",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}]",
        ...VNI100,
        "    static_macs:",
        ...Array.from({ length: 17 }, (_, i) => `      - { mac: ${mac(i + 1)}, port: h1 }`),
        "tables:",
        "  fdb: 16",
      ],
      want: ["t.yaml:29:8: 17 static macs, more than tables.fdb 16"],
      at: ["16"],
    },
    {
      // (was the `flood:` key of each: shortening the flood list cannot fix
      // it, and for vni 200 the list is empty)
      name: "too many flood targets from access ports alone points at the vni",
      lines: [
        ...BASE,
        "ports: [{name: h1, vni: 100}, {name: h2, vni: 100}, {name: h3, vni: 200}, {name: h4, vni: 200}]",
        ...VNI100,
        "    flood: [10.0.0.2]",
        "  - vni: 200",
        "    flood: []",
        "tables: {flood_per_vni: 1}",
      ],
      want: [
        "t.yaml:9:10: vni 100 has 3 flood targets (1 remote + 2 access ports), more than tables.flood_per_vni 1",
        "t.yaml:11:10: vni 200 has 2 flood targets (0 remote + 2 access ports), more than tables.flood_per_vni 1",
      ],
      at: ["100", "200"],
    },
    {
      name: "too many flood targets over the default",
      lines: [...BASE, ...VNI100, `    flood: [${Array.from({ length: 65 }, (_, i) => `10.0.1.${i + 1}`).join(", ")}]`],
      want: ["t.yaml:9:5: vni 100 has 65 flood targets (65 remote + 0 access ports), more than tables.flood_per_vni 64 (the default)"],
      at: ["flood:"],
    },
    {
      name: "a duplicate brought in by an alias is reported at the alias",
      lines: [...BASE, "vnis:", "  - &v100", "    vni: 100", "    flood: [10.0.0.2]", "  - *v100", "  - vni: &two 200", "  - vni: *two"],
      want: ["t.yaml:11:5: duplicate vni 100 (first declared at line 9)", "t.yaml:13:10: duplicate vni 200 (first declared at line 12)"],
      at: ["*v100", "*two"],
    },
    {
      name: "a vlan map shared by an alias",
      lines: [
        ...BASE,
        "ports:",
        "  - name: t1",
        "    vlans: &trunk {10: 100}",
        "  - name: t2",
        "    vni: 100",
        "    vlans: *trunk",
        ...VNI100,
      ],
      want: ["t.yaml:12:12: vni 100 is mapped more than once on port t2 (first at line 11)"],
      at: ["*trunk"],
    },
  ]);
});

describe("several problems at once", () => {
  it("collects schema and semantic problems from the whole file, sorted by position", () => {
    const text = [
      "switch:", // 1
      "  name: Leaf1", // 2
      "vtep:", // 3
      "  source_ip: 10.0.0.1", // 4
      "  udp_port: 70000", // 5
      "uplinks:", // 6
      "  - name: eth0", // 7
      "ports:", // 8
      "  - name: h1", // 9
      "    vni: 300", // 10
      "  - name: eth0", // 11
      "    vni: 100", // 12
      "vnis:", // 13
      "  - vni: 100", // 14
      "    flood: [10.0.0.1]", // 15
      "    static_macs:", // 16
      "      - { mac: 01:00:00:00:00:01, port: h1 }", // 17
      "  - vni: 100", // 18
      "tabels: {}", // 19
    ].join("\n");
    expect(problems(text)).toEqual([
      't.yaml:2:9: name "Leaf1" must match ^[a-z0-9][a-z0-9-]{0,31}$',
      "t.yaml:5:13: udp_port 70000 out of range 1..65535",
      "t.yaml:10:10: port h1 uses vni 300, which is not declared under vnis",
      "t.yaml:11:11: interface eth0 is used more than once (first as uplink at line 7)",
      "t.yaml:15:13: flood entry 10.0.0.1 is the local source_ip",
      "t.yaml:17:16: mac 01:00:00:00:00:01 is not a unicast MAC address (multicast)",
      "t.yaml:17:41: port h1 does not carry vni 100",
      "t.yaml:18:10: duplicate vni 100 (first declared at line 14)",
      "t.yaml:19:1: unknown key 'tabels' (did you mean 'tables'?)",
    ]);
  });

  it("does not pile follow-on errors onto a rejected field", () => {
    // vnis[0].vni is invalid, so "undeclared vni" for the port would be noise.
    const text = [...BASE, "ports: [{name: h1, vni: 100}]", "vnis:", '  - vni: "100"'].join("\n");
    expect(problems(text)).toEqual(['t.yaml:9:10: vni must be an integer in 1..16777215, got string "100"']);
  });

  it("ConfigError message joins all problems", () => {
    const text = [...BASE, "vnis:", "  - vni: 0", "  - vni: -5"].join("\n");
    expect(() => parseConfig(text, FILE)).toThrow(
      "t.yaml:8:10: vni 0 out of range 1..16777215\nt.yaml:9:10: vni -5 out of range 1..16777215",
    );
  });
});

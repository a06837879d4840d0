import { describe, expect, it } from "vitest";
import { BASE, sectionFile } from "./config-section.ts";
import { parseRemoteGroupJson } from "../../src/control/mcast/config.ts";
import type { MulticastConfig } from "../../src/config/types.ts";

const FILE = "m.yaml";
const { load, problems, textAt } = sectionFile(FILE);

/** RFC 3376 defaults, as the loader fills them. */
const TIMERS: MulticastConfig["timers"] = {
  queryIntervalMs: 125000,
  queryResponseIntervalMs: 10000,
  lastMemberQueryIntervalMs: 1000,
  lastMemberQueryCount: 2,
  robustness: 2,
  startupQueryIntervalMs: 31250,
  startupQueryCount: 2,
};
const DISABLED: MulticastConfig = { enabled: false, timers: TIMERS, maxGroupsPerPort: 256, igmpRate: 100, vnis: [] };

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

const G = "{ group: 239.1.1.1, remotes: [10.0.0.2] }";

const cases: Case[] = [
  {
    name: "vni not declared under vnis",
    lines: ["multicast:", "  enabled: true", "  vnis:", "    - vni: 300", "    - { vni: 100 }"],
    want: ["m.yaml:13:12: multicast vni 300 is not declared under vnis"],
    at: ["300"],
  },
  {
    name: "vni membership is not checked when a vnis entry is itself invalid",
    base: [...BASE.slice(0, 8), "  - vni: 0"],
    lines: ["multicast:", "  enabled: true", "  vnis: [{ vni: 300 }]"],
    want: ["m.yaml:9:10: vni 0 out of range 1..16777215"],
    at: ["0"],
  },
  {
    name: "the same vni twice points at the second, naming the first's line",
    lines: ["multicast:", "  enabled: true", "  vnis:", "    - vni: 100", "    - vni: 200", "    - vni: 100", "      snooping: false"],
    want: ["m.yaml:15:12: multicast vni 100 is listed more than once (first at line 13)"],
    at: ["100"],
  },
  {
    name: "a vni repeated through an alias is reported at the alias",
    lines: ["multicast:", "  enabled: true", "  vnis:", "    - &v { vni: 100 }", "    - *v"],
    want: ["m.yaml:14:7: multicast vni 100 is listed more than once (first at line 13)"],
    at: ["*v"],
  },
  {
    name: "vnis while multicast is disabled (explicitly) point at the vnis key",
    lines: ["multicast:", "  enabled: false", "  vnis:", "    - vni: 100"],
    want: ["m.yaml:12:3: multicast.enabled is false: remove the vnis or enable multicast"],
    at: ["vnis:"],
  },
  {
    name: "vnis while multicast is disabled (by default)",
    lines: ["multicast:", "  vnis: [{ vni: 100 }]"],
    want: ["m.yaml:11:3: multicast.enabled is false: remove the vnis or enable multicast"],
    at: ["vnis:"],
  },
  {
    name: "group not multicast, link-local, not an address",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      "        - group: 10.1.1.1",
      "          remotes: [10.0.0.2]",
      "        - { group: 224.0.0.251, remotes: [10.0.0.2] }",
      "        - { group: 239.1.1, remotes: [10.0.0.2] }",
      "        - { group: 239.255.255.255, remotes: [10.0.0.2] }",
      "        - { group: 224.0.1.1, remotes: [10.0.0.2] }",
    ],
    want: [
      "m.yaml:15:18: group 10.1.1.1 is not a multicast group address (224.0.0.0/4)",
      "m.yaml:17:20: group 224.0.0.251 is a link-local group (224.0.0.0/24): those are always flooded, never snooped",
      'm.yaml:18:20: group "239.1.1" is not a valid IPv4 address',
    ],
    at: ["10.1.1.1", "224.0.0.251", "239.1.1,"],
  },
  {
    name: "source not unicast",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      "        - { group: 239.1.1.1, source: 239.1.1.2, remotes: [10.0.0.2] }",
      "        - { group: 239.1.1.1, source: 0.0.0.0, remotes: [10.0.0.2] }",
    ],
    want: [
      "m.yaml:15:39: source 239.1.1.2 is not a unicast IPv4 address (multicast)",
      "m.yaml:16:39: source 0.0.0.0 is not a unicast IPv4 address (unspecified address)",
    ],
    at: ["239.1.1.2", "0.0.0.0"],
  },
  {
    name: "remotes: not unicast, the local source_ip, duplicates (the first keeps its place)",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      "        - group: 239.1.1.1",
      "          remotes:",
      "            - 10.0.0.2",
      "            - 10.0.0.1",
      "            - 10.0.0.3",
      "            - 10.0.0.2",
      "            - 255.255.255.255",
      "            - 10.0.0.1",
    ],
    want: [
      "m.yaml:18:15: remote 10.0.0.1 is the local source_ip",
      "m.yaml:20:15: remote 10.0.0.2 is listed more than once (first at line 17)",
      "m.yaml:21:15: remote 255.255.255.255 is not a unicast IPv4 address (broadcast)",
      "m.yaml:22:15: remote 10.0.0.1 is the local source_ip",
    ],
    at: ["10.0.0.1", "10.0.0.2", "255.255.255.255", "10.0.0.1"],
  },
  {
    name: "a static group needs at least one remote",
    lines: ["multicast:", "  enabled: true", "  vnis:", "    - vni: 100", "      groups:", "        - { group: 239.1.1.1, remotes: [] }", "        - { group: 239.1.1.2 }"],
    want: ["m.yaml:15:40: remotes must have at least 1 entry", "m.yaml:16:11: missing required key 'remotes' in multicast.vnis[0].groups[1]"],
    at: ["[]", "{ group: 239.1.1.2"],
  },
  {
    name: "the same (source, group) twice in a VNI; (*,G) and (S,G) of one group, or another VNI, are fine",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      `        - ${G}`,
      "        - { group: 239.1.1.1, source: 10.1.0.5, remotes: [10.0.0.2] }",
      "        - { group: 239.1.1.1, source: 10.1.0.6, remotes: [10.0.0.2] }",
      "        - { group: 239.1.1.1, remotes: [10.0.0.3] }",
      "        - { group: 239.1.1.1, source: 10.1.0.5, remotes: [10.0.0.4] }",
      "    - vni: 200",
      `      groups: [${G}]`,
    ],
    want: [
      "m.yaml:18:20: group 239.1.1.1 (any source) is listed more than once in vni 100 (first at line 15)",
      "m.yaml:19:20: group 239.1.1.1 (source 10.1.0.5) is listed more than once in vni 100 (first at line 16)",
    ],
    at: ["239.1.1.1", "239.1.1.1"],
  },
  {
    name: "a group whose source is invalid is not also reported as a (*,G) duplicate",
    lines: ["multicast:", "  enabled: true", "  vnis:", "    - vni: 100", "      groups:", `        - ${G}`, "        - { group: 239.1.1.1, source: 10.1.0, remotes: [10.0.0.2] }"],
    want: ['m.yaml:16:39: source "10.1.0" is not a valid IPv4 address'],
    at: ["10.1.0"],
  },
  {
    name: "query_response_interval >= query_interval points at query_response_interval",
    lines: ["multicast:", "  query_interval: 10", "  query_response_interval: 10"],
    want: ["m.yaml:12:28: query_response_interval 10 must be less than query_interval 10"],
    at: ["10"],
  },
  {
    name: "query_response_interval over the default query_interval",
    lines: ["multicast:", "  query_response_interval: 125.5"],
    want: ["m.yaml:11:28: query_response_interval 125.5 must be less than query_interval 125 (the default)"],
    at: ["125.5"],
  },
  {
    name: "query_interval under the default query_response_interval points at query_interval",
    lines: ["multicast:", "  query_interval: 9.999"],
    want: ["m.yaml:11:19: query_interval 9.999 must be more than query_response_interval 10 (the default)"],
    at: ["9.999"],
  },
  {
    name: "timers must be more than 0, to the millisecond, within what IGMPv3 carries",
    lines: [
      "multicast:",
      "  query_interval: 0",
      "  query_response_interval: -1",
      "  last_member_query_interval: 0.0005",
      "  startup_query_interval: 31745",
      "  last_member_query_count: 0",
      "  startup_query_count: 1.5",
    ],
    want: [
      "m.yaml:11:19: query_interval 0 must be more than 0 seconds",
      "m.yaml:12:28: query_response_interval -1 must be more than 0 seconds",
      "m.yaml:13:31: last_member_query_interval 0.0005 must be a whole number of milliseconds (at most 3 decimals)",
      "m.yaml:14:27: startup_query_interval 31745 must be at most 31744 seconds (the most an IGMPv3 query can carry)",
      "m.yaml:15:28: last_member_query_count 0 out of range 1..255",
      "m.yaml:16:24: startup_query_count must be an integer in 1..255, got 1.5",
    ],
    at: ["0", "-1", "0.0005", "31745", "0", "1.5"],
  },
  {
    name: "timers must be numbers",
    lines: ["multicast:", '  query_interval: "125"', "  query_response_interval: 10s", "  last_member_query_interval: .inf"],
    want: [
      'm.yaml:11:19: query_interval must be a number of seconds, got string "125"',
      'm.yaml:12:28: query_response_interval must be a number of seconds, got string "10s"',
      "m.yaml:13:31: last_member_query_interval must be a number of seconds, got .inf",
    ],
    at: ['"125"', "10s", ".inf"],
  },
  {
    name: "robustness out of 1..7",
    lines: ["multicast:", "  robustness: 0"],
    want: ["m.yaml:11:15: robustness 0 out of range 1..7"],
    at: ["0"],
  },
  {
    name: "robustness 8",
    lines: ["multicast: { robustness: 8 }"],
    want: ["m.yaml:10:26: robustness 8 out of range 1..7"],
    at: ["8 }"],
  },
  {
    name: "querier_address: unicast or 0.0.0.0",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - { vni: 100, querier: true, querier_address: 224.0.0.1 }",
      "    - { vni: 200, querier: true, querier_address: 127.0.0.1 }",
    ],
    want: [
      "m.yaml:13:51: querier_address 224.0.0.1 must be a unicast IPv4 address or 0.0.0.0 (multicast)",
      "m.yaml:14:51: querier_address 127.0.0.1 must be a unicast IPv4 address or 0.0.0.0 (loopback)",
    ],
    at: ["224.0.0.1", "127.0.0.1"],
  },
  {
    name: "more static groups than tables.mcast_groups points at tables.mcast_groups",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      `    - { vni: 100, groups: [${G}, { group: 239.1.1.2, remotes: [10.0.0.2] }] }`,
      `    - { vni: 200, groups: [${G}] }`,
      "tables:",
      "  mcast_groups: 2",
    ],
    want: ["m.yaml:16:17: 3 static multicast groups, more than tables.mcast_groups 2"],
    at: ["2"],
  },
  {
    name: "tables.mcast_members over the replication loop's bound, or below 1",
    lines: ["tables:", "  mcast_members: 257", "  mcast_groups: 0"],
    want: [
      "m.yaml:11:18: mcast_members 257 is more than 256: the fast path copies a group's frames to at most 256 member ports and remote VTEPs",
      "m.yaml:12:17: mcast_groups 0 out of range 1..1048576",
    ],
    at: ["257", "0"],
  },
  {
    name: "tables.mcast_members 0",
    lines: ["tables: { mcast_members: 0 }", "multicast:", "  enabled: true", "  vnis: [{ vni: 100 }]"],
    want: ["m.yaml:10:26: mcast_members 0 out of range 1..256"],
    at: ["0 }"],
  },
  {
    name: "tables.mcast_members a string",
    lines: ["tables: { mcast_members: many }"],
    want: ['m.yaml:10:26: mcast_members must be an integer in 1..256, got string "many"'],
    at: ["many"],
  },
  {
    name: "a group with more remotes than tables.mcast_members points at its remotes key",
    lines: [
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      "        - group: 239.1.1.1",
      "          remotes: [10.0.0.2, 10.0.0.3, 10.0.0.4]",
      "        - { group: 239.1.1.2, remotes: [10.0.0.2, 10.0.0.3, 10.0.0.2] }",
      "tables: { mcast_members: 2 }",
    ],
    want: [
      "m.yaml:16:11: group 239.1.1.1 has 3 remote VTEPs, more than tables.mcast_members 2",
      "m.yaml:17:61: remote 10.0.0.2 is listed more than once (first at line 17)",
    ],
    at: ["remotes:", "10.0.0.2]"],
  },
  {
    name: "words, booleans, unknown keys with suggestions",
    lines: [
      "multicast:",
      "  enable: true",
      "  vnis:",
      "    - vni: 100",
      "      unregistered: prune",
      "      snooping: yes",
      "      querier_adress: 10.1.0.254",
      "      groups:",
      "        - { group: 239.1.1.1, remote: [10.0.0.2] }",
      "  max_groups_per_port: 0",
    ],
    want: [
      "m.yaml:11:3: unknown key 'enable' in multicast (did you mean 'enabled'?)",
      // what the typo costs: enabled keeps its default (false)
      "m.yaml:12:3: multicast.enabled is false: remove the vnis or enable multicast",
      'm.yaml:14:21: unregistered "prune" must be one of: flood, drop',
      'm.yaml:15:17: snooping must be true or false, got string "yes"',
      "m.yaml:16:7: unknown key 'querier_adress' in multicast.vnis[0] (did you mean 'querier_address'?)",
      "m.yaml:18:11: missing required key 'remotes' in multicast.vnis[0].groups[0]",
      "m.yaml:18:31: unknown key 'remote' in multicast.vnis[0].groups[0] (did you mean 'remotes'?)",
      "m.yaml:19:24: max_groups_per_port 0 out of range 1..1048576",
    ],
    at: ["enable", "vnis:", "prune", "yes", "querier_adress", "{ group", "remote:", "0"],
  },
  {
    name: "multicast not a mapping",
    lines: ["multicast: [1]"],
    want: ["m.yaml:10:12: multicast must be a mapping, got a list"],
    at: ["[1]"],
  },
  {
    name: "every problem is collected",
    lines: [
      "multicast:",
      "  query_interval: 2",
      "  query_response_interval: 3",
      "  vnis:",
      "    - vni: 300",
      "      groups:",
      "        - { group: 224.0.0.1, remotes: [10.0.0.1] }",
      "        - { group: 239.0.0.1, remotes: [10.0.0.1, 10.0.0.5, 10.0.0.5] }",
    ],
    want: [
      "m.yaml:12:28: query_response_interval 3 must be less than query_interval 2",
      "m.yaml:13:3: multicast.enabled is false: remove the vnis or enable multicast",
      "m.yaml:14:12: multicast vni 300 is not declared under vnis",
      "m.yaml:16:20: group 224.0.0.1 is a link-local group (224.0.0.0/24): those are always flooded, never snooped",
      "m.yaml:16:41: remote 10.0.0.1 is the local source_ip",
      "m.yaml:17:41: remote 10.0.0.1 is the local source_ip",
      "m.yaml:17:61: remote 10.0.0.5 is listed more than once (first at line 17)",
    ],
    at: ["3", "vnis:", "300", "224.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.5]"],
  },
];

describe("multicast config errors", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const got = problems(c.lines, c.base);
    expect(got).toEqual(c.want);
    expect(got.map((p, i) => textAt(c.lines, p, c.base).slice(0, c.at[i]!.length))).toEqual(c.at);
  });

  it("more static groups than the default tables.mcast_groups points at the first one beyond it", () => {
    const groups = Array.from({ length: 4097 }, (_, i) => `        - { group: 239.0.${i >> 8}.${i & 255}, remotes: [10.0.0.2] }`);
    const lines = ["multicast:", "  enabled: true", "  vnis:", "    - vni: 100", "      groups:", ...groups];
    const got = problems(lines);
    // BASE (9) + 5 lines, then group 0 on line 15: group 4096 is on line 4111
    expect(got).toEqual(["m.yaml:4111:11: 4097 static multicast groups, more than tables.mcast_groups 4096 (the default)"]);
    expect(textAt(lines, got[0]!)).toBe("{ group: 239.0.16.0, remotes: [10.0.0.2] }");
  });

  it("a replication point needs an address of its own", () => {
    const lines = ["multicast:", "  enabled: true", "  vnis:", "    - { vni: 100, replicator: true }"];
    const got = problems(lines);
    expect(got).toEqual(["m.yaml:13:31: vni 100 is a replication point: multicast.replicator_address must say where leaves send to it"]);
    const same = problems(["multicast:", "  enabled: true", "  replicator_address: 10.0.0.1", "  vnis:", "    - { vni: 100, replicator: true }"]);
    expect(same).toEqual([
      "m.yaml:12:23: replicator_address 10.0.0.1 is vtep.source_ip: a replication point needs an address of its own (leaves' copies to it are told apart by it)",
    ]);
    expect(problems(["multicast:", "  igmp_rate: -1"])[0]).toMatch(/^m\.yaml:11:14: igmp_rate/);
  });

  it("more remotes than the default tables.mcast_members says so", () => {
    const remotes = Array.from({ length: 33 }, (_, i) => `10.0.1.${i + 1}`).join(", ");
    const got = problems(["multicast:", "  enabled: true", "  vnis:", "    - vni: 100", "      groups:", `        - { group: 239.1.1.1, remotes: [${remotes}] }`]);
    expect(got).toEqual(["m.yaml:15:31: group 239.1.1.1 has 33 remote VTEPs, more than tables.mcast_members 32 (the default)"]);
  });
});

describe("multicast config values", () => {
  it("parses a full section to the exact MulticastConfig", () => {
    const cfg = load([
      "multicast:",
      "  enabled: true",
      "  query_interval: 125",
      "  query_response_interval: 10",
      "  last_member_query_interval: 1",
      "  last_member_query_count: 2",
      "  robustness: 2",
      "  startup_query_interval: 31.25",
      "  startup_query_count: 2",
      "  max_groups_per_port: 256",
      "  vnis:",
      "    - vni: 100",
      "      snooping: true",
      "      querier: false",
      "      querier_address: 10.1.0.254",
      "      unregistered: flood",
      "      replicator: false",
      "      groups:",
      "        - group: 239.1.1.1",
      "          source: 10.1.0.5",
      "          remotes: [10.0.0.2, 10.0.0.3]",
      "tables:",
      "  mcast_groups: 4096",
      "  mcast_members: 32",
    ]);
    const want: MulticastConfig = {
      enabled: true,
      timers: TIMERS,
      maxGroupsPerPort: 256,
      igmpRate: 100,
      vnis: [
        {
          vni: 100,
          snooping: true,
          querier: false,
          querierAddress: "10.1.0.254",
          unregistered: "flood",
          replicator: false,
          groups: [{ group: "239.1.1.1", source: "10.1.0.5", remotes: ["10.0.0.2", "10.0.0.3"] }],
        },
      ],
    };
    expect(cfg.multicast).toEqual(want);
    expect(cfg.tables).toMatchObject({ mcastGroups: 4096, mcastMembers: 32 });
  });

  it("turns seconds into milliseconds and derives the defaults from what is set", () => {
    const cfg = load([
      "multicast:",
      "  enabled: true",
      "  query_interval: 60.5",
      "  query_response_interval: 0.5",
      "  last_member_query_interval: 0.125",
      "  robustness: 3",
      "  max_groups_per_port: 16",
      "  igmp_rate: 0",
      "  replicator_address: 10.0.0.101",
      "  vnis:",
      "    - vni: 200",
      "      querier: true",
      "      unregistered: drop",
      "      replicator: true",
      "      groups:",
      "        - { group: 239.1.1.1, remotes: [10.0.0.2] }",
      "        - { group: 239.1.1.1, source: 10.1.0.5, remotes: [10.0.0.2, 10.0.0.3] }",
      "    - { vni: 100, snooping: false }",
      "tables: { mcast_groups: 2, mcast_members: 256 }",
    ]);
    expect(cfg.multicast).toEqual({
      enabled: true,
      timers: {
        queryIntervalMs: 60500,
        queryResponseIntervalMs: 500,
        lastMemberQueryIntervalMs: 125,
        lastMemberQueryCount: 3,
        robustness: 3,
        startupQueryIntervalMs: 15125,
        startupQueryCount: 3,
      },
      maxGroupsPerPort: 16,
      igmpRate: 0,
      replicatorAddress: "10.0.0.101",
      vnis: [
        {
          vni: 200,
          snooping: true,
          querier: true,
          querierAddress: "0.0.0.0",
          unregistered: "drop",
          replicator: true,
          groups: [
            { group: "239.1.1.1", remotes: ["10.0.0.2"] },
            { group: "239.1.1.1", source: "10.1.0.5", remotes: ["10.0.0.2", "10.0.0.3"] },
          ],
        },
        { vni: 100, snooping: false, querier: false, querierAddress: "0.0.0.0", unregistered: "flood", replicator: false, groups: [] },
      ],
    } satisfies MulticastConfig);
    // Optional keys are absent, not undefined.
    expect("source" in cfg.multicast.vnis[0]!.groups[0]!).toBe(false);
    expect(cfg.tables).toMatchObject({ mcastGroups: 2, mcastMembers: 256 });
  });

  it("explicit counts and startup interval win over the derived defaults", () => {
    const cfg = load(["multicast:", "  robustness: 7", "  last_member_query_count: 1", "  startup_query_interval: 2", "  startup_query_count: 4"]);
    expect(cfg.multicast.timers).toEqual({ ...TIMERS, robustness: 7, lastMemberQueryCount: 1, startupQueryIntervalMs: 2000, startupQueryCount: 4 });
  });

  it.each([
    ["no multicast section", []],
    ["an empty multicast section", ["multicast:"]],
    ["empty vnis", ["multicast:", "  vnis:"]],
    ["disabled, empty list", ["multicast: { enabled: false, vnis: [] }"]],
  ] as const)("defaults: %s", (_n, lines) => {
    const cfg = load([...lines]);
    expect(cfg.multicast).toEqual(DISABLED);
    expect(cfg.tables).toMatchObject({ mcastGroups: 4096, mcastMembers: 32 });
  });

  it("enabled with no vnis, and a querier with its own address", () => {
    expect(load(["multicast: { enabled: true }"]).multicast).toEqual({ ...DISABLED, enabled: true });
    const cfg = load(["multicast:", "  enabled: true", "  vnis: [{ vni: 100, querier: true, querier_address: 10.1.0.254 }]"]);
    expect(cfg.multicast.vnis[0]).toMatchObject({ querier: true, querierAddress: "10.1.0.254" });
  });

  it("accepts groups at the edges of 224.0.0.0/4 outside the link-local block", () => {
    const cfg = load([
      "multicast:",
      "  enabled: true",
      "  vnis:",
      "    - vni: 100",
      "      groups:",
      "        - { group: 224.0.1.0, remotes: [10.0.0.2] }",
      "        - { group: 239.255.255.255, remotes: [10.0.0.2] }",
    ]);
    expect(cfg.multicast.vnis[0]!.groups.map((g) => g.group)).toEqual(["224.0.1.0", "239.255.255.255"]);
  });
});

describe("parseRemoteGroupJson", () => {
  const cfg = load([
    "multicast:",
    "  enabled: true",
    "  vnis: [{ vni: 100 }]",
    "tables: { mcast_members: 3 }",
  ]);
  const disabled = load([]);

  it("accepts a (*,G) remote list", () => {
    expect(parseRemoteGroupJson({ vni: 100, group: "239.1.1.1", remotes: ["10.0.0.2", "10.0.0.3"] }, cfg)).toEqual({
      ok: true,
      value: { vni: 100, group: "239.1.1.1", remotes: ["10.0.0.2", "10.0.0.3"] },
    });
  });

  it("accepts an (S,G) with no remote members", () => {
    const r = parseRemoteGroupJson({ vni: 100, group: "239.1.1.1", source: "10.1.0.5", remotes: [] }, cfg);
    expect(r).toEqual({ ok: true, value: { vni: 100, group: "239.1.1.1", source: "10.1.0.5", remotes: [] } });
    const star = parseRemoteGroupJson(JSON.parse('{"vni":100,"group":"239.1.1.1","remotes":[]}'), cfg);
    expect(star.ok && "source" in star.value).toBe(false);
  });

  it.each<[string, unknown, string[]]>([
    ["vni not a multicast VNI", { vni: 200, group: "239.1.1.1", remotes: [] }, ["vni: 200 is not a multicast VNI on this switch"]],
    ["vni out of range", { vni: 0, group: "239.1.1.1", remotes: [] }, ["vni: 0 out of range 1..16777215"]],
    ["group not multicast", { vni: 100, group: "10.1.1.1", remotes: [] }, ["group: 10.1.1.1 is not a multicast group address (224.0.0.0/4)"]],
    [
      "group link-local",
      { vni: 100, group: "224.0.0.22", remotes: [] },
      ["group: 224.0.0.22 is a link-local group (224.0.0.0/24): those are always flooded, never snooped"],
    ],
    ["source not unicast", { vni: 100, group: "239.1.1.1", source: "239.1.1.1", remotes: [] }, ["source: 239.1.1.1 is not a unicast IPv4 address (multicast)"]],
    [
      "remotes: not unicast, the local source_ip, duplicates",
      { vni: 100, group: "239.1.1.1", remotes: ["10.0.0.2", "10.0.0.1", "10.0.0.2", "0.0.0.0", 7] },
      [
        "remotes[3]: 0.0.0.0 is not a unicast IPv4 address (unspecified address)",
        "remotes[4]: must be a string, got 7",
        "remotes[1]: 10.0.0.1 is the local source_ip",
        "remotes[2]: 10.0.0.2 is listed more than once (first at remotes[0])",
      ],
    ],
    [
      "more remotes than tables.mcast_members",
      { vni: 100, group: "239.1.1.1", remotes: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"] },
      ["remotes: 4 remote VTEPs, more than tables.mcast_members 3"],
    ],
    ["remotes not a list", { vni: 100, group: "239.1.1.1", remotes: "10.0.0.2" }, ['remotes: must be a list, got string "10.0.0.2"']],
    [
      "missing and unknown keys",
      { vni: 100, grup: "239.1.1.1" },
      ["unknown key 'grup' (did you mean 'group'?)", "missing required key 'group'", "missing required key 'remotes'"],
    ],
    ["body an array", [{ vni: 100 }], ["body must be a JSON object, got an array"]],
    ["body null", null, ["body must be a JSON object, got null"]],
    ["body a number", 5, ["body must be a JSON object, got a number"]],
  ])("%s", (_n, body, errors) => {
    expect(parseRemoteGroupJson(body, cfg)).toEqual({ ok: false, errors });
  });

  it("says when multicast is disabled", () => {
    expect(parseRemoteGroupJson({ vni: 100, group: "239.1.1.1", remotes: [] }, disabled)).toEqual({
      ok: false,
      errors: ["vni: 100 is not a multicast VNI on this switch (multicast is disabled)"],
    });
  });

  it("collects every problem, field checks first", () => {
    const body = { vni: 300, group: "239.1.1.1", source: "10.1", remotes: ["10.0.0.1", "10.0.0.2", "10.0.0.2"] };
    expect(parseRemoteGroupJson(body, cfg)).toEqual({
      ok: false,
      errors: [
        'source: "10.1" is not a valid IPv4 address',
        "vni: 300 is not a multicast VNI on this switch",
        "remotes[0]: 10.0.0.1 is the local source_ip",
        "remotes[2]: 10.0.0.2 is listed more than once (first at remotes[1])",
      ],
    });
  });
});

// The compiled P4 program against the schema, as the BTF test does for the C
// one: every table the generator declared is in bmv2's JSON under the
// schema's name, with the schema's key fields and widths, and its hit action
// takes the schema's value fields at their widths. `vxgate build --target
// bmv2` writes the P4 source and the JSON, and reuses them by content hash.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildP4 } from "../../src/codegen/build-p4.ts";
import { enabledLookups, p4KeyFields, p4ParamFields, p4Width } from "../../src/codegen/emit-p4.ts";
import { pipelineFor } from "../../src/codegen/pipeline.ts";
import { counterNames, records } from "../../src/codegen/tables.ts";
import { parseConfig } from "../../src/config/load.ts";
import { CLI } from "../../lab/fabric.ts";
import { skipWithoutBmv2 } from "./tools.ts";

interface Bmv2Json {
  headers: { name: string; header_type: string }[];
  header_types: { name: string; fields: [string, number, boolean][] }[];
  pipelines: { name: string; tables: { name: string; key: { name: string; target: [string, string] }[]; actions: string[]; max_size: number; support_timeout: boolean }[] }[];
  actions: { name: string; runtime_data: { name: string; bitwidth: number }[] }[];
  counter_arrays: { name: string; size: number }[];
}

const skip = skipWithoutBmv2();
const dir = mkdtempSync(join(tmpdir(), "vxg-p4-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// trunks, learning and group replication: every lookup the generator has today
const cfg = parseConfig(
  `switch: { name: p4schema }
vtep: { source_ip: 198.18.0.1 }
uplinks: [{ name: eth0 }]
ports:
  - { name: h1, vni: 100 }
  - { name: h2, vlans: [{ vlan: 10, vni: 200 }] }
vnis:
  - { vni: 100, flood: [198.18.0.2] }
  - { vni: 200 }
multicast:
  enabled: true
  vnis: [{ vni: 100 }]
`,
  "p4schema.yaml",
);

describe.skipIf(skip)("the compiled P4 program matches the table schema", () => {
  const p = pipelineFor(cfg);
  let json: Bmv2Json;

  it("compiles with p4c-bm2-ss", () => {
    const built = buildP4(p, { udpPort: 4789 }, dir);
    expect(built.reused).toBe(false);
    json = JSON.parse(readFileSync(built.jsonPath, "utf8")) as Bmv2Json;
    expect(buildP4(p, { udpPort: 4789 }, dir).reused).toBe(true);
  });

  it("declares every table under the schema's name with its key fields and widths", () => {
    const all = json.pipelines.flatMap((pl) => pl.tables);
    // a key is a field of a header instance (p4c puts the lookup controls' key structs in "scalars")
    const fieldWidth = ([instance, field]: [string, string]): number => {
      const type = json.headers.find((h) => h.name === instance)?.header_type;
      return json.header_types.find((t) => t.name === type)?.fields.find(([n]) => n === field)?.[1] ?? -1;
    };
    for (const l of enabledLookups(p)) {
      const t = all.find((x) => x.name === l.p4);
      expect(t, l.p4).toBeDefined();
      expect(t!.key.map((k) => k.name)).toEqual(p4KeyFields(l).map((f) => f.name));
      expect(t!.key.map((k) => fieldWidth(k.target))).toEqual(p4KeyFields(l).map((f) => p4Width(f.type)));
      expect(t!.actions).toEqual(expect.arrayContaining([`${l.p4}_set`, `${l.p4}_miss`]));
      expect(t!.support_timeout).toBe(Boolean("timeout" in l && l.timeout));
      const action = json.actions.find((a) => a.name === `${l.p4}_set`)!;
      expect(action.runtime_data.map((d) => [d.name, d.bitwidth])).toEqual(p4ParamFields(l).map((f) => [f.name, p4Width(f.type)]));
    }
  });

  it("has one counter cell per counter id and the packet-in header the event record has", () => {
    expect(json.counter_arrays.find((c) => c.name === "counters")?.size).toBe(counterNames.length);
    expect(json.counter_arrays.find((c) => c.name === "mcast_stats")?.size).toBe(p.sizes.mcast_stats);
    expect(json.counter_arrays.find((c) => c.name === "mcast_copies")?.size).toBe(2 * p.sizes.mcast_stats);
    const h = json.header_types.find((t) => t.name === "vxg_event_h")!;
    expect(h.fields.map(([n, w]) => [n, w])).toEqual(records.event.fields.map((f) => [f.name, p4Width(f.type)]));
  });

  it("`vxgate build --target bmv2` writes the P4 source and the bmv2 JSON, then reuses them", () => {
    const file = join(dir, "switch.yaml");
    writeFileSync(
      file,
      `switch: { name: p4build }
vtep: { source_ip: 198.18.0.1 }
uplinks: [{ name: eth0 }]
ports: [{ name: h1, vni: 100 }]
vnis: [{ vni: 100 }]
`,
    );
    const out = join(dir, "out");
    const run = () => execFileSync(process.execPath, ["--import", "tsx", CLI, "build", "--config", file, "--out", out, "--target", "bmv2"], { encoding: "utf8" });
    const first = run();
    expect(first).toMatch(/^built: .*vxgate\.json \(P4 source .*vxgate_main\.p4, hash [0-9a-f]{16}\)\n$/);
    const json = /^built: (\S+)/.exec(first)![1]!;
    expect(existsSync(json)).toBe(true);
    expect(readFileSync(join(json, "../vxgate_tables.p4"), "utf8")).toContain('@name(".fdb") table fdb');
    expect(run()).toMatch(/^up to date: /);
  });
});

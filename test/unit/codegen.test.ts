import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layout, type StructDecl } from "../../src/codegen/schema.ts";
import { records, tables } from "../../src/codegen/tables.ts";
import { emitProgram, emitStruct, emitTablesHeader, stageFragments } from "../../src/codegen/emit-c.ts";
import { pipelineFor } from "../../src/codegen/pipeline.ts";
import { buildPipeline, generateSources } from "../../src/codegen/build.ts";
import { parseConfig } from "../../src/config/load.ts";

const fullYaml = readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8");
const cfg = parseConfig(fullYaml, "full.yaml");
// array maps are keyed by a plain __u32 in C (the kernel requires it), so only
// their value structs reach the object's BTF
const allStructs: StructDecl[] = [
  ...Object.values(tables).flatMap((t) => ("key" in t ? (t.kind.endsWith("array") ? [t.value] : [t.key, t.value]) : [])),
];

describe("schema layout", () => {
  it("computes C offsets and sizes", () => {
    const l = layout(tables.fdb.value);
    expect(l.size).toBe(32);
    expect(l.fields.map((f) => [f.name, f.offset])).toEqual([
      ["kind", 0],
      ["flags", 1],
      ["vlan", 2],
      ["ifindex", 4],
      ["remote", 8],
      ["_pad", 12],
      ["seen_ns", 16],
      ["event_ns", 24],
    ]);
  });

  it("refuses implicit holes and tail padding", () => {
    expect(() => layout({ name: "bad", fields: [{ name: "a", type: "u8" }, { name: "b", type: "u32" }] })).toThrow(
      /field b at offset 1 is not 4-byte aligned/,
    );
    expect(() => layout({ name: "tail", fields: [{ name: "a", type: "u32" }, { name: "b", type: "u8" }] })).toThrow(/tail padding/);
    expect(() => layout({ name: "dup", fields: [{ name: "a", type: "u32" }, { name: "a", type: "u32" }] })).toThrow(/declared twice/);
  });

  it("array keys are a single u32, as the C side declares them", () => {
    for (const t of Object.values(tables)) {
      if ("key" in t && t.kind.endsWith("array")) expect(layout(t.key).fields.map((f) => f.type)).toEqual(["u32"]);
    }
  });

  it("map names fit the kernel's 15-character limit", () => {
    for (const t of Object.values(tables)) expect(t.mapName.length).toBeLessThanOrEqual(15);
  });
});

describe("C emitter", () => {
  it("emits a struct with a size assertion", () => {
    const c = emitStruct(tables.fdb.key);
    expect(c).toContain("struct fdb_key {");
    expect(c).toContain("\t__u8 mac[6];");
    expect(c).toContain('_Static_assert(sizeof(struct fdb_key) == 12, "layout of fdb_key");');
    expect(c).toContain('_Static_assert(__builtin_offsetof(struct fdb_key, mac) == 4, "fdb_key.mac");');
    // records (ring buffer events) never reach BTF, so their offsets are checked by these asserts
    expect(emitStruct(records.event)).toContain('_Static_assert(__builtin_offsetof(struct vxg_event, remote) == 20, "vxg_event.remote");');
  });

  it("sizes maps from the config", () => {
    const h = emitTablesHeader(pipelineFor(cfg));
    expect(h).toMatch(/__uint\(max_entries, 131072\);\n\t__type\(key, struct fdb_key\);/);
    expect(h).toContain("#define VXG_FLOOD_SLOTS 32");
  });

  it("compiles only the stages the config needs", () => {
    const p = pipelineFor(cfg);
    expect(stageFragments(p)).toContain("vlan.h");
    const noTrunks = pipelineFor({ ...cfg, ports: cfg.ports.filter((x) => x.vlans.length === 0) });
    expect(stageFragments(noTrunks)).not.toContain("vlan.h");
    const noLearning = pipelineFor({ ...cfg, vnis: cfg.vnis.map((v) => ({ ...v, learning: false })) });
    expect(stageFragments(noLearning)).not.toContain("learn.h");
    expect(emitProgram(noLearning)).not.toContain("learn.h");
    expect(generateSources(noLearning).hash).not.toBe(generateSources(p).hash);
  });

  // The agreement that matters: the compiler's idea of every struct (read back
  // from the object's BTF) is the TS layout, field by field.
  it("compiled BTF layouts equal the TS layouts", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxg-codegen-"));
    try {
      const built = buildPipeline(pipelineFor(cfg), dir);
      const btf = JSON.parse(execFileSync("bpftool", ["-j", "btf", "dump", "file", built.objectPath], { encoding: "utf8" })) as {
        types: { kind: string; name?: string; size?: number; members?: { name: string; bits_offset: number }[] }[];
      };
      for (const decl of allStructs) {
        const l = layout(decl);
        const s = btf.types.find((t) => t.kind === "STRUCT" && t.name === decl.name);
        expect(s, decl.name).toBeDefined();
        expect(s!.size, decl.name).toBe(l.size);
        expect(s!.members!.map((m) => [m.name, m.bits_offset / 8])).toEqual(l.fields.map((f) => [f.name, f.offset]));
      }
      const again = buildPipeline(pipelineFor(cfg), dir);
      expect(again.reused).toBe(true);
      expect(again.hash).toBe(built.hash);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The P4 emitter: every P4 table's key and action data come from the schema
// (tables.ts, p4-tables.ts), features gate what is compiled in, and the
// runtime's P4 byte codec agrees with the widths the program declares.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { emitP4Program, emitP4Tables, enabledLookups, lookupSize, p4Fragments, p4KeyFields, p4ParamFields, p4Width } from "../../src/codegen/emit-p4.ts";
import { generateP4Sources } from "../../src/codegen/build-p4.ts";
import { p4Lookups, type P4Lookup } from "../../src/codegen/p4-tables.ts";
import { pipelineFor } from "../../src/codegen/pipeline.ts";
import { counterNames, records } from "../../src/codegen/tables.ts";
import { layout } from "../../src/codegen/schema.ts";
import { parseConfig } from "../../src/config/load.ts";
import { lookupCodec, type PortMap } from "../../src/control/targets/bmv2/p4-codec.ts";
import { decodePacketIn } from "../../src/control/targets/bmv2/target.ts";

const fullYaml = readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8");
const base = `switch: { name: t }
vtep: { source_ip: 198.18.0.1 }
uplinks: [{ name: eth0 }]
`;
const plain = pipelineFor(parseConfig(`${base}ports: [{ name: h1, vni: 100 }]\nvnis: [{ vni: 100, learning: false }]\n`, "plain.yaml"));
const full = pipelineFor(parseConfig(fullYaml, "full.yaml"));
const opts = { udpPort: 4789 };

const lookup = (p4: string) => (p4Lookups as readonly P4Lookup[]).find((l) => l.p4 === p4)!;

describe("P4 emitter", () => {
  it("declares each P4 table with the schema's key fields and its value fields as the hit action's parameters", () => {
    const src = emitP4Tables(full, opts);
    for (const l of enabledLookups(full)) {
      const table = new RegExp(`@name\\("\\.${l.p4}"\\) table ${l.p4} \\{([\\s\\S]*?)\\n\\t\\}`).exec(src);
      expect(table, l.p4).not.toBeNull();
      const keys = [...table![1]!.matchAll(/k\.(\w+): exact @name\("(\w+)"\)/g)].map((m) => m[2]);
      expect(keys).toEqual(p4KeyFields(l).map((f) => f.name));
      expect(table![1]).toContain(`size = ${lookupSize(l, full)};`);
      const action = new RegExp(`action ${l.p4}_set\\(([^)]*)\\)`).exec(src)!;
      const params = action[1]!.split(", ").filter(Boolean).map((p) => p.split(" "));
      expect(params).toEqual(p4ParamFields(l).map((f) => [`bit<${p4Width(f.type)}>`, f.name]));
    }
  });

  it("leaves out what only the eBPF data path keeps and adds what only P4 needs", () => {
    const fdb = p4ParamFields(lookup("fdb")).map((f) => f.name);
    expect(fdb).toEqual(["kind", "flags", "vlan", "ifindex", "remote"]);
    expect(p4ParamFields(lookup("vnis")).map((f) => f.name)).toEqual(["flags", "flood_count", "mgrp", "learn_full"]);
    expect(p4ParamFields(lookup("ports")).map((f) => f.name)).toEqual(["role", "mac", "vni", "learn_full"]);
    expect(p4KeyFields(lookup("globals"))).toEqual([]);
    expect(p4KeyFields(lookup("fdb")).map((f) => [f.name, p4Width(f.type)])).toEqual([["vni", 32], ["mac", 48]]);
  });

  it("compiles a feature in only when the config enables it", () => {
    expect(enabledLookups(plain).map((l) => l.p4)).not.toContain("vlans");
    expect(enabledLookups(plain).map((l) => l.p4)).not.toContain("fdb_src");
    expect(p4Fragments(plain)).not.toContain("include/control/learn.p4");
    expect(emitP4Tables(plain, opts)).toContain("#define VXG_FEATURE_LEARNING 0");
    expect(enabledLookups(full).map((l) => l.p4)).toEqual(expect.arrayContaining(["vlans", "fdb_src"]));
    expect(p4Fragments(full)).toContain("include/control/learn.p4");
    expect(emitP4Program(full)).toContain('#include "include/control/learn.p4"');
  });

  it("gives the packet-in header the event record's fields and size, and one counter id per counter", () => {
    const src = emitP4Tables(full, opts);
    const h = /header vxg_event_h \{([\s\S]*?)\n\}/.exec(src)![1]!;
    const fields = [...h.matchAll(/bit<(\d+)> (\w+);/g)].map((m) => [m[2], Number(m[1])]);
    expect(fields.map((f) => f[0])).toEqual(records.event.fields.map((f) => f.name));
    expect(fields.reduce((n, f) => n + (f[1] as number), 0) / 8).toBe(layout(records.event).size);
    expect(src).toContain(`#define VXG_EVENT_LEN ${layout(records.event).size}`);
    expect(src).toContain(`#define VXG_CNT__MAX ${counterNames.length}`);
    counterNames.forEach((n, i) => expect(src).toContain(`#define VXG_CNT_${n.toUpperCase()} ${i}\n`));
  });

  it("names the program by everything in it: another UDP port or feature set is another hash", () => {
    const a = generateP4Sources(full, opts).hash;
    expect(generateP4Sources(full, opts).hash).toBe(a);
    expect(generateP4Sources(full, { udpPort: 8472 }).hash).not.toBe(a);
    expect(generateP4Sources(plain, opts).hash).not.toBe(a);
    expect(generateP4Sources(full, { udpPort: 8472 }).files["vxgate_tables.p4"]).toContain("#define VXG_UDP_PORT 8472");
  });
});

describe("P4 byte codec (bmv2 runtime)", () => {
  const ports: PortMap = {
    portOf: (i) => (i === 17 ? 3 : (() => { throw new Error(`no port for ${i}`); })()),
    ifindexOf: (p) => (p === 3 ? 17 : (() => { throw new Error(`no ifindex for ${p}`); })()),
  };

  it("writes each field network-order at its declared width, ifindexes as bmv2 ports", () => {
    const c = lookupCodec(lookup("fdb"), ports);
    expect(c.encodeKey({ vni: 0x123456, mac: "02:00:00:0b:00:01" }).map((b) => b.toString("hex"))).toEqual(["00123456", "0200000b0001"]);
    const local = { kind: 1, flags: 1, vlan: 10, ifindex: 17, remote: "0.0.0.0", seen_ns: 5n, event_ns: 6n };
    expect(c.encodeParams(local).map((b) => b.toString("hex"))).toEqual(["01", "01", "000a", "00000003", "00000000"]);
    const remote = { kind: 2, flags: 0, vlan: 0, ifindex: 0, remote: "198.18.0.2", seen_ns: 0n, event_ns: 0n };
    expect(c.encodeParams(remote).map((b) => b.toString("hex"))).toEqual(["02", "00", "0000", "00000000", "c6120002"]);
    expect(c.decodeParams(c.encodeParams(local))).toEqual({ kind: 1, flags: 1, vlan: 10, ifindex: 17, remote: "0.0.0.0" });
    expect(c.decodeKey(c.encodeKey({ vni: 16777215, mac: "ff:ee:dd:cc:bb:aa" }))).toEqual({ vni: 16777215, mac: "ff:ee:dd:cc:bb:aa" });
  });

  it("refuses a port that is not the switch's and action data of the wrong width", () => {
    const c = lookupCodec(lookup("ports"), ports);
    expect(() => c.encodeKey({ ifindex: 99 })).toThrow(/no port for 99/);
    expect(() => c.decodeParams([Buffer.alloc(1), Buffer.alloc(6)])).toThrow(/2 fields, expected 4/);
    expect(() => c.decodeParams([Buffer.alloc(2), Buffer.alloc(6), Buffer.alloc(4), Buffer.alloc(1)])).toThrow(/role: 2 bytes, expected 1/);
  });

  it("reads a packet-in as the ring buffer's event, the port back as an ifindex", () => {
    const f = Buffer.alloc(24);
    f[0] = 1; // EVT_LEARN
    f.writeUInt16BE(10, 2);
    f.writeUInt32BE(100, 4);
    Buffer.from("02000000b001", "hex").copy(f, 8);
    f.writeUInt32BE(3, 16);
    f.writeUInt32BE(0xc6120002, 20);
    expect(decodePacketIn(f, ports)).toEqual({ kind: 1, vlan: 10, vni: 100, mac: "02:00:00:00:b0:01", ifindex: 17, remote: "198.18.0.2" });
    expect(decodePacketIn(f.subarray(0, 23), ports)).toBeUndefined();
    f.writeUInt32BE(9, 16); // a port that is not ours
    expect(decodePacketIn(f, ports)).toBeUndefined();
  });
});


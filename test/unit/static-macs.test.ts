// Static MACs added at run time (`vxgate mac add|del`, POST/DELETE
// /v1/static-macs), over a fake target: FDB_STATIC entries like the config's,
// kept in the run directory and merged into the desired state after a
// restart; bad input names the field and changes nothing; a config static MAC
// is the file's and cannot be replaced or deleted.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { constants } from "../../src/codegen/tables.ts";
import type { TableKey, TableValue } from "../../src/control/codec.ts";
import { desiredState } from "../../src/control/l2/desired.ts";
import { createLogger } from "../../src/control/log.ts";
import { StaticMacFeature, type StaticMacHooks } from "../../src/control/static-macs.ts";
import type { Target } from "../../src/control/targets/target.ts";

const cfg = parseConfig(readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8"), "full.yaml");
const IFINDEX: Record<string, number> = { eth0: 2, eth1: 3, h1: 10, h2: 11, trunk1: 12, trunk2: 13 };
const ifindexOf = (n: string) => {
  const i = IFINDEX[n];
  if (i === undefined) throw new Error(`no ${n}`);
  return i;
};
const BY = { via: "test" };

type FdbKey = TableKey<"fdb">;
type FdbValue = TableValue<"fdb">;

function fakeTarget() {
  const fdb = new Map<string, [FdbKey, FdbValue]>();
  const k = (key: FdbKey) => `${key.vni}/${key.mac}`;
  const handle = {
    get: (key: FdbKey) => fdb.get(k(key))?.[1],
    set: (key: FdbKey, v: FdbValue) => void fdb.set(k(key), [key, v]),
    delete: (key: FdbKey) => fdb.delete(k(key)),
    entries: () => [...fdb.values()],
  };
  const target = {
    kind: "fake",
    adopted: false,
    table: (name: string) => {
      if (name !== "fdb") throw new Error(`fake target has no ${name}`);
      return handle;
    },
  } as unknown as Target;
  return { target, fdb: handle, size: () => fdb.size };
}

let dir: string;
let stateFile: string;
let calls: string[];
const hooks: StaticMacHooks = {
  fdbChanged: (vni, mac) => calls.push(`fdb ${vni} ${mac}`),
  localAdded: (vni, mac, vlan) => calls.push(`advertise ${vni} ${mac} vlan ${vlan}`),
  localRemoved: (vni, mac) => calls.push(`withdraw ${vni} ${mac}`),
  vnisChanged: () => calls.push("vnis"),
  vtepSeen: (v) => calls.push(`vtep ${v}`),
};
const quiet = createLogger({ level: "error" });
const feature = (t = fakeTarget(), config = cfg) => ({ f: new StaticMacFeature(config, t.target, quiet, { stateFile, ifindexOf, hooks }), t });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vxg-static-"));
  stateFile = join(dir, "leaf1", "static-macs.json");
  calls = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("static MACs through the API", () => {
  it("adds a local one as FDB_STATIC on its port (with the VLAN of a trunk), advertised, and kept in the run directory", () => {
    const { f, t } = feature();
    const r = f.add({ vni: 100, mac: "02:00:00:00:0A:01", port: "trunk1" }, BY);
    expect(r).toEqual({ mac: { vni: 100, mac: "02:00:00:00:0a:01", port: "trunk1" }, replaced: false });
    expect(t.fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toEqual({ kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 10, ifindex: 12, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n });
    expect(calls).toEqual(["advertise 100 02:00:00:00:0a:01 vlan 10", "fdb 100 02:00:00:00:0a:01"]);
    expect(JSON.parse(readFileSync(stateFile, "utf8"))).toEqual([{ vni: 100, mac: "02:00:00:00:0a:01", port: "trunk1" }]);
  });

  it("adds a remote one and admits its VTEP", () => {
    const { f, t } = feature();
    expect(f.add({ vni: 200, mac: "02:00:00:00:0b:01", remote: "10.0.0.9" }, BY)).toMatchObject({ replaced: false });
    expect(t.fdb.get({ vni: 200, mac: "02:00:00:00:0b:01" })).toMatchObject({ kind: constants.FDB_REMOTE, flags: constants.FDB_STATIC, remote: "10.0.0.9" });
    expect(calls).toEqual(["vtep 10.0.0.9", "vnis", "fdb 200 02:00:00:00:0b:01"]);
    const d = desiredState(cfg, ifindexOf, undefined, () => "02:00:00:00:00:01");
    f.contribute(d);
    expect(d.vteps).toContainEqual([{ vni: 200, remote: "10.0.0.9" }, { refs: 1 }]);
    expect(d.staticFdb).toContainEqual([{ vni: 200, mac: "02:00:00:00:0b:01" }, expect.objectContaining({ kind: constants.FDB_REMOTE, remote: "10.0.0.9" })]);
  });

  it.each([
    ["vni not an integer", { vni: "abc", mac: "02:00:00:00:0a:01", port: "h1" }, 'vni: must be an integer in 1..16777215, got string "abc"'],
    ["vni not on this switch", { vni: 555, mac: "02:00:00:00:0a:01", port: "h1" }, "vni: 555 is not a VNI of this switch (configured: 100, 200, 300)"],
    ["bad mac", { vni: 100, mac: "02:00:00:00:0a", port: "h1" }, 'mac: "02:00:00:00:0a" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)'],
    ["multicast mac", { vni: 100, mac: "01:00:5e:00:00:01", port: "h1" }, "mac: 01:00:5e:00:00:01 is not a unicast MAC address (multicast)"],
    ["no place", { vni: 100, mac: "02:00:00:00:0a:01" }, "port or remote is required (where the MAC is: a local port or a remote VTEP)"],
    ["two places", { vni: 100, mac: "02:00:00:00:0a:01", port: "h1", remote: "10.0.0.9" }, "port and remote: give one of them, not both"],
    ["unknown port", { vni: 100, mac: "02:00:00:00:0a:01", port: "eth9" }, "port: eth9 is not an access port of this switch (access ports: h1, h2, trunk1, trunk2)"],
    ["port without the vni", { vni: 100, mac: "02:00:00:00:0a:01", port: "h2" }, "port: h2 does not carry vni 100 (neither untagged nor on a VLAN)"],
    ["remote not unicast", { vni: 100, mac: "02:00:00:00:0a:01", remote: "224.0.0.1" }, "remote: 224.0.0.1 is not a unicast IPv4 address (multicast)"],
    ["remote is us", { vni: 100, mac: "02:00:00:00:0a:01", remote: "10.0.0.1" }, "remote: 10.0.0.1 is this switch's own VTEP address"],
    ["unknown field", { vni: 100, mac: "02:00:00:00:0a:01", port: "h1", vlan: 5 }, "unknown key 'vlan' (expected one of: vni, mac, port, remote)"],
    ["not an object", [1, 2], "body must be a JSON object, got an array"],
  ])("refuses %s, naming the field, and changes nothing", (_what, body, error) => {
    const { f, t } = feature();
    const r = f.add(body, BY);
    expect(r).toMatchObject({ status: 400 });
    expect((r as { errors: string[] }).errors).toContain(error);
    expect(t.size()).toBe(0);
    expect(calls).toEqual([]);
    expect(existsSync(stateFile)).toBe(false);
  });

  it("neither replaces nor deletes a static MAC of the config file", () => {
    const { f, t } = feature();
    t.fdb.set({ vni: 100, mac: "02:00:00:00:01:01" }, { kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 0, ifindex: 10, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n });
    const before = t.fdb.get({ vni: 100, mac: "02:00:00:00:01:01" });
    expect(f.add({ vni: 100, mac: "02:00:00:00:01:01", remote: "10.0.0.9" }, BY)).toEqual({
      status: 409,
      errors: ["mac: 02:00:00:00:01:01 in vni 100 is a static MAC of the config file (full.yaml): change it there"],
    });
    expect(f.remove({ vni: 100, mac: "02:00:00:00:01:01" }, BY)).toEqual({
      status: 409,
      errors: ["mac 02:00:00:00:01:01 in vni 100 is a static MAC of the config file (full.yaml): remove it there"],
    });
    expect(t.fdb.get({ vni: 100, mac: "02:00:00:00:01:01" })).toEqual(before);
    expect(f.remove({ vni: 100, mac: "02:00:00:00:0f:0f" }, BY)).toEqual({ status: 404, errors: ["mac 02:00:00:00:0f:0f in vni 100 is not a static MAC added through the API"] });
    expect(f.remove({ vni: "x", mac: "02:00:00:00:0f:0f" }, BY)).toMatchObject({ status: 400, errors: ['vni: must be an integer in 1..16777215, got string "x"'] });
    expect(calls).toEqual([]);
  });

  it("removes one it added: the entry, its advertisement, its line in the run directory", () => {
    const { f, t } = feature();
    f.add({ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, BY);
    f.add({ vni: 100, mac: "02:00:00:00:0a:02", remote: "10.0.0.9" }, BY);
    calls = [];
    expect(f.remove({ vni: 100, mac: "02:00:00:00:0A:01" }, BY)).toEqual({ removed: { vni: 100, mac: "02:00:00:00:0a:01", port: "h1" } });
    expect(t.fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toBeUndefined();
    expect(calls).toEqual(["withdraw 100 02:00:00:00:0a:01", "fdb 100 02:00:00:00:0a:01"]);
    expect(JSON.parse(readFileSync(stateFile, "utf8"))).toEqual([{ vni: 100, mac: "02:00:00:00:0a:02", remote: "10.0.0.9" }]);
  });

  it("replaces one it added (moved to another place): the old advertisement goes", () => {
    const { f, t } = feature();
    f.add({ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, BY);
    calls = [];
    expect(f.add({ vni: 100, mac: "02:00:00:00:0a:01", remote: "10.0.0.9" }, BY)).toMatchObject({ replaced: true });
    expect(t.fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toMatchObject({ kind: constants.FDB_REMOTE, remote: "10.0.0.9" });
    expect(calls).toEqual(["withdraw 100 02:00:00:00:0a:01", "vtep 10.0.0.9", "vnis", "fdb 100 02:00:00:00:0a:01"]);
    expect(f.list()).toEqual([{ vni: 100, mac: "02:00:00:00:0a:01", remote: "10.0.0.9" }]);
  });

  it("comes back after a restart into the desired state (so the reconcile keeps it); what the new config forbids is ignored, not lost", () => {
    feature().f.add({ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, BY);
    feature().f.add({ vni: 300, mac: "02:00:00:00:0a:03", port: "trunk2" }, BY);
    // a restart: a new control plane, a new target handle on the same maps
    const { f } = feature();
    expect(f.has(100, "02:00:00:00:0a:01")).toBe(true);
    const d = desiredState(cfg, ifindexOf, undefined, () => "02:00:00:00:00:01");
    f.contribute(d);
    expect(d.staticFdb).toContainEqual([{ vni: 100, mac: "02:00:00:00:0a:01" }, { kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 0, ifindex: 10, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n }]);
    // VNI 300 is gone from the next config: ignored while it is
    const smaller = { ...cfg, vnis: cfg.vnis.filter((v) => v.vni !== 300) };
    const s = feature(undefined, smaller).f;
    expect(s.list()).toEqual([
      { vni: 100, mac: "02:00:00:00:0a:01", port: "h1" },
      { vni: 300, mac: "02:00:00:00:0a:03", port: "trunk2", ignored: "vni: 300 is not a VNI of this switch (configured: 100, 200)" },
    ]);
    expect(s.active()).toEqual([{ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }]);
    expect(s.has(300, "02:00:00:00:0a:03")).toBe(false);
    const d2 = desiredState(smaller, ifindexOf, undefined, () => "02:00:00:00:00:01");
    s.contribute(d2);
    expect(d2.staticFdb.map(([k]) => `${k.vni}/${k.mac}`)).not.toContain("300/02:00:00:00:0a:03");
    // and back with a config that has it again
    s.setConfig(cfg);
    expect(s.has(300, "02:00:00:00:0a:03")).toBe(true);
  });

  it("on a reload that makes one of its MACs a config static MAC, the file's wins; deleting ours leaves the file's entry alone", () => {
    const { f, t } = feature();
    f.add({ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, BY);
    const next = { ...cfg, vnis: cfg.vnis.map((v) => (v.vni === 100 ? { ...v, staticMacs: [...v.staticMacs, { mac: "02:00:00:00:0a:01", remote: "10.0.0.3" }] } : v)) };
    f.setConfig(next);
    expect(f.has(100, "02:00:00:00:0a:01")).toBe(false);
    const d = desiredState(next, ifindexOf, undefined, () => "02:00:00:00:00:01");
    f.contribute(d);
    expect(d.staticFdb.filter(([k]) => k.mac === "02:00:00:00:0a:01")).toEqual([[{ vni: 100, mac: "02:00:00:00:0a:01" }, expect.objectContaining({ kind: constants.FDB_REMOTE, remote: "10.0.0.3" })]]);
    // the reconcile wrote the file's entry; removing ours must not touch it
    const fileEntry = d.staticFdb.find(([k]) => k.mac === "02:00:00:00:0a:01")![1];
    t.fdb.set({ vni: 100, mac: "02:00:00:00:0a:01" }, fileEntry);
    calls = [];
    expect(f.remove({ vni: 100, mac: "02:00:00:00:0a:01" }, BY)).toEqual({ removed: { vni: 100, mac: "02:00:00:00:0a:01", port: "h1" } });
    expect(t.fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toEqual(fileEntry);
    expect(calls).toEqual([]);
  });

  it("starts without them when the state file is unreadable", () => {
    feature().f.add({ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, BY);
    writeFileSync(stateFile, "{ not json");
    expect(feature().f.list()).toEqual([]);
  });
});

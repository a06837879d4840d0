// Route withdrawals delete a remote MAC's FDB entry only while it is still the
// route's: kind remote, FDB_CONTROL, that VTEP (the host may have turned up on
// a local port meanwhile). vxg_fdb_del_if (bpf/fdb_ops.h) does each check and
// delete in the kernel, a batch per BPF_PROG_RUN; here it runs in the real
// generated object against its real FDB map, and must leave exactly what the
// entry-by-entry system calls leave.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BpfObject, type BpfMap, type BpfProgram } from "libbpf-ts-bindings";
import { parseConfig } from "../../src/config/load.ts";
import { pipelineFor } from "../../src/codegen/pipeline.ts";
import { buildPipeline } from "../../src/codegen/build.ts";
import { constants } from "../../src/codegen/tables.ts";
import { MapTable } from "../../src/control/targets/ebpf/target.ts";
import type { TableKey, TableValue } from "../../src/control/codec.ts";

type K = TableKey<"fdb">;
type V = TableValue<"fdb">;

const CONFIG = `switch:
  name: fdb-cmpdel
vtep:
  source_ip: 198.18.0.1
uplinks:
  - name: eth0
ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
`;

let obj: BpfObject;
let map: BpfMap;
let prog: BpfProgram;

beforeAll(() => {
  const built = buildPipeline(pipelineFor(parseConfig(CONFIG, "fdb-cmpdel.yaml")));
  obj = BpfObject.openFile(built.objectPath);
  obj.load();
  map = obj.map("vxg_fdb");
  prog = obj.program("vxg_fdb_del_if");
});

afterAll(() => {
  obj?.close();
});

const mac = (i: number) => `02:00:00:${((i >> 16) & 0xff).toString(16).padStart(2, "0")}:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
const remote = (vtep: string, flags: number = constants.FDB_CONTROL): V => ({ kind: constants.FDB_REMOTE, flags, vlan: 0, ifindex: 0, remote: vtep, seen_ns: 0n, event_ns: 0n });
const local = (ifindex: number): V => ({ kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex, remote: "0.0.0.0", seen_ns: 123n, event_ns: 0n });
/** what makes an entry ours for a VTEP (as the EVPN port asks): kind, FDB_CONTROL, the VTEP */
const OURS: V = { kind: 0xff, flags: constants.FDB_CONTROL, vlan: 0, ifindex: 0, remote: "255.255.255.255", seen_ns: 0n, event_ns: 0n };

/** Fill the FDB with n entries of every kind the check must tell apart; returns the withdrawals and what must stay. */
function scenario(t: MapTable<"fdb">, n: number) {
  for (const [k] of t.entries()) t.delete(k);
  const withdrawals: [K, V][] = [];
  const stays = new Map<string, V>();
  for (let i = 0; i < n; i++) {
    const k: K = { vni: 100, mac: mac(i) };
    const want = remote("198.18.0.2");
    switch (i % 5) {
      case 0: // still the route's: deleted
      case 1:
        t.set(k, want);
        break;
      case 2: // the host turned up locally: kept
        t.set(k, local(7));
        stays.set(k.mac, local(7));
        break;
      case 3: // another VTEP's entry now (a newer route): kept
        t.set(k, remote("198.18.0.3"));
        stays.set(k.mac, remote("198.18.0.3"));
        break;
      case 4: // gone already: nothing to do
        break;
    }
    withdrawals.push([k, want]);
  }
  // a static remote entry of the same VTEP that no route installed (no FDB_CONTROL): kept
  const st: K = { vni: 100, mac: mac(n + 1) };
  t.set(st, remote("198.18.0.2", constants.FDB_STATIC));
  stays.set(st.mac, remote("198.18.0.2", constants.FDB_STATIC));
  withdrawals.push([st, remote("198.18.0.2")]);
  return { withdrawals, stays };
}

function contents(t: MapTable<"fdb">): Map<string, V> {
  return new Map(t.entries().map(([k, v]) => [k.mac, v]));
}

describe("vxg_fdb_del_if: the FDB's compare-and-delete in the kernel", () => {
  // a run holds FDB_DEL_BATCH entries: one partial run, exactly one, and several with a partial last
  for (const n of [7, constants.FDB_DEL_BATCH - 1, 3 * constants.FDB_DEL_BATCH + 17]) {
    it(`${n} withdrawals: deletes exactly the entries still the route's, as the system calls entry by entry do`, () => {
      const inKernel = new MapTable(map, "fdb");
      inKernel.useCompareDelete(prog);
      const s1 = scenario(inKernel, n);
      const deleted = inKernel.deleteManyIf(s1.withdrawals, OURS);
      expect(inKernel.comparesInKernel).toBe(true); // it ran, no fallback
      const after1 = contents(inKernel);
      expect(after1).toEqual(s1.stays);
      // the entries still the route's: i % 5 of 0 and 1
      expect(deleted).toBe(Array.from({ length: n }, (_, i) => i % 5 < 2).filter(Boolean).length);

      // the reference: the same scenario through the per-entry lookups of the native library
      const bySyscalls = new MapTable(map, "fdb");
      const s2 = scenario(bySyscalls, n);
      const deleted2 = bySyscalls.deleteManyIf(s2.withdrawals, OURS);
      expect(contents(bySyscalls)).toEqual(after1);
      expect(deleted2).toBe(deleted);
    });
  }

  it("an entry is compared field by field under the mask: seen_ns and the port of a remote entry do not matter, its VTEP does", () => {
    const t = new MapTable(map, "fdb");
    t.useCompareDelete(prog);
    for (const [k] of t.entries()) t.delete(k);
    t.set({ vni: 100, mac: mac(1) }, { ...remote("198.18.0.2"), seen_ns: 999n, ifindex: 4 });
    t.set({ vni: 100, mac: mac(2) }, remote("198.18.0.4"));
    t.set({ vni: 200, mac: mac(1) }, remote("198.18.0.2"));
    expect(t.deleteManyIf([[{ vni: 100, mac: mac(1) }, remote("198.18.0.2")], [{ vni: 100, mac: mac(2) }, remote("198.18.0.2")]], OURS)).toBe(1);
    expect(t.get({ vni: 100, mac: mac(1) })).toBeUndefined();
    expect(t.get({ vni: 100, mac: mac(2) })?.remote).toBe("198.18.0.4");
    // the same MAC in another VNI is another key
    expect(t.get({ vni: 200, mac: mac(1) })?.remote).toBe("198.18.0.2");
    expect(t.comparesInKernel).toBe(true);
  });
});

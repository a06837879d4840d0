// MapTable's packed batch writes (src/control/targets/ebpf/target.ts): every
// entry's key and value bytes are what the codec encodes for it, also when
// entries share one value object (encoded once, then copied) and when they
// alternate between value objects; a refused entry is skipped and reported.
import { describe, expect, it } from "vitest";
import type { BpfMap } from "libbpf-ts-bindings";
import { constants } from "../../src/codegen/tables.ts";
import { tableCodec, type TableKey, type TableValue } from "../../src/control/codec.ts";
import { MapTable } from "../../src/control/targets/ebpf/target.ts";

type K = TableKey<"fdb">;
type V = TableValue<"fdb">;
const codec = tableCodec("fdb");
const remote = (vtep: string, flags: number = constants.FDB_CONTROL): V => ({ kind: constants.FDB_REMOTE, flags, vlan: 0, ifindex: 0, remote: vtep, seen_ns: 0n, event_ns: 0n });
const key = (i: number): K => ({ vni: 100 + (i % 3), mac: `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}` });

/** A BpfMap that records what updateBatchPacked was given (refusing entry `refuse` of the whole list once). */
function fakeMap(refuse?: number) {
  const written: { k: string; v: string }[] = [];
  let seen = 0;
  const m = {
    name: "vxg_fdb",
    keySize: codec.key.size,
    valueSize: codec.value.size,
    updateBatchPacked(keys: Buffer, values: Buffer, count: number) {
      for (let i = 0; i < count; i++) {
        if (refuse !== undefined && seen === refuse) {
          seen++;
          return { written: i, errno: 7 };
        }
        seen++;
        written.push({ k: keys.subarray(i * m.keySize, (i + 1) * m.keySize).toString("hex"), v: values.subarray(i * m.valueSize, (i + 1) * m.valueSize).toString("hex") });
      }
      return { written: count, errno: 0 };
    },
  };
  return { map: m as unknown as BpfMap, written };
}

describe("MapTable packed writes", () => {
  it("shared, alternating and distinct value objects: each entry's bytes as the codec encodes it", () => {
    const a = remote("198.18.0.2");
    const b = remote("198.18.0.3", constants.FDB_CONTROL | constants.FDB_STATIC);
    const entries: [K, V][] = [];
    for (let i = 0; i < 10000; i++) {
      const v = i % 7 === 0 ? b : i % 11 === 0 ? remote(`198.18.1.${i % 250}`) : a;
      entries.push([key(i), v]);
    }
    const { map, written } = fakeMap();
    const t = new MapTable(map, "fdb");
    expect(t.trySetMany(entries)).toEqual({ failed: [] });
    expect(written).toEqual(entries.map(([k, v]) => ({ k: codec.key.encode(k).toString("hex"), v: codec.value.encode(v).toString("hex") })));
  });

  it("a refused entry is reported and skipped; the rest of its chunk is written with the right values", () => {
    const a = remote("198.18.0.2");
    const b = remote("198.18.0.3");
    const entries: [K, V][] = Array.from({ length: 50 }, (_, i) => [key(i), i < 20 ? a : b]);
    const { map, written } = fakeMap(19);
    const r = new MapTable(map, "fdb").trySetMany(entries);
    expect(r.failed).toEqual([19]);
    expect(r.error).toMatch(/E2BIG/);
    const want = entries.filter((_, i) => i !== 19).map(([k, v]) => ({ k: codec.key.encode(k).toString("hex"), v: codec.value.encode(v).toString("hex") }));
    expect(written).toEqual(want);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { BpfError, BpfMap, BpfObject, numPossibleCpus } from "libbpf-ts-bindings";
import { bpffsScratch, fixture, isRoot, removeFixtureDir, u32, u64 } from "./helpers.ts";

function flowKey(addr: number, port: number, proto = 6): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(addr, 0);
  b.writeUInt16BE(port, 4);
  b.writeUInt16LE(proto, 6);
  return b;
}

function flowVal(packets: number, bytes: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(packets), 0);
  b.writeBigUInt64LE(BigInt(bytes), 8);
  return b;
}

const sortBufs = (a: Buffer, b: Buffer) => Buffer.compare(a, b);

describe.skipIf(!isRoot)("BpfMap", () => {
  let obj: BpfObject;
  let scratch: ReturnType<typeof bpffsScratch>;
  const ncpu = isRoot ? numPossibleCpus() : 1;

  beforeAll(() => {
    scratch = bpffsScratch();
    obj = BpfObject.openFile(fixture("maps"));
    obj.load();
  });
  afterAll(() => {
    try {
      obj?.close();
    } finally {
      scratch?.remove();
      removeFixtureDir();
    }
  });

  describe("hash", () => {
    it("supports lookup/update/delete with flags", () => {
      const m = obj.map("flows");
      expect([m.type, m.keySize, m.valueSize, m.maxEntries, m.perCpu]).toEqual(["hash", 8, 16, 1024, false]);
      const k = flowKey(0x0a000001, 80);
      expect(m.lookup(k)).toBeNull();
      m.update(k, flowVal(1, 100));
      expect(m.lookup(k)).toEqual(flowVal(1, 100));
      const e1 = catchErr(() => m.update(k, flowVal(2, 200), "noexist"));
      expect(e1).toBeInstanceOf(BpfError);
      expect(e1.code).toBe("EEXIST");
      m.update(k, flowVal(2, 200), "exist");
      expect(m.lookup(k)).toEqual(flowVal(2, 200));
      const e2 = catchErr(() => m.update(flowKey(1, 1), flowVal(0, 0), "exist"));
      expect(e2.code).toBe("ENOENT");
      expect(m.delete(k)).toBe(true);
      expect(m.delete(k)).toBe(false);
      expect(m.lookup(k)).toBeNull();
      expect(() => m.update(k, flowVal(0, 0), "bogus" as "any")).toThrow(TypeError);
    });

    it("validates key and value sizes with a TypeError naming the map", () => {
      const m = obj.map("flows");
      expect(() => m.lookup(Buffer.alloc(4))).toThrow(TypeError);
      expect(() => m.lookup(Buffer.alloc(4))).toThrow(/map 'flows' \(hash\): key must be 8 bytes \(key_size\), got 4/);
      expect(() => m.update(flowKey(1, 1), Buffer.alloc(8))).toThrow(/map 'flows'.*value must be 16 bytes.*got 8/);
      expect(() => m.delete(Buffer.alloc(9))).toThrow(TypeError);
      expect(() => m.lookup("abc" as unknown as Buffer)).toThrow(/must be a Buffer or Uint8Array/);
      expect(() => m.updateBatch([[flowKey(1, 1), Buffer.alloc(3)]])).toThrow(TypeError);
      // Plain Uint8Array works too.
      m.update(new Uint8Array(8), new Uint8Array(16));
      expect(m.delete(new Uint8Array(8))).toBe(true);
    });

    it("iterates keys and entries", () => {
      const m = obj.map("flows");
      const want = new Map<string, Buffer>();
      for (let i = 0; i < 50; i++) {
        const k = flowKey(0x0a000000 + i, 1000 + i);
        const v = flowVal(i, i * 10);
        m.update(k, v);
        want.set(k.toString("hex"), v);
      }
      const keys = [...m.keys()];
      expect(keys).toHaveLength(50);
      expect(new Set(keys.map((k) => k.toString("hex")))).toEqual(new Set(want.keys()));
      const entries = [...m.entries()];
      expect(entries).toHaveLength(50);
      for (const [k, v] of entries) expect(v).toEqual(want.get(k.toString("hex")));
      expect([...m]).toHaveLength(50); // Symbol.iterator == entries()
      // Deleting while iterating terminates and empties the map.
      for (const k of m.keys()) m.delete(k);
      expect([...m.keys()]).toEqual([]);
    });

    it("does batch update, lookup and delete", () => {
      const m = obj.map("flows");
      const entries: [Buffer, Buffer][] = [];
      for (let i = 0; i < 300; i++) entries.push([flowKey(0xc0a80000 + i, i), flowVal(i, 2 * i)]);
      m.updateBatch(entries);
      expect([...m.keys()]).toHaveLength(300);

      // Small chunks force several syscalls (and bucket overflow retries).
      for (const count of [undefined, 1, 7, 1000]) {
        const got = m.lookupBatch({ count });
        expect(got).toHaveLength(300);
        const gotMap = new Map(got.map(([k, v]) => [k.toString("hex"), v]));
        for (const [k, v] of entries) expect(gotMap.get(k.toString("hex"))).toEqual(v);
        // the same entries, in the same order, packed into two Buffers
        const packed = m.lookupBatchPacked({ count });
        expect(packed.count).toBe(300);
        expect(packed.keys.length).toBe(300 * m.keySize);
        expect(packed.values.length).toBe(300 * m.valueSize);
        const unpacked = Array.from({ length: packed.count }, (_, i) => [
          packed.keys.subarray(i * m.keySize, (i + 1) * m.keySize),
          packed.values.subarray(i * m.valueSize, (i + 1) * m.valueSize),
        ]);
        expect(unpacked).toEqual(got);
      }

      const e = catchErr(() => m.updateBatch([[entries[0][0], flowVal(9, 9)]], "noexist"));
      expect(e.code).toBe("EEXIST");

      // Absent keys are skipped and not counted.
      const del = [entries[0][0], flowKey(1, 2), entries[1][0], flowKey(3, 4), entries[2][0]];
      expect(m.deleteBatch(del)).toBe(3);
      expect(m.lookup(entries[0][0])).toBeNull();
      expect(m.deleteBatch(entries.slice(3).map(([k]) => k))).toBe(297);
      expect(m.lookupBatch()).toEqual([]);
      expect(m.lookupBatchPacked()).toEqual({ count: 0, keys: Buffer.alloc(0), values: Buffer.alloc(0) });
      expect(m.deleteBatch([])).toBe(0);
      m.updateBatch([]);
    });
  });

  describe("packed batches", () => {
    it("updateBatchPacked writes count entries and reports where a full map stopped", () => {
      const m = obj.map("flows");
      const n = 200;
      const keys = Buffer.alloc(n * m.keySize);
      const vals = Buffer.alloc(n * m.valueSize);
      for (let i = 0; i < n; i++) {
        flowKey(0x0a000000 + i, i).copy(keys, i * m.keySize);
        flowVal(i, 3 * i).copy(vals, i * m.valueSize);
      }
      expect(m.updateBatchPacked(keys, vals, n)).toEqual({ written: n, errno: 0 });
      expect(m.lookup(flowKey(0x0a000000 + 7, 7))).toEqual(flowVal(7, 21));
      expect([...m.keys()]).toHaveLength(n);
      // count below the buffers' length: only the first entries
      expect(m.updateBatchPacked(keys, Buffer.alloc(n * m.valueSize), 1)).toEqual({ written: 1, errno: 0 });
      expect(m.lookup(flowKey(0x0a000000, 0))).toEqual(flowVal(0, 0));
      expect(m.lookup(flowKey(0x0a000001, 1))).toEqual(flowVal(1, 3));
      expect(() => m.updateBatchPacked(keys, vals, n + 1)).toThrow(TypeError);
      // past max_entries (1024): what fits is written, the rest reported
      const big = 1100;
      const k2 = Buffer.alloc(big * m.keySize);
      const v2 = Buffer.alloc(big * m.valueSize);
      for (let i = 0; i < big; i++) flowKey(0x0b000000 + i, i).copy(k2, i * m.keySize);
      const r = m.updateBatchPacked(k2, v2, big);
      expect(r.written).toBe(1024 - n);
      expect(r.errno).not.toBe(0);
      expect([...m.keys()]).toHaveLength(1024);
      m.deleteBatch([...m.keys()]);
    });

    it("deleteBatchIf deletes only keys whose masked value matches", () => {
      const m = obj.map("flows");
      m.updateBatch([
        [flowKey(1, 1), flowVal(5, 100)],
        [flowKey(2, 2), flowVal(5, 200)],
        [flowKey(3, 3), flowVal(6, 300)],
      ]);
      const keys = Buffer.concat([flowKey(1, 1), flowKey(2, 2), flowKey(3, 3), flowKey(4, 4)]);
      // compare the packets field only (first 8 bytes); expected 5 for each
      const mask = Buffer.alloc(m.valueSize);
      mask.fill(0xff, 0, 8);
      const expect5 = Buffer.concat([flowVal(5, 0), flowVal(5, 0), flowVal(5, 0), flowVal(5, 0)]);
      expect(m.deleteBatchIf(keys, expect5, mask, 4)).toBe(2);
      expect(m.lookup(flowKey(1, 1))).toBeNull();
      expect(m.lookup(flowKey(2, 2))).toBeNull();
      expect(m.lookup(flowKey(3, 3))).toEqual(flowVal(6, 300));
      expect(() => m.deleteBatchIf(keys, expect5, Buffer.alloc(3), 4)).toThrow(TypeError);
      expect(m.deleteBatchIf(keys, expect5, mask, 0)).toBe(0);
      m.deleteBatch([flowKey(3, 3)]);
    });

    it("deleteBatchIf over many keys (several delete batches): matches go, the rest stays, repeated and absent keys are skipped", () => {
      const m = obj.map("flows");
      const n = 700;
      const entries: [Buffer, Buffer][] = [];
      for (let i = 0; i < n; i++) entries.push([flowKey(i, 7), flowVal(i % 3 === 0 ? 6 : 5, i)]);
      m.updateBatch(entries);
      // every key once, key 1 three times more, and 50 keys not in the map
      const ks: Buffer[] = entries.map(([k]) => k);
      ks.push(flowKey(1, 7), flowKey(1, 7), flowKey(1, 7));
      for (let i = 0; i < 50; i++) ks.push(flowKey(10_000 + i, 7));
      const mask = Buffer.alloc(m.valueSize);
      mask.fill(0xff, 0, 8);
      const exp = Buffer.concat(ks.map(() => flowVal(5, 0)));
      const want = entries.filter((_, i) => i % 3 !== 0).length;
      expect(m.deleteBatchIf(Buffer.concat(ks), exp, mask, ks.length)).toBe(want);
      for (let i = 0; i < n; i++) {
        if (i % 3 === 0) expect(m.lookup(flowKey(i, 7))).toEqual(flowVal(6, i));
        else expect(m.lookup(flowKey(i, 7))).toBeNull();
      }
      m.deleteBatch(entries.filter((_, i) => i % 3 === 0).map(([k]) => k));
    });
  });

  describe("per-CPU", () => {
    it("percpu_array: lookupPerCpu gives one value per possible CPU", () => {
      const m = obj.map("stats");
      expect([m.type, m.perCpu, m.valueSize]).toEqual(["percpu_array", true, 8]);
      const vals = Array.from({ length: ncpu }, (_, c) => u64(1000 + c));
      m.updatePerCpu(u32(3), vals);
      const per = m.lookupPerCpu(u32(3));
      expect(per).toHaveLength(ncpu);
      expect(per).toEqual(vals);
      // lookup() packs the per-CPU values.
      expect(m.lookup(u32(3))).toEqual(Buffer.concat(vals));
      // A single value is written to every CPU.
      m.update(u32(4), u64(7));
      expect(m.lookupPerCpu(u32(4))).toEqual(Array.from({ length: ncpu }, () => u64(7)));
      // Out of range index.
      expect(m.lookupPerCpu(u32(100))).toBeNull();
      expect(() => m.update(u32(0), Buffer.alloc(8 * ncpu + 8))).toThrow(/8 bytes .* or \d+ bytes/);
      expect(() => obj.map("flows").lookupPerCpu(flowKey(0, 0))).toThrow(/not a per-CPU map/);
      // Array elements cannot be deleted.
      const e = catchErr(() => m.delete(u32(0)));
      expect(e.code).toBe("EINVAL");
    });

    it("percpu_array: batch lookup/update and iteration", () => {
      const m = obj.map("stats");
      const entries: [Buffer, Buffer][] = [];
      for (let i = 0; i < 8; i++) entries.push([u32(i), Buffer.concat(Array.from({ length: ncpu }, (_, c) => u64(i * 100 + c)))]);
      m.updateBatch(entries);
      const got = m.lookupBatch({ count: 3 });
      expect(got).toEqual(entries);
      const packed = m.lookupBatchPacked({ count: 3 });
      expect(packed).toEqual({ count: 8, keys: Buffer.concat(entries.map(([k]) => k)), values: Buffer.concat(entries.map(([, v]) => v)) });
      expect([...m.entries()]).toEqual(entries);
      expect([...m.keys()]).toEqual(entries.map(([k]) => k));
      // No delete on arrays: batch delete fails with the kernel's error.
      expect(() => m.deleteBatch([u32(0)])).toThrow(BpfError);
    });

    it("percpu_hash with a 4-byte value (kernel pads each CPU slot to 8)", () => {
      const m = obj.map("pc_hash");
      expect([m.type, m.valueSize]).toEqual(["percpu_hash", 4]);
      const vals = Array.from({ length: ncpu }, (_, c) => u32(0xa0 + c));
      m.updatePerCpu(u32(42), vals);
      expect(m.lookupPerCpu(u32(42))).toEqual(vals);
      expect(m.lookup(u32(42))).toEqual(Buffer.concat(vals));
      m.updateBatch([[u32(43), u32(5)]]);
      const got = new Map(m.lookupBatch().map(([k, v]) => [k.readUInt32LE(0), v]));
      expect(got.get(42)).toEqual(Buffer.concat(vals));
      expect(got.get(43)).toEqual(Buffer.concat(Array.from({ length: ncpu }, () => u32(5))));
      expect(m.deleteBatch([u32(42), u32(43), u32(44)])).toBe(2);
    });
  });

  describe("other types", () => {
    it("array and lru_hash", () => {
      const arr = obj.map("arr");
      expect(arr.lookup(u32(1))).toEqual(u32(0));
      arr.update(u32(1), u32(99));
      expect(arr.lookup(u32(1))).toEqual(u32(99));
      expect(arr.lookup(u32(4))).toBeNull();
      const e = catchErr(() => arr.update(u32(4), u32(1)));
      expect(e.code).toBe("E2BIG");
      expect(arr.lookupBatch().map(([k, v]) => [k.readUInt32LE(0), v.readUInt32LE(0)])).toEqual([
        [0, 0],
        [1, 99],
        [2, 0],
        [3, 0],
      ]);

      const lru = obj.map("lru");
      expect(lru.type).toBe("lru_hash");
      // More inserts than max_entries: LRU evicts instead of failing.
      for (let i = 0; i < 400; i++) lru.update(u32(i), u32(i * 2));
      const n = [...lru.keys()].length;
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(128);
      expect(lru.lookup(u32(399))).toEqual(u32(798));
    });

    it("batch operations fall back where the kernel has none (devmap)", () => {
      const m = obj.map("devs");
      expect(m.type).toBe("devmap");
      const lo = 1; // loopback ifindex
      m.updateBatch([
        [u32(1), u32(lo)],
        [u32(3), u32(lo)],
      ]);
      expect(m.lookupBatch().map(([k, v]) => [k.readUInt32LE(0), v.readUInt32LE(0)])).toEqual([
        [1, lo],
        [3, lo],
      ]);
      expect(m.lookupBatchPacked()).toEqual({ count: 2, keys: Buffer.concat([u32(1), u32(3)]), values: Buffer.concat([u32(lo), u32(lo)]) });
      // (a devmap reports success for deleting an empty slot, so 3)
      expect(m.deleteBatch([u32(1), u32(2), u32(3)])).toBe(3);
      expect(m.lookupBatch()).toEqual([]);
      // Errors of the per-element fallback still surface.
      expect(() => m.updateBatch([[u32(0), u32(0x7ffffff0)]])).toThrow(BpfError);
    });

    it("ringbuf maps report their type and refuse element access", () => {
      const rb = obj.map("rb");
      expect([rb.type, rb.keySize, rb.valueSize, rb.maxEntries]).toEqual(["ringbuf", 0, 0, 4096]);
      expect(() => rb.lookup(Buffer.alloc(0))).toThrow(BpfError);
    });
  });

  describe("pinning", () => {
    it("pin, openPinned, unpin", () => {
      const m = obj.map("flows");
      const path = `${scratch.dir}/flows`;
      m.pin(path);
      expect(existsSync(path)).toBe(true);
      const e = catchErr(() => m.pin(path));
      expect(e.code).toBe("EEXIST");

      const p = BpfMap.openPinned(path);
      try {
        expect([p.name, p.type, p.keySize, p.valueSize, p.maxEntries]).toEqual(["flows", "hash", 8, 16, 1024]);
        expect(p.id).toBe(m.id);
        expect(p.fd).not.toBe(m.fd);
        p.update(flowKey(7, 7), flowVal(7, 7));
        expect(m.lookup(flowKey(7, 7))).toEqual(flowVal(7, 7));
        expect(m.delete(flowKey(7, 7))).toBe(true);
      } finally {
        p.close();
      }
      expect(p.closed).toBe(true);
      expect(() => p.lookup(flowKey(7, 7))).toThrow(/closed/);
      p.close(); // idempotent

      m.unpin(path);
      expect(existsSync(path)).toBe(false);
      const e2 = catchErr(() => BpfMap.openPinned(path));
      expect(e2.code).toBe("ENOENT");
      expect(catchErr(() => m.unpin(path)).code).toBe("ENOENT");
    });

    it("rejects pins of the wrong kind and paths outside bpffs", () => {
      const prog = obj.program("xdp_pass");
      const path = `${scratch.dir}/prog`;
      prog.pin(path);
      const e = catchErr(() => BpfMap.openPinned(path));
      expect(e.code).toBe("EINVAL");
      expect(e.message).toMatch(/pinned prog, not a map/);
      prog.unpin(path);
      const e2 = catchErr(() => obj.map("arr").pin("/tmp/lbt-not-bpffs"));
      expect(e2).toBeInstanceOf(BpfError);
      expect(e2.message).toMatch(/bpffs/);
    });

    it("a pinned map outlives its object", () => {
      const path = `${scratch.dir}/outlive`;
      const o = BpfObject.openFile(fixture("maps"));
      o.load();
      o.map("arr").update(u32(2), u32(1234));
      o.map("arr").pin(path);
      o.close();
      const p = BpfMap.openPinned(path);
      try {
        expect(p.lookup(u32(2))).toEqual(u32(1234));
      } finally {
        p.close();
        p.unpin(path);
      }
    });
  });
});

function catchErr(f: () => unknown): BpfError {
  try {
    f();
  } catch (e) {
    return e as BpfError;
  }
  throw new Error("expected an exception");
}

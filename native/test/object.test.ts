import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { BpfError, BpfMap, BpfObject, BpfProgram, bpffsMounted, errnoName, libbpfVersion, numPossibleCpus } from "libbpf-ts-bindings";
import { bpffsScratch, fixture, isRoot, removeFixtureDir, u32 } from "./helpers.ts";

describe.skipIf(!isRoot)("BpfObject", () => {
  afterAll(() => removeFixtureDir());

  it("reports the environment", () => {
    expect(numPossibleCpus()).toBeGreaterThan(0);
    expect(bpffsMounted()).toBe(true);
    expect(bpffsMounted("/tmp")).toBe(false);
    expect(bpffsMounted("/nonexistent/path")).toBe(false);
    expect(libbpfVersion()).toMatch(/^v\d+\.\d+/);
    expect(errnoName(1)).toBe("EPERM");
    expect(errnoName(524)).toBe("ENOTSUPP");
  });

  it("opens a file, lists programs and maps, loads and closes", () => {
    const obj = BpfObject.openFile(fixture("xdp_count"));
    try {
      expect(obj.name).toBe("xdp_count");
      expect(obj.loaded).toBe(false);
      const [p] = obj.programs;
      expect(obj.programs).toHaveLength(1);
      expect(p.name).toBe("xdp_count");
      expect(p.type).toBe("xdp");
      expect(p.section).toBe("xdp");
      expect(p.fd).toBe(-1); // not loaded yet
      expect(() => p.testRun({ data: Buffer.alloc(64) })).toThrow(/not loaded/);
      expect(obj.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries])).toEqual([
        ["pkt_count", "percpu_array", 4, 8, 4],
        ["by_proto", "hash", 2, 8, 64],
      ]);
      obj.load();
      expect(obj.loaded).toBe(true);
      expect(obj.program("xdp_count")).toBe(p);
      expect(p.fd).toBeGreaterThan(0);
      expect(p.id).toBeGreaterThan(0);
      expect(obj.map("by_proto").fd).toBeGreaterThan(0);
      expect(() => obj.program("nope")).toThrow(BpfError);
      expect(() => obj.map("nope")).toThrow(/has no map 'nope'/);
      expect(() => obj.load()).toThrow(/already loaded/);
    } finally {
      obj.close();
    }
    expect(obj.closed).toBe(true);
    obj.close(); // idempotent
  });

  it("opens from a buffer (and keeps working after the caller's buffer is reused)", () => {
    const buf = readFileSync(fixture("xdp_rewrite"));
    const obj = BpfObject.openBuffer(buf, "from_buffer");
    try {
      buf.fill(0); // the addon must have its own copy of the ELF image
      expect(obj.name).toBe("from_buffer");
      obj.load();
      const r = obj.program("xdp_rewrite").testRun({ data: Buffer.alloc(60, 1) });
      expect(r.retval).toBe(3); // XDP_TX
    } finally {
      obj.close();
    }
  });

  it("throws BpfError for unreadable or invalid objects", () => {
    const e1 = catchErr(() => BpfObject.openFile("/nonexistent/x.bpf.o"));
    expect(e1).toBeInstanceOf(BpfError);
    expect(e1.code).toBe("ENOENT");
    expect(e1.errno).toBe(2);
    expect(e1.op).toContain("/nonexistent/x.bpf.o");

    const e2 = catchErr(() => BpfObject.openBuffer(Buffer.from("definitely not an ELF file"), "junk"));
    expect(e2).toBeInstanceOf(BpfError);
    expect(e2.message).toContain("junk");

    expect(() => BpfObject.openBuffer(Buffer.alloc(0))).toThrow(BpfError);
    expect(() => BpfObject.openFile(42 as unknown as string)).toThrow(TypeError);
  });

  it("reports verifier rejections with the full verifier log", () => {
    const obj = BpfObject.openFile(fixture("bad"));
    try {
      const e = catchErr(() => obj.load());
      expect(e).toBeInstanceOf(BpfError);
      expect(e.name).toBe("BpfError");
      expect(e.code).toBe("EACCES");
      expect(e.errno).toBe(13);
      expect(e.op).toContain("load object");
      expect(e.log).toBeTypeOf("string");
      expect(e.log!.length).toBeGreaterThan(0);
      expect(e.log).toContain("-- BEGIN PROG LOAD LOG --");
      expect(e.log).toMatch(/invalid access to packet/);
      expect(e.log).toMatch(/processed \d+ insns/);
      // The message summarises the reason.
      expect(e.message).toMatch(/verifier: .*outside of the packet|invalid access to packet/);
    } finally {
      obj.close();
    }
  });

  it("keeps logs of separate loads apart", () => {
    const bad = BpfObject.openFile(fixture("bad"));
    const good = BpfObject.openFile(fixture("xdp_count"));
    try {
      expect(() => bad.load()).toThrow(BpfError);
      good.load(); // must not throw nor inherit the previous log
    } finally {
      bad.close();
      good.close();
    }
  });

  it("refuses to use programs and maps of a closed object", () => {
    const obj = BpfObject.openFile(fixture("xdp_count"));
    obj.load();
    const p = obj.program("xdp_count");
    const m = obj.map("pkt_count");
    obj.close();
    expect(p.closed).toBe(true);
    expect(m.closed).toBe(true);
    for (const f of [
      () => p.fd,
      () => p.testRun({ data: Buffer.alloc(64) }),
      () => m.lookup(u32(0)),
      () => m.update(u32(0), Buffer.alloc(8)),
      () => [...m.keys()],
      () => obj.programs,
      () => obj.map("pkt_count"),
      () => obj.load(),
    ]) {
      const e = catchErr(f);
      expect(e).toBeInstanceOf(BpfError);
      expect(e.code).toBe("EBADF");
    }
    // Metadata stays readable.
    expect(m.name).toBe("pkt_count");
    expect(p.name).toBe("xdp_count");
  });

  it("keeps an unreferenced object alive while its maps are in use", () => {
    const m = (() => {
      const obj = BpfObject.openFile(fixture("xdp_count"));
      obj.load();
      return obj.map("by_proto");
    })();
    (globalThis as { gc?: () => void }).gc?.();
    m.update(Buffer.from([1, 2]), Buffer.alloc(8, 7));
    expect(m.lookup(Buffer.from([1, 2]))).toEqual(Buffer.alloc(8, 7));
  });

  it("wrappers cannot be constructed from JS", () => {
    const Ctor = BpfMap as unknown as new (...a: unknown[]) => unknown;
    expect(() => new Ctor({})).toThrow(TypeError);
    const P = BpfProgram as unknown as new (...a: unknown[]) => unknown;
    expect(() => new P(Symbol("x"), {})).toThrow(TypeError);
  });

  it("pins LIBBPF_PIN_BY_NAME maps under pinRoot and reuses them on the next load", () => {
    const scratch = bpffsScratch();
    const a = BpfObject.openFile(fixture("autopin"), { pinRoot: scratch.dir });
    const b = BpfObject.openBuffer(readFileSync(fixture("autopin")), "autopin_b", { pinRoot: scratch.dir });
    try {
      a.load();
      expect(existsSync(`${scratch.dir}/shared_tbl`)).toBe(true);
      a.map("shared_tbl").update(u32(1), u32(7));
      b.load();
      expect(b.map("shared_tbl").id).toBe(a.map("shared_tbl").id);
      // The program of b sees the entry written through a.
      expect(b.program("xdp_autopin").testRun({ data: Buffer.alloc(64) }).retval).toBe(1); // XDP_DROP
    } finally {
      a.close();
      b.close();
      scratch.remove();
    }
  });

  describe("reuseMap", () => {
    let scratch: ReturnType<typeof bpffsScratch>;
    beforeAll(() => {
      scratch = bpffsScratch();
    });
    afterAll(() => scratch?.remove());

    it("shares a pinned map between two loads of the same object", () => {
      const a = BpfObject.openFile(fixture("maps"));
      const b = BpfObject.openFile(fixture("maps"));
      try {
        a.load();
        const path = `${scratch.dir}/flows`;
        a.map("flows").pin(path);
        a.map("flows").update(Buffer.alloc(8, 1), Buffer.alloc(16, 2));
        b.reuseMap("flows", path);
        b.load();
        expect(b.map("flows").id).toBe(a.map("flows").id);
        expect(b.map("flows").lookup(Buffer.alloc(8, 1))).toEqual(Buffer.alloc(16, 2));
        // Unrelated maps are not shared.
        expect(b.map("arr").id).not.toBe(a.map("arr").id);
        expect(() => b.reuseMap("flows", path)).toThrow(/before load/);
      } finally {
        a.close();
        b.close();
      }
    });

    it("rejects missing maps, missing pins and incompatible pinned maps", () => {
      const a = BpfObject.openFile(fixture("maps"));
      const b = BpfObject.openFile(fixture("maps"));
      try {
        a.load();
        const arrPath = `${scratch.dir}/arr`;
        a.map("arr").pin(arrPath);
        const e1 = catchErr(() => b.reuseMap("nope", arrPath));
        expect(e1.code).toBe("ENOENT");
        const e2 = catchErr(() => b.reuseMap("flows", `${scratch.dir}/missing`));
        expect(e2.code).toBe("ENOENT");
        const e3 = catchErr(() => b.reuseMap("flows", arrPath));
        expect(e3.code).toBe("EINVAL");
        expect(e3.message).toMatch(/incompatible pinned map: type differs/);
      } finally {
        a.close();
        b.close();
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

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BpfError, BpfObject, BpfProgram } from "libbpf-ts-bindings";
import { bpffsScratch, fixture, isRoot, removeFixtureDir, u32 } from "./helpers.ts";

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

function frame(len = 64): Buffer {
  const b = Buffer.alloc(len);
  Buffer.from([0x02, 0, 0, 0, 0, 0x0d]).copy(b, 0); // dst
  Buffer.from([0x02, 0, 0, 0, 0, 0x05]).copy(b, 6); // src
  b.writeUInt16BE(0x88b5, 12);
  for (let i = 14; i < len; i++) b[i] = i & 0xff;
  return b;
}

describe.skipIf(!isRoot)("BpfProgram", () => {
  let obj: BpfObject;
  let scratch: ReturnType<typeof bpffsScratch>;

  beforeAll(() => {
    scratch = bpffsScratch();
    obj = BpfObject.openFile(fixture("xdp_rewrite"));
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

  it("testRun runs the program repeat times and returns the rewritten packet", () => {
    const p = obj.program("xdp_rewrite");
    const runs = obj.map("runs");
    runs.update(u32(0), Buffer.alloc(8));
    const input = frame(64);
    // The kernel reuses the same buffer for every repetition: an odd count
    // of MAC swaps leaves them swapped.
    const r = p.testRun({ data: input, repeat: 101 });
    expect(r.retval).toBe(XDP_TX);
    expect(r.durationNs).toBeGreaterThanOrEqual(0);
    expect(r.durationNs).toBeLessThan(1_000_000); // per-run average, not the total
    expect(r.data).toHaveLength(64);
    // MACs swapped, byte 14 stamped, the rest untouched.
    expect(r.data.subarray(0, 6)).toEqual(input.subarray(6, 12));
    expect(r.data.subarray(6, 12)).toEqual(input.subarray(0, 6));
    expect(r.data[14]).toBe(0xab);
    expect(r.data.subarray(15)).toEqual(input.subarray(15));
    // Input untouched.
    expect(input[14]).toBe(14);
    // The program really ran 101 times.
    expect(runs.lookup(u32(0))!.readBigUInt64LE(0)).toBe(101n);
  });

  it("testRun returns other verdicts and validates options", () => {
    const p = obj.program("xdp_rewrite");
    // 14 bytes: a bare Ethernet header, too short for the stamp -> XDP_DROP.
    expect(p.testRun({ data: frame(14) }).retval).toBe(XDP_DROP);
    const e = catchErr(() => p.testRun({ data: Buffer.alloc(4) })); // shorter than ETH_HLEN
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe("EINVAL");
    expect(() => p.testRun({ data: "x" as unknown as Buffer })).toThrow(TypeError);
    expect(() => p.testRun({ data: frame(), repeat: -1 })).toThrow(TypeError);
    expect(() => p.testRun(undefined as unknown as { data: Buffer })).toThrow(TypeError);
    // Too small an output buffer is reported, not silently truncated.
    const e2 = catchErr(() => p.testRun({ data: frame(64), dataSizeOut: 10 }));
    expect(e2.code).toBe("ENOSPC");
    expect(e2.message).toMatch(/dataSizeOut/);
  });

  it("testRun accepts an xdp_md context", () => {
    const p = obj.program("xdp_rewrite");
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    const ctx = Buffer.alloc(24);
    ctx.writeUInt32LE(0, 0);
    ctx.writeUInt32LE(64, 4);
    const r = p.testRun({ data: frame(64), ctxIn: ctx });
    expect(r.retval).toBe(XDP_TX);
  });

  it("a sched_cls program runs under testRun too", () => {
    const tc = BpfObject.openFile(fixture("tc_count"));
    try {
      tc.load();
      const p = tc.program("tc_count");
      expect(p.type).toBe("sched_cls");
      expect(p.section).toBe("tc");
      const r = p.testRun({ data: frame(64), repeat: 5 });
      expect(r.retval).toBe(0); // TC_ACT_OK
      // skb->protocol comes from the frame's ethertype: counted in slot 1.
      expect(tc.map("tc_hits").lookup(u32(1))!.readBigUInt64LE(0)).toBe(5n);
    } finally {
      tc.close();
    }
  });

  it("pin, openPinned and unpin a program", () => {
    const p = obj.program("xdp_rewrite");
    const path = `${scratch.dir}/xdp_rewrite`;
    p.pin(path);
    const q = BpfProgram.openPinned(path);
    try {
      expect(q.name).toBe("xdp_rewrite");
      expect(q.type).toBe("xdp");
      expect(q.section).toBe("");
      expect(q.id).toBe(p.id);
      expect(q.testRun({ data: frame(64) }).retval).toBe(XDP_TX);
    } finally {
      q.close();
    }
    expect(() => q.testRun({ data: frame(64) })).toThrow(/closed/);
    p.unpin(path);
    expect(catchErr(() => BpfProgram.openPinned(path)).code).toBe("ENOENT");
  });

  it("a pinned program survives its object and can be reopened", () => {
    const path = `${scratch.dir}/survivor`;
    const o = BpfObject.openFile(fixture("xdp_count"));
    o.load();
    o.program("xdp_count").pin(path);
    o.close();
    const q = BpfProgram.openPinned(path);
    try {
      expect(q.testRun({ data: frame(64) }).retval).toBe(XDP_PASS);
    } finally {
      q.close();
      q.unpin(path);
    }
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

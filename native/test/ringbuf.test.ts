import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { BpfError, BpfObject, RingBuffer } from "libbpf-ts-bindings";
import { HERE, fixture, isRoot, removeFixtureDir, runTsChild } from "./helpers.ts";

function parseEvent(b: Buffer) {
  return { seq: b.readUInt32LE(0), len: b.readUInt32LE(4), head: b.subarray(8, 24) };
}

function packet(len = 64): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

describe.skipIf(!isRoot)("RingBuffer", () => {
  let obj: BpfObject;
  const rings: RingBuffer[] = [];
  beforeAll(() => {
    obj = BpfObject.openFile(fixture("ringbuf"));
    obj.load();
  });
  afterEach(() => {
    for (const r of rings.splice(0)) r.close();
  });
  afterAll(() => {
    try {
      obj?.close();
    } finally {
      removeFixtureDir();
    }
  });

  const ring = (cb: (d: Buffer) => void) => {
    const r = new RingBuffer(obj.map("events"), cb);
    rings.push(r);
    return r;
  };
  const until = async (cond: () => boolean, ms = 3000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    return cond();
  };

  it("delivers records emitted during testRun asynchronously, in order, as copies", async () => {
    const got: Buffer[] = [];
    const r = ring((d) => got.push(d));
    expect(r.epollFd).toBeGreaterThan(0);
    expect(r.hasRef()).toBe(true);
    const pkt = packet(64);
    const seq0 = obj.map("seqno").lookup(Buffer.alloc(4))!.readUInt32LE(0);
    obj.program("xdp_events").testRun({ data: pkt, repeat: 25 });
    // Nothing is delivered synchronously: the loop must get a turn first.
    expect(got).toHaveLength(0);
    let ticks = 0;
    const iv = setInterval(() => ticks++, 1);
    try {
      expect(await until(() => got.length === 25)).toBe(true);
    } finally {
      clearInterval(iv);
    }
    const evs = got.map(parseEvent);
    expect(evs.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => seq0 + i));
    for (const e of evs) {
      expect(e.len).toBe(64);
      expect(e.head).toEqual(pkt.subarray(0, 16));
    }
    expect(got[0]).toHaveLength(24);
    // Buffers are independent copies.
    got[0].fill(0);
    expect(parseEvent(got[1]).seq).toBe(seq0 + 1);
    // Nothing more arrives.
    await new Promise((res) => setTimeout(res, 30));
    expect(got).toHaveLength(25);
  });

  it("keeps delivering across several bursts and timers keep running meanwhile", async () => {
    let n = 0;
    ring(() => n++);
    for (let burst = 1; burst <= 5; burst++) {
      obj.program("xdp_events").testRun({ data: packet(32), repeat: 10 });
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1)); // a timer fires: the loop is not blocked
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await until(() => n === burst * 10)).toBe(true);
    }
  });

  it("consume() drains synchronously", () => {
    let n = 0;
    const r = ring(() => n++);
    obj.program("xdp_events").testRun({ data: packet(), repeat: 7 });
    expect(r.consume()).toBe(7);
    expect(n).toBe(7);
    expect(r.consume()).toBe(0);
  });

  it("close() from inside the callback stops delivery immediately", async () => {
    let n = 0;
    const r = ring(() => {
      n++;
      r.close();
    });
    obj.program("xdp_events").testRun({ data: packet(), repeat: 10 });
    await new Promise((res) => setTimeout(res, 50));
    expect(n).toBe(1);
    expect(r.closed).toBe(true);
    expect(r.epollFd).toBe(-1);
    expect(() => r.consume()).toThrow(BpfError);
    r.close(); // idempotent
  });

  it("ref()/unref() toggle whether the ring keeps the loop alive", () => {
    const r = ring(() => {});
    expect(r.unref().hasRef()).toBe(false);
    expect(r.ref().hasRef()).toBe(true);
    r.close();
    expect(r.hasRef()).toBe(false);
  });

  it("rejects maps that are not ring buffers and bad callbacks", () => {
    const maps = BpfObject.openFile(fixture("maps"));
    try {
      maps.load();
      expect(() => new RingBuffer(maps.map("arr"), () => {})).toThrow(/is a array map, not a ringbuf/);
      expect(() => new RingBuffer(obj.map("events"), "nope" as unknown as () => void)).toThrow(TypeError);
      expect(() => new RingBuffer({} as never, () => {})).toThrow(TypeError);
    } finally {
      maps.close();
    }
    // ringbuf map of a closed object
    const o = BpfObject.openFile(fixture("ringbuf"));
    o.load();
    const m = o.map("events");
    o.close();
    const e = (() => {
      try {
        new RingBuffer(m, () => {});
      } catch (err) {
        return err as BpfError;
      }
    })();
    expect(e).toBeInstanceOf(BpfError);
    expect(e!.code).toBe("EBADF");
  });

  describe("process lifetime (child processes)", () => {
    const child = join(HERE, "ringbuf.child.ts");
    const run = (mode: string, timeoutMs = 20_000, nodeArgs: string[] = []) =>
      runTsChild(child, [mode, fixture("ringbuf")], { timeoutMs, nodeArgs });

    it("close() lets the process exit by itself", () => {
      const r = run("close");
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ mode: "close", got: 3, hasRef: false, closed: true });
    });

    it("an unref()'d ring does not keep the process alive", () => {
      const r = run("unref");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ mode: "unref", got: 2, hasRef: false });
    });

    it("an open, ref'd ring keeps the process alive (killed after the timeout)", () => {
      const r = run("keepalive", 4000);
      expect(JSON.parse(r.stdout)).toEqual({ mode: "keepalive", got: 1 });
      expect(r.signal).toBe("SIGKILL");
      expect(r.ms).toBeGreaterThanOrEqual(3500);
    });

    it("callback exceptions surface as uncaughtException without stopping delivery", () => {
      const r = run("throw");
      expect(r.status).toBe(0);
      const res = JSON.parse(r.stdout) as { got: number; errors: string[] };
      expect(res.got).toBe(4);
      expect(res.errors).toEqual(["boom 0", "boom 2"]);
    });

    it("terminating worker threads with open rings neither crashes nor hangs", () => {
      const r = run("worker", 30_000);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ mode: "worker", delivered: [1, 1, 1, 1, 1, 1] });
    });

    it("an unreferenced ring is not collected while open", () => {
      const r = run("gc", 20_000, ["--expose-gc"]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ mode: "gc", got: 3 });
    });
  });
});

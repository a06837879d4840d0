// Child process for ringbuf.test.ts: checks what only a separate process can
// show (exiting, uncaught exceptions, GC). Usage: ringbuf.child.ts MODE OBJ
import { BpfObject, RingBuffer } from "libbpf-ts-bindings";

const [mode, objPath] = process.argv.slice(2);
const obj = BpfObject.openFile(objPath!);
obj.load();
const prog = obj.program("xdp_events");
const events = obj.map("events");
const frame = Buffer.alloc(64, 0x11);
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
let got = 0;

const waitRecords = (n: number, rbOrNull: () => number) =>
  new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (rbOrNull() >= n) return resolve();
      if (Date.now() - t0 > 5000) return reject(new Error(`timeout: ${rbOrNull()} of ${n} records`));
      setTimeout(tick, 10);
    };
    tick();
  });

switch (mode) {
  case "close": {
    // Receives records, closes: the process must then exit on its own.
    const rb = new RingBuffer(events, () => got++);
    prog.testRun({ data: frame, repeat: 3 });
    await waitRecords(3, () => got);
    rb.close();
    out({ mode, got, hasRef: rb.hasRef(), closed: rb.closed });
    break;
  }
  case "unref": {
    // Never closed, but unref'd: must not keep the process alive.
    const rb = new RingBuffer(events, () => got++).unref();
    prog.testRun({ data: frame, repeat: 2 });
    await waitRecords(2, () => got);
    out({ mode, got, hasRef: rb.hasRef() });
    break;
  }
  case "keepalive": {
    // Neither closed nor unref'd: keeps the process alive (parent kills it).
    new RingBuffer(events, () => got++);
    prog.testRun({ data: frame, repeat: 1 });
    await waitRecords(1, () => got);
    out({ mode, got });
    break;
  }
  case "throw": {
    // An exception in the callback surfaces as uncaughtException and does
    // not stop delivery of the rest of the batch or later batches.
    const errors: string[] = [];
    process.on("uncaughtException", (e) => errors.push(String((e as Error).message)));
    const rb = new RingBuffer(events, (d) => {
      got++;
      if (d.readUInt32LE(0) % 2 === 0) throw new Error(`boom ${d.readUInt32LE(0)}`);
    });
    prog.testRun({ data: frame, repeat: 4 });
    await waitRecords(4, () => got);
    await new Promise((r) => setTimeout(r, 50));
    rb.close();
    out({ mode, got, errors });
    break;
  }
  case "gc": {
    // Nothing references the RingBuffer, yet it keeps delivering across GCs.
    const gc = (globalThis as { gc?: () => void }).gc!;
    let rbClose: (() => void) | undefined;
    (() => {
      const rb = new RingBuffer(events, () => got++);
      rbClose = () => rb.close();
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    prog.testRun({ data: frame, repeat: 3 });
    await waitRecords(3, () => got);
    rbClose!();
    out({ mode, got });
    break;
  }
  case "worker": {
    // Workers with an active ring buffer (and bpf calls in flight) are
    // terminated: the environment teardown must neither crash nor hang.
    const { Worker } = await import("node:worker_threads");
    const { createRequire } = await import("node:module");
    const addonPath = createRequire(import.meta.url).resolve("../build/Release/bpf_ts.node");
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      const m = require(workerData.addonPath);
      const o = m.openFile(workerData.objPath);
      o.load();
      const ev = o.maps().find((x) => x.name === "events");
      new m.NativeRingBuffer(ev, (recs) => parentPort.postMessage(recs.length));
      setInterval(() => o.programs()[0].testRun(Buffer.alloc(64), 2, undefined, undefined), 1);
    `;
    const results: number[] = [];
    for (let k = 0; k < 6; k++) {
      const w = new Worker(code, { eval: true, workerData: { addonPath, objPath } });
      let n = 0;
      w.on("message", (c: number) => (n += c));
      await new Promise<void>((resolve) => {
        const t0 = Date.now();
        const check = () => (n > 0 || Date.now() - t0 > 5000 ? resolve() : setTimeout(check, 5));
        check();
      });
      await new Promise((r) => setTimeout(r, k * 3));
      await w.terminate();
      results.push(n > 0 ? 1 : 0);
    }
    out({ mode, delivered: results });
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}

// Child process for gc.test.ts (run with --expose-gc):
// gc.child.ts FDS <xdp_count.o> <pin dir>  -> fd counts before/after dropping handles
// gc.child.ts LINK <xdp_count.o> <ifindex> -> XDP attachment before/after dropping an unpinned link
import { readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { BpfMap, BpfObject, BpfProgram } from "libbpf-ts-bindings";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const [mode, objPath, arg] = process.argv.slice(2);
const fds = () => readdirSync("/proc/self/fd").length;
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

async function collect(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
}

if (mode === "FDS") {
  // Warm up (libbpf feature probes, lazily opened files).
  (() => {
    const o = BpfObject.openFile(objPath!);
    o.load();
    o.close();
  })();
  await collect();
  const base = fds();
  const pinned = `${arg}/gc-map`;
  const pinnedProg = `${arg}/gc-prog`;
  (() => {
    const o = BpfObject.openFile(objPath!);
    o.load();
    o.map("by_proto").pin(pinned);
    o.program("xdp_count").pin(pinnedProg);
    o.close();
  })();
  (() => {
    for (let i = 0; i < 20; i++) {
      const o = BpfObject.openFile(objPath!);
      o.load();
      void o.maps.map((m) => m.fd);
      BpfMap.openPinned(pinned);
      BpfProgram.openPinned(pinnedProg);
    }
  })();
  const peak = fds();
  await collect();
  const after = fds();
  out({ base, peak, after });
} else if (mode === "LINK") {
  const ifindex = Number(arg);
  const attached = () => /prog\/xdp/.test(execFileSync("ip", ["-d", "link", "show"], { encoding: "utf8" }).split(/\n(?=\d+:)/).find((l) => l.startsWith(`${ifindex}:`)) ?? "");
  (() => {
    const o = BpfObject.openFile(objPath!);
    o.load();
    o.program("xdp_count").attachXdp(ifindex, { mode: "generic" });
  })();
  const before = attached();
  await collect();
  out({ before, after: attached() });
}

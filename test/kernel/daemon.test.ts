// The daemon as an operator sees it: what `vxgate run` logs at each level when
// thousands of MACs are learned (per-MAC lines only at debug; at info one
// summary per interval), and `vxgate stop`, which returns only once the switch
// is gone (daemon exited, pins, run directory and socket removed) or says why
// not within its bound.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { CLI } from "../../lab/fabric.ts";
import { runAsync } from "../harness/proc.ts";
import { sleep, udpFrame } from "../harness/index.ts";
import { bootSwitch, type SwitchUnderTest } from "./switch-fixture.ts";

const BURST = 2000;

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "daemon",
    `ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
`,
    [{ name: "p1", port: "h1", mac: "02:00:00:00:07:01", cidr: "198.51.100.1/24" }],
  );
}, 60_000);

afterAll(async () => {
  await sw?.dispose();
});

/** BURST distinct source MACs 02:<tag>:00:00:hi:lo from host p1. */
const macs = (tag: number) =>
  Array.from({ length: BURST }, (_, i) => `02:${tag.toString(16).padStart(2, "0")}:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`);
const burst = (srcs: string[]) =>
  sw.sendFromHost(
    "p1",
    srcs.map((src) => udpFrame({ dstMac: "02:00:00:00:ee:ee", srcMac: src, srcIp: "198.51.100.99", dstIp: "198.51.100.250", srcPort: 7, dstPort: 9, payload: Buffer.from("x") })),
  );

type LogLine = { level: string; msg: string; mac?: string; learned?: number; [k: string]: unknown };
/** The daemon's JSON log lines written after `from` (a length of the log). */
const logSince = (from: number): LogLine[] =>
  sw.fabric
    .logOf(sw.name)
    .slice(from)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
const learnEvents = async () => (await sw.api<{ learnEvents: number }>("status")).learnEvents;

const vxgate = (...args: string[]) =>
  runAsync(null, "nsenter", [`--net=${sw.lab.netnsPath(sw.fabric.switchNs(sw.name))}`, process.execPath, "--import", "tsx", CLI, ...args], { timeoutMs: 60_000 });

/** Exited: no such process, or a zombie its parent has not reaped yet. */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return /^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return true;
  }
}

describe("logging at scale", () => {
  it(`at info, ${BURST} learned MACs make a summary line, not a line each`, async () => {
    const from = sw.fabric.logOf(sw.name).length;
    const before = await learnEvents();
    const srcs = macs(0xa1);
    await burst(srcs);
    await expect.poll(learnEvents, { timeout: 10_000 }).toBe(before + BURST);
    // one "l2 activity" line per 10 s interval (the burst may straddle two)
    const learned = () => logSince(from).filter((l) => l.msg === "l2 activity").reduce((n, l) => n + (l.learned ?? 0), 0);
    await expect.poll(learned, { timeout: 25_000, interval: 500 }).toBe(BURST);
    const lines = logSince(from);
    const mine = new Set(srcs);
    expect(lines.filter((l) => l.mac !== undefined && mine.has(l.mac))).toEqual([]);
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines.filter((l) => l.msg === "l2 activity")[0]).toMatchObject({ level: "info", moved: 0, aged: 0, lostEvents: 0 });
  }, 60_000);

  it(`at debug (vxgate run --log-level debug), each of ${BURST} learned MACs has its line`, async () => {
    await sw.fabric.kill(sw.name); // SIGTERM: the fast path stays; the restart adopts it
    const from = sw.fabric.logOf(sw.name).length;
    await sw.fabric.start(sw.name, ["--log-level", "debug"]);
    const srcs = macs(0xa2);
    await burst(srcs);
    const mine = new Set(srcs);
    await expect
      .poll(() => new Set(logSince(from).filter((l) => l.msg === "mac learned" && mine.has(l.mac!)).map((l) => l.mac)).size, { timeout: 15_000, interval: 500 })
      .toBe(BURST);
    expect(logSince(from).find((l) => l.msg === "mac learned" && l.mac === srcs[0])).toMatchObject({ level: "debug", vni: 100, port: "h1" });
  }, 60_000);

  it("rejects an unknown --log-level before touching the kernel", async () => {
    const r = await vxgate("run", "--config", sw.configPath, "--log-level", "loud");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--log-level loud: expected debug, info, warn, error");
  });
});

describe("vxgate stop", () => {
  const socket = () => sw.fabric.config(sw.name).management.socket;
  const gone = () => {
    expect(existsSync(`/sys/fs/bpf/vxgate/${sw.name}`)).toBe(false);
    expect(existsSync(`/run/vxgate/${sw.name}`)).toBe(false);
    expect(existsSync(socket())).toBe(false);
    expect(sw.lab.exec(sw.fabric.switchNs(sw.name), "ip", ["-d", "link", "show", "h1"])).not.toMatch(/xdp/);
  };

  it("returns only when the daemon has exited and its pins, run directory and socket are gone", async () => {
    const { pid } = await sw.api<{ pid: number }>("status");
    expect(existsSync(`/run/vxgate/${sw.name}`)).toBe(true);
    const r = await vxgate("stop", "--config", sw.configPath);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${sw.name}: stopped (daemon pid ${pid} exited; fast path, pins and run directory removed)\n`);
    expect(exited(pid)).toBe(true);
    gone();
    // stopping a stopped switch is no error
    const again = await vxgate("stop", "--config", sw.configPath);
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`${sw.name}: fast path removed (no daemon was running)\n`);
  }, 60_000);

  it("says clearly when the switch is not gone within --timeout", async () => {
    await sw.fabric.start(sw.name);
    const { pid } = await sw.api<{ pid: number }>("status");
    process.kill(pid, "SIGSTOP"); // a daemon that cannot answer
    try {
      const t0 = Date.now();
      const r = await vxgate("stop", "--config", sw.configPath, "--timeout", "2");
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `vxgate: ${sw.name}: not stopped within 2 s: the daemon did not answer the stop request; still there: /sys/fs/bpf/vxgate/${sw.name}, /run/vxgate/${sw.name}, ${socket()}\n`,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // once it can answer, a stop gets it all out (whichever request it serves)
    const r = await vxgate("stop", "--config", sw.configPath);
    expect(r.status, r.stderr).toBe(0);
    await expect.poll(() => exited(pid), { timeout: 5000 }).toBe(true);
    gone();
  }, 60_000);
});

// Shared test helpers: fixture compilation, bpffs scratch dirs, veth/netns
// plumbing and an L2 frame sender. Everything created here carries a unique
// 'lbt' prefix and is removed by the returned cleanup functions.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(HERE, "fixtures");
export const REPO_ROOT = join(HERE, "..", "..");
export const TEST_ETHERTYPE = 0x88b5;

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

let outDir: string | undefined;
const compiled = new Map<string, string>();

/** Compiles native/test/fixtures/NAME.bpf.c once per test file; returns the .o path. */
export function fixture(name: string): string {
  const cached = compiled.get(name);
  if (cached) return cached;
  outDir ??= mkdtempSync(join(tmpdir(), "lbt-fixtures-"));
  const src = join(FIXTURES, `${name}.bpf.c`);
  const out = join(outDir, `${name}.bpf.o`);
  const r = spawnSync(
    "clang",
    ["-target", "bpf", "-O2", "-g", "-c", src, "-o", out, "-I/usr/include/x86_64-linux-gnu"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`clang failed for ${src}:\n${r.stderr}${r.error ?? ""}`);
  compiled.set(name, out);
  return out;
}

export function removeFixtureDir(): void {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
  outDir = undefined;
  compiled.clear();
}

export function uid(): string {
  return randomBytes(3).toString("hex");
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Like sh() but never throws (for cleanup). */
export function shQuiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: "ignore" });
}

/** A fresh directory under /sys/fs/bpf; remove() deletes it with everything pinned inside. */
export function bpffsScratch(): { dir: string; remove: () => void } {
  const dir = `/sys/fs/bpf/lbt-${process.pid}-${uid()}`;
  mkdirSync(dir);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface VethPair {
  /** end in the root namespace (where the programs get attached) */
  host: string;
  hostIfindex: number;
  /** end inside ns (where test frames are sent from) */
  peer: string;
  ns: string;
  cleanup: () => void;
}

/**
 * veth pair lbtXXXXXXa (root ns, up) <-> lbtXXXXXXb (inside a new netns lbtns-XXXXXX, up).
 * No addresses are configured: tests use raw L2 frames only.
 */
export function createVeth(): VethPair {
  const id = uid();
  const host = `lbt${id}a`;
  const peer = `lbt${id}b`;
  const ns = `lbtns-${id}`;
  const cleanup = () => {
    shQuiet("ip", ["link", "del", host]);
    shQuiet("ip", ["netns", "del", ns]);
  };
  try {
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["link", "add", host, "type", "veth", "peer", "name", peer]);
    sh("ip", ["link", "set", peer, "netns", ns]);
    // Keep the stack quiet (no IPv6 autoconf chatter) on both ends.
    shQuiet("sysctl", ["-q", "-w", `net.ipv6.conf.${host}.disable_ipv6=1`]);
    shQuiet("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `net.ipv6.conf.${peer}.disable_ipv6=1`]);
    sh("ip", ["link", "set", host, "up"]);
    sh("ip", ["-n", ns, "link", "set", peer, "up"]);
    const hostIfindex = Number(readFileSync(`/sys/class/net/${host}/ifindex`, "utf8").trim());
    return { host, hostIfindex, peer, ns, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const SENDER = `
import socket, sys, time
ifname, count, ethertype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = bytes([0x02, 0x6c, 0x62, 0x74, 0x00, 0x01])
for i in range(count):
    frame = b"\\xff" * 6 + src + ethertype.to_bytes(2, "big") + b"lbt-test-%04d" % i + b"\\x00" * 34
    s.send(frame)
    time.sleep(0.002)
s.close()
`;

/** Sends count broadcast frames of the test ethertype out of ifname inside ns (bounded, L2 only). */
export function sendFrames(ns: string, ifname: string, count: number, ethertype = TEST_ETHERTYPE): void {
  if (count < 0 || count > 1000) throw new Error("frame count out of range");
  sh("ip", ["netns", "exec", ns, PYTHON, "-c", SENDER, ifname, String(count), ethertype.toString(16)]);
}

/** `ip -d link show DEV` */
export function linkDetails(dev: string): string {
  return sh("ip", ["-d", "link", "show", "dev", dev]);
}

/** Polls cond() until true or timeout (bounded). */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function sumPerCpuU64(values: Buffer[] | null): bigint {
  if (!values) return 0n;
  return values.reduce((acc, b) => acc + b.readBigUInt64LE(0), 0n);
}

/** Runs a TypeScript file with tsx in a child node process. */
export function runTsChild(
  script: string,
  args: string[],
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number } {
  const start = Date.now();
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 20_000,
    killSignal: "SIGKILL",
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ms: Date.now() - start };
}

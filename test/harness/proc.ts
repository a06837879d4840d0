// Process plumbing shared by the harness: running commands inside a network
// namespace, tracking every long-lived child we start, and making sure a
// crashed or interrupted test run leaves no process or namespace behind.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";

/** A namespace reference: a netns name (as in `ip netns list`) or null for the namespace this process runs in. */
export type NsRef = string | null;

/** python3 to use for the inline helpers; the system one avoids pyenv shims and their env lookups. */
export const PYTHON = process.env.VXGATE_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

/** argv that runs `cmd args` inside `ns` (or directly when ns is null). */
export function nsArgv(ns: NsRef, cmd: string, args: readonly string[]): [string, string[]] {
  if (ns === null) return [cmd, [...args]];
  return ["ip", ["netns", "exec", ns, cmd, ...args]];
}

export interface ExecOptions {
  /** Data written to the command's stdin. */
  input?: string | Buffer;
  /** Hard bound on the command's run time (default 30 s). */
  timeoutMs?: number;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously and reports how it ended; never throws for a non-zero exit. */
export function runSync(ns: NsRef, cmd: string, args: readonly string[], opts: ExecOptions = {}): RunResult {
  const [file, argv] = nsArgv(ns, cmd, args);
  try {
    const stdout = execFileSync(file, argv, {
      input: opts.input,
      timeout: opts.timeoutMs ?? 30_000,
      killSignal: "SIGKILL",
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 256 * 1024 * 1024,
    });
    return { status: 0, signal: null, stdout, stderr: "" };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & {
      status?: number | null;
      signal?: NodeJS.Signals | null;
      stdout?: string | Buffer;
      stderr?: string | Buffer;
    };
    if (err.code === "ENOENT") throw new Error(`${file}: command not found`);
    return {
      status: err.status ?? null,
      signal: err.signal ?? null,
      stdout: String(err.stdout ?? ""),
      stderr: String(err.stderr ?? err.message),
    };
  }
}

/** Runs a command synchronously and returns its stdout; throws (with stderr) when it fails. */
export function execSync(ns: NsRef, cmd: string, args: readonly string[], opts: ExecOptions = {}): string {
  const r = runSync(ns, cmd, args, opts);
  if (r.status !== 0) {
    const where = ns === null ? "" : `[netns ${ns}] `;
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    throw new Error(`${where}${cmd} ${args.join(" ")}: ${how}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Runs a command asynchronously, collecting output; resolves with how it ended (bounded by timeoutMs). */
export function runAsync(ns: NsRef, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
  const child = spawnTracked(ns, cmd, args);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => killTree(child, "SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    child.stdin?.on("error", () => {
      /* the child may exit before reading everything; its exit status tells the story */
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like runAsync but resolves with stdout and rejects (with stderr) on failure. */
export async function execAsync(ns: NsRef, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await runAsync(ns, cmd, args, opts);
  if (r.status !== 0) {
    const where = ns === null ? "" : `[netns ${ns}] `;
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    throw new Error(`${where}${cmd} ${args.join(" ")}: ${how}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

// ---------------------------------------------------------------------------
// Tracked children. Every child runs in its own process group (detached) so
// that killing the group also takes down anything it forked (tshark's dumpcap,
// shells). All of them are killed when the process exits or is signalled.

const liveChildren = new Set<ChildProcess>();

/** Spawns `cmd args` inside ns as a tracked child (own process group, pipes for stdio). */
export function spawnTracked(ns: NsRef, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [file, argv] = nsArgv(ns, cmd, args);
  const child = spawn(file, argv, { stdio: ["pipe", "pipe", "pipe"], ...opts, detached: true });
  liveChildren.add(child);
  child.on("exit", () => liveChildren.delete(child));
  child.on("error", () => liveChildren.delete(child));
  installExitHooks();
  return child;
}

/** True while the child has neither exited nor been reaped. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

/** Signals the child's whole process group (falls back to the child alone). */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): void {
  if (child.pid === undefined || !isRunning(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Waits for a child to exit, escalating SIGTERM -> SIGKILL after graceMs. Resolves once it is gone. */
export function stopChild(child: ChildProcess, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t1);
      clearTimeout(t2);
      resolve();
    };
    child.once("exit", done);
    killTree(child, opts.signal ?? "SIGTERM");
    const t1 = setTimeout(() => killTree(child, "SIGKILL"), opts.graceMs ?? 2000);
    // exit must follow SIGKILL; this is only a guard against a lost event.
    const t2 = setTimeout(done, (opts.graceMs ?? 2000) + 3000);
    if (!isRunning(child)) done();
  });
}

/** Synchronous last resort used at exit: SIGKILL every tracked child's process group. */
export function killAllTrackedSync(): void {
  for (const c of liveChildren) killTree(c, "SIGKILL");
  liveChildren.clear();
}

// ---------------------------------------------------------------------------
// Exit hooks. Cleanup callbacks run synchronously on 'exit' and on
// SIGINT/SIGTERM/SIGHUP; after a signal we re-raise it with the default
// disposition so the process still dies the way the sender intended.

const exitCallbacks = new Set<() => void>();
let hooksInstalled = false;

function runExitCallbacks(): void {
  killAllTrackedSync();
  for (const cb of [...exitCallbacks]) {
    try {
      cb();
    } catch {
      /* best effort: keep cleaning */
    }
  }
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function onSignal(sig: NodeJS.Signals): void {
  runExitCallbacks();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, sig);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", runExitCallbacks);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Registers a synchronous cleanup callback run at process exit or on a fatal signal. Returns an unregister function. */
export function onProcessExit(cb: () => void): () => void {
  installExitHooks();
  exitCallbacks.add(cb);
  return () => exitCallbacks.delete(cb);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

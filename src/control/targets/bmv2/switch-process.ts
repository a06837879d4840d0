// The bmv2 software switch as a process: simple_switch bound to the switch's
// ports (and a CPU port), started detached so that it forwards on while the
// control plane restarts, and found again by the next control plane through
// its state file.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, writeFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { basename, join } from "node:path";
import { tmpdir } from "node:os";

export const SIMPLE_SWITCH = "simple_switch";
export const DEFAULT_THRIFT_PORT = 9090;

export interface SwitchPort {
  /** bmv2 port number */
  port: number;
  /** Linux interface it is bound to */
  name: string;
}

export interface SwitchState {
  pid: number;
  thriftPort: number;
  /** the program's content hash (build-p4.ts) */
  hash: string;
  ports: SwitchPort[];
  /** a simple_switch someone else started, which we attached to (pid unknown: 0) */
  external?: boolean;
  /** attached: the ports we added to it (given back on stop) */
  added?: number[];
}

export interface StartOptions {
  jsonPath: string;
  hash: string;
  thriftPort: number;
  ports: SwitchPort[];
  /** directory for the state file and simple_switch's own output */
  runDir: string;
  deviceId?: number;
}

const stateFile = (runDir: string) => join(runDir, "bmv2.json");

export function readState(runDir: string): SwitchState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(runDir), "utf8")) as SwitchState;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie or a reused pid is not our switch
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === SIMPLE_SWITCH;
  } catch {
    return false;
  }
}

export function simpleSwitchAvailable(): boolean {
  try {
    execFileSync(SIMPLE_SWITCH, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Start simple_switch detached; resolves when its Thrift server answers. */
export async function startSwitch(o: StartOptions): Promise<SwitchState> {
  mkdirSync(o.runDir, { recursive: true });
  const args = ["--device-id", String(o.deviceId ?? 0), "--thrift-port", String(o.thriftPort)];
  for (const p of o.ports) args.push("-i", `${p.port}@${p.name}`);
  // every packet's walk through the program, for debugging (slow): VXGATE_BMV2_LOG=trace|debug|info
  const level = process.env.VXGATE_BMV2_LOG;
  // (outside the run directory, which `vxgate stop` removes)
  if (level) args.push("--log-file", join(tmpdir(), `vxgate-bmv2-${basename(o.runDir)}`), "--log-flush", "--log-level", level);
  args.push(o.jsonPath);
  const out = openSync(join(o.runDir, "simple_switch.log"), "a");
  let child;
  try {
    child = spawn(SIMPLE_SWITCH, args, { detached: true, stdio: ["ignore", out, out] });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  child.unref();
  const pid = child.pid;
  const ready = waitForThrift(o.thriftPort, 15_000);
  const first = await Promise.race([
    ready.then(() => "ready" as const),
    exited.then((code) => new Error(`simple_switch exited (code ${code}) before its Thrift server answered: ${lastLines(join(o.runDir, "simple_switch.log"))}`)),
    spawnError.then((e) => new Error(`cannot start ${SIMPLE_SWITCH}: ${e.message}`)),
  ]);
  if (first !== "ready") throw first;
  const state: SwitchState = { pid: pid!, thriftPort: o.thriftPort, hash: o.hash, ports: o.ports };
  writeState(o.runDir, state);
  return state;
}

export function writeState(runDir: string, state: SwitchState): void {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(stateFile(runDir), JSON.stringify(state));
}

export function waitForThrift(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`no Thrift server on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** Stop the switch a state file names and forget it. */
export async function stopSwitch(runDir: string): Promise<void> {
  const s = readState(runDir);
  if (s && processAlive(s.pid)) {
    process.kill(s.pid, "SIGTERM");
    for (let i = 0; i < 50 && processAlive(s.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (processAlive(s.pid)) process.kill(s.pid, "SIGKILL");
  }
  if (existsSync(stateFile(runDir))) rmSync(stateFile(runDir));
}

/** What a process said last, for an error message. */
function lastLines(file: string, n = 5): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-n).join(" | ");
  } catch {
    return `(no output in ${file})`;
  }
}

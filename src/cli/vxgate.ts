#!/usr/bin/env -S npx tsx
// vxgate: the switch daemon and its command line.
//   vxgate run   --config switch.yaml     boot the switch and serve the management API
//   vxgate check --config switch.yaml     validate only
//   vxgate build --config switch.yaml --out DIR   generate C and compile the ELF ahead of time
//   vxgate show  fdb|vni|ports|flood|counters|status|moves [--json] (--config F | --socket S)
//   vxgate show  bgp summary | evpn routes | evpn mac [--json]     (GET /v1/bgp/summary, /v1/evpn/routes, /v1/evpn/mac)
//   vxgate show  mirror [--json]          mirror sessions, this switch's role in each, counters
//   vxgate show  mcast | igmp groups|ports|querier [--json]   per-group replication, IGMP snooping state
//   vxgate mcast set --vni V --group G [--source S] --remotes IP,IP   remote members of a group (POST /v1/mcast/remotes)
//   vxgate mirror add NAME --host-mac M --host-vni V --server-mac M --server-vni V --host-id N [...]
//   vxgate mirror del NAME                (POST / DELETE /v1/mirror/sessions)
//   vxgate mac add --vni V --mac M (--port P | --remote IP)   a static MAC at run time (POST /v1/static-macs)
//   vxgate mac del --vni V --mac M        (DELETE /v1/static-macs/V/M; config static MACs stay)
//   vxgate evpn clear-duplicate --vni V --mac M   lift a duplicate-MAC freeze (POST /v1/evpn/clear-duplicate)
//   vxgate bgp reset NEIGHBOR [--soft]    restart the session, or (--soft) send it our routes again
//   vxgate reload --config switch.yaml    apply a changed file without a restart (SIGHUP does the same)
//   vxgate stop  --config switch.yaml [--timeout S]   remove everything the switch put in the kernel (returns once it is gone)
import { parseArgs } from "node:util";
import { request } from "node:http";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { loadConfigFile } from "../config/load.ts";
import { ConfigError, type SwitchConfig } from "../config/types.ts";
import { pipelineFor } from "../codegen/pipeline.ts";
import { buildPipeline, CompileError, DEFAULT_CACHE_DIR } from "../codegen/build.ts";
import { createLogger, isLevel, LEVELS, type Level } from "../control/log.ts";
import type { ApiView, StopAnswer } from "../control/api.ts";
import type { StaticMac } from "../control/static-macs.ts";
import { renderTable, tableLines } from "./table.ts";
import { counterNames } from "../codegen/tables.ts";
import { EVPN_VIEWS, renderEvpnView, type EvpnView } from "../control/evpn/show.ts";
import { renderMirror } from "../control/mirror/show.ts";
import { renderIgmp, renderMcast } from "../control/mcast/show.ts";
import type { McastRow } from "../control/mcast/feature.ts";
import type { MirrorRow } from "../control/mirror/feature.ts";
import { setFlagsFromString } from "node:v8";

// Loading a big config and filling the tables make objects that live long
// (the config, the desired state) or die at once: V8's habit of growing the
// young generation (to 2 x 16 MB) when much survives only adds resident
// memory here (35 MB of the 170 a 100k-MAC config took, at the same speed:
// bench/README.md, "Scale"). Its initial size is kept while the command
// loads and boots; `run` gives V8 its default back once the switch runs.
const SEMI_SPACE_GROWTH_DEFAULT = 2; // V8's semi_space_growth_factor
setFlagsFromString("--semi-space-growth-factor=1");

function targetOption(v: string | undefined): "ebpf" | "bmv2" {
  if (v === undefined || v === "ebpf" || v === "bmv2") return v ?? "ebpf";
  throw new UsageError(`--target ${v}: expected ebpf or bmv2`);
}

const USAGE = `usage:
  vxgate run   --config FILE [--target ebpf|bmv2] [--artifacts DIR] [--xdp-mode auto|native|generic] [--thrift-port N] [--log-level debug|info|warn|error]
  vxgate check --config FILE
  vxgate build --config FILE --out DIR [--target ebpf|bmv2]
  vxgate show  fdb|vni|ports|flood|counters|status|moves|mirror [--json] (--config FILE | --socket PATH)
  vxgate show  mcast | igmp groups|ports|querier [--json] (--config FILE | --socket PATH)
  vxgate mcast set --vni VNI --group G [--source S] --remotes IP[,IP...] (--config FILE | --socket PATH)   (empty --remotes "" removes them)
  vxgate mirror add NAME --host-mac MAC --host-vni VNI [--host-ip IP] --server-mac MAC --server-vni VNI [--server-ip IP]
                    --host-id 1..65535 [--direction both|from-host|to-host] [--match mac|ip] (--config FILE | --socket PATH)
  vxgate mirror del NAME (--config FILE | --socket PATH)
  vxgate mac add --vni VNI --mac MAC (--port PORT | --remote IP) (--config FILE | --socket PATH)
  vxgate mac del --vni VNI --mac MAC (--config FILE | --socket PATH)
  vxgate evpn clear-duplicate --vni VNI --mac MAC (--config FILE | --socket PATH)
  vxgate bgp reset NEIGHBOR [--soft] (--config FILE | --socket PATH)
  vxgate show  bgp summary | evpn routes | evpn mac [--json] (--config FILE | --socket PATH)
  vxgate reload --config FILE           apply a changed config file to the running switch (also: SIGHUP)
  vxgate stop  --config FILE [--timeout SECONDS]   (waits until the switch is gone; default 30 s)
`;

class UsageError extends Error {}

/** The API refused a request: its own words (a list of errors) reach the user. */
class ApiError extends Error {
  constructor(path: string, body: string) {
    let msg = `${path}: ${body}`;
    try {
      const j = JSON.parse(body) as { errors?: string[]; error?: string };
      if (j.errors) msg = j.errors.join("\n");
      else if (j.error) msg = j.error;
    } catch {
      // not JSON: show it as it came
    }
    super(msg);
  }
}

/** `vxgate mirror add` flags -> the API's JSON session (the API validates it). */
function mirrorSessionBody(name: string | undefined, v: Record<string, string | boolean | undefined>): Record<string, unknown> {
  if (!name) throw new UsageError("mirror add needs a session NAME");
  const num = (x: string | boolean | undefined) => (typeof x === "string" && /^[0-9]+$/.test(x) ? Number(x) : x);
  const endpoint = (p: "host" | "server") => {
    const e: Record<string, unknown> = { mac: v[`${p}-mac`], vni: num(v[`${p}-vni`]) };
    if (v[`${p}-ip`] !== undefined) e.ip = v[`${p}-ip`];
    return e;
  };
  const body: Record<string, unknown> = { name, host: endpoint("host"), server: endpoint("server"), host_id: num(v["host-id"]) };
  if (v.direction !== undefined) body.direction = v.direction;
  if (v.match !== undefined) body.match = v.match;
  return body;
}

function loadOrExplain(file: string | undefined): SwitchConfig {
  if (!file) throw new UsageError("--config is required");
  return loadConfigFile(file);
}

/** Who is asking, for the daemon's log of changes (the socket is root's alone: this names the person behind it). */
function clientName(): string {
  let user = process.env.SUDO_USER ? `${process.env.SUDO_USER} (sudo)` : undefined;
  try {
    user ??= userInfo().username;
  } catch {
    user = `uid ${process.getuid?.()}`;
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

/** A number when the flag is one (the API names the field when it is not). */
const numOrString = (x: string | boolean | undefined) => (typeof x === "string" && /^[0-9]+$/.test(x) ? Number(x) : x);

async function apiCall(socketPath: string, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
  return new Promise((ok, fail) => {
    const headers: Record<string, string> = { "x-vxgate-client": clientName() };
    if (body !== undefined) headers["content-type"] = "application/json";
    const req = request({ socketPath, method, path, headers, agent: false }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => {
        if ((res.statusCode ?? 500) >= 400) fail(new ApiError(path, data));
        else ok(JSON.parse(data));
      });
    });
    req.on("error", (e) => {
      const hint = (e as NodeJS.ErrnoException).code === "EACCES" ? " (the management socket is root's alone: run as root)" : "";
      fail(new Error(`cannot reach vxgate at ${socketPath}: ${(e as Error).message}${hint}`));
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A view's answer, handed to `onText` a chunk at a time as it arrives (and
 * waited for: a slow stdout slows the reading, nothing piles up). Refusals
 * and unreachable sockets fail as apiCall's do, before any text. */
function apiStream(socketPath: string, path: string, onText: (chunk: string) => Promise<void> | void): Promise<void> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath, method: "GET", path, agent: false, headers: { "x-vxgate-client": clientName() } }, (res) => {
      res.setEncoding("utf8");
      if ((res.statusCode ?? 500) >= 400) {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => fail(new ApiError(path, data)));
        return;
      }
      void (async () => {
        try {
          for await (const chunk of res as AsyncIterable<string>) await onText(chunk);
          if (!res.complete) throw new Error("the connection closed before the answer was complete");
          ok();
        } catch (e) {
          res.destroy();
          fail(new Error(`${path}: ${(e as Error).message}`));
        }
      })();
    });
    req.on("error", (e) => {
      const hint = (e as NodeJS.ErrnoException).code === "EACCES" ? " (the management socket is root's alone: run as root)" : "";
      fail(new Error(`cannot reach vxgate at ${socketPath}: ${(e as Error).message}${hint}`));
    });
    req.end();
  });
}

/** A view that is a JSON array, each element to `onRow` once it is complete. */
async function apiRows(socketPath: string, path: string, onRow: (row: unknown) => Promise<void> | void): Promise<void> {
  const split = new JsonArraySplitter();
  await apiStream(socketPath, path, async (chunk) => {
    for (const el of split.feed(chunk)) await onRow(JSON.parse(el));
  });
  split.end();
}

/** Compact JSON as JSON.stringify makes it (no whitespace outside strings)
 * -> the same value as JSON.stringify(value, null, 2) prints it, a chunk at a
 * time: only whitespace is added, so `show fdb --json` never parses or holds
 * the table. */
class JsonIndenter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** an opened `{` or `[` not yet known to be empty */
  private pending = "";

  feed(chunk: string): string {
    const out: string[] = [];
    let from = 0; // start of the text copied as it is
    const copy = (to: number) => {
      if (to > from) out.push(chunk.slice(from, to));
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \\ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
        continue;
      }
      const close = c === 125 /* } */ || c === 93; /* ] */
      if (this.pending) {
        copy(i);
        from = i;
        if (close) {
          out.push(this.pending); // {} and [] stay as they are
          this.pending = "";
          continue;
        }
        out.push(this.pending, "\n", "  ".repeat(++this.depth));
        this.pending = "";
      }
      if (c === 34) this.inString = true;
      else if (c === 123 /* { */ || c === 91 /* [ */) {
        copy(i);
        this.pending = chunk[i]!;
        from = i + 1;
      } else if (close) {
        copy(i);
        out.push("\n", "  ".repeat(--this.depth));
        from = i;
      } else if (c === 44 /* , */) {
        copy(i);
        out.push(",\n", "  ".repeat(this.depth));
        from = i + 1;
      } else if (c === 58 /* : */) {
        copy(i);
        out.push(": ");
        from = i + 1;
      }
    }
    copy(chunk.length);
    return out.join("");
  }

  end(): string {
    if (this.pending || this.depth !== 0 || this.inString) throw new Error("the answer ended inside a value");
    return "\n";
  }
}

/** Splits the text of one JSON array, as it arrives, into its elements' texts. */
class JsonArraySplitter {
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** where the element being read starts in `buf` (-1: between elements) */
  private start = -1;
  private opened = false;
  private closed = false;

  feed(chunk: string): string[] {
    const out: string[] = [];
    const from = this.buf.length;
    this.buf += chunk;
    const b = this.buf;
    for (let i = from; i < b.length; i++) {
      const c = b[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === " " || c === "\n" || c === "\r" || c === "\t") continue;
      if (this.closed) throw new Error("text after the end of the array");
      if (!this.opened) {
        if (c !== "[") throw new Error("the answer is not a JSON array");
        this.opened = true;
        this.depth = 1;
        continue;
      }
      if (this.depth === 1 && (c === "," || c === "]")) {
        if (this.start >= 0) out.push(b.slice(this.start, i));
        else if (c === ",") throw new Error("an empty element in the array");
        this.start = -1;
        if (c === "]") {
          this.closed = true;
          this.depth = 0;
        }
        continue;
      }
      if (this.start < 0) this.start = i;
      if (c === '"') this.inString = true;
      else if (c === "[" || c === "{") this.depth++;
      else if (c === "]" || c === "}") this.depth--;
    }
    // keep only the element still being read
    const keep = this.start >= 0 ? this.start : b.length;
    this.buf = b.slice(keep);
    if (this.start >= 0) this.start = 0;
    return out;
  }

  end(): void {
    if (!this.closed) throw new Error("the answer ended inside the array");
  }
}

/** Writes to stdout a chunk at a time, waiting whenever the pipe is full:
 * nothing piles up in memory, and nothing is lost when the process exits. */
class Out {
  private pending = "";
  private static watching = false;
  constructor() {
    // a reader that went away (`| head`) ends the output, quietly
    if (Out.watching) return;
    Out.watching = true;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
      throw e;
    });
  }
  async write(s: string): Promise<void> {
    this.pending += s;
    if (this.pending.length >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    const text = this.pending;
    this.pending = "";
    if (text === "" || process.stdout.write(text)) return;
    await new Promise<void>((ok) => {
      const done = () => {
        process.stdout.off("drain", done);
        process.stdout.off("close", done);
        ok();
      };
      process.stdout.on("drain", done);
      process.stdout.on("close", done);
    });
  }
}

/** `show ... --json` of a list, element by element: the same text as
 * JSON.stringify(rows, null, 2) + "\n". */
class JsonListPrinter {
  private n = 0;
  constructor(private readonly out: Out) {}
  async row(r: unknown): Promise<void> {
    await this.out.write(`${this.n++ === 0 ? "[\n  " : ",\n  "}${JSON.stringify(r, null, 2).replace(/\n/g, "\n  ")}`);
  }
  async end(): Promise<void> {
    await this.out.write(this.n === 0 ? "[]\n" : "\n]\n");
    await this.out.flush();
  }
}

/** How long `vxgate stop` waits for the switch to be gone (--timeout SECONDS). */
const STOP_TIMEOUT_S = 30;

/** POST /v1/stop: the answer, or why there was none (`code` ECONNREFUSED or
 * ENOENT: nobody listens; ETIMEDOUT: no answer in time). */
function requestStop(socketPath: string, timeoutMs: number): Promise<{ status: number; answer: Partial<StopAnswer> }> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath, method: "POST", path: "/v1/stop", timeout: timeoutMs, agent: false, headers: { "x-vxgate-client": clientName() } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => {
        let answer: Partial<StopAnswer> = {};
        try {
          answer = JSON.parse(data) as Partial<StopAnswer>;
        } catch {
          answer = { error: data };
        }
        ok({ status: res.statusCode ?? 500, answer });
      });
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" })));
    req.on("error", fail);
    req.end();
  });
}

/** Has the process exited? A zombie (exited, not yet reaped by its parent) has. */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** `vxgate stop`: returns once the switch is gone (daemon exited, pins, run
 * directory and socket removed), or throws after `timeoutS` saying what is left. */
async function stopSwitch(cfg: SwitchConfig, timeoutS: number): Promise<string> {
  const { EbpfTarget, BPFFS_ROOT, RUN_ROOT } = await import("../control/targets/ebpf/target.ts");
  const { pidNamespace } = await import("../control/api.ts");
  const name = cfg.switch.name;
  const socket = cfg.management.socket;
  const deadline = Date.now() + timeoutS * 1000;
  const pins = join(BPFFS_ROOT, name);
  const runDir = join(RUN_ROOT, name);
  const left = () => [pins, runDir, socket].filter((p) => existsSync(p));
  const timedOut = (what: string) => new Error(`${name}: not stopped within ${timeoutS} s: ${what}; still there: ${left().join(", ") || "nothing"}`);
  const waitFor = async (done: () => boolean, what: string) => {
    while (!done()) {
      if (Date.now() > deadline) throw timedOut(what);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  let daemon: { pid: number; pidNs?: number } | undefined;
  if (existsSync(socket)) {
    try {
      const { status, answer } = await requestStop(socket, timeoutS * 1000);
      if (typeof answer.pid === "number") daemon = { pid: answer.pid, pidNs: answer.pidNs };
      // the daemon failed to remove it: what it left goes below, once it has exited
      if (status >= 400) process.stderr.write(`vxgate: ${name}: the daemon could not remove the switch: ${answer.error ?? `HTTP ${status}`}\n`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ETIMEDOUT") throw timedOut("the daemon did not answer the stop request");
      // it hung up without answering: it is on its way out (another stop, a signal)
      if (code === "ECONNRESET") await waitFor(() => !existsSync(socket), "the daemon hung up but did not exit");
      // a stale socket (no daemon behind it) is only removed below
      else if (code !== "ECONNREFUSED" && code !== "ENOENT") throw new Error(`cannot reach vxgate at ${socket}: ${(e as Error).message}`);
    }
  }
  if (daemon) {
    const { pid, pidNs } = daemon;
    // in another PID namespace the pid means nothing here: the socket goes right before the exit
    const sameNs = pidNs === undefined || pidNs === pidNamespace();
    await waitFor(sameNs ? () => exited(pid) : () => !existsSync(socket), `the daemon (pid ${pid}) has not exited`);
  }
  // no daemon (or one that failed or died half-way): remove what is left directly
  if (existsSync(join(runDir, "bmv2.json"))) {
    const bmv2 = await import("../control/targets/bmv2/target.ts");
    await bmv2.removeBmv2Switch(runDir);
  }
  if (existsSync(pins) || existsSync(runDir)) EbpfTarget.removePinned(name);
  rmSync(socket, { force: true });
  const still = left();
  if (still.length > 0) throw new Error(`${name}: could not remove ${still.join(", ")}`);
  return daemon ? `${name}: stopped (daemon pid ${daemon.pid} exited; fast path, pins and run directory removed)` : `${name}: fast path removed (no daemon was running)`;
}

const fdbTableLines = (rows: Record<string, unknown>[]) => tableLines(rows, ["vni", "mac", "type", "source", "port", "vlan", "remote", "frozen", "ageSeconds"]);

function renderView(v: ApiView, data: unknown): string {
  switch (v) {
    case "fdb":
      return [...fdbTableLines(data as Record<string, unknown>[])].join("");
    case "vni":
      return renderTable(
        (data as Record<string, unknown>[]).map((r) => ({ ...r, ports: (r.ports as string[]).join(",") })),
        ["vni", "learning", "floodAndLearn", "ageingSeconds", "floodTargets", "ports"],
      );
    case "ports":
      return renderTable(data as Record<string, unknown>[], ["name", "ifindex", "role", "vni", "vlans", "fastPath", "replication", "rxPackets", "txPackets"]);
    case "flood":
      return renderTable(data as Record<string, unknown>[], ["vni", "slot", "type", "target", "vlan"]);
    case "counters": {
      const c = data as Record<string, { packets: string; bytes: string }>;
      const rows = counterNames.filter((n) => c[n] && c[n].packets !== "0").map((n) => ({ counter: n, packets: c[n]!.packets, bytes: c[n]!.bytes }));
      return renderTable(rows, ["counter", "packets", "bytes"]);
    }
    case "moves":
      return renderTable(data as Record<string, unknown>[], ["at", "vni", "mac", "from", "to", "cause"]);
    case "mirror":
      return renderMirror(data as MirrorRow[]);
    case "mcast":
      return renderMcast(data as McastRow[]);
    case "mcast/local":
    case "igmp/groups":
    case "igmp/ports":
    case "igmp/querier":
      return renderIgmp(data as Record<string, unknown>[]);
    case "status":
      return renderTable(Object.entries(data as Record<string, unknown>).map(([k, v]) => ({ key: k, value: v })), ["key", "value"]);
  }
}

/** The management socket named by --socket, or by the config's management section. */
function socketOf(values: { socket?: string; config?: string }, cfg?: SwitchConfig): string {
  const socket = values.socket ?? (cfg ?? (values.config ? loadOrExplain(values.config) : undefined))?.management.socket;
  if (!socket) throw new UsageError("--config or --socket is required");
  return socket;
}

async function inspectPinned(cfg: SwitchConfig, what: ApiView): Promise<unknown> {
  const { Runtime } = await import("../control/runtime.ts");
  const { view } = await import("../control/api.ts");
  const rt = Runtime.inspect({ config: cfg, log: createLogger({ level: "error" }) });
  if (!rt) return undefined;
  // through JSON, as the API would have sent it (bigints become strings)
  return JSON.parse(JSON.stringify(view(rt, what), (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** `show fdb [--json]`: JSON rows are printed as they arrive; the table needs
 * every row for its column widths, then goes out a line at a time. */
async function showFdb(socket: string, cfg: SwitchConfig | undefined, json: boolean): Promise<number> {
  const out = new Out();
  const rows: Record<string, unknown>[] = [];
  const indent = new JsonIndenter();
  let got = false;
  try {
    if (json)
      await apiStream(socket, "/v1/fdb", (chunk) => {
        got = true;
        return out.write(indent.feed(chunk));
      });
    else
      await apiRows(socket, "/v1/fdb", (r) => {
        got = true;
        rows.push(r as Record<string, unknown>);
      });
  } catch (e) {
    // control plane down (nothing came): the fast path may still be forwarding from its pins
    const pinned = !got && cfg ? ((await inspectPinned(cfg, "fdb")) as Record<string, unknown>[] | undefined) : undefined;
    if (pinned === undefined) throw e;
    process.stderr.write(`vxgate: ${cfg!.switch.name}: control plane not running; read from the pinned fast path\n`);
    if (json) {
      const printer = new JsonListPrinter(out);
      for (const r of pinned) await printer.row(r);
      await printer.end();
      return 0;
    }
    for (const r of pinned) rows.push(r);
  }
  if (json) {
    await out.write(indent.end());
    await out.flush();
  } else {
    for (const line of fdbTableLines(rows)) await out.write(line);
    await out.flush();
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      out: { type: "string" },
      artifacts: { type: "string" },
      socket: { type: "string" },
      json: { type: "boolean" },
      "xdp-mode": { type: "string" },
      target: { type: "string" },
      "thrift-port": { type: "string" },
      "log-level": { type: "string" },
      timeout: { type: "string" },
      "host-mac": { type: "string" },
      "host-vni": { type: "string" },
      "host-ip": { type: "string" },
      "server-mac": { type: "string" },
      "server-vni": { type: "string" },
      "server-ip": { type: "string" },
      "host-id": { type: "string" },
      direction: { type: "string" },
      match: { type: "string" },
      vni: { type: "string" },
      mac: { type: "string" },
      port: { type: "string" },
      remote: { type: "string" },
      group: { type: "string" },
      source: { type: "string" },
      remotes: { type: "string" },
      soft: { type: "boolean" },
    },
  });
  switch (cmd) {
    case "check": {
      const cfg = loadOrExplain(values.config);
      process.stdout.write(`${values.config}: ok (switch ${cfg.switch.name}, ${cfg.ports.length} access ports, ${cfg.vnis.length} VNIs)\n`);
      return 0;
    }
    case "build": {
      const cfg = loadOrExplain(values.config);
      if (!values.out) throw new UsageError("--out is required");
      const target = targetOption(values.target);
      if (target === "bmv2") {
        const { buildP4 } = await import("../codegen/build-p4.ts");
        const b = buildP4(pipelineFor(cfg), { udpPort: cfg.vtep.udpPort }, values.out);
        process.stdout.write(`${b.reused ? "up to date" : "built"}: ${b.jsonPath} (P4 source ${b.sourcePath}, hash ${b.hash})\n`);
        return 0;
      }
      const b = buildPipeline(pipelineFor(cfg), values.out);
      process.stdout.write(`${b.reused ? "up to date" : "built"}: ${b.objectPath} (hash ${b.hash})\n`);
      return 0;
    }
    case "run": {
      const cfg = loadOrExplain(values.config);
      const level = values["log-level"] ?? "info";
      if (!isLevel(level)) throw new UsageError(`--log-level ${level}: expected ${LEVELS.join(", ")}`);
      const log = createLogger({ level: level satisfies Level, base: { switch: cfg.switch.name } });
      const mode = values["xdp-mode"] as "auto" | "native" | "generic" | undefined;
      if (mode && !["auto", "native", "generic"].includes(mode)) throw new UsageError(`--xdp-mode ${mode}: expected auto, native or generic`);
      // the fast-path modules load the native addon: only commands that touch the kernel import them
      const { Runtime } = await import("../control/runtime.ts");
      const { ManagementApi } = await import("../control/api.ts");
      const target = targetOption(values.target);
      const thriftPort = values["thrift-port"] === undefined ? undefined : Number(values["thrift-port"]);
      if (thriftPort !== undefined && !(Number.isInteger(thriftPort) && thriftPort > 0 && thriftPort < 65536)) throw new UsageError(`--thrift-port ${values["thrift-port"]}: expected 1..65535`);
      const rt = await Runtime.boot({ config: cfg, log, cacheDir: values.artifacts ?? DEFAULT_CACHE_DIR, xdpMode: mode, target, thriftPort });
      let stopping = false;
      let leaving = false;
      // one reload at a time (SIGHUP and the API alike); a bad file changes nothing
      let reloading: Promise<{ changed: string[] } | { errors: string[] }> | undefined;
      const reload = () =>
        (reloading ??= (async () => {
          try {
            let next: SwitchConfig;
            try {
              next = loadConfigFile(cfg.file);
            } catch (e) {
              if (e instanceof ConfigError) {
                log.warn("reload refused: the config file has errors; nothing changed", { problems: e.problems });
                return { errors: e.problems };
              }
              throw e;
            }
            return await rt.reload(next);
          } catch (e) {
            log.warn("reload refused; nothing changed", { error: (e as Error).message });
            return { errors: [(e as Error).message] };
          } finally {
            reloading = undefined;
          }
        })());
      const api = new ManagementApi(rt, log, {
        reload,
        stop: async () => {
          // a signal came first: `vxgate stop` waits for this exit and removes the rest itself
          if (leaving) throw new Error("the control plane is exiting on a signal, leaving the fast path");
          stopping = true;
          log.info("removing the fast path");
          await rt.destroy();
          log.info("switch removed");
        },
        exit: (code) => {
          if (leaving) return; // the signal's exit is under way
          // a client holding its connection open must not keep the process alive
          setTimeout(() => process.exit(code), 2000).unref();
          void api.close().then(() => process.exit(code));
        },
      });
      await api.listen(cfg.management);
      const leave = (sig: string) => {
        if (stopping || leaving) return;
        leaving = true;
        // the pinned fast path keeps forwarding; the next `vxgate run` adopts it
        log.info("control plane exiting, fast path left forwarding", { signal: sig });
        void rt
          .release()
          .then(() => api.close())
          .then(() => process.exit(0));
      };
      process.on("SIGTERM", () => leave("SIGTERM"));
      process.on("SIGINT", () => leave("SIGINT"));
      process.on("SIGHUP", () => void reload());
      log.info("switch running", { vtep: cfg.vtep.sourceIp, ports: rt.target.ports().length, adopted: rt.target.adopted });
      setFlagsFromString(`--semi-space-growth-factor=${SEMI_SPACE_GROWTH_DEFAULT}`);
      return await new Promise<number>(() => {}); // runs until a signal or `stop`
    }
    case "show": {
      if (positionals[0] === "bgp" || positionals[0] === "evpn") {
        const v = positionals.slice(0, 2).join("/") as EvpnView;
        if (!EVPN_VIEWS.includes(v)) throw new UsageError("show bgp summary | show evpn routes | show evpn mac");
        const data = await apiCall(socketOf(values), "GET", `/v1/${v}`);
        process.stdout.write(values.json ? JSON.stringify(data, null, 2) + "\n" : renderEvpnView(v, data));
        return 0;
      }
      const what = (positionals[0] === "igmp" || (positionals[0] === "mcast" && positionals[1] === "local") ? positionals.slice(0, 2).join("/") : positionals[0]) as ApiView | undefined;
      const views: ApiView[] = ["fdb", "vni", "ports", "flood", "counters", "status", "moves", "mirror", "mcast", "mcast/local", "igmp/groups", "igmp/ports", "igmp/querier"];
      if (!what || !views.includes(what)) throw new UsageError(`show what? one of ${views.join(", ")}`);
      const cfg = values.config ? loadOrExplain(values.config) : undefined;
      const socket = socketOf(values, cfg);
      if (what === "fdb") return await showFdb(socket, cfg, values.json === true);
      let data: unknown;
      try {
        data = await apiCall(socket, "GET", `/v1/${what}`);
      } catch (e) {
        // control plane down: the fast path may still be forwarding from its pins
        const pinned = cfg && ["fdb", "vni", "ports", "flood", "counters", "mirror"].includes(what) ? await inspectPinned(cfg, what) : undefined;
        if (pinned === undefined) throw e;
        process.stderr.write(`vxgate: ${cfg!.switch.name}: control plane not running; read from the pinned fast path\n`);
        data = pinned;
      }
      const out = new Out();
      await out.write(values.json ? JSON.stringify(data, null, 2) + "\n" : renderView(what, data));
      await out.flush();
      return 0;
    }
    case "mcast": {
      if (positionals[0] !== "set") throw new UsageError("mcast set --vni V --group G [--source S] --remotes IP,IP");
      const body: Record<string, unknown> = { vni: numOrString(values.vni), group: values.group, remotes: values.remotes === undefined ? undefined : values.remotes.split(",").map((x) => x.trim()).filter((x) => x !== "") };
      if (values.source !== undefined) body.source = values.source;
      const r = (await apiCall(socketOf(values), "POST", "/v1/mcast/remotes", body)) as { group: { vni: number; group: string; source?: string; remotes: string[] } };
      const g = r.group;
      process.stdout.write(`vni ${g.vni} (${g.source ?? "*"}, ${g.group}): ${g.remotes.length ? `remote members ${g.remotes.join(", ")}` : "no remote members"}\n`);
      return 0;
    }
    case "mirror": {
      const [verb, name] = positionals;
      const socket = socketOf(values);
      if (verb === "add") {
        const r = (await apiCall(socket, "POST", "/v1/mirror/sessions", mirrorSessionBody(name, values))) as { session: { name: string; hostId: number } };
        process.stdout.write(`mirror session ${r.session.name} added (host_id ${r.session.hostId})\n`);
        return 0;
      }
      if (verb === "del" && name) {
        await apiCall(socket, "DELETE", `/v1/mirror/sessions/${encodeURIComponent(name)}`);
        process.stdout.write(`mirror session ${name} removed\n`);
        return 0;
      }
      throw new UsageError("mirror add NAME ... | mirror del NAME");
    }
    case "mac": {
      const [verb] = positionals;
      if (verb === "add") {
        const body: Record<string, unknown> = { vni: numOrString(values.vni), mac: values.mac };
        if (values.port !== undefined) body.port = values.port;
        if (values.remote !== undefined) body.remote = values.remote;
        const r = (await apiCall(socketOf(values), "POST", "/v1/static-macs", body)) as { mac: StaticMac; replaced: boolean };
        const where = r.mac.port !== undefined ? `port ${r.mac.port}` : `remote ${r.mac.remote}`;
        process.stdout.write(`static MAC ${r.mac.mac} in vni ${r.mac.vni} ${r.replaced ? "now at" : "added at"} ${where}\n`);
        return 0;
      }
      if (verb === "del") {
        if (values.vni === undefined || values.mac === undefined) throw new UsageError("mac del needs --vni and --mac");
        const r = (await apiCall(socketOf(values), "DELETE", `/v1/static-macs/${encodeURIComponent(values.vni)}/${encodeURIComponent(values.mac)}`)) as { removed: StaticMac };
        process.stdout.write(`static MAC ${r.removed.mac} in vni ${r.removed.vni} removed\n`);
        return 0;
      }
      throw new UsageError("mac add --vni V --mac M (--port P | --remote IP) | mac del --vni V --mac M");
    }
    case "evpn": {
      if (positionals[0] !== "clear-duplicate") throw new UsageError("evpn clear-duplicate --vni V --mac M");
      const r = (await apiCall(socketOf(values), "POST", "/v1/evpn/clear-duplicate", { vni: numOrString(values.vni), mac: values.mac })) as { cleared: { vni: number; mac: string } };
      process.stdout.write(`duplicate cleared: ${r.cleared.mac} in vni ${r.cleared.vni} may move again\n`);
      return 0;
    }
    case "bgp": {
      const [verb, neighbor] = positionals;
      if (verb !== "reset" || !neighbor) throw new UsageError("bgp reset NEIGHBOR [--soft]");
      const soft = values.soft === true;
      await apiCall(socketOf(values), "POST", `/v1/bgp/neighbors/${encodeURIComponent(neighbor)}/reset`, { soft });
      process.stdout.write(soft ? `${neighbor}: our routes sent again (soft reset)\n` : `${neighbor}: session reset\n`);
      return 0;
    }
    case "reload": {
      // the file is checked here first: its problems, positioned, and the switch is not asked
      const cfg = loadOrExplain(values.config);
      const r = (await apiCall(socketOf(values, cfg), "POST", "/v1/reload", {})) as { changed: string[] };
      process.stdout.write(r.changed.length ? `${cfg.switch.name}: reloaded: ${r.changed.join(", ")}\n` : `${cfg.switch.name}: nothing changed\n`);
      return 0;
    }
    case "stop": {
      const cfg = loadOrExplain(values.config);
      const timeout = values.timeout === undefined ? STOP_TIMEOUT_S : Number(values.timeout);
      if (!(timeout > 0)) throw new UsageError(`--timeout ${values.timeout}: expected a number of seconds`);
      process.stdout.write(`${await stopSwitch(cfg, timeout)}\n`);
      return 0;
    }
    default:
      process.stderr.write(USAGE);
      return cmd ? 2 : 0;
  }
}

/** Exit once stdout and stderr have handed the kernel everything written to
 * them: process.exit() with output still queued (a full pipe: `show fdb --json
 * | jq`) cut it short. */
function exitAfterOutput(code: number): void {
  process.exitCode = code;
  let waiting = 2;
  const done = () => {
    if (--waiting === 0) process.exit(code);
  };
  for (const s of [process.stdout, process.stderr]) {
    if (s.destroyed || !s.writable) done();
    else s.write("", () => done());
  }
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (e: unknown) => {
    if (e instanceof ConfigError) process.stderr.write(e.problems.join("\n") + "\n");
    else if (e instanceof ApiError) process.stderr.write(`vxgate: ${e.message}\n`);
    else if (e instanceof UsageError) process.stderr.write(`vxgate: ${e.message}\n${USAGE}`);
    else if (e instanceof CompileError) process.stderr.write(`vxgate: ${e.message}\n${e.output}\n`);
    else {
      const err = e as Error & { log?: string };
      process.stderr.write(`vxgate: ${err.message}\n${err.log ? `verifier log:\n${err.log}\n` : ""}`);
    }
    exitAfterOutput(e instanceof UsageError ? 2 : 1);
  },
);

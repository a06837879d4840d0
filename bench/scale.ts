// Benchmark 5: a config with many static MACs (100k by default, half on an
// access port, half behind a remote VTEP), end to end through the real CLI:
//
//   check    `vxgate check`: wall time and peak RSS
//   boot     `vxgate run` (fresh, ELF built ahead): spawn -> the last static
//            MAC of the file is in the pinned vxg_fdb (looked up every 10 ms),
//            -> the management API answers; the daemon's peak and current RSS
//   adopt    SIGTERM (the fast path stays), `vxgate run` again: spawn -> the
//            API answers with adopted: true (tables reconciled against the 100k
//            entries already there); peak RSS
//   show     `vxgate show fdb --json --config F | wc -c` (and with --socket,
//            without loading the config): time, bytes through the pipe against
//            the bytes the output must have (the API's rows, printed as the CLI
//            prints them: JSON.stringify(rows, null, 2) + "\n"), and whether the
//            piped text parses with every row; `vxgate show fdb` (the table) too
//
// `--vxgate-root DIR` runs another checkout's CLI (how the "before" figures in
// README.md were taken); the namespaces are this harness's (test/harness Lab),
// removed on exit like every other bench part's.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { BpfMap } from "libbpf-ts-bindings";
import { Lab } from "../test/harness/netns.ts";
import { REPO } from "../lab/fabric.ts";
import { tableCodec } from "../src/control/codec.ts";
import { rssOf } from "./proc.ts";
import { sleep } from "./stats.ts";

export interface ScaleOptions {
  macs: number;
  /** repository whose src/cli/vxgate.ts is measured (default: this one) */
  root?: string;
  timeoutS: number;
  log: (s: string) => void;
}

export interface ScaleResult {
  macs: number;
  configBytes: number;
  check: { ms: number; peakRssMb: number; ok: boolean };
  boot: { inMapMs: number; readyMs: number; peakRssMb: number; rssMb: number };
  adopt: { readyMs: number; adopted: boolean; peakRssMb: number; rssMb: number };
  show: ShowRun[];
  checks: string[];
}

export interface ShowRun {
  how: string;
  ms: number;
  bytes: number;
  expectedBytes: number;
  rows?: number;
  complete: boolean;
  peakRssMb: number;
}

const VNI = 100;

export function scaleConfig(name: string, socket: string, macs: number): { text: string; last: string } {
  const mac = (i: number) => `02:10:${[24, 16, 8, 0].map((s) => ((i >>> s) & 255).toString(16).padStart(2, "0")).join(":")}`;
  const lines = [
    `switch: { name: ${name} }`,
    "vtep: { source_ip: 10.0.0.1 }",
    "uplinks: [{ name: eth0 }]",
    `management: { socket: ${socket} }`,
    "ports:",
    `  - { name: h1, vni: ${VNI} }`,
    "vnis:",
    `  - vni: ${VNI}`,
    "    flood: [10.0.0.2]",
    "    static_macs:",
  ];
  for (let i = 0; i < macs; i++) lines.push(i % 2 ? `      - { mac: "${mac(i)}", port: h1 }` : `      - { mac: "${mac(i)}", remote: 10.0.0.2 }`);
  lines.push(`tables: { fdb: ${Math.max(65536, 2 * macs)} }`);
  return { text: lines.join("\n") + "\n", last: mac(macs - 1) };
}

/** Run to completion, sampling the peak RSS of `pidOf(child)` until it exits. */
async function timed(cmd: string, args: string[], opts: { shell?: boolean; pidOf?: (c: ChildProcess) => number | undefined } = {}): Promise<{ ms: number; code: number; stdout: string; stderr: string; peakRssMb: number }> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  let peak = 0;
  const sample = setInterval(() => {
    const pid = opts.pidOf ? opts.pidOf(child) : child.pid;
    const r = pid ? rssOf(pid) : undefined;
    if (r && r.peak > peak) peak = r.peak;
  }, 10);
  const code = await new Promise<number>((ok) => child.on("close", (c) => ok(c ?? 1)));
  clearInterval(sample);
  return { ms: performance.now() - t0, code, stdout, stderr, peakRssMb: peak };
}

const split = (argv: string[]): [string, string[]] => [argv[0]!, argv.slice(1)];

/** The node process in a `sh -c "node ... | wc -c"` pipeline (a child of the shell). */
function nodeChildOf(shellPid: number | undefined): number | undefined {
  if (!shellPid) return undefined;
  try {
    for (const pid of readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, "utf8").trim().split(/\s+/).map(Number)) {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "node") return pid;
    }
  } catch {
    // gone
  }
  return undefined;
}

/** One management API GET over the Unix socket. */
export function apiGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.setTimeout(60_000, () => req.destroy(new Error("api timeout")));
    req.end();
  });
}

/** Poll `probe` every `everyMs` until it answers, or throw after `timeoutS`. */
export async function waitFor<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutS} s`);
    await sleep(everyMs);
  }
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const root = o.root ?? REPO;
  // The command a switch runs: bin/vxgate (compiled JavaScript when `npm run
  // build` is current); a checkout from before bin/ existed runs its sources.
  const launcher = join(root, "bin/vxgate");
  const cli = existsSync(launcher) ? launcher : join(root, "src/cli/vxgate.ts");
  if (!existsSync(cli)) throw new Error(`no vxgate CLI at ${cli}`);
  const lab = new Lab("scale");
  const checks: string[] = [];
  let daemon: ChildProcess | undefined;
  const name = `sc-${(process.pid % 100000).toString(36)}`;
  const configPath = join(lab.tmpdir, "scale.yaml");
  const socket = join(lab.tmpdir, "mgmt.sock");
  try {
    const sw = lab.ns("sw", { forwarding: true });
    const spine = lab.ns("spine");
    const host = lab.ns("h");
    lab.veth(sw, "eth0", spine, "s1");
    lab.addr(sw, "eth0", "192.0.2.2/30");
    lab.addr(spine, "s1", "192.0.2.1/30");
    lab.addr(sw, "lo", "10.0.0.1/32");
    lab.route(sw, "default", { via: "192.0.2.1" });
    lab.veth(host, "eth0", sw, "h1");
    const { text, last } = scaleConfig(name, socket, o.macs);
    writeFileSync(configPath, text);
    o.log(`   config: ${o.macs.toLocaleString("en-US")} static MACs, ${(text.length / 1e6).toFixed(1)} MB (${configPath}); CLI ${cli}`);
    const node = (...args: string[]) => (cli === launcher ? [launcher, ...args] : [process.execPath, "--import", "tsx", cli, ...args]);
    const inNs = (...args: string[]) => ["nsenter", `--net=${lab.netnsPath(sw)}`, ...node(...args)];

    // check
    const c = await timed(...split(node("check", "--config", configPath)));
    if (c.code !== 0) throw new Error(`vxgate check failed (${c.code}): ${c.stderr.slice(0, 2000)}`);
    const check = { ms: c.ms, peakRssMb: c.peakRssMb, ok: /: ok/.test(c.stdout) };
    o.log(`   check: ${(c.ms / 1000).toFixed(2)} s, peak RSS ${c.peakRssMb.toFixed(0)} MB`);

    // the ELF is built ahead (clang is not what this measures)
    const artifacts = join(lab.tmpdir, "artifacts");
    mkdirSync(artifacts, { recursive: true });
    const b = await timed(...split(node("build", "--config", configPath, "--out", artifacts)));
    if (b.code !== 0) throw new Error(`vxgate build failed: ${b.stderr.slice(0, 2000)}`);

    const fdbPin = `/sys/fs/bpf/vxgate/${name}/maps/vxg_fdb`;
    const lastKey = tableCodec("fdb").key.encode({ vni: VNI, mac: last });
    let fdb: BpfMap | undefined;
    const start = () => {
      const [cmd, ...args] = inNs("run", "--config", configPath, "--artifacts", artifacts);
      const p = spawn(cmd!, args, { stdio: ["ignore", "ignore", "pipe"] });
      lab.track(p);
      let log = "";
      p.stderr!.setEncoding("utf8").on("data", (s: string) => (log = (log + s).slice(-20000)));
      p.on("exit", (code) => {
        if (code !== null && code !== 0) o.log(`   vxgate run exited ${code}: ${log.slice(-2000)}`);
      });
      return p;
    };
    const ready = async (p: ChildProcess) =>
      waitFor("the management API", o.timeoutS, async () => {
        if (p.exitCode !== null) throw new Error(`vxgate run exited (${p.exitCode})`);
        const r = await apiGet(socket, "/v1/status").catch(() => undefined);
        return r?.status === 200 ? (JSON.parse(r.body) as { adopted: boolean }) : undefined;
      }, 20);

    // boot: spawn -> the last MAC in the pinned FDB, -> API ready
    const t0 = performance.now();
    daemon = start();
    let peak = 0;
    const sampler = setInterval(() => {
      const r = daemon?.pid ? rssOf(daemon.pid) : undefined;
      if (r && r.peak > peak) peak = r.peak;
    }, 10);
    const inMapMs = await waitFor("the last static MAC in vxg_fdb", o.timeoutS, () => {
      if (daemon!.exitCode !== null) throw new Error(`vxgate run exited (${daemon!.exitCode})`);
      if (!fdb && existsSync(fdbPin)) fdb = BpfMap.openPinned(fdbPin);
      return fdb?.lookup(lastKey) ? performance.now() - t0 : undefined;
    });
    await ready(daemon);
    const readyMs = performance.now() - t0;
    const rb = rssOf(daemon.pid!)!;
    const boot = { inMapMs, readyMs, peakRssMb: Math.max(peak, rb.peak), rssMb: rb.now };
    o.log(`   boot: last MAC in the map after ${(inMapMs / 1000).toFixed(2)} s, API ready after ${(readyMs / 1000).toFixed(2)} s, peak RSS ${boot.peakRssMb.toFixed(0)} MB (now ${rb.now.toFixed(0)} MB)`);

    // adopt: SIGTERM, run again over the pinned tables
    await new Promise<void>((ok) => {
      daemon!.once("exit", () => ok());
      daemon!.kill("SIGTERM");
    });
    if (!fdb?.lookup(lastKey)) throw new Error("the fast path lost its FDB when the control plane exited");
    const t1 = performance.now();
    daemon = start();
    peak = 0;
    const st = await ready(daemon);
    const adoptMs = performance.now() - t1;
    const ra = rssOf(daemon.pid!)!;
    clearInterval(sampler);
    const adopt = { readyMs: adoptMs, adopted: st.adopted, peakRssMb: Math.max(peak, ra.peak), rssMb: ra.now };
    o.log(`   adopt-restart: API ready after ${(adoptMs / 1000).toFixed(2)} s (adopted: ${st.adopted}), peak RSS ${adopt.peakRssMb.toFixed(0)} MB`);
    if (!st.adopted) checks.push("FAILED: the restart did not adopt the pinned fast path");

    // show: what the output must be, from the API itself
    const api = await apiGet(socket, "/v1/fdb");
    const rows = JSON.parse(api.body) as { mac: string; source: string }[];
    const expected = Buffer.byteLength(JSON.stringify(rows, null, 2) + "\n");
    if (rows.length !== o.macs) checks.push(`FAILED: the API has ${rows.length} fdb rows, the config ${o.macs} static MACs`);
    else checks.push(`the API lists ${rows.length} fdb rows, every static MAC of the file (${rows.filter((r) => r.source === "static").length} static)`);
    const show: ShowRun[] = [];
    for (const [how, args] of [
      ["show fdb --json --config F | wc -c", ["show", "fdb", "--json", "--config", configPath]],
      ["show fdb --json --socket S | wc -c", ["show", "fdb", "--json", "--socket", socket]],
      ["show fdb --socket S | wc -c (table)", ["show", "fdb", "--socket", socket]],
    ] as const) {
      const json = args.includes("--json");
      const out = join(lab.tmpdir, "show.out");
      const pipeline = `${node(...args).map((a) => `'${a}'`).join(" ")} | tee '${out}' | wc -c`;
      const r = await timed("sh", ["-c", pipeline], { pidOf: (ch) => nodeChildOf(ch.pid) });
      const bytes = Number(r.stdout.trim());
      let parsed: number | undefined;
      if (json) {
        try {
          parsed = (JSON.parse(readFileSync(out, "utf8")) as unknown[]).length;
        } catch {
          parsed = undefined;
        }
      }
      const textLines = json ? undefined : readFileSync(out, "utf8").split("\n").length - 1;
      // the table: a header and one line per row
      const complete = json ? bytes === expected && parsed === rows.length : textLines === rows.length + 1;
      show.push({ how, ms: r.ms, bytes, expectedBytes: json ? expected : NaN, rows: json ? parsed : textLines, complete, peakRssMb: r.peakRssMb });
      o.log(`   ${how}: ${(r.ms / 1000).toFixed(2)} s, ${bytes.toLocaleString("en-US")} bytes${json ? ` of ${expected.toLocaleString("en-US")}` : ""}, ${complete ? "complete" : "INCOMPLETE"}${json ? ` (JSON.parse: ${parsed === undefined ? "fails" : `${parsed} rows`})` : ` (${textLines} lines)`}, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
    }
    fdb?.close();
    return { macs: o.macs, configBytes: text.length, check, boot, adopt, show, checks };
  } finally {
    if (daemon && daemon.exitCode === null) {
      const d = daemon;
      await new Promise<void>((ok) => {
        d.once("exit", () => ok());
        d.kill("SIGTERM");
      });
    }
    // no daemon now: `stop` removes the pins and the run directory itself
    // (bin/vxgate is a shell launcher: run it as such, not through node)
    const argv = cli === launcher ? [launcher, "stop", "--config", configPath] : [process.execPath, "--import", "tsx", cli, "stop", "--config", configPath];
    const stop = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let said = "";
    stop.stdout!.on("data", (d: Buffer) => (said += d));
    stop.stderr!.on("data", (d: Buffer) => (said += d));
    const code = await new Promise<number | null>((ok) => stop.on("close", ok));
    if (code !== 0) o.log(`   cleanup: \`vxgate stop\` failed (exit ${code}): ${said.trim()} (pins may be left under /sys/fs/bpf/vxgate/${name})`);
    lab.cleanup();
  }
}

// Benchmark 7: the bmv2 target at real sizes. A config with N static MACs
// (bench/scale.ts's scaleConfig(): half on the access port h1, half behind one
// remote VTEP; 100k by default), through the real CLI (bin/vxgate), on
// `vxgate run --target bmv2`:
//
//   boot     spawn -> the management API answers. Runtime.boot awaits
//            target.flush() before the API listens, so "answers" means
//            simple_switch holds every entry. Peak and final RSS of the
//            daemon (and simple_switch's RSS). The daemon runs with
//            --log-level debug; its log's timestamps split the boot into
//            phases (start + config + program, simple_switch up, writes).
//            Then, from inside the switch's namespace (bmv2's Thrift server
//            listens on that namespace's loopback), a probe (this file, run
//            with --probe through nsenter) asks simple_switch itself:
//            bm_mt_get_num_entries of fdb and fdb_src, and reads both tables
//            back entry by entry against what the config says.
//   idle     CPU of the daemon and of simple_switch over 10 s after boot
//            (the target's periodic reads: counters, next hops, fdb_src
//            activity).
//   adopt    SIGTERM (simple_switch keeps forwarding), `vxgate run` again:
//            spawn -> the API answers with adopted: true (every table read
//            back from bmv2); RSS; the probe again (nothing doubled).
//   stop     `vxgate stop --config F`: simple_switch and the run directory gone.
//   baseline the same JSON on a fresh simple_switch (same kind of ports), the
//            same N FDB entries as `table_add fdb fdb_set <vni> <mac> => ...`
//            lines on one stdin of the stock simple_switch_CLI, timed; the
//            CLI's start-up alone (empty stdin) and a small calibration run
//            first. If N would take the CLI more than 5 minutes it is
//            measured at 10k and the ratio is per entry.
//   raw      our Thrift client alone (Bmv2Runtime, no daemon), this file run
//            with --write in the baseline's namespace: the same N fdb adds
//            pipelined into a fresh simple_switch, then N fdb_src adds and N
//            TTLs (what the writer sends per FDB entry), timed; where the
//            boot's write phase goes.
//
// Every step that fails is reported FAILED with why, never as a figure; the
// namespaces (test/harness Lab), the daemon and every simple_switch started
// here are removed on exit, on failure and on Ctrl-C.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Lab } from "../test/harness/netns.ts";
import { REPO } from "../lab/fabric.ts";
import { constants } from "../src/codegen/tables.ts";
import { renderTable } from "../src/cli/table.ts";
import { rssOf } from "./proc.ts";
import { apiGet, scaleConfig, waitFor } from "./scale.ts";
import { median, sleep } from "./stats.ts";

export interface Bmv2ScaleOptions {
  macs: number;
  timeoutS: number;
  log: (s: string) => void;
}

export interface Step {
  step: string;
  ok: boolean;
  error?: string;
}

/** ms from spawn (wall clock) to the daemon's own log lines */
export interface BootPhases {
  /** "P4 program generated": node, modules, config read and checked, program hash (JSON reused) */
  programMs?: number;
  /** "bmv2 switch started" (fresh) / "adopted running bmv2 switch" (adopt) */
  switchMs?: number;
  /** "tables reconciled": after target.flush() */
  reconciledMs?: number;
  /** "switch running": after the API listens */
  runningMs?: number;
  written?: number;
  adoptedEntries?: number;
}

export interface ProbeResult {
  counts: Record<string, number>;
  fdb?: TableCheck;
  fdbSrc?: TableCheck;
  /** fdb_src entries carrying a TTL, and the TTLs seen */
  ttl?: { withLife: number; timeouts: number[] };
  preGroups?: number;
  readMs?: number;
}

export interface TableCheck {
  entries: number;
  match: number;
  wrong: number;
  extra: number;
  missing: number;
  firstWrong?: string;
}

export interface Bmv2ScaleResult {
  macs: number;
  configBytes: number;
  cli: string;
  /** the same at the end, when it differs (someone changed a source file during the run) */
  cliEnd?: string;
  /** commit, and the uncommitted files under src/ and p4/ when the run started (the program measured) */
  tree: string;
  program?: { hash: string; jsonPath: string; buildMs: number };
  boot?: { readyMs: number; peakRssMb: number; rssMb: number; switchRssMb?: number; phases: BootPhases; probe?: ProbeResult; warnings: string[] };
  idle?: { seconds: number; daemonCpuPct: number; switchCpuPct: number };
  adopt?: { readyMs: number; adopted: boolean; peakRssMb: number; rssMb: number; phases: BootPhases; probe?: ProbeResult; warnings: string[] };
  stop?: { ms: number; switchGone: boolean; runDirGone: boolean };
  baseline?: {
    startupMs: number[];
    calib: { entries: number; ms: number };
    estimateMs: number;
    entries: number;
    scaledDown?: string;
    ms: number;
    added: number;
    errors: number;
    probe?: ProbeResult;
    switchRssMb?: number;
  };
  /** Bmv2Runtime alone, pipelined: ms for N fdb adds, then N fdb_src adds and N TTLs */
  raw?: { entries: number; fdbMs: number; srcMs?: number; ttlMs?: number; socketWrites: number };
  steps: Step[];
  checks: string[];
}

const VNI = 100;
/** bmv2 ports as the target numbers them: uplinks first from 1, then access ports (target.ts) */
const PORT_ETH0 = 1;
const PORT_H1 = 2;
const THRIFT_PORT = 9090;
const CLI_LIMIT_MS = 300_000;
const CLI_FALLBACK = 10_000;
const CALIB = 2_000;
const IDLE_S = 10;
const TTL_MS = 0x7fffffff;

/** One FDB entry as the writer puts it into bmv2 (and as the CLI baseline writes it). */
interface Entry {
  vni: number;
  mac: string;
  kind: number;
  flags: number;
  vlan: number;
  port: number;
  remote: string;
}

/** The config's static MACs, read back from its text, as bmv2 action data. */
function entriesOf(configText: string): Entry[] {
  const out: Entry[] = [];
  const re = /^\s+- \{ mac: "([0-9a-f:]{17})", (?:port: (\S+)|remote: (\S+)) \}$/gm;
  for (const m of configText.matchAll(re)) {
    if (m[2] !== undefined) {
      if (m[2] !== "h1") throw new Error(`unexpected port ${m[2]} in the generated config`);
      out.push({ vni: VNI, mac: m[1]!, kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 0, port: PORT_H1, remote: "0.0.0.0" });
    } else {
      out.push({ vni: VNI, mac: m[1]!, kind: constants.FDB_REMOTE, flags: constants.FDB_STATIC, vlan: 0, port: 0, remote: m[3]! });
    }
  }
  return out;
}

const entryLine = (e: Entry) => `${e.vni} ${e.mac} ${e.kind} ${e.flags} ${e.vlan} ${e.port} ${e.remote}`;
const cliLine = (e: Entry) => `table_add fdb fdb_set ${e.vni} ${e.mac} => ${e.kind} ${e.flags} ${e.vlan} ${e.port} ${e.remote}`;

/** utime + stime of a process (all its threads), in clock ticks. */
function cpuTicks(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** A live simple_switch (a zombie waiting for its reaper is not: the daemon that started it may have exited). */
function isSimpleSwitch(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
    return s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")) === "simple_switch" && state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Run to completion with a bound; stdout/stderr collected (capped). */
function run(cmd: string, args: string[], timeoutMs: number, opts: { stdin?: number | "ignore"; stdout?: number } = {}): Promise<{ ms: number; code: number | null; timedOut: boolean; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: REPO, stdio: [opts.stdin ?? "ignore", opts.stdout ?? "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout = (stdout + c).slice(-4_000_000)));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-20_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      ok({ ms: performance.now() - t0, code, timedOut, stdout, stderr });
    });
  });
}

/** Is dist/ newer than every source (what bin/vxgate checks before running the compiled JavaScript)? */
function cliMode(): string {
  const built = join(REPO, "dist/.built");
  if (!existsSync(built)) return "bin/vxgate -> sources through tsx (no dist/.built: run `npm run build:js`)";
  try {
    const newer = execFileSync("find", [join(REPO, "src"), join(REPO, "native/lib"), "-name", "*.ts", "-newer", built, "-print", "-quit"], { encoding: "utf8" }).trim();
    return newer ? `bin/vxgate -> sources through tsx (dist/ is stale: ${newer.slice(REPO.length + 1)} is newer; run \`npm run build:js\`)` : "bin/vxgate -> dist/ (compiled JavaScript)";
  } catch {
    return "bin/vxgate (could not tell whether dist/ is current)";
  }
}

/** The commit, and which files of the program and control plane differ from it (read-only git). */
function treeState(): string {
  try {
    const head = execFileSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", REPO, "status", "--porcelain", "--", "src", "p4", "native/lib"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
    return dirty.length ? `${head} + uncommitted changes in ${dirty.length} file(s): ${dirty.join(" ")}` : `${head} (src/, p4/ as committed)`;
  } catch {
    return "(not a git checkout)";
  }
}

/** The daemon's JSON log lines (stderr is not a TTY): the boot's milestones. */
class DaemonLog {
  tail = "";
  readonly warnings: string[] = [];
  private readonly seen = new Map<string, { t: number; f: Record<string, unknown> }>();
  private partial = "";

  constructor(p: ChildProcess) {
    p.stderr!.setEncoding("utf8").on("data", (s: string) => {
      this.tail = (this.tail + s).slice(-20_000);
      const lines = (this.partial + s).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) this.line(line);
    });
  }

  private line(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const msg = String(rec.msg);
    if ((rec.level === "warn" || rec.level === "error") && this.warnings.length < 20) this.warnings.push(`${rec.level}: ${line.slice(0, 300)}`);
    if (!this.seen.has(msg)) this.seen.set(msg, { t: Date.parse(String(rec.time)), f: rec });
  }

  /** every distinct message's first occurrence, ms from t0 */
  timeline(t0: number): string {
    return [...this.seen.entries()]
      .slice(0, 40)
      .map(([m, x]) => `+${x.t - t0} ${m}`)
      .join(", ");
  }

  at(msg: string): { t: number; f: Record<string, unknown> } | undefined {
    return this.seen.get(msg);
  }

  phases(t0: number): BootPhases {
    const rel = (m: string) => {
      const x = this.at(m);
      return x ? x.t - t0 : undefined;
    };
    const adopted = this.at("adopted running bmv2 switch");
    const rec = this.at("tables reconciled");
    return {
      programMs: rel("P4 program generated"),
      switchMs: rel("bmv2 switch started") ?? rel("adopted running bmv2 switch"),
      reconciledMs: rel("tables reconciled"),
      runningMs: rel("switch running"),
      written: rec ? Number(rec.f.written) : undefined,
      adoptedEntries: adopted ? Number(adopted.f.entries) : undefined,
    };
  }
}

/** a log line that means bmv2 may not hold what the control plane wrote */
const isWriteError = (w: string) => w.startsWith("error:") || /bmv2 (write|flush) failed/.test(w);

const errMsg = (e: unknown) => ((e as Error).message ?? String(e)).split("\n").slice(0, 6).join(" | ");

export async function runBmv2Scale(o: Bmv2ScaleOptions): Promise<Bmv2ScaleResult> {
  const launcher = join(REPO, "bin/vxgate");
  const lab = new Lab("bmv2scale");
  const steps: Step[] = [];
  const checks: string[] = [];
  const name = `b2s-${(process.pid % 100000).toString(36)}`;
  const runDir = join("/run/vxgate", name);
  const configPath = join(lab.tmpdir, "scale.yaml");
  const socket = join(lab.tmpdir, "mgmt.sock");
  const { text } = scaleConfig(name, socket, o.macs);
  writeFileSync(configPath, text);
  const res: Bmv2ScaleResult = { macs: o.macs, configBytes: text.length, cli: cliMode(), tree: treeState(), steps, checks };
  /** every simple_switch pid this run started (directly or through the daemon): killed whatever happens */
  const switchPids = new Set<number>();
  const killSwitches = () => {
    for (const pid of switchPids) {
      try {
        if (isSimpleSwitch(pid)) process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  };
  lab.defer(killSwitches);
  let daemon: ChildProcess | undefined;
  let sw = "";
  const fail = (step: string, e: unknown) => {
    steps.push({ step, ok: false, error: errMsg(e) });
    o.log(`   ${step}: FAILED: ${errMsg(e)}`);
  };
  const probe = async (ns: string, expectFile: string | undefined): Promise<ProbeResult> => {
    const args = ["--net=" + lab.netnsPath(ns), process.execPath, "--import", "tsx", join(REPO, "bench/bmv2-scale.ts"), "--probe", String(THRIFT_PORT)];
    if (expectFile) args.push(expectFile);
    const r = await run("nsenter", args, 300_000);
    if (r.code !== 0) throw new Error(`probe failed (${r.timedOut ? "timed out" : `exit ${r.code}`}): ${r.stderr.slice(-1500)}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as ProbeResult;
  };
  const judge = (p: ProbeResult, n: number, withSrc: boolean): string[] => {
    const bad: string[] = [];
    if (p.counts.fdb !== n) bad.push(`bm_mt_get_num_entries(fdb) = ${p.counts.fdb}, expected ${n}`);
    const t = p.fdb!;
    if (t.match !== n || t.wrong || t.extra || t.missing) bad.push(`fdb read back: ${t.match} match, ${t.wrong} wrong, ${t.extra} extra, ${t.missing} missing${t.firstWrong ? ` (first: ${t.firstWrong})` : ""}`);
    if (withSrc) {
      if (p.counts.fdb_src !== n) bad.push(`bm_mt_get_num_entries(fdb_src) = ${p.counts.fdb_src}, expected ${n}`);
      const s = p.fdbSrc!;
      if (s.match !== n || s.wrong || s.extra || s.missing) bad.push(`fdb_src read back: ${s.match} match, ${s.wrong} wrong, ${s.extra} extra, ${s.missing} missing${s.firstWrong ? ` (first: ${s.firstWrong})` : ""}`);
    }
    return bad;
  };
  const describe = (p: ProbeResult) =>
    `fdb ${p.counts.fdb} (read back: ${p.fdb!.match} as configured), fdb_src ${p.counts.fdb_src} (read back: ${p.fdbSrc?.match ?? "-"} as configured, ${p.ttl?.withLife ?? 0} with a TTL: ${[...new Set(p.ttl?.timeouts ?? [])].join(", ") || "-"} ms); ` +
    `other tables: ${Object.entries(p.counts).filter(([k]) => k !== "fdb" && k !== "fdb_src").map(([k, v]) => `${k} ${v}`).join(", ")}; PRE groups ${p.preGroups}; reading fdb + fdb_src back took ${((p.readMs ?? NaN) / 1000).toFixed(2)} s`;

  try {
    const entries = entriesOf(text);
    if (entries.length !== o.macs) throw new Error(`the generated config has ${entries.length} static MACs, not ${o.macs}`);
    const expectFile = join(lab.tmpdir, "expected.txt");
    writeFileSync(expectFile, entries.map(entryLine).join("\n") + "\n");
    o.log(`   config: ${o.macs.toLocaleString("en-US")} static MACs, ${(text.length / 1e6).toFixed(1)} MB (${configPath}); CLI ${res.cli}`);
    o.log(`   tree: ${res.tree}`);

    sw = lab.ns("sw", { forwarding: true });
    const spine = lab.ns("spine");
    const host = lab.ns("h");
    lab.veth(sw, "eth0", spine, "s1");
    lab.addr(sw, "eth0", "192.0.2.2/30");
    lab.addr(spine, "s1", "192.0.2.1/30");
    lab.addr(sw, "lo", "10.0.0.1/32");
    lab.route(sw, "default", { via: "192.0.2.1" });
    lab.veth(host, "eth0", sw, "h1");

    // the P4 program is compiled ahead (p4c is not what this measures)
    const artifacts = join(lab.tmpdir, "artifacts");
    mkdirSync(artifacts, { recursive: true });
    const b = await run(launcher, ["build", "--target", "bmv2", "--config", configPath, "--out", artifacts], 600_000);
    const built = /: (\S+\.json) \(P4 source .*, hash ([0-9a-f]+)\)/.exec(b.stdout);
    if (b.code !== 0 || !built) {
      fail("build", new Error(`vxgate build --target bmv2 failed (${b.code}): ${b.stderr.slice(-2000)}${b.stdout.slice(-500)}`));
      return res;
    }
    res.program = { jsonPath: built[1]!, hash: built[2]!, buildMs: b.ms };
    o.log(`   program: ${built[1]} (hash ${built[2]}), built ahead in ${(b.ms / 1000).toFixed(1)} s (untimed)`);
    const json = JSON.parse(readFileSync(res.program.jsonPath, "utf8")) as { pipelines: { tables: { name: string; max_size: number; support_timeout?: boolean }[] }[]; actions: { name: string; runtime_data: { name: string; bitwidth: number }[] }[] };
    const tables = json.pipelines.flatMap((p) => p.tables);
    const fdbT = tables.find((t) => t.name === "fdb");
    const srcT = tables.find((t) => t.name === "fdb_src");
    const params = json.actions.find((a) => a.name === "fdb_set")?.runtime_data.map((d) => `${d.name}:${d.bitwidth}`).join(" ");
    o.log(`   JSON: fdb max_size ${fdbT?.max_size}, fdb_src ${srcT ? `max_size ${srcT.max_size}, ageing ${srcT.support_timeout ? "on" : "off"}` : "absent"}; fdb_set(${params})`);
    if (params !== "kind:8 flags:8 vlan:16 ifindex:32 remote:32") throw new Error(`fdb_set's parameters are not what the CLI lines assume: ${params}`);
    const withSrc = srcT !== undefined;

    const start = () => {
      const p = spawn("nsenter", [`--net=${lab.netnsPath(sw)}`, launcher, "run", "--target", "bmv2", "--config", configPath, "--artifacts", artifacts, "--log-level", "debug"], {
        cwd: REPO,
        stdio: ["ignore", "ignore", "pipe"],
      });
      lab.track(p);
      const log = new DaemonLog(p);
      p.on("exit", (code) => {
        if (code !== null && code !== 0) o.log(`   vxgate run exited ${code}: ${log.tail.slice(-2000)}`);
      });
      return { p, log };
    };
    const ready = async (p: ChildProcess, log: DaemonLog) =>
      waitFor("the management API", o.timeoutS, async () => {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`vxgate run exited (${p.exitCode ?? p.signalCode}): ${log.tail.slice(-1500)}`);
        const r = await apiGet(socket, "/v1/status").catch(() => undefined);
        return r?.status === 200 ? (JSON.parse(r.body) as { adopted: boolean }) : undefined;
      }, 20);
    const sampleRss = (pid: () => number | undefined) => {
      const s = { peak: 0, timer: undefined as NodeJS.Timeout | undefined };
      s.timer = setInterval(() => {
        const x = pid();
        const r = x ? rssOf(x) : undefined;
        if (r && r.peak > s.peak) s.peak = r.peak;
      }, 10);
      return s;
    };
    const switchPid = () => {
      try {
        const pid = (JSON.parse(readFileSync(join(runDir, "bmv2.json"), "utf8")) as { pid: number }).pid;
        switchPids.add(pid);
        return pid;
      } catch {
        return undefined;
      }
    };
    if (existsSync(runDir)) throw new Error(`${runDir} exists already: another switch named ${name}?`);

    // 1. boot
    let booted = false;
    try {
      const t0w = Date.now();
      const t0 = performance.now();
      const d = start();
      daemon = d.p;
      const s = sampleRss(() => daemon?.pid);
      let st: { adopted: boolean };
      try {
        st = await ready(d.p, d.log);
      } finally {
        clearInterval(s.timer);
      }
      const readyMs = performance.now() - t0;
      const r = rssOf(d.p.pid!)!;
      const spid = switchPid();
      if (st.adopted) throw new Error("a fresh boot says adopted: true (a simple_switch of this name was running already?)");
      const phases = d.log.phases(t0w);
      res.boot = { readyMs, peakRssMb: Math.max(s.peak, r.peak), rssMb: r.now, switchRssMb: spid ? rssOf(spid)?.now : undefined, phases, warnings: [...d.log.warnings] };
      o.log(`   boot: API answering after ${(readyMs / 1000).toFixed(2)} s; daemon peak RSS ${res.boot.peakRssMb.toFixed(0)} MB (now ${r.now.toFixed(0)} MB), simple_switch (pid ${spid}) RSS ${res.boot.switchRssMb?.toFixed(0)} MB`);
      o.log(`   boot phases (daemon log, ms from spawn): program ${phases.programMs}, simple_switch up ${phases.switchMs}, tables reconciled ${phases.reconciledMs} (written ${phases.written}), switch running ${phases.runningMs}`);
      o.log(`   boot log (first line of each message, ms from spawn): ${d.log.timeline(t0w)}`);
      for (const w of d.log.warnings) o.log(`   daemon ${w}`);
      const p = await probe(sw, expectFile);
      res.boot.probe = p;
      o.log(`   in bmv2 after boot: ${describe(p)}`);
      const bad = judge(p, o.macs, withSrc);
      const writeErrors = d.log.warnings.filter(isWriteError);
      if (writeErrors.length) bad.push(`the daemon logged ${writeErrors.length} failed write(s) or error(s) while booting`);
      if (bad.length) throw new Error(bad.join("; "));
      const ttlAll = p.ttl?.withLife === o.macs && p.ttl.timeouts.length === 1 && p.ttl.timeouts[0] === TTL_MS;
      checks.push(`boot: bmv2 holds every static MAC: fdb ${p.counts.fdb} = N and fdb_src ${p.counts.fdb_src}, each entry read back as the config says; ${ttlAll ? `every fdb_src entry has the writer's TTL (${TTL_MS} ms)` : `fdb_src TTLs: ${p.ttl?.withLife} entries, ${p.ttl?.timeouts.join(", ")} ms`}`);
      steps.push({ step: "boot", ok: true });
      booted = true;
    } catch (e) {
      fail("boot", e);
    }

    // idle: what the running switch costs with N entries
    if (booted) {
      try {
        const spid = switchPid()!;
        const a0 = cpuTicks(daemon!.pid!);
        const b0 = cpuTicks(spid);
        const t = performance.now();
        await sleep(IDLE_S * 1000);
        const secs = (performance.now() - t) / 1000;
        const a1 = cpuTicks(daemon!.pid!);
        const b1 = cpuTicks(spid);
        if ([a0, a1, b0, b1].some((x) => x === undefined)) throw new Error("a process went away while idle");
        const hz = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
        res.idle = { seconds: secs, daemonCpuPct: ((a1! - a0!) / hz / secs) * 100, switchCpuPct: ((b1! - b0!) / hz / secs) * 100 };
        o.log(`   idle ${secs.toFixed(1)} s after boot: daemon ${res.idle.daemonCpuPct.toFixed(1)}% of a core, simple_switch ${res.idle.switchCpuPct.toFixed(1)}%`);
        steps.push({ step: "idle", ok: true });
      } catch (e) {
        fail("idle", e);
      }
    }

    // 3. adopt-restart
    if (booted) {
      try {
        const before = switchPid();
        await new Promise<void>((ok) => {
          if (daemon!.exitCode !== null) return ok();
          daemon!.once("exit", () => ok());
          daemon!.kill("SIGTERM");
        });
        if (!before || !isSimpleSwitch(before)) throw new Error("simple_switch did not outlive its control plane");
        const t0w = Date.now();
        const t0 = performance.now();
        const d = start();
        daemon = d.p;
        const s = sampleRss(() => daemon?.pid);
        let st: { adopted: boolean };
        try {
          st = await ready(d.p, d.log);
        } finally {
          clearInterval(s.timer);
        }
        const readyMs = performance.now() - t0;
        const r = rssOf(d.p.pid!)!;
        const phases = d.log.phases(t0w);
        res.adopt = { readyMs, adopted: st.adopted, peakRssMb: Math.max(s.peak, r.peak), rssMb: r.now, phases, warnings: [...d.log.warnings] };
        o.log(`   adopt-restart: API answering after ${(readyMs / 1000).toFixed(2)} s (adopted: ${st.adopted}), peak RSS ${res.adopt.peakRssMb.toFixed(0)} MB (now ${r.now.toFixed(0)} MB)`);
        o.log(`   adopt phases (ms from spawn): program ${phases.programMs}, tables read back ${phases.switchMs} (${phases.adoptedEntries} entries), reconciled ${phases.reconciledMs} (written ${phases.written}), running ${phases.runningMs}`);
        o.log(`   adopt log (first line of each message, ms from spawn): ${d.log.timeline(t0w)}`);
        for (const w of d.log.warnings) o.log(`   daemon ${w}`);
        const p = await probe(sw, expectFile);
        res.adopt.probe = p;
        o.log(`   in bmv2 after adopt: ${describe(p)}`);
        const bad = judge(p, o.macs, withSrc);
        if (!st.adopted) bad.push("the restart did not adopt the running simple_switch");
        if (switchPid() !== before) bad.push(`simple_switch was replaced (pid ${before} -> ${switchPid()})`);
        const writeErrors = d.log.warnings.filter(isWriteError);
        if (writeErrors.length) bad.push(`the daemon logged ${writeErrors.length} failed write(s) or error(s)`);
        if (bad.length) throw new Error(bad.join("; "));
        checks.push(`adopt: adopted: true, the same simple_switch (pid ${before}), ${phases.written} entries written, tables as before (nothing doubled)`);
        steps.push({ step: "adopt", ok: true });
      } catch (e) {
        fail("adopt", e);
      }
    }

    // stop: the daemon removes simple_switch and its run directory
    try {
      const spid = switchPid();
      const r = await run("nsenter", [`--net=${lab.netnsPath(sw)}`, launcher, "stop", "--config", configPath], 120_000);
      if (daemon && daemon.exitCode === null && daemon.signalCode === null) await Promise.race([new Promise((ok) => daemon!.once("exit", ok)), sleep(10_000)]);
      for (let i = 0; i < 50 && spid !== undefined && isSimpleSwitch(spid); i++) await sleep(100);
      const switchGone = spid === undefined || !isSimpleSwitch(spid);
      const runDirGone = !existsSync(runDir);
      res.stop = { ms: r.ms, switchGone, runDirGone };
      o.log(`   vxgate stop: ${(r.ms / 1000).toFixed(2)} s (exit ${r.code}): ${r.stdout.trim()}${r.stderr.trim() ? ` / ${r.stderr.trim().slice(0, 300)}` : ""}`);
      if (r.code !== 0 || !switchGone || !runDirGone) throw new Error(`exit ${r.code}, simple_switch ${switchGone ? "gone" : "STILL RUNNING"}, ${runDir} ${runDirGone ? "gone" : "STILL THERE"}`);
      steps.push({ step: "stop", ok: true });
    } catch (e) {
      fail("stop", e);
    }
    killSwitches(); // nothing of the daemon's may run beside the baseline

    // 2. baseline: the stock CLI into a fresh simple_switch running the same JSON
    const cli = lab.ns("cli");
    const peer = lab.ns("cli-peer");
    lab.veth(cli, "eth0", peer, "e0");
    lab.veth(cli, "h1", peer, "e1");
    lab.veth(cli, "cpu", peer, "e2");
    const jsonPath = res.program.jsonPath;
    let current: ChildProcess | undefined;
    const startSwitch = async () => {
      const out = openSync(join(lab.tmpdir, "baseline-switch.log"), "a");
      const p = spawn("nsenter", [`--net=${lab.netnsPath(cli)}`, "simple_switch", "--device-id", "0", "--thrift-port", String(THRIFT_PORT), "-i", `${PORT_ETH0}@eth0`, "-i", `${PORT_H1}@h1`, "-i", "510@cpu", jsonPath], { stdio: ["ignore", out, out] });
      closeSync(out);
      lab.track(p);
      if (p.pid) switchPids.add(p.pid);
      current = p;
      const up = await run("nsenter", [`--net=${lab.netnsPath(cli)}`, "bash", "-c", `for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/${THRIFT_PORT}) 2>/dev/null && exit 0; sleep 0.05; done; exit 1`], 30_000);
      if (up.code !== 0 || p.exitCode !== null) throw new Error(`the baseline simple_switch did not start: ${readFileSync(join(lab.tmpdir, "baseline-switch.log"), "utf8").slice(-1500)}`);
      return p;
    };
    const stopSwitch = async () => {
      const p = current;
      current = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((ok) => p.once("exit", ok));
      p.kill("SIGTERM");
      await Promise.race([gone, sleep(5000)]);
      if (p.exitCode === null && p.signalCode === null) {
        p.kill("SIGKILL");
        await gone;
      }
    };
    const cliRun = async (lines: string[], tag: string, timeoutMs: number) => {
      const inFile = join(lab.tmpdir, `cli-${tag}.in`);
      const outFile = join(lab.tmpdir, `cli-${tag}.out`);
      writeFileSync(inFile, lines.length ? lines.join("\n") + "\n" : "");
      const inFd = openSync(inFile, "r");
      const outFd = openSync(outFile, "w");
      try {
        const r = await run("nsenter", [`--net=${lab.netnsPath(cli)}`, "simple_switch_CLI", "--thrift-port", String(THRIFT_PORT), "--thrift-ip", "127.0.0.1"], timeoutMs, { stdin: inFd, stdout: outFd });
        const out = readFileSync(outFile, "utf8");
        const added = (out.match(/^(?:RuntimeCmd: )?Entry has been added with handle \d+$/gm) ?? []).length;
        const errors = (out.match(/Error|Invalid/g) ?? []).length;
        if (!r.timedOut && r.code !== 0) throw new Error(`simple_switch_CLI exited ${r.code}: ${r.stderr.slice(-1500)}`);
        return { ms: r.ms, timedOut: r.timedOut, added, errors };
      } finally {
        closeSync(inFd);
        closeSync(outFd);
      }
    };

    try {
      await startSwitch();
      const startupMs: number[] = [];
      for (let i = 0; i < 3; i++) startupMs.push((await cliRun([], `startup${i}`, 60_000)).ms);
      const startup = median(startupMs);
      const ncal = Math.min(CALIB, o.macs);
      const cal = await cliRun(entries.slice(0, ncal).map(cliLine), "calib", 300_000);
      if (cal.timedOut || cal.added !== ncal) throw new Error(`calibration: ${cal.added} of ${ncal} entries added${cal.timedOut ? " (timed out)" : ""}, ${cal.errors} errors`);
      const perEntry = Math.max(0, cal.ms - startup) / ncal;
      const estimateMs = startup + perEntry * o.macs;
      o.log(`   CLI start-up alone (empty stdin): ${startupMs.map((x) => (x / 1000).toFixed(2)).join(", ")} s; calibration ${ncal.toLocaleString("en-US")} entries in ${(cal.ms / 1000).toFixed(2)} s -> N would take ~${(estimateMs / 1000).toFixed(0)} s`);
      await stopSwitch();

      let n = o.macs;
      let scaledDown: string | undefined;
      if (estimateMs > CLI_LIMIT_MS && o.macs > CLI_FALLBACK) {
        n = CLI_FALLBACK;
        scaledDown = `N = ${o.macs.toLocaleString("en-US")} would take the CLI ~${(estimateMs / 1000).toFixed(0)} s (> ${CLI_LIMIT_MS / 1000} s): measured at ${n.toLocaleString("en-US")}`;
      }
      await startSwitch();
      let m = await cliRun(entries.slice(0, n).map(cliLine), "full", CLI_LIMIT_MS + 30_000);
      if (m.timedOut && n > CLI_FALLBACK) {
        await stopSwitch();
        scaledDown = `N = ${n.toLocaleString("en-US")} did not finish within ${(CLI_LIMIT_MS + 30_000) / 1000} s (${m.added.toLocaleString("en-US")} added by then): measured at ${CLI_FALLBACK.toLocaleString("en-US")}`;
        n = CLI_FALLBACK;
        await startSwitch();
        m = await cliRun(entries.slice(0, n).map(cliLine), "fallback", CLI_LIMIT_MS + 30_000);
      }
      if (scaledDown) o.log(`   CLI: ${scaledDown}`);
      if (m.timedOut) throw new Error(`simple_switch_CLI did not finish ${n} entries within ${(CLI_LIMIT_MS + 30_000) / 1000} s`);
      const subset = join(lab.tmpdir, "expected-cli.txt");
      writeFileSync(subset, entries.slice(0, n).map(entryLine).join("\n") + "\n");
      const p = await probe(cli, subset);
      const switchRssMb = current?.pid ? rssOf(current.pid)?.now : undefined;
      res.baseline = { startupMs, calib: { entries: ncal, ms: cal.ms }, estimateMs, entries: n, scaledDown, ms: m.ms, added: m.added, errors: m.errors, probe: p, switchRssMb };
      o.log(`   CLI: ${n.toLocaleString("en-US")} table_add lines in ${(m.ms / 1000).toFixed(2)} s (${m.added} "Entry has been added", ${m.errors} errors); in bmv2: fdb ${p.counts.fdb}, read back ${p.fdb!.match} as expected; simple_switch RSS ${switchRssMb?.toFixed(0)} MB`);
      await stopSwitch();
      const bad = judge(p, n, false);
      if (m.added !== n || m.errors) bad.push(`the CLI reported ${m.added} adds and ${m.errors} errors for ${n} lines`);
      if (bad.length) throw new Error(bad.join("; "));
      checks.push(`baseline: the CLI's simple_switch holds exactly the ${n.toLocaleString("en-US")} entries written, each read back as written`);
      steps.push({ step: "baseline", ok: true });
    } catch (e) {
      fail("baseline", e);
    }

    // our Thrift client alone (no daemon): the same entries pipelined on one connection,
    // the fdb adds, then what the writer adds for learning (fdb_src and a TTL per entry)
    try {
      await stopSwitch(); // whatever the baseline left
      await startSwitch();
      const all = join(lab.tmpdir, "expected-raw.txt");
      writeFileSync(all, entries.map(entryLine).join("\n") + "\n");
      const w = await run("nsenter", ["--net=" + lab.netnsPath(cli), process.execPath, "--import", "tsx", join(REPO, "bench/bmv2-scale.ts"), "--write", String(THRIFT_PORT), all, withSrc ? "src" : "fdb"], 600_000);
      if (w.code !== 0) throw new Error(`writer probe failed (${w.timedOut ? "timed out" : `exit ${w.code}`}): ${w.stderr.slice(-1500)}`);
      const t = JSON.parse(w.stdout.trim().split("\n").pop()!) as { fdbMs: number; srcMs?: number; ttlMs?: number; socketWrites: number };
      const p = await probe(cli, all);
      await stopSwitch();
      res.raw = { entries: entries.length, ...t };
      o.log(`   Bmv2Runtime alone: ${entries.length.toLocaleString("en-US")} fdb adds in ${(t.fdbMs / 1000).toFixed(2)} s${t.srcMs !== undefined ? `, then fdb_src adds ${(t.srcMs / 1000).toFixed(2)} s and TTLs ${(t.ttlMs! / 1000).toFixed(2)} s` : ""} (${t.socketWrites} socket writes); in bmv2: ${describe(p)}`);
      const bad = judge(p, entries.length, withSrc);
      if (bad.length) throw new Error(bad.join("; "));
      checks.push(`raw client: the switch holds the ${entries.length.toLocaleString("en-US")} entries written${withSrc ? " in fdb and fdb_src" : ""}, each read back as written`);
      steps.push({ step: "raw", ok: true });
    } catch (e) {
      fail("raw", e);
    }
    const end = cliMode();
    if (end !== res.cli) {
      res.cliEnd = end;
      o.log(`   NOTE: the CLI mode changed during the run: now ${end}`);
    }
    return res;
  } catch (e) {
    fail("setup", e);
    return res;
  } finally {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      const d = daemon;
      const gone = new Promise<void>((ok) => d.once("exit", () => ok()));
      d.kill("SIGTERM");
      await Promise.race([gone, sleep(10_000)]);
    }
    // no daemon now: `stop` removes simple_switch, the CPU port and the run directory itself
    if (sw && existsSync(runDir)) await run("nsenter", [`--net=${lab.netnsPath(sw)}`, launcher, "stop", "--config", configPath], 120_000).catch(() => undefined);
    killSwitches();
    lab.cleanup();
  }
}

// ---------------------------------------------------------------------------
// Reporting (bench/run.ts prints these): a figure only for a step that passed.

const sec = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? "-" : `${(ms / 1000).toFixed(2)} s`);
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ok = (r: Bmv2ScaleResult, step: string) => r.steps.some((s) => s.step === step && s.ok);

/** entries/s: ours over the write phase (simple_switch up -> tables reconciled) and over the whole boot; the CLI's without and with its start-up */
export function bmv2Rates(r: Bmv2ScaleResult): { ours?: number; oursBoot?: number; cli?: number; cliTotal?: number } {
  const out: { ours?: number; oursBoot?: number; cli?: number; cliTotal?: number } = {};
  const b = r.boot;
  if (b && ok(r, "boot") && b.phases.switchMs !== undefined && b.phases.reconciledMs !== undefined) {
    out.ours = r.macs / ((b.phases.reconciledMs - b.phases.switchMs) / 1000);
    out.oursBoot = r.macs / (b.readyMs / 1000);
  }
  const c = r.baseline;
  if (c && ok(r, "baseline")) {
    out.cli = c.entries / ((c.ms - median(c.startupMs)) / 1000);
    out.cliTotal = c.entries / (c.ms / 1000);
  }
  return out;
}

export function reportBmv2(r: Bmv2ScaleResult, say: (s: string) => void): void {
  const rows: { measure: string; value: string }[] = [];
  const failed = (step: string) => r.steps.find((s) => s.step === step && !s.ok);
  const row = (measure: string, value: string) => rows.push({ measure, value });
  const F = (step: string) => `FAILED: ${failed(step)?.error ?? "not run (an earlier step failed)"}`;
  const b = r.boot;
  if (b && ok(r, "boot")) {
    const p = b.phases;
    row("boot: spawn -> API answering (all entries in bmv2)", sec(b.readyMs));
    row("  start, config, program (JSON reused)", sec(p.programMs));
    row("  simple_switch started, Thrift answering", sec(p.switchMs !== undefined && p.programMs !== undefined ? p.switchMs - p.programMs : undefined));
    row("  desired state + writes until flush() resolved", sec(p.switchMs !== undefined && p.reconciledMs !== undefined ? p.reconciledMs - p.switchMs : undefined) + ` (${int(p.written ?? NaN)} schema entries written)`);
    row("  API listening", sec(p.runningMs !== undefined && p.reconciledMs !== undefined ? p.runningMs - p.reconciledMs : undefined));
    row("boot: daemon RSS peak / final", `${b.peakRssMb.toFixed(0)} / ${b.rssMb.toFixed(0)} MB`);
    row("boot: simple_switch RSS", `${b.switchRssMb?.toFixed(0) ?? "-"} MB`);
    const q = b.probe!;
    row("in bmv2: fdb / fdb_src entries", `${int(q.counts.fdb!)} / ${int(q.counts.fdb_src ?? NaN)} (N = ${int(r.macs)}; fdb_src entries with a TTL: ${int(q.ttl?.withLife ?? NaN)})`);
  } else row("boot", F("boot"));
  if (r.idle && ok(r, "idle")) row(`idle ${r.idle.seconds.toFixed(0)} s after boot: CPU daemon / simple_switch`, `${r.idle.daemonCpuPct.toFixed(1)}% / ${r.idle.switchCpuPct.toFixed(1)}% of a core`);
  const a = r.adopt;
  if (a && ok(r, "adopt")) {
    row("adopt-restart: spawn -> API answering, adopted: true", sec(a.readyMs));
    row("  tables read back from bmv2", `${sec(a.phases.switchMs !== undefined && a.phases.programMs !== undefined ? a.phases.switchMs - a.phases.programMs : undefined)} (${int(a.phases.adoptedEntries ?? NaN)} entries)`);
    row("  reconcile (entries written)", `${sec(a.phases.reconciledMs !== undefined && a.phases.switchMs !== undefined ? a.phases.reconciledMs - a.phases.switchMs : undefined)} (${int(a.phases.written ?? NaN)})`);
    row("adopt-restart: daemon RSS peak / final", `${a.peakRssMb.toFixed(0)} / ${a.rssMb.toFixed(0)} MB`);
  } else row("adopt-restart", F("adopt"));
  if (r.stop && ok(r, "stop")) row("vxgate stop (simple_switch and run directory gone)", sec(r.stop.ms));
  else row("vxgate stop", F("stop"));
  const c = r.baseline;
  if (c && ok(r, "baseline")) {
    row("simple_switch_CLI start-up alone (3x)", c.startupMs.map((x) => sec(x)).join(", "));
    row(`simple_switch_CLI: ${int(c.entries)} table_add lines on one stdin`, `${sec(c.ms)}${c.scaledDown ? ` (${c.scaledDown})` : ""}`);
    row("baseline simple_switch RSS", `${c.switchRssMb?.toFixed(0) ?? "-"} MB`);
  } else row("simple_switch_CLI baseline", F("baseline"));
  if (r.raw && ok(r, "raw")) {
    const w = r.raw;
    row(`Bmv2Runtime alone, pipelined: ${int(w.entries)} fdb adds`, `${sec(w.fdbMs)} = ${int(w.entries / (w.fdbMs / 1000))} entries/s`);
    if (w.srcMs !== undefined) row("  then fdb_src adds / TTLs (what the writer adds per entry)", `${sec(w.srcMs)} / ${sec(w.ttlMs)}; all three: ${int(w.entries / ((w.fdbMs + w.srcMs + w.ttlMs!) / 1000))} entries/s`);
  } else row("Bmv2Runtime alone", F("raw"));
  const x = bmv2Rates(r);
  if (x.ours !== undefined) row("vxgate: FDB entries/s over the write phase (each = fdb add + fdb_src add + TTL)", int(x.ours));
  if (x.oursBoot !== undefined) row("vxgate: FDB entries/s over the whole boot", int(x.oursBoot));
  if (x.cli !== undefined) row("CLI: entries/s without / with its start-up", `${int(x.cli)} / ${int(x.cliTotal!)}`);
  if (x.ours !== undefined && x.cli !== undefined) row("ratio vxgate / CLI (write phase / whole)", `${(x.ours / x.cli).toFixed(1)} x / ${(x.oursBoot! / x.cliTotal!).toFixed(1)} x`);
  say(renderTable(rows, ["measure", "value"]));
  for (const s of r.steps.filter((s) => !s.ok)) say(`   FAILED: ${s.step}: ${s.error}`);
  for (const c of r.checks) say(`   check: ${c}`);
}

export function summaryBmv2(r: Bmv2ScaleResult): string {
  const x = bmv2Rates(r);
  const parts = [
    ok(r, "boot") ? `boot ${sec(r.boot!.readyMs)} (${r.boot!.peakRssMb.toFixed(0)} MB peak)` : "boot FAILED",
    x.ours !== undefined && x.cli !== undefined ? `${int(x.ours)} vs the CLI's ${int(x.cli)} entries/s = ${(x.ours / x.cli).toFixed(1)} x${r.baseline?.scaledDown ? ` (CLI at ${int(r.baseline.entries)})` : ""}` : ok(r, "baseline") ? "" : "baseline FAILED",
    ok(r, "adopt") ? `adopt-restart ${sec(r.adopt!.readyMs)}` : "adopt FAILED",
  ].filter(Boolean);
  return `bmv2 (${int(r.macs)} static MACs): ${parts.join("; ")}`;
}

// ---------------------------------------------------------------------------
// The probe: run inside a switch's network namespace (nsenter), it asks
// simple_switch over Thrift what its tables hold and prints one JSON line.
//   node --import tsx bench/bmv2-scale.ts --probe PORT [EXPECTED]
// EXPECTED: lines "vni mac kind flags vlan port remote" (entryLine()).

async function probeMain(port: number, expectFile: string | undefined): Promise<void> {
  const { Bmv2Runtime, fitWidth } = await import("../src/control/targets/bmv2/thrift/runtime.ts");
  const rt = await Bmv2Runtime.connect({ host: "127.0.0.1", port, waitForServer: true, replyTimeoutMs: 120_000 });
  try {
    const out: ProbeResult = { counts: {} };
    for (const t of ["fdb", "fdb_src", "ports", "vnis", "vteps", "nexthops", "replicas", "vlans", "mcast", "mcast_any", "mcast_mrouter"]) {
      try {
        out.counts[t] = await rt.getNumEntries(t);
      } catch {
        // not in this program
      }
    }
    try {
      out.preGroups = (await rt.mcGetEntries()).mgrps.length;
    } catch {
      // no PRE
    }
    if (expectFile) {
      const want = new Map<string, string>();
      for (const l of readFileSync(expectFile, "utf8").split("\n")) {
        if (!l) continue;
        const [vni, mac, ...data] = l.split(" ");
        want.set(`${vni} ${mac}`, data.join(" "));
      }
      const t0 = performance.now();
      const check = async (table: string): Promise<{ c: TableCheck; lives: { timeoutMs: number }[] }> => {
        const entries = await rt.getEntries(table);
        const c: TableCheck = { entries: entries.length, match: 0, wrong: 0, extra: 0, missing: 0 };
        const lives: { timeoutMs: number }[] = [];
        const seen = new Set<string>();
        for (const e of entries) {
          if (e.life) lives.push(e.life);
          const k = e.key;
          if (k.length !== 2 || k[0]!.kind !== "exact" || k[1]!.kind !== "exact" || e.action.kind !== "action") {
            c.wrong++;
            continue;
          }
          const vni = k[0]!.key.readUIntBE(0, k[0]!.key.length);
          const mac = [...fitWidth(k[1]!.key, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
          const id = `${vni} ${mac}`;
          const w = want.get(id);
          if (w === undefined) {
            c.extra++;
            continue;
          }
          seen.add(id);
          const d = e.action.data;
          const got =
            d.length === 5
              ? [fitWidth(d[0]!, 1)[0], fitWidth(d[1]!, 1)[0], fitWidth(d[2]!, 2).readUInt16BE(0), fitWidth(d[3]!, 4).readUInt32BE(0), [...fitWidth(d[4]!, 4)].join(".")].join(" ")
              : `${d.length} params`;
          if (e.action.name === `${table}_set` && got === w) c.match++;
          else {
            c.wrong++;
            c.firstWrong ??= `${id}: ${e.action.name} ${got}, expected ${w}`;
          }
        }
        c.missing = [...want.keys()].filter((id) => !seen.has(id)).length;
        return { c, lives };
      };
      out.fdb = (await check("fdb")).c;
      if (out.counts.fdb_src !== undefined) {
        const s = await check("fdb_src");
        out.fdbSrc = s.c;
        out.ttl = { withLife: s.lives.length, timeouts: [...new Set(s.lives.map((l) => l.timeoutMs))] };
      }
      out.readMs = performance.now() - t0;
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await rt.close();
  }
}

/** `--write PORT FILE fdb|src`: the file's entries as pipelined adds (and fdb_src + TTLs with src), timed. */
async function writeMain(port: number, file: string, what: string): Promise<void> {
  const { Bmv2Runtime, match } = await import("../src/control/targets/bmv2/thrift/runtime.ts");
  const es = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => l.split(" "));
  const u = (n: number, bytes: number) => {
    const b = Buffer.alloc(bytes);
    b.writeUIntBE(n, 0, bytes);
    return b;
  };
  const enc = es.map(([vni, mac, kind, flags, vlan, p, remote]) => ({
    key: [match.exact(u(Number(vni), 4)), match.exact(Buffer.from(mac!.split(":").map((x) => parseInt(x, 16))))],
    data: [u(Number(kind), 1), u(Number(flags), 1), u(Number(vlan), 2), u(Number(p), 4), Buffer.from(remote!.split(".").map(Number))],
  }));
  const rt = await Bmv2Runtime.connect({ host: "127.0.0.1", port, waitForServer: true, replyTimeoutMs: 120_000 });
  try {
    const t0 = performance.now();
    await Promise.all(enc.map((e) => rt.addEntry("fdb", e.key, "fdb_set", e.data)));
    const fdbMs = performance.now() - t0;
    const out: { fdbMs: number; srcMs?: number; ttlMs?: number; socketWrites: number } = { fdbMs, socketWrites: 0 };
    if (what === "src") {
      const t1 = performance.now();
      const handles = await Promise.all(enc.map((e) => rt.addEntry("fdb_src", e.key, "fdb_src_set", e.data)));
      out.srcMs = performance.now() - t1;
      const t2 = performance.now();
      await Promise.all(handles.map((h) => rt.setEntryTtl("fdb_src", h, TTL_MS)));
      out.ttlMs = performance.now() - t2;
    }
    out.socketWrites = rt.client.stats.socketWrites;
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await rt.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === "--write") {
  writeMain(Number(process.argv[3]), process.argv[4]!, process.argv[5] ?? "fdb").then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`write: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === "--probe") {
  probeMain(Number(process.argv[3]), process.argv[4]).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`probe: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

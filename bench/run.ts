// `npm run bench`: vxgate's fast path measured against baselines taken in the
// same run, reported as ratios (never asserted: machines differ, ratios travel).
//
//   1. per-packet cost: BPF_PROG_TEST_RUN of vxg_xdp_uplink (decap) and
//      vxg_xdp_access (encap) vs trivial XDP programs (bench/pkt-cost.ts)
//   2. throughput: packets/s across the lab fabric, vxgate vs the kernel's
//      VXLAN device + bridge on the same namespaces (bench/fabric-tput.ts)
//
// Options (after `npm run bench --`):
//   --only pkt|fabric     run one of the two (default both)
//   --repeat N            test-run repeat count per measurement (default 1000000)
//   --pkt-rounds N        per-packet rounds, median reported (default 7)
//   --rounds N            throughput rounds, each mode once per round (default 5)
//   --duration S          throughput window per measurement, seconds (default 5)
//   --warmup S            generator runs this long before the window (default 1)
//   --gen auto|trafgen|python   traffic generator (default auto: trafgen if installed)
//   --json FILE           also write every sample as JSON
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg, release, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { renderTable } from "../src/cli/table.ts";
import { runPktCost, type PktCostResult } from "./pkt-cost.ts";
import { runFabricTput, type GeneratorKind, type TputResult } from "./fabric-tput.ts";
import { fmt, fmtInt, max, median, min, spreadPct } from "./stats.ts";

const say = (s = "") => process.stdout.write(s + "\n");

function usage(): string {
  return `usage: npm run bench -- [--only pkt|fabric] [--repeat N] [--pkt-rounds N]
                        [--rounds N] [--duration S] [--warmup S]
                        [--gen auto|trafgen|python] [--json FILE]`;
}

function num(v: string | undefined, def: number, name: string, lo: number, hi: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`--${name} must be a number in ${lo}..${hi}, got ${v}`);
  return n;
}

function machine(): Record<string, string> {
  const c = cpus();
  let clang = "";
  try {
    clang = execFileSync("clang", ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
  } catch {
    /* reported as empty */
  }
  let jit = "?";
  try {
    jit = readFileSync("/proc/sys/net/core/bpf_jit_enable", "utf8").trim();
  } catch {
    /* unknown */
  }
  return {
    host: hostname(),
    bpfJit: jit,
    kernel: release(),
    cpu: `${c.length} x ${c[0]?.model ?? "?"}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    clang,
  };
}

function reportPkt(r: PktCostResult): void {
  const base = (via: string, name: string) => median(r.targets.find((t) => t.via === via && t.name.startsWith(name))!.ns);
  const rows = r.targets.map((t) => {
    const m = median(t.ns);
    const pass = base(t.via, "bench_pass");
    const ptx = base(t.via, "bench_parse_tx");
    return {
      program: t.name,
      via: t.via === "wrap" ? "harness" : "direct",
      "ns/pkt": fmt(m, 0),
      min: fmt(min(t.ns), 0),
      max: fmt(max(t.ns), 0),
      "x pass": fmt(m / pass, 2),
      "x parse_tx": fmt(m / ptx, 2),
      "ns over pass": fmt(m - pass, 0),
    };
  });
  say(renderTable(rows, ["program", "via", "ns/pkt", "min", "max", "x pass", "x parse_tx", "ns over pass"]));
  for (const c of r.checks) say(`   check: ${c}`);
}

function reportTput(r: TputResult): void {
  const modes = [
    { mode: "kernel", label: "kernel vxlan100 + br100" },
    { mode: "vxgate", label: "vxgate XDP (+TC)" },
    { mode: "wire", label: "wire (calibration)" },
  ] as const;
  const wireNs = 1e9 / r.median.wire.rxPps;
  const kernelFabricNs = 1e9 / r.median.kernel.rxPps - wireNs;
  const rows = modes.map(({ mode, label }) => {
    const xs = r.rounds.filter((x) => x.mode === mode).map((x) => x.rxPps);
    const m = median(xs);
    const fabricNs = 1e9 / m - wireNs;
    return {
      path: label,
      "rx pps (median)": fmtInt(m),
      min: fmtInt(min(xs)),
      max: fmtInt(max(xs)),
      spread: `${fmt(spreadPct(xs), 0)}%`,
      "x kernel": fmt(m / r.median.kernel.rxPps, 2),
      "ns/pkt": fmt(1e9 / m, 0),
      "fabric ns/pkt": mode === "wire" ? "-" : fmt(fabricNs, 0),
      "fabric x kernel": mode === "wire" ? "-" : fmt(kernelFabricNs / fabricNs, 2),
    };
  });
  say(renderTable(rows, ["path", "rx pps (median)", "min", "max", "spread", "x kernel", "ns/pkt", "fabric ns/pkt", "fabric x kernel"]));
  say("   ns/pkt = 1e9 / pps: generator + path + sink on one core. fabric ns/pkt = that minus the wire's,");
  say("   i.e. switch A + spine + switch B; 'fabric x kernel' = how many times cheaper than the kernel's.");
  say("");
  const pr = r.paired;
  say(
    renderTable(
      [
        ...pr.map((p) => ({ round: String(p.round), "vxgate/kernel pps": fmt(p.pps, 2), "kernel/vxgate fabric ns": fmt(p.fabric, 2) })),
        {
          round: "median",
          "vxgate/kernel pps": fmt(median(pr.map((p) => p.pps)), 2),
          "kernel/vxgate fabric ns": fmt(median(pr.map((p) => p.fabric)), 2),
        },
      ],
      ["round", "vxgate/kernel pps", "kernel/vxgate fabric ns"],
    ),
  );
  say("   (paired per round: both modes measured back to back, so slow drift in the machine's load cancels)");
  for (const c of r.checks) say(`   check: ${c}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      repeat: { type: "string" },
      "pkt-rounds": { type: "string" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      gen: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    say(usage());
    return 0;
  }
  if (process.getuid?.() !== 0) {
    say("npm run bench needs root (network namespaces, BPF, XDP)");
    return 2;
  }
  const only = values.only;
  if (only !== undefined && only !== "pkt" && only !== "fabric") throw new Error(`--only must be pkt or fabric\n${usage()}`);
  const gen = values.gen ?? "auto";
  if (!["auto", "trafgen", "python"].includes(gen)) throw new Error(`--gen must be auto, trafgen or python\n${usage()}`);
  const repeat = num(values.repeat, 1_000_000, "repeat", 1000, 100_000_000);
  const pktRounds = num(values["pkt-rounds"], 7, "pkt-rounds", 1, 100);
  const rounds = num(values.rounds, 5, "rounds", 1, 50);
  const durationS = num(values.duration, 5, "duration", 0.5, 60);
  const warmupS = num(values.warmup, 1, "warmup", 0, 10);

  const m = machine();
  const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
  say(`== vxgate bench  (${new Date().toISOString()})`);
  say(`   ${m.cpu}, ${m.memory}, kernel ${m.kernel}, bpf_jit_enable=${m.bpfJit}, node ${m.node}, ${m.clang}`);
  say(`   load average at start: ${load()} (anything else running skews the numbers; the ratios less so)`);
  const out: { machine: Record<string, string>; loadStart: string; loadEnd?: string; pkt?: PktCostResult; fabric?: TputResult } = {
    machine: m,
    loadStart: load(),
  };
  const log = (s: string) => say(s);

  if (only !== "fabric") {
    say("\n== 1. per-packet cost (BPF_PROG_TEST_RUN, kernel-reported mean ns per run)");
    out.pkt = await runPktCost({ repeat, rounds: pktRounds, log });
    say("");
    reportPkt(out.pkt);
  }
  if (only !== "pkt") {
    say("\n== 2. throughput across the fabric: host A -> switch A -> spine -> switch B -> host B");
    out.fabric = await runFabricTput({ rounds, durationS, warmupS, gen: gen as GeneratorKind | "auto", log });
    say("");
    reportTput(out.fabric);
  }
  out.loadEnd = load();
  say(`\n== summary (ratios against baselines measured in this run; load average at end: ${out.loadEnd})`);
  if (out.pkt) {
    const med = (n: string) => median(out.pkt!.targets.find((t) => t.via === "wrap" && t.name.startsWith(n))!.ns);
    const pass = med("bench_pass");
    say(`   decap vxg_xdp_uplink: ${fmt(med("vxg_xdp_uplink"), 0)} ns/pkt = ${fmt(med("vxg_xdp_uplink") / pass, 2)} x bench_pass (${fmt(pass, 0)} ns)`);
    say(`   encap vxg_xdp_access: ${fmt(med("vxg_xdp_access"), 0)} ns/pkt = ${fmt(med("vxg_xdp_access") / pass, 2)} x bench_pass`);
  }
  if (out.fabric) {
    const f = out.fabric.median;
    const wireNs = 1e9 / f.wire.rxPps;
    const pr = out.fabric.paired;
    say(
      `   fabric: vxgate ${fmtInt(f.vxgate.rxPps)} pps vs kernel ${fmtInt(f.kernel.rxPps)} pps (medians) = ${fmt(f.vxgate.rxPps / f.kernel.rxPps, 2)} x; ` +
        `per-round paired ratio median ${fmt(median(pr.map((p) => p.pps)), 2)} x (${fmt(min(pr.map((p) => p.pps)), 2)}..${fmt(max(pr.map((p) => p.pps)), 2)})`,
    );
    say(
      `   fabric cost without generator/sink: ${fmt((1e9 / f.kernel.rxPps - wireNs) / (1e9 / f.vxgate.rxPps - wireNs), 2)} x cheaper with vxgate (medians); ` +
        `paired median ${fmt(median(pr.map((p) => p.fabric)), 2)} x (${fmt(min(pr.map((p) => p.fabric)), 2)}..${fmt(max(pr.map((p) => p.fabric)), 2)})`,
    );
  }
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(out, null, 2) + "\n");
    say(`\n   samples written to ${values.json}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);

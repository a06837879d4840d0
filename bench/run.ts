// `npm run bench`: vxgate's fast path measured against baselines taken in the
// same run, reported as ratios (never asserted: machines differ, ratios travel).
//
//   1. per-packet cost: BPF_PROG_TEST_RUN of vxg_xdp_uplink (decap) and
//      vxg_xdp_access (encap) vs trivial XDP programs (bench/pkt-cost.ts)
//   2. throughput: packets/s across the lab fabric, vxgate vs the kernel's
//      VXLAN device + bridge on the same namespaces (bench/fabric-tput.ts)
//   3. EVPN routes/s from the wire into the forwarding table: an injector (the
//      blaster, bench/bgp-blaster.ts, pre-encoded UPDATE streams one or many
//      NLRIs per UPDATE; or GoBGP) sends type-2 routes to vxgate, to FRR
//      (zebra + kernel VXLAN) and to a null receiver; install, withdrawal and
//      session-loss flush (bench/evpn-routes.ts), then a control-plane restart
//      of vxgate with every route installed; only with --only routes
//   4. local MACs into EVPN: a burst of distinct source MACs into an access
//      port, until a BGP peer has a type-2 route for each; vxgate vs FRR (a
//      kernel bridge learning, zebra + bgpd advertising) in the same run
//      (bench/local-learning.ts); only with --only learning
//   5. scale: a config with 100k static MACs through the CLI: check, boot
//      until the entries are in the map, adopt-restart, `show fdb --json | wc -c`
//      (bench/scale.ts); only with --only scale
//   6. multicast: copies/s of the group replication loop (TC, bpf_loop +
//      bpf_clone_redirect) for groups of 1, 8 and 32 remote members, vs the
//      kernel's bridge + VXLAN (head-end all-zeros FDB, and per-group VXLAN
//      MDB entries) on the same namespaces (bench/mcast-tput.ts); only with --only mcast
//   7. bmv2: the scale config on `vxgate run --target bmv2`: boot until simple_switch
//      holds every entry (checked in bmv2 itself), adopt-restart, RSS; the same
//      entries through the stock simple_switch_CLI as baseline (bench/bmv2-scale.ts);
//      only with --only bmv2
//   8. mobility: the lab fabric (FRR route reflector), a host moved between two
//      switches N times; ms from its gratuitous ARP to the last switch's FDB
//      entry, split by BGP captured on the spine (bench/mobility.ts); only with
//      --only mobility
//   9. decode: received EVPN UPDATEs decoded in this process, the speaker's
//      fast path vs the full decoder (+ route keys), one and many NLRIs per
//      UPDATE, the same keys checked (bench/update-decode.ts); only with --only decode
//  10. massmove: N hosts move at once between two lab switches, both links up
//      (the old switch checks each MAC), ms until every switch has all of them
//      at the new place (bench/mass-move.ts); only with --only massmove
//
// Options (after `npm run bench --`):
//   --only PART[,PART...]  run these parts, in this order: pkt|fabric|routes|learning|scale|mcast|bmv2|mobility|decode|massmove
//                         (default: pkt and fabric)
//   --repeat N            test-run repeat count per measurement (default 1000000)
//   --pkt-rounds N        per-packet rounds, median reported (default 7)
//   --rounds N            throughput rounds, each mode once per round (default 5)
//   --duration S          throughput window per measurement, seconds (default 5)
//   --warmup S            generator runs this long before the window (default 1)
//   --gen auto|trafgen|python   traffic generator (default auto: trafgen if installed)
//   --flows N[,N...]      fabric part: inner flows of each measurement, one after the other (default 1,64)
//   --routes N            type-2 routes of the routes part's full phase (default 100000)
//   --small N             routes of its small phase, run first (default 20000; 0 = none)
//   --small-rounds N      small-phase rounds (default 3)
//   --route-rounds N      full-phase rounds (default 3: the 100k figures are medians, one-route-per-UPDATE installs move from round to round)
//   --sessions K          BGP sessions per receiver: blaster sessions or gobgpd instances (default 5)
//   --injector blaster|gobgp   who sends the routes part's routes (default blaster)
//   --blast-mode one|many|both NLRIs per UPDATE from the blaster (default both, one mode at a time)
//   --route-timeout S     bound on each wait for a table to fill or empty (default 120)
//   --cpu-prof DIR        write a V8 CPU profile of the vxgate process (routes part; no restart step then)
//   --no-restart          routes part: leave out the control-plane restart with every route installed
//   --macs N[,N...]       burst sizes of the learning part (default 5000,20000,100000)
//   --learning-rounds N   rounds per burst size and device (default 3)
//   --scale-macs N        static MACs of the scale part's config (default 100000)
//   --vxgate-root DIR     scale part: measure the CLI of another checkout (default: this one)
//   --members N[,N...]    mcast part: remote members per group, one group each (default 1,8,32)
//   --no-mdb              mcast part: leave out the kernel with VXLAN MDB entries
//   --bmv2-macs N         static MACs of the bmv2 part's config (default 100000)
//   --moves N             mobility part: moves of the host (default 10)
//   --reflector frr|gobgp mobility part: the spine's route reflector (default frr, the lab's)
//   --decode-rounds N     decode part: passes over each stream per decoder, median reported (default 15)
//   --hosts N             massmove part: hosts that move at once (default 2000)
//   --json FILE           also write every sample as JSON
//
// A part that fails is reported as FAILED (with the reason) and the next part
// runs; within a part, a failed round or baseline is retried once where a
// round can be (routes), else reported as FAILED and never turned into a
// ratio; the JSON marks it ("failed"). Each part removes its namespaces,
// processes and pins whether it succeeded or not. The exit code is 1 when
// anything failed, decided after every part ran.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg, release, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { renderTable } from "../src/cli/table.ts";
import { runPktCost, type PktCostResult } from "./pkt-cost.ts";
import { runFabricTput, type GeneratorKind, type TputResult } from "./fabric-tput.ts";
import { runEvpnRoutes, type BlastMode, type Injector, type RoutesResult } from "./evpn-routes.ts";
import { failedRounds, reportRoutes, summaryRoutes } from "./routes-report.ts";
import { runLocalLearning, type LearningResult } from "./local-learning.ts";
import { runScale, type ScaleResult } from "./scale.ts";
import { reportBmv2, runBmv2Scale, summaryBmv2, type Bmv2ScaleResult } from "./bmv2-scale.ts";
import { reportMobility, runMobility, type MobilityResult } from "./mobility.ts";
import { reportUpdateDecode, runUpdateDecode, type DecodeSample } from "./update-decode.ts";
import { runMassMove, type MassMoveResult } from "./mass-move.ts";
import { marginalNsPerCopy, medianCopies, runMcastTput, type McastMode, type McastResult } from "./mcast-tput.ts";
import { fmt, fmtInt, max, median, min, spreadPct } from "./stats.ts";

const say = (s = "") => process.stdout.write(s + "\n");

function usage(): string {
  return `usage: npm run bench -- [--only PART[,PART...]] [--repeat N] [--pkt-rounds N]
                        [--rounds N] [--duration S] [--warmup S]
                        [--gen auto|trafgen|python] [--flows N[,N...]]
                        [--routes N] [--small N] [--small-rounds N] [--route-rounds N]
                        [--sessions K] [--injector blaster|gobgp] [--blast-mode one|many|both]
                        [--route-timeout S] [--cpu-prof DIR] [--no-restart]
                        [--macs N[,N...]] [--learning-rounds N]
                        [--scale-macs N] [--vxgate-root DIR] [--members N[,N...]] [--no-mdb]
                        [--bmv2-macs N] [--moves N] [--reflector frr|gobgp] [--decode-rounds N] [--hosts N]
                        [--json FILE]
PART: pkt|fabric|routes|learning|scale|mcast|bmv2|mobility|decode|massmove`;
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

function reportMcast(r: McastResult): void {
  const label: Record<McastMode, string> = { vxgate: "vxgate (TC group list)", kernel: "kernel bridge+vxlan, all-zeros FDB", "kernel-mdb": "kernel bridge+vxlan, VXLAN MDB" };
  const rows = r.members.flatMap((n) =>
    r.modes.map((mode) => {
      const all = r.samples.filter((s) => s.mode === mode && s.members === n);
      const ok = all.filter((s) => s.ok);
      const c = ok.map((s) => s.copiesPps);
      const m = median(c);
      return {
        N: String(n),
        path: label[mode],
        rounds: `${ok.length}${all.length > ok.length ? ` (+${all.length - ok.length} FAILED)` : ""}`,
        "copies/s (median)": fmtInt(m),
        min: fmtInt(min(c)),
        max: fmtInt(max(c)),
        "in pps": fmtInt(median(ok.map((s) => s.inPps))),
        "copies/in": fmt(median(ok.map((s) => s.copiesPerIn)), 3),
        "x kernel": fmt(m / medianCopies(r, "kernel", n), 2),
        "x mdb": r.modes.includes("kernel-mdb") ? fmt(m / medianCopies(r, "kernel-mdb", n), 2) : "-",
        "ns/copy": fmt(1e9 / m, 0),
      };
    }),
  );
  say(renderTable(rows, ["N", "path", "rounds", "copies/s (median)", "min", "max", "in pps", "copies/in", "x kernel", "x mdb", "ns/copy"]));
  say("   copies/s = VXLAN copies arriving at the sink per second; in pps = group frames the switch took in on h1;");
  say("   ns/copy = 1e9 / copies/s: generator + switch + sink on one core, shared by the N copies of each frame.");
  say("");
  const pr = r.paired;
  const fmtOpt = (x: number | undefined) => (x === undefined ? "-" : fmt(x, 2));
  say(
    renderTable(
      r.members.map((n) => {
        const xs = pr.filter((p) => p.members === n);
        const k = xs.flatMap((p) => (p.vsKernel === undefined ? [] : [p.vsKernel]));
        const m = xs.flatMap((p) => (p.vsMdb === undefined ? [] : [p.vsMdb]));
        return {
          N: String(n),
          "vxgate/kernel per round": xs.map((p) => fmtOpt(p.vsKernel)).join(" "),
          "median (range)": k.length ? `${fmt(median(k), 2)} (${fmt(min(k), 2)}..${fmt(max(k), 2)})` : "-",
          "vxgate/kernel-mdb per round": xs.map((p) => fmtOpt(p.vsMdb)).join(" "),
          "median (range) ": m.length ? `${fmt(median(m), 2)} (${fmt(min(m), 2)}..${fmt(max(m), 2)})` : "-",
        };
      }),
      ["N", "vxgate/kernel per round", "median (range)", "vxgate/kernel-mdb per round", "median (range) "],
    ),
  );
  say("   (paired per round: copies/s of both, measured in the same round)");
  if (r.members.length > 1) {
    const lo = r.members[0]!;
    const hi = r.members[r.members.length - 1]!;
    say("");
    say(
      renderTable(
        r.modes.map((mode) => {
          const rounds = [...new Set(r.samples.map((s) => s.round))];
          const xs = rounds.flatMap((round) => {
            const x = marginalNsPerCopy(r.samples, mode, round);
            return x === undefined ? [] : [x];
          });
          const diff = rounds.flatMap((round) => {
            const x = marginalNsPerCopy(r.samples, mode, round);
            const v = marginalNsPerCopy(r.samples, "vxgate", round);
            return x === undefined || v === undefined ? [] : [x - v];
          });
          return {
            path: label[mode],
            [`ns per extra copy (N=${lo}..${hi}), median`]: fmt(median(xs), 0),
            "min..max": `${fmt(min(xs), 0)}..${fmt(max(xs), 0)}`,
            "minus vxgate's, paired median (range)": mode === "vxgate" ? "-" : `${fmt(median(diff), 0)} (${fmt(min(diff), 0)}..${fmt(max(diff), 0)})`,
          };
        }),
        ["path", `ns per extra copy (N=${lo}..${hi}), median`, "min..max", "minus vxgate's, paired median (range)"],
      ),
    );
    say(`   = (1e9/in pps at N=${hi} - 1e9/in pps at N=${lo}) / ${hi - lo} per round: one more copy, generator and the frame's own receive left out (the sink's receive of the copy is in)`);
    const sinkNs = r.wire.map((w) => w.sinkNs);
    if (sinkNs.length) {
      say("");
      say(
        renderTable(
          r.wire.map((w) => ({ round: String(w.round), "sink pps": fmtInt(w.sinkPps), "peer down pps": fmtInt(w.downPps), "hand-off + sink ns/copy": fmt(w.sinkNs, 0) })),
          ["round", "sink pps", "peer down pps", "hand-off + sink ns/copy"],
        ),
      );
      say("   wire: a copy's bytes from the generator into a sink like the switch's, and into a veth whose peer is down;");
      say("   the difference is what handing a copy to the uplink veth and receiving it at the sink costs, in every mode alike.");
      const own = (mode: McastMode) =>
        r.wire.flatMap((w) => {
          const x = marginalNsPerCopy(r.samples, mode, w.round);
          return x === undefined ? [] : [{ round: w.round, ns: x - w.sinkNs }];
        });
      say("");
      say(
        renderTable(
          r.modes.map((mode) => {
            const xs = own(mode).map((x) => x.ns);
            return { path: label[mode], "switch's own ns per copy, median": fmt(median(xs), 0), "min..max": `${fmt(min(xs), 0)}..${fmt(max(xs), 0)}` };
          }),
          ["path", "switch's own ns per copy, median", "min..max"],
        ),
      );
      say("   = ns per extra copy less the round's hand-off + sink ns: the replication work itself (clone, encapsulation, route, xmit call);");
      say("   a difference of differences measured seconds apart: an estimate, noisier than the figures it comes from");
    }
  }
  for (const s of r.samples.filter((x) => !x.ok)) say(`   FAILED: round ${s.round} ${s.mode} N=${s.members}: ${s.why}`);
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
      routes: { type: "string" },
      small: { type: "string" },
      "small-rounds": { type: "string" },
      "route-rounds": { type: "string" },
      sessions: { type: "string" },
      injector: { type: "string" },
      "blast-mode": { type: "string" },
      "route-timeout": { type: "string" },
      "cpu-prof": { type: "string" },
      "decode-rounds": { type: "string" },
      hosts: { type: "string" },
      macs: { type: "string" },
      "learning-rounds": { type: "string" },
      "scale-macs": { type: "string" },
      "vxgate-root": { type: "string" },
      members: { type: "string" },
      "no-mdb": { type: "boolean" },
      "no-restart": { type: "boolean" },
      "bmv2-macs": { type: "string" },
      flows: { type: "string" },
      moves: { type: "string" },
      reflector: { type: "string" },
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
  const PARTS = ["pkt", "fabric", "routes", "learning", "scale", "mcast", "bmv2", "mobility", "decode", "massmove"] as const;
  type Part = (typeof PARTS)[number];
  const parts = (values.only ?? "pkt,fabric").split(",") as Part[];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--only takes ${PARTS.join(", ")} (comma-separated), got ${p}\n${usage()}`);
  const injector = (values.injector ?? "blaster") as Injector;
  if (injector !== "blaster" && injector !== "gobgp") throw new Error(`--injector must be blaster or gobgp\n${usage()}`);
  const blastMode = values["blast-mode"] ?? "both";
  if (!["one", "many", "both"].includes(blastMode)) throw new Error(`--blast-mode must be one, many or both\n${usage()}`);
  const blastModes: BlastMode[] = blastMode === "both" ? ["one", "many"] : [blastMode as BlastMode];
  const gen = values.gen ?? "auto";
  if (!["auto", "trafgen", "python"].includes(gen)) throw new Error(`--gen must be auto, trafgen or python\n${usage()}`);
  const repeat = num(values.repeat, 1_000_000, "repeat", 1000, 100_000_000);
  const pktRounds = num(values["pkt-rounds"], 7, "pkt-rounds", 1, 100);
  const rounds = num(values.rounds, 5, "rounds", 1, 50);
  const durationS = num(values.duration, 5, "duration", 0.5, 60);
  const warmupS = num(values.warmup, 1, "warmup", 0, 10);
  const routes = num(values.routes, 100_000, "routes", 1, 1_000_000);
  const small = num(values.small, 20_000, "small", 0, 1_000_000);
  const smallRounds = num(values["small-rounds"], 3, "small-rounds", 0, 20);
  const routeRounds = num(values["route-rounds"], 3, "route-rounds", 0, 20);
  const sessions = num(values.sessions, 5, "sessions", 1, 50);
  const routeTimeoutS = num(values["route-timeout"], 120, "route-timeout", 5, 1800);
  const macs = (values.macs ?? "5000,20000,100000").split(",").map((x) => num(x, 0, "macs", 1, 1_000_000));
  const learningRounds = num(values["learning-rounds"], 3, "learning-rounds", 1, 20);
  const scaleMacs = num(values["scale-macs"], 100_000, "scale-macs", 1, 4_000_000);
  const bmv2Macs = num(values["bmv2-macs"], 100_000, "bmv2-macs", 1, 1_000_000);
  const moves = num(values.moves, 10, "moves", 1, 100);
  const decodeRounds = num(values["decode-rounds"], 15, "decode-rounds", 1, 1000);
  const hosts = num(values.hosts, 2000, "hosts", 1, 60000);
  const flows = (values.flows ?? "1,64").split(",").map((x) => num(x, 1, "flows", 1, 200));
  const reflector = values.reflector ?? "frr";
  if (reflector !== "frr" && reflector !== "gobgp") throw new Error(`--reflector must be frr or gobgp\n${usage()}`);
  const members = (values.members ?? "1,8,32").split(",").map((x) => num(x, 0, "members", 1, 254));

  const m = machine();
  const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
  say(`== vxgate bench  (${new Date().toISOString()})`);
  say(`   ${m.cpu}, ${m.memory}, kernel ${m.kernel}, bpf_jit_enable=${m.bpfJit}, node ${m.node}, ${m.clang}`);
  say(`   load average at start: ${load()} (anything else running skews the numbers; the ratios less so)`);
  const out: { machine: Record<string, string>; loadStart: string; loadEnd?: string; pkt?: PktCostResult; fabric?: TputResult[]; routes?: RoutesResult; learning?: LearningResult; scale?: ScaleResult; mcast?: McastResult; bmv2?: Bmv2ScaleResult; mobility?: MobilityResult; decode?: DecodeSample[]; massMove?: MassMoveResult; failures?: { part: string; reason: string }[] } = {
    machine: m,
    loadStart: load(),
  };
  const log = (s: string) => say(s);

  /** parts that failed: reported, the next part still runs, the exit code says so at the end */
  const failures: { part: Part; reason: string }[] = [];
  const runPart = async (part: Part, title: string, body: () => Promise<void>) => {
    say(`\n== ${title}`);
    try {
      await body();
    } catch (e) {
      const reason = String((e as Error)?.message ?? e);
      failures.push({ part, reason });
      say(`\n   part ${part} FAILED: ${reason.split("\n")[0]}`);
      const more = reason.split("\n").slice(1, 40).join("\n");
      if (more) say(more.replace(/^/gm, "     "));
      if ((e as Error)?.stack) process.stderr.write(`${part}: ${(e as Error).stack}\n`);
    }
  };
  for (const part of parts) {
    switch (part) {
      case "pkt":
        await runPart(part, "1. per-packet cost (BPF_PROG_TEST_RUN, kernel-reported mean ns per run)", async () => {
          out.pkt = await runPktCost({ repeat, rounds: pktRounds, log });
          say("");
          reportPkt(out.pkt);
        });
        break;
      case "fabric":
        for (const n of flows)
          await runPart(part, `2. throughput across the fabric: host A -> switch A -> spine -> switch B -> host B, ${n === 1 ? "one flow" : `${n} flows`}`, async () => {
            const r = await runFabricTput({ rounds, durationS, warmupS, gen: gen as GeneratorKind | "auto", flows: n, log });
            (out.fabric ??= []).push(r);
            say("");
            reportTput(r);
          });
        break;
      case "routes": {
        const who = injector === "gobgp" ? `gobgpd x ${sessions}` : `blaster (${sessions} sessions; ${blastModes.join(", then ")} NLRI per UPDATE)`;
        await runPart(part, `3. EVPN routes from the wire into the forwarding table: ${who} -> vxgate | FRR | null receiver`, async () => {
          out.routes = await runEvpnRoutes({ routes, small, smallRounds, rounds: routeRounds, sessions, injector, blastModes, timeoutS: routeTimeoutS, cpuProf: values["cpu-prof"], restart: !values["no-restart"], log });
          say("");
          reportRoutes(out.routes, say);
          const bad = failedRounds(out.routes);
          if (bad.length) failures.push({ part, reason: `${bad.length} round(s) FAILED: ${[...new Set(bad.map((x) => `${x.receiver}${x.mode ? ` ${x.mode}` : ""}: ${x.failed ?? "incomplete"}`))].join("; ")}` });
          if (out.routes.restart?.failed) failures.push({ part, reason: `restart with the routes installed FAILED: ${out.routes.restart.failed}` });
        });
        break;
      }
      case "learning":
        await runPart(part, "4. local MACs into BGP EVPN: a burst of new source MACs -> type-2 routes at a BGP peer, vxgate vs FRR", async () => {
          out.learning = await runLocalLearning({ macs, rounds: learningRounds, timeoutS: routeTimeoutS, log });
          const bad = out.learning.rounds.filter((r) => !r.complete);
          if (bad.length) failures.push({ part, reason: `${bad.length} round(s) incomplete: ${[...new Set(bad.map((r) => r.dut))].join(", ")}` });
        });
        break;
      case "scale":
        await runPart(part, `5. scale: ${scaleMacs.toLocaleString("en-US")} static MACs through the CLI (check, boot, adopt-restart, show fdb)`, async () => {
          out.scale = await runScale({ macs: scaleMacs, root: values["vxgate-root"], timeoutS: routeTimeoutS, log });
          for (const c of out.scale.checks) say(`   check: ${c}`);
        });
        break;
      case "mcast":
        await runPart(part, `6. multicast: copies/s of the group replication loop, ${members.join(", ")} remote members, vxgate vs the kernel's bridge + VXLAN`, async () => {
          out.mcast = await runMcastTput({ rounds, durationS, warmupS, gen: gen as GeneratorKind | "auto", members, mdb: !values["no-mdb"], log });
          say("");
          reportMcast(out.mcast);
          const bad = out.mcast.samples.filter((x) => !x.ok);
          if (bad.length) failures.push({ part, reason: `${bad.length} measurement(s) FAILED: ${[...new Set(bad.map((x) => `${x.mode} N=${x.members}`))].join(", ")}` });
        });
        break;
      case "bmv2":
        await runPart(part, `7. bmv2: ${bmv2Macs.toLocaleString("en-US")} static MACs on --target bmv2 (boot, adopt-restart) vs the same entries through simple_switch_CLI`, async () => {
          out.bmv2 = await runBmv2Scale({ macs: bmv2Macs, timeoutS: routeTimeoutS, log });
          say("");
          reportBmv2(out.bmv2, say);
        });
        break;
      case "mobility":
        await runPart(part, `8. mobility: a host moved ${moves} times between two lab switches, EVPN through ${reflector === "frr" ? "FRR bgpd" : "GoBGP"} on the spine`, async () => {
          out.mobility = await runMobility({ moves, reflector, log });
          say("");
          reportMobility(out.mobility, say);
        });
        break;
      case "decode":
        await runPart(part, `9. decode: ${routes.toLocaleString("en-US")} type-2 routes of received UPDATEs, the speaker's fast path vs the full decoder`, async () => {
          out.decode = runUpdateDecode({ routes, rounds: decodeRounds, log });
          say("");
          reportUpdateDecode(out.decode, say);
        });
        break;
      case "massmove":
        await runPart(part, `10. mass move: ${hosts.toLocaleString("en-US")} hosts move at once between two lab switches, EVPN through ${reflector === "frr" ? "FRR bgpd" : "GoBGP"} on the spine`, async () => {
          out.massMove = await runMassMove({ hosts, reflector, timeoutS: routeTimeoutS, log });
        });
        break;
    }
  }
  out.failures = failures;
  out.loadEnd = load();
  say(`\n== summary (ratios against baselines measured in this run; load average at end: ${out.loadEnd})`);
  if (out.pkt) {
    const med = (n: string) => median(out.pkt!.targets.find((t) => t.via === "wrap" && t.name.startsWith(n))!.ns);
    const pass = med("bench_pass");
    say(`   decap vxg_xdp_uplink: ${fmt(med("vxg_xdp_uplink"), 0)} ns/pkt = ${fmt(med("vxg_xdp_uplink") / pass, 2)} x bench_pass (${fmt(pass, 0)} ns)`);
    say(`   encap vxg_xdp_access: ${fmt(med("vxg_xdp_access"), 0)} ns/pkt = ${fmt(med("vxg_xdp_access") / pass, 2)} x bench_pass`);
  }
  for (const fr of out.fabric ?? []) {
    const f = fr.median;
    const wireNs = 1e9 / f.wire.rxPps;
    const pr = fr.paired;
    say(
      `   fabric, ${fr.flows === 1 ? "one flow" : `${fr.flows} flows`}: vxgate ${fmtInt(f.vxgate.rxPps)} pps vs kernel ${fmtInt(f.kernel.rxPps)} pps (medians) = ${fmt(f.vxgate.rxPps / f.kernel.rxPps, 2)} x; ` +
        `per-round paired ratio median ${fmt(median(pr.map((p) => p.pps)), 2)} x (${fmt(min(pr.map((p) => p.pps)), 2)}..${fmt(max(pr.map((p) => p.pps)), 2)})`,
    );
    say(
      `   fabric cost without generator/sink: ${fmt((1e9 / f.kernel.rxPps - wireNs) / (1e9 / f.vxgate.rxPps - wireNs), 2)} x cheaper with vxgate (medians); ` +
        `paired median ${fmt(median(pr.map((p) => p.fabric)), 2)} x (${fmt(min(pr.map((p) => p.fabric)), 2)}..${fmt(max(pr.map((p) => p.fabric)), 2)})`,
    );
  }
  if (out.routes) for (const l of summaryRoutes(out.routes)) say(l);
  if (out.learning) {
    for (const n of macs) {
      const ms = (dut: "vxgate" | "frr") => median(out.learning!.rounds.filter((r) => r.dut === dut && r.macs === n && r.complete).map((r) => r.advertisedMs));
      say(`   learning (${fmtInt(n)} new MACs): vxgate ${fmt(ms("vxgate"), 0)} ms vs FRR ${fmt(ms("frr"), 0)} ms to advertise them all (medians) = ${fmt(ms("frr") / ms("vxgate"), 2)} x faster`);
    }
  }
  if (out.mcast) {
    for (const n of out.mcast.members) {
      const v = medianCopies(out.mcast, "vxgate", n);
      const k = medianCopies(out.mcast, "kernel", n);
      const md = out.mcast.modes.includes("kernel-mdb") ? medianCopies(out.mcast, "kernel-mdb", n) : NaN;
      const pk = out.mcast.paired.filter((p) => p.members === n && p.vsKernel !== undefined).map((p) => p.vsKernel!);
      say(
        `   mcast N=${n}: vxgate ${fmtInt(v)} copies/s vs kernel ${fmtInt(k)} (FDB)${Number.isFinite(md) ? ` / ${fmtInt(md)} (MDB)` : ""} copies/s (medians) = ${fmt(v / k, 2)} x; ` +
          `paired median ${fmt(median(pk), 2)} x (${fmt(min(pk), 2)}..${fmt(max(pk), 2)})`,
      );
    }
    const failed = out.mcast.samples.filter((s) => !s.ok).length;
    if (failed) say(`   mcast: ${failed} measurement(s) FAILED (see above) and are not in these figures`);
  }
  if (out.bmv2) say(`   ${summaryBmv2(out.bmv2)}`);
  if (out.mobility) say(`   mobility: median ${fmt(out.mobility.medianMs, 1)} ms from the gratuitous ARP to the last switch's entry over ${out.mobility.moves.length} moves (${fmt(out.mobility.minMs, 1)}..${fmt(out.mobility.maxMs, 1)}), reflector ${reflector}`);
  if (out.decode) for (const d of out.decode) say(`   decode (${fmtInt(d.routes)} type-2, ${d.mode} per UPDATE): fast path ${fmt((median(d.fastMs) * 1e6) / d.routes, 0)} ns/route, the full decoder + keys ${fmt(median(d.fullMs) / median(d.fastMs), 1)} x that`);
  if (out.massMove) say(`   mass move: ${fmtInt(out.massMove.hosts)} hosts moved at once, on every switch after ${fmt(out.massMove.convergenceMs, 0)} ms (learned in ${fmt(out.massMove.learnMs, 0)} ms), reflector ${out.massMove.reflector}`);
  for (const f of failures) say(`   ${f.part}: FAILED: ${f.reason.split("\n")[0]}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(out, null, 2) + "\n");
    say(`\n   samples written to ${values.json}`);
  }
  if (failures.length) say(`\n   ${failures.length} part(s) had failures (above); exit code 1`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);

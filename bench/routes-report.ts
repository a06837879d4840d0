// Part 3's figures from its rounds (bench/evpn-routes.ts): medians per phase,
// injector mode and receiver over the rounds that completed, ratios to FRR
// only where both sides have figures, and whether the injector is fast enough
// for the receivers' figures to be theirs. Pure (no I/O) so that the rules —
// a failed round gives no figure, a failed baseline gives no ratio — are
// unit-tested (test/unit/bench-routes-report.test.ts).
import { renderTable } from "../src/cli/table.ts";
import type { BlastMode, Receiver, RoutesResult, RoutesRound } from "./evpn-routes.ts";
import { fmt, fmtInt, max, median, min } from "./stats.ts";

/** the injector is "well above" a receiver when its null-receiver rate is at least this many times the receiver's */
export const WELL_ABOVE = 2;

export interface ReceiverFigures {
  /** rounds that completed */
  ok: number;
  /** why each failed round failed */
  failed: string[];
  installS: number[];
  /** medians, NaN when no round completed */
  routesPerS: number;
  withdrawPerS: number;
  flushPerS: number;
}

export interface RoutesGroup {
  phase: "small" | "full";
  routes: number;
  /** "one" | "many" for the blaster, "gobgp" for gobgpd */
  mode: BlastMode | "gobgp";
  by: Record<Receiver, ReceiverFigures>;
  /** vxgate / FRR, medians; undefined when either has no completed round */
  ratio?: { install: number; withdraw?: number; flush?: number };
  /** what the null receiver says about the injector, for this group */
  injector: { verdict: "well-above" | "lower-bound" | "unknown"; line: string };
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function figures(rounds: RoutesRound[]): ReceiverFigures {
  const ok = rounds.filter((x) => x.complete && !x.failed);
  return {
    ok: ok.length,
    failed: rounds.filter((x) => !x.complete || x.failed).map((x) => x.failed ?? "incomplete"),
    installS: ok.map((x) => x.installMs / 1000),
    routesPerS: median(ok.map((x) => x.routesPerS)),
    withdrawPerS: median(ok.flatMap((x) => (finite(x.withdrawRoutesPerS) ? [x.withdrawRoutesPerS] : []))),
    flushPerS: median(ok.flatMap((x) => (finite(x.flushRoutesPerS) ? [x.flushRoutesPerS] : []))),
  };
}

const ratioOf = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined);

export function summarizeRoutes(rounds: readonly RoutesRound[]): RoutesGroup[] {
  const keys: string[] = [];
  for (const r of rounds) {
    const k = `${r.phase}|${r.mode ?? "gobgp"}`;
    if (!keys.includes(k)) keys.push(k);
  }
  return keys.map((k) => {
    const [phase, mode] = k.split("|") as ["small" | "full", BlastMode | "gobgp"];
    const of = (rcv: Receiver) => rounds.filter((x) => x.phase === phase && (x.mode ?? "gobgp") === mode && x.receiver === rcv);
    const by = { sink: figures(of("sink")), vxgate: figures(of("vxgate")), frr: figures(of("frr")) };
    const install = ratioOf(by.vxgate.routesPerS, by.frr.routesPerS);
    const ratio = install === undefined ? undefined : { install, withdraw: ratioOf(by.vxgate.withdrawPerS, by.frr.withdrawPerS), flush: ratioOf(by.vxgate.flushPerS, by.frr.flushPerS) };
    const routes = rounds.find((x) => x.phase === phase)!.routes;
    return { phase, routes, mode, by, ...(ratio ? { ratio } : {}), injector: injectorVerdict(mode, by) };
  });
}

function injectorVerdict(mode: string, by: Record<Receiver, ReceiverFigures>): RoutesGroup["injector"] {
  const who = mode === "gobgp" ? "gobgpd" : `the blaster (${mode})`;
  if (by.sink.ok === 0) {
    return { verdict: "unknown", line: `${who}: null receiver FAILED (${by.sink.failed[0] ?? "no round"}): the injector's rate is unknown, so every receiver's figure is a lower bound` };
  }
  const kinds: ["install" | "withdraw", number, number[]][] = [["install", by.sink.routesPerS, [by.vxgate.routesPerS, by.frr.routesPerS]]];
  if (Number.isFinite(by.sink.withdrawPerS)) kinds.push(["withdraw", by.sink.withdrawPerS, [by.vxgate.withdrawPerS, by.frr.withdrawPerS]]);
  const parts: string[] = [];
  let well = true;
  for (const [kind, inj, rcv] of kinds) {
    const fastest = Math.max(...rcv.filter((x) => Number.isFinite(x)));
    if (!Number.isFinite(fastest)) {
      parts.push(`${kind} ${fmtInt(inj)} routes/s (no receiver figure to compare)`);
      continue;
    }
    const x = inj / fastest;
    if (x < WELL_ABOVE) well = false;
    parts.push(`${kind} ${fmtInt(inj)} routes/s = ${fmt(x, 1)} x the fastest receiver`);
  }
  const head = `${who}: null receiver ${parts.join(", ")}`;
  return well
    ? { verdict: "well-above", line: `${head}: well above (>= ${WELL_ABOVE} x) every receiver's rate, so the injector is not what is measured` }
    : { verdict: "lower-bound", line: `${head}: NOT well above (< ${WELL_ABOVE} x) every receiver's rate, so the receivers' figures are lower bounds (the injector may be what limits them)` };
}

/** the lines that say a figure is missing, and why */
export function failureLines(g: RoutesGroup): string[] {
  const out: string[] = [];
  const name: Record<Receiver, string> = { sink: "null receiver", vxgate: "vxgate", frr: "FRR baseline" };
  for (const rcv of ["sink", "vxgate", "frr"] as const) {
    const f = g.by[rcv];
    if (f.failed.length === 0) continue;
    const all = f.ok === 0;
    const consequence = rcv === "frr" ? (all ? " — no ratio" : "") : rcv === "vxgate" ? (all ? " — no vxgate figure, no ratio" : "") : "";
    out.push(`${name[rcv]} ${all ? "FAILED" : `FAILED in ${f.failed.length} of ${f.failed.length + f.ok} rounds`}: ${[...new Set(f.failed)].join(" | ")}${consequence}`);
  }
  return out;
}

export function reportRoutes(r: RoutesResult, say: (s: string) => void): void {
  const label: Record<Receiver, string> = {
    sink: r.injector === "gobgp" ? "null receiver (gobgpd's send rate)" : "null receiver (blaster's send rate)",
    vxgate: "vxgate (vxg_fdb map)",
    frr: "FRR zebra+bgpd (kernel FDB)",
  };
  const groups = summarizeRoutes(r.rounds);
  const blaster = r.injector === "blaster";
  const rows = groups.flatMap((g) =>
    (["sink", "vxgate", "frr"] as const).map((rcv) => {
      const f = g.by[rcv];
      const frr = g.by.frr;
      const x = (a: number, b: number) => (rcv === "sink" ? "-" : frr.ok === 0 ? "no ratio" : fmt(a / b, 2));
      return {
        routes: fmtInt(g.routes),
        mode: g.mode,
        receiver: label[rcv],
        rounds: `${f.ok}${f.failed.length ? ` (+${f.failed.length} FAILED)` : ""}`,
        "install s": f.ok ? fmt(median(f.installS), 3) : "FAILED",
        "min..max s": f.ok ? `${fmt(min(f.installS), 3)}..${fmt(max(f.installS), 3)}` : "-",
        "routes/s": fmtInt(f.routesPerS),
        "x FRR": x(f.routesPerS, frr.routesPerS),
        "withdraw routes/s": fmtInt(f.withdrawPerS),
        "x FRR ": x(f.withdrawPerS, frr.withdrawPerS),
        "flush routes/s": rcv === "sink" ? "-" : fmtInt(f.flushPerS),
        "x FRR  ": x(f.flushPerS, frr.flushPerS),
      };
    }),
  );
  const cols = ["routes", "mode", "receiver", "rounds", "install s", "min..max s", "routes/s", "x FRR", ...(blaster ? ["withdraw routes/s", "x FRR "] : []), "flush routes/s", "x FRR  "];
  say(renderTable(rows, cols));
  if (blaster) {
    say("   install = the blaster's first write (all K sessions Established, the receiver's table empty) -> the last route in the receiver's table;");
    say("   withdraw = its MP_UNREACH_NLRI streams started -> the table empty; flush = the routes announced again, then the K sessions closed");
    say("   (NOTIFICATION Cease) -> the table empty. mode one = one NLRI per UPDATE (as GoBGP sends), many = up to 115 per UPDATE (as FRR sends).");
  } else {
    say("   install = gate opened on every gobgpd (export accept + soft reset out) -> the last route in the receiver's table;");
    say("   flush = sessions disabled (NOTIFICATION Cease) -> the receiver's table empty again.");
  }
  // how each receiver's end was seen (the first round that says so, per receiver)
  for (const rcv of ["vxgate", "frr"] as const) {
    const d = r.rounds.find((x) => x.receiver === rcv && x.endDetection)?.endDetection;
    if (!d) continue;
    const how = (s: string) => s.replace(/ confirmed by a full count [0-9.]+ ms later/, " confirmed by one full count");
    say(`   end detection, ${label[rcv]}: install by ${how(d.install)}${d.withdraw ? `; withdraw by ${how(d.withdraw)}` : ""}${d.flush ? `; flush by ${how(d.flush)}` : ""}`);
  }
  if (r.rounds.some((x) => x.receiver === "vxgate" && x.endDetection))
    say("   (vxgate: the time is the sentinel poll that saw the last route, taken only when the full count right after confirms every route; else the end of the first full count that does)");
  say("");
  for (const g of groups) {
    say(`   ${fmtInt(g.routes)} routes, ${g.mode}: ${g.injector.line}`);
    for (const l of failureLines(g)) say(`   ${fmtInt(g.routes)} routes, ${g.mode}: ${l}`);
  }
  if (blaster) say("   (the null receiver's rate is itself a lower bound on the injector's: it includes the sink's own work)");
  const paired = r.rounds
    .filter((x) => x.receiver === "vxgate" && x.complete && !x.failed)
    .flatMap((v) => {
      const f = r.rounds.find((x) => x.receiver === "frr" && x.phase === v.phase && x.round === v.round && x.mode === v.mode && x.complete && !x.failed);
      const q = (a?: number, b?: number) => (finite(a) && finite(b) ? fmt(a / b, 2) : "-");
      return f
        ? [
            {
              phase: fmtInt(v.routes),
              mode: v.mode ?? "gobgp",
              round: String(v.round),
              "vxgate/FRR routes/s": q(v.routesPerS, f.routesPerS),
              "vxgate/FRR withdraw": q(v.withdrawRoutesPerS, f.withdrawRoutesPerS),
              "vxgate/FRR flush": q(v.flushRoutesPerS, f.flushRoutesPerS),
            },
          ]
        : [];
    });
  if (paired.length) {
    say("");
    say(renderTable(paired, ["phase", "mode", "round", "vxgate/FRR routes/s", ...(blaster ? ["vxgate/FRR withdraw"] : []), "vxgate/FRR flush"]));
  }
  for (const l of r.loads) say(`   gobgpd RIBs loaded with ${fmtInt(l.routes)} routes in ${fmt(l.ms / 1000, 1)} s (${r.sessions} gobgpd in parallel; not part of any timing)`);
  for (const x of r.rounds.filter((x) => x.retried && !x.failed)) say(`   note: ${x.phase} round ${x.round}${x.mode ? ` ${x.mode}` : ""} ${x.receiver} failed once (${x.retried}) and was run again`);
  for (const c of r.checks) say(`   check: ${c}`);
}

/** the restart step's summary line (none when it was not run) */
export function restartLine(r: RoutesResult): string[] {
  const x = r.restart;
  if (!x) return [];
  if (x.failed) return [`   restart with ${fmtInt(x.routes)} routes installed: FAILED: ${x.failed}`];
  return [
    `   restart with ${fmtInt(x.routes)} routes installed: every entry still in vxg_fdb after the stop and once the new daemon answered (${fmtInt(x.heldAfterStart)}); daemon answering ${fmt(x.readyMs / 1000, 2)} s after spawn; ` +
      `initial sync ${fmt(x.syncMs / 1000, 2)} s after the peers' first write (${fmtInt(x.kept)} routes again, ${fmtInt(x.staleRemoved)} stale removed)`,
  ];
}

/** the summary lines of part 3 */
export function summaryRoutes(r: RoutesResult): string[] {
  return [...summaryGroups(r), ...restartLine(r)];
}

function summaryGroups(r: RoutesResult): string[] {
  return summarizeRoutes(r.rounds).map((g) => {
    const what = `routes (${fmtInt(g.routes)} type-2, ${g.mode === "gobgp" ? "gobgpd" : `blaster ${g.mode}`})`;
    const fail = failureLines(g).filter((l) => l.includes("— no"));
    if (!g.ratio) return `   ${what}: ${fail.join("; ") || "no ratio"}`;
    const b = g.by;
    const w = g.ratio.withdraw !== undefined ? `; withdraw ${fmt(g.ratio.withdraw, 2)} x` : "";
    const f = g.ratio.flush !== undefined ? `; flush ${fmt(g.ratio.flush, 2)} x` : "";
    return (
      `   ${what}: vxgate ${fmtInt(b.vxgate.routesPerS)} routes/s vs FRR ${fmtInt(b.frr.routesPerS)} routes/s (medians) = ${fmt(g.ratio.install, 2)} x${w}${f}; ` +
      `null receiver ${fmtInt(b.sink.routesPerS)} routes/s (${g.injector.verdict === "well-above" ? `well above every receiver` : g.injector.verdict === "lower-bound" ? "NOT well above: figures are lower bounds" : "unknown: figures are lower bounds"})`
    );
  });
}

/** rounds that failed (after their retry) */
export function failedRounds(r: RoutesResult): RoutesRound[] {
  return r.rounds.filter((x) => x.failed || !x.complete);
}

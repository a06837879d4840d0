// Benchmark 8: MAC mobility convergence in the lab fabric.
//
//   a1 [sw1]   b1 [sw2] <- c1's spare cable
//        \      |      /
//         [spine: FRR route reflector]
//              |
//            [sw3] c1
//
// The lab (lab/topology.ts, the three lab/sw*.yaml switches under other names,
// EVPN through FRR bgpd on the spine) with c1 moved between sw3 and sw2
// `--moves` times, back and forth. Each move: the old cable goes down, the new
// one comes up and c1 sends one gratuitous ARP. Measured from the ARP on the
// wire (the sender's CLOCK_MONOTONIC) until each switch's FDB entry points at
// the new place (its pinned map, looked up every millisecond: lab/mobility.ts).
//
// Where the time goes, per move, from BGP captured on the spine's three ports:
// the ARP -> the new switch's UPDATE for the MAC reaching the reflector ("new
// switch"), -> the reflector's last UPDATE for it leaving towards the others
// ("reflector"), -> the last switch's entry ("install").
//
// The switches' duplicate-MAC detection is raised for the run (a host that
// moves 10 times in 20 s is a duplicate by RFC 7432 §15.1's rule, and the
// defaults would freeze it at the fifth move).
//
// Each move starts on a quiet fabric: the old switch withdraws its own route
// for the MAC one aggregation window after the move (a change to an advertised
// MAC is held for the window), and FRR's reflector holds the first route of a
// quiet spell 50 ms before processing it, with everything that arrives
// meanwhile. A move started within 50 ms of the previous move's withdrawal
// would ride on that hold and look faster than a move does; so the next move
// waits the window and a second more, and a move that still finds another
// UPDATE for the MAC at the reflector just before its ARP is reported.
import { readFileSync, writeFileSync } from "node:fs";
import { Fabric, Lab } from "../lab/fabric.ts";
import { MOVE, cableStandby, renamedLabSwitches } from "../lab/topology.ts";
import { moveHost, type MoveSpec } from "../lab/mobility.ts";
import { ping } from "../test/harness/ping.ts";
import { startCapture, type Capture, type DecodedPacket } from "../test/harness/capture.ts";
import { median, sleep } from "./stats.ts";

export interface MobilityOptions {
  moves: number;
  /** the spine's route reflector: FRR bgpd (the lab's) or GoBGP */
  reflector: "frr" | "gobgp";
  log: (s: string) => void;
}

export interface MoveSample {
  move: number;
  to: string;
  convergenceMs: number;
  perSwitchMs: Record<string, number>;
  /** ARP -> the new switch's UPDATE at the reflector */
  newSwitchMs?: number;
  /** -> the reflector's last UPDATE for the MAC out */
  reflectorMs?: number;
  /** -> the last switch's entry */
  installMs?: number;
}

export interface MobilityResult {
  moves: MoveSample[];
  /** moves with an UPDATE for the MAC at the reflector in the 100 ms before their ARP (not started on a quiet fabric) */
  notQuiet: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

function withMobilityRaised(configPath: string): void {
  const text = readFileSync(configPath, "utf8");
  if (!/^ {2}evpn:\n/m.test(text)) throw new Error(`${configPath}: no bgp.evpn section to raise duplicate detection in`);
  writeFileSync(configPath, text.replace(/^ {2}evpn:\n/m, "  evpn:\n    mobility: { dup_detect_moves: 1000, dup_detect_seconds: 180 }\n"));
}

/** UPDATEs carrying `mac` in an EVPN NLRI: [capture time in CLOCK_MONOTONIC ns, ip.src, ip.dst, announced (MP_REACH_NLRI) or withdrawn] */
function updatesFor(pkts: DecodedPacket[], mac: string, toMono: (epochS: number) => bigint): [bigint, string, string, boolean][] {
  const out: [bigint, string, string, boolean][] = [];
  for (const p of pkts) {
    const macs = p.fields["bgp.evpn.nlri.mac_addr"] ?? [];
    if (!macs.some((m) => m.toLowerCase() === mac)) continue;
    const announces = (p.fields["bgp.update.path_attribute.type_code"] ?? []).includes("14");
    out.push([toMono(p.time), p.fields["ip.src"]?.[0] ?? "", p.fields["ip.dst"]?.[0] ?? "", announces]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * The lab's switches (renamed with `prefix`, duplicate detection raised) up
 * and Established through `reflector`, c1's spare cable to sw2 in place
 * (down). `own` receives the fabric as soon as it exists, so the caller's
 * cleanup has it even when starting fails.
 */
export async function mobilityFabric(lab: Lab, prefix: string, reflector: "frr" | "gobgp", own: (f: Fabric) => void): Promise<{ f: Fabric; sw2: string; sw3: string }> {
  const { specs, rename } = renamedLabSwitches(lab, prefix);
  for (const s of specs) withMobilityRaised(s.configPath);
  const f = new Fabric(lab, specs, { reflector });
  own(f);
  const sw2 = rename(MOVE.toSwitch);
  const sw3 = rename("lab-sw3");
  cableStandby(f, sw2);
  for (const sw of f.switchNames) await f.start(sw);
  await f.waitEstablished();
  return { f, sw2, sw3 };
}

export async function runMobility(opts: MobilityOptions): Promise<MobilityResult> {
  const { log } = opts;
  const lab = new Lab("mob");
  let fabric: Fabric | undefined;
  try {
    const { f, sw2, sw3 } = await mobilityFabric(lab, "mob", opts.reflector, (x) => (fabric = x));
    log(`   fabric up: ${f.switchNames.join(", ")} through ${opts.reflector === "frr" ? "FRR bgpd" : "GoBGP"} on the spine; c1 moves ${opts.moves} times between ${sw3} (h1) and ${sw2} (${MOVE.toPort})`);
    // everyone knows c1 where it starts
    for (const from of ["a1", "b1"]) await ping(lab, f.hostNs(from), MOVE.ip, { count: 2, timeoutS: 2 });
    const there: MoveSpec = { ...MOVE, toSwitch: sw2, fromIf: "eth0" };
    const back: MoveSpec = { ...MOVE, toIf: "eth0", fromIf: MOVE.toIf, toSwitch: sw3, toPort: "h1" };
    const uplinkIp = new Map(f.switchNames.map((sw, i) => [sw, `192.0.2.${4 * i + 2}`]));
    // the spine's ports, one per switch: s1..s3
    const caps: Capture[] = [];
    for (let i = 1; i <= f.switchNames.length; i++) caps.push(await startCapture(f.spine, `s${i}`, { lab, filter: "tcp port 179", timeoutMs: (opts.moves * 4 + 30) * 1000 }));
    // capture timestamps are CLOCK_REALTIME: one offset to CLOCK_MONOTONIC for the run
    const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    const toMono = (epochS: number) => BigInt(Math.round(epochS * 1e9)) - offsetNs;
    const moves: (MoveSample & { arpSentNs: bigint })[] = [];
    // the old switch's withdrawal of the previous move goes out one aggregation window later
    const windowS = Math.max(...f.switchNames.map((sw) => { const e = f.config(sw).bgp?.evpn; return e?.aggregation.enabled ? e.aggregation.windowSeconds : 0; }));
    const settleMs = (windowS + 1) * 1000;
    for (let i = 0; i < opts.moves; i++) {
      const spec = i % 2 === 0 ? there : back;
      const r = await moveHost(f, spec);
      moves.push({ move: i + 1, to: spec.toSwitch, convergenceMs: r.convergenceMs, perSwitchMs: r.perSwitchMs, arpSentNs: r.arpSentNs });
      log(`   move ${String(i + 1).padStart(2)} -> ${spec.toSwitch}: converged after ${r.convergenceMs.toFixed(1)} ms (${Object.entries(r.perSwitchMs).map(([s, ms]) => `${s} ${ms.toFixed(1)}`).join(", ")})`);
      // let the fabric settle (the old switch's withdrawal, the reflector's run for it) before the next
      await sleep(settleMs);
    }
    const pkts = (await Promise.all(caps.map((c) => c.stop()))).flat();
    const ups = updatesFor(pkts, MOVE.mac, toMono);
    const switchIps = new Set(uplinkIp.values());
    const toReflector = ups.filter(([, , dst]) => !switchIps.has(dst));
    const notQuiet = moves.filter((m) => toReflector.some(([t]) => t < m.arpSentNs && t >= m.arpSentNs - 100_000_000n)).map((m) => m.move);
    for (const m of moves) {
      // this move's UPDATEs: from its ARP until the next move (more than a second later)
      // (announcements only: the old switch's withdrawal follows later, and is not what converges)
      const win = ups.filter(([t, , , announces]) => announces && t >= m.arpSentNs - 5_000_000n && t < m.arpSentNs + 1_000_000_000n);
      const newIp = uplinkIp.get(m.to)!;
      const fromNew = win.find(([, src]) => src === newIp);
      const reflected = win.filter(([t, src, dst]) => fromNew !== undefined && t >= fromNew[0] && src !== newIp && dst !== newIp);
      if (!fromNew || reflected.length === 0) continue;
      const lastOut = reflected[reflected.length - 1]![0];
      m.newSwitchMs = Number(fromNew[0] - m.arpSentNs) / 1e6;
      m.reflectorMs = Number(lastOut - fromNew[0]) / 1e6;
      m.installMs = m.convergenceMs - Number(lastOut - m.arpSentNs) / 1e6;
    }
    const conv = moves.map((m) => m.convergenceMs);
    return { moves: moves.map(({ arpSentNs: _, ...m }) => m), notQuiet, medianMs: median(conv), minMs: Math.min(...conv), maxMs: Math.max(...conv) };
  } finally {
    await fabric?.shutdown().catch(() => {});
    await lab.dispose();
  }
}

export function reportMobility(r: MobilityResult, log: (s: string) => void): void {
  const part = (f: (m: MoveSample) => number | undefined) => {
    const xs = r.moves.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? `${median(xs).toFixed(1)} ms (${Math.min(...xs).toFixed(1)} - ${Math.max(...xs).toFixed(1)})` : "n/a";
  };
  log(`   convergence over ${r.moves.length} moves: median ${r.medianMs.toFixed(1)} ms, min ${r.minMs.toFixed(1)}, max ${r.maxMs.toFixed(1)}`);
  log(`   where it goes (medians, from BGP captured on the spine):`);
  log(`     ARP -> the new switch's UPDATE at the reflector   ${part((m) => m.newSwitchMs)}`);
  log(`     -> the reflector's last UPDATE out                ${part((m) => m.reflectorMs)}`);
  log(`     -> the last switch's FDB entry                    ${part((m) => m.installMs)}`);
  if (r.notQuiet.length)
    log(`   not started on a quiet fabric (an UPDATE for the MAC reached the reflector in the 100 ms before the ARP): move ${r.notQuiet.join(", ")}`);
}


// Benchmark 9: decoding received EVPN UPDATEs, in this process (no sockets):
// the blaster's pre-encoded streams of N type-2 routes (one NLRI per UPDATE,
// and many per UPDATE) through the speaker's receive fast path
// (UpdateFastPath: routes and their RIB keys straight from the buffer, the
// other attributes decoded once per distinct octets), against the full
// decoder (decodeUpdateBody: every attribute, RFC 7606 handling) plus the
// key of each route (evpnRouteKey) as the baseline. Every round checks that
// both give the same keys and next hop for every route.
import { announceStream, parseRd, type BlastMode } from "./bgp-blaster.ts";
import { decodeUpdateBody } from "../src/control/evpn/bgp/update.ts";
import { MessageType, readFrame } from "../src/control/evpn/bgp/header.ts";
import { UpdateFastPath } from "../src/control/evpn/bgp/fast-update.ts";
import { evpnRouteKey } from "../src/control/evpn/bgp/evpn-nlri.ts";
import { median } from "./stats.ts";

export interface DecodeOptions {
  routes: number;
  rounds: number;
  log: (s: string) => void;
}

export interface DecodeSample {
  mode: BlastMode;
  routes: number;
  updates: number;
  /** ms per pass, each round */
  fastMs: number[];
  fullMs: number[];
}

/** The UPDATE bodies of a stream: [start, end) of each in `buf`. */
function bodies(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let o = 0; o < buf.length; ) {
    const f = readFrame(buf, o);
    if (f.status !== "frame") throw new Error(`the blaster's stream does not frame at octet ${o} (${f.status})`);
    if (f.type === MessageType.UPDATE) out.push([f.next - f.body.length, f.next]);
    o = f.next;
  }
  return out;
}

function passFast(buf: Buffer, msgs: [number, number][], keys?: string[]): number {
  const fp = new UpdateFastPath({ ebgp: false }, { withdrawnRoutes: false });
  const t = process.hrtime.bigint();
  for (const [s, e] of msgs) {
    const f = fp.decode(buf, s, e);
    if (!f) throw new Error("the fast path left a blaster UPDATE to the full decoder");
    if (keys) for (const k of f.announcedKeys) keys.push(`${k} ${f.nextHop}`);
  }
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function passFull(buf: Buffer, msgs: [number, number][], keys?: string[]): number {
  const t = process.hrtime.bigint();
  for (const [s, e] of msgs) {
    const r = decodeUpdateBody(buf.subarray(s, e), { ebgp: false });
    if (!r.ok) throw new Error(`the full decoder refused a blaster UPDATE: ${r.error.reason}`);
    for (const a of r.update.attributes) {
      if (a.type !== "mp-reach" || a.family !== "evpn") continue;
      for (const route of a.routes) {
        const k = evpnRouteKey(route);
        if (keys) keys.push(`${k} ${a.nextHop}`);
      }
    }
  }
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export function runUpdateDecode(opts: DecodeOptions): DecodeSample[] {
  const spec = { asn: 65000, vni: 100, rd: parseRd("198.18.0.2:1"), nextHop: "198.18.0.2" };
  const out: DecodeSample[] = [];
  for (const mode of ["one", "many"] as const) {
    const st = announceStream(spec, mode, 0, opts.routes, false, 1 << 30);
    const buf = Buffer.concat(st.chunks);
    const msgs = bodies(buf).filter(([s, e]) => e - s > 10); // End-of-RIB is not a route
    // the same routes, keys and next hop from both, in order
    const a: string[] = [];
    const b: string[] = [];
    passFast(buf, msgs, a);
    passFull(buf, msgs, b);
    if (a.length !== opts.routes || b.length !== opts.routes) throw new Error(`${mode}: ${a.length} / ${b.length} routes decoded, ${opts.routes} sent`);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${mode}: route ${i} decodes differently (fast path and full decoder)`);
    const s: DecodeSample = { mode, routes: opts.routes, updates: msgs.length, fastMs: [], fullMs: [] };
    // alternate, so both see the same machine state
    for (let r = 0; r < opts.rounds; r++) {
      s.fastMs.push(passFast(buf, msgs));
      s.fullMs.push(passFull(buf, msgs));
    }
    out.push(s);
    opts.log(`   ${mode.padEnd(4)} ${opts.routes.toLocaleString("en-US")} routes in ${msgs.length.toLocaleString("en-US")} UPDATEs: fast path ${median(s.fastMs).toFixed(1)} ms, full decoder + keys ${median(s.fullMs).toFixed(1)} ms (medians of ${opts.rounds}); the same keys and next hop for every route`);
  }
  return out;
}

export function reportUpdateDecode(samples: DecodeSample[], log: (s: string) => void): void {
  log(`MODE  ROUTES    UPDATES   FAST PATH MS  NS/ROUTE  FULL DECODER MS  NS/ROUTE  FULL / FAST`);
  for (const s of samples) {
    const f = median(s.fastMs);
    const g = median(s.fullMs);
    log(
      `${s.mode.padEnd(6)}${s.routes.toLocaleString("en-US").padEnd(10)}${s.updates.toLocaleString("en-US").padEnd(10)}${f.toFixed(1).padEnd(14)}${((f * 1e6) / s.routes).toFixed(0).padEnd(10)}${g.toFixed(1).padEnd(17)}${((g * 1e6) / s.routes).toFixed(0).padEnd(10)}${(g / f).toFixed(2)}`,
    );
  }
}

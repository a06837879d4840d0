// The null receiver of bench/evpn-routes.ts for the blaster: a bare BGP
// speaker (L2VPN/EVPN only, no RIB) that listens on ADDR:179, establishes with
// whoever connects (any number of sessions), and only counts: type-2 NLRIs in
// MP_REACH_NLRI (announced) and in MP_UNREACH_NLRI (withdrawn), walking each
// UPDATE by its length fields, nothing decoded or kept. It measures how fast
// the injector sends; bgp-sink.py (the same for an active sink) cannot keep up
// with the blaster (see bench/README.md, part 3).
//
//   node --import tsx bench/bgp-null-sink.ts ADDR ASN
//
// stdin:  "target N"  report "done" (kind announce) once N more type-2 NLRIs
//                     have been announced, counted from now over all sessions
//         "wtarget N" the same for withdrawn ones (kind withdraw)
//         "count"     report the counts now
// stdout (JSON lines, "t" = process.hrtime.bigint(), CLOCK_MONOTONIC):
//   listening, established {n}, first-update {kind}, done {kind, n}, count, closed {why}
import { createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { openMessage, KEEPALIVE } from "./bgp-blaster.ts";

const now = () => process.hrtime.bigint();
const say = (ev: Record<string, unknown>) => process.stdout.write(JSON.stringify({ ...ev, t: String(now()) }) + "\n");

const [addr, asnText] = process.argv.slice(2);
if (!addr || !asnText) {
  process.stderr.write("usage: bgp-null-sink.ts ADDR ASN\n");
  process.exit(2);
}
const asn = Number(asnText);

let announced = 0;
let withdrawn = 0;
interface Target {
  kind: "announce" | "withdraw";
  base: number;
  n: number;
  first: boolean;
}
let targets: Target[] = [];
let sessions = 0;

/** type-2 NLRIs in an NLRI list b[p..end) */
function countType2(b: Buffer, p: number, end: number): number {
  let n = 0;
  while (p + 1 < end) {
    if (b[p] === 2) n++;
    p += 2 + b[p + 1]!;
  }
  return n;
}

/** an UPDATE at b[o], `len` octets: add its type-2 NLRIs to the counters */
function update(b: Buffer, o: number, len: number): void {
  const end = o + len;
  const wl = b.readUInt16BE(o + 19);
  let p = o + 21 + wl;
  const al = b.readUInt16BE(p);
  p += 2;
  const aend = Math.min(end, p + al);
  while (p + 2 < aend) {
    const flags = b[p]!;
    const code = b[p + 1]!;
    let vl: number;
    let v: number;
    if (flags & 0x10) {
      vl = b.readUInt16BE(p + 2);
      v = p + 4;
    } else {
      vl = b[p + 2]!;
      v = p + 3;
    }
    if (code === 14) {
      const nhl = b[v + 3]!;
      announced += countType2(b, v + 5 + nhl, v + vl);
    } else if (code === 15) {
      withdrawn += countType2(b, v + 3, v + vl);
    }
    p = v + vl;
  }
  if (targets.length) check();
}

function check(): void {
  const keep: Target[] = [];
  for (const t of targets) {
    const got = (t.kind === "announce" ? announced : withdrawn) - t.base;
    if (t.first && got > 0) {
      t.first = false;
      say({ ev: "first-update", kind: t.kind });
    }
    if (got >= t.n) say({ ev: "done", kind: t.kind, n: got });
    else keep.push(t);
  }
  targets = keep;
}

function serve(s: Socket): void {
  s.setNoDelay(true);
  let pend: Buffer | null = null;
  let open = false;
  let up = false;
  let ka: NodeJS.Timeout | undefined;
  s.write(openMessage(asn, addr!));
  s.on("data", (d: Buffer) => {
    const b = pend ? Buffer.concat([pend, d]) : d;
    let p = 0;
    while (b.length - p >= 19) {
      const len = b.readUInt16BE(p + 16);
      if (len < 19) {
        say({ ev: "closed", why: `bad message length ${len}` });
        s.destroy();
        return;
      }
      if (b.length - p < len) break;
      const type = b[p + 18];
      if (type === 2) update(b, p, len);
      else if (type === 1) {
        open = true;
        s.write(KEEPALIVE);
        const hold = b.readUInt16BE(p + 19 + 3);
        if (hold) ka = setInterval(() => s.write(KEEPALIVE), (Math.min(hold, 90) * 1000) / 3);
      } else if (type === 4 && open && !up) {
        up = true;
        sessions++;
        say({ ev: "established", n: sessions, remote: s.remoteAddress });
      } else if (type === 3) {
        say({ ev: "closed", why: `NOTIFICATION ${b[p + 19]}/${b[p + 20]}`, remote: s.remoteAddress });
      }
      p += len;
    }
    pend = p < b.length ? Buffer.from(b.subarray(p)) : null;
  });
  s.on("error", () => {});
  s.on("close", () => {
    if (ka) clearInterval(ka);
    if (up) sessions--;
  });
}

const srv = createServer(serve);
srv.listen(179, addr, () => say({ ev: "listening" }));
srv.on("error", (e) => {
  say({ ev: "error", msg: e.message });
  process.exit(1);
});
createInterface({ input: process.stdin }).on("line", (l) => {
  const w = l.trim().split(/\s+/);
  if (w[0] === "target" || w[0] === "wtarget") {
    const kind = w[0] === "target" ? "announce" : "withdraw";
    targets.push({ kind, base: kind === "announce" ? announced : withdrawn, n: Number(w[1]), first: true });
  } else if (w[0] === "count") say({ ev: "count", announced, withdrawn, sessions });
});

// The BGP blaster of bench/evpn-routes.ts: replays PRE-ENCODED BGP EVPN
// UPDATE streams over real BGP sessions, so that the injector is not what the
// routes part measures.
//
//   node --import tsx bench/bgp-blaster.ts --mode one|many --peer ADDR
//        --local A1[,A2..AK] --routes N [--stride S] [--imet] [--asn 65000]
//        [--vni 100] [--rd 198.18.0.2:1] [--next-hop 198.18.0.2] [--listen]
//
// K = the number of --local addresses = BGP sessions, all in this one process.
// Session i (from Ai, router id Ai) carries the type-2 routes k = i*S ..
// i*S + N - 1 (S = --stride, default N: disjoint slices of the MACs, as the
// gobgpd instances of the bench hold them), session 0 also the type-3 (IMET)
// route of the next hop with --imet. The routes are what bench/evpn-routes.ts
// has GoBGP send: type 2 MAC/IP advertisement, RD, ESI 0, Ethernet tag 0,
// MAC 02:10 + the 32-bit k, no IP, label1 = the VNI; type 3 with PMSI tunnel
// ingress replication (label = VNI); attributes ORIGIN IGP, an empty AS_PATH,
// LOCAL_PREF 100 (iBGP, what gobgpd adds), extended communities route target
// ASN:VNI and encapsulation VXLAN (tunnel type 8), MP_REACH_NLRI AFI 25 SAFI 70
// with the next hop.
//
// Modes: `one` = one type-2 NLRI per UPDATE (what GoBGP sends); `many` = as
// many type-2 NLRIs as fit in one 4096-octet UPDATE under one shared attribute
// set (what FRR and most reflectors send). Withdrawals alike: MP_UNREACH_NLRI
// with one NLRI per UPDATE, or packed to 4096 octets. The announce stream ends
// with the End-of-RIB marker of L2VPN/EVPN.
//
// This is an encoder of its own (not src/control/evpn/bgp): it doubles as a
// cross-check of vxgate's decoder, with FRR's as the referee.
//
// Every stream is encoded into Buffers before "ready"; the timed part only
// writes those buffers (in chunks of whole messages, waiting for 'drain' when
// the socket's buffer is full), so a KEEPALIVE written meanwhile always falls
// between two whole messages.
//
// Sessions: active by default (connects to PEER:179 from each Ai, retrying
// while refused); --listen: passive, listens on Ai:179 and takes the first
// connection (any peer) as session i. OPEN: version 4, hold time 90 s,
// capabilities multiprotocol L2VPN/EVPN (AFI 25 SAFI 70) and 4-octet AS.
// KEEPALIVEs every hold/3 and in answer to the peer's; whatever the peer sends
// (its own routes, End-of-RIB, ROUTE-REFRESH) is read and ignored.
//
// Control over stdin/stdout, one command / one JSON event per line ("t":
// process.hrtime.bigint(), CLOCK_MONOTONIC, as a decimal string):
//   -> {"ev":"encoded", ...sizes}    streams built
//   -> {"ev":"established","session":i}   per session
//   -> {"ev":"ready"}                 all K sessions Established
//   <- go | announce                  write the announce streams on all K sessions
//   -> {"ev":"sent","what":"announce","t0","t1","ms","bytes","messages","nlri"}
//        t0 = first write, t1 = the last byte handed to the kernel (all sessions)
//   <- withdraw                       write the withdraw streams
//   -> {"ev":"sent","what":"withdraw",...}
//   <- down                           NOTIFICATION Cease (administrative shutdown), close
//   -> {"ev":"down","t"}              then the process exits
//   -> {"ev":"lost","session":i,"why"}     a session ended that was not told to
//   -> {"ev":"error","msg"}           (exit code 1)
import { createServer, connect, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

// ---------------------------------------------------------------------------
// wire encoding

const MAX_MSG = 4096;
const HDR = 19;
const T_OPEN = 1;
const T_UPDATE = 2;
const T_NOTIFICATION = 3;
const T_KEEPALIVE = 4;
const AFI_L2VPN = 25;
const SAFI_EVPN = 70;
const AS_TRANS = 23456;
const HOLD_S = 90;

function ipv4(s: string): Buffer {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${s}`);
  return Buffer.from(p);
}

/** writes a message header for `total` octets of `type` at b[o] */
function header(b: Buffer, o: number, total: number, type: number): void {
  b.fill(0xff, o, o + 16);
  b.writeUInt16BE(total, o + 16);
  b[o + 18] = type;
}

function message(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(HDR + body.length);
  header(b, 0, b.length, type);
  body.copy(b, HDR);
  return b;
}

export function openMessage(asn: number, routerId: string, holdS = HOLD_S): Buffer {
  const caps = Buffer.from([
    1, 4, 0, AFI_L2VPN, 0, SAFI_EVPN, // multiprotocol: L2VPN / EVPN
    65, 4, (asn >>> 24) & 0xff, (asn >>> 16) & 0xff, (asn >>> 8) & 0xff, asn & 0xff, // 4-octet AS
  ]);
  const params = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const body = Buffer.alloc(10 + params.length);
  body[0] = 4;
  body.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 1);
  body.writeUInt16BE(holdS, 3);
  ipv4(routerId).copy(body, 5);
  body[9] = params.length;
  params.copy(body, 10);
  return message(T_OPEN, body);
}

export const KEEPALIVE = message(T_KEEPALIVE, Buffer.alloc(0));
/** Cease / Administrative Shutdown */
export const CEASE = message(T_NOTIFICATION, Buffer.from([6, 2]));

export interface RouteSpec {
  asn: number;
  vni: number;
  /** 8-octet route distinguisher */
  rd: Buffer;
  nextHop: string;
}

/** RD "a.b.c.d:n" (type 1) or "asn:n" (type 0 / 2) */
export function parseRd(s: string): Buffer {
  const i = s.lastIndexOf(":");
  const admin = s.slice(0, i);
  const num = Number(s.slice(i + 1));
  const b = Buffer.alloc(8);
  if (admin.includes(".")) {
    b.writeUInt16BE(1, 0);
    ipv4(admin).copy(b, 2);
    b.writeUInt16BE(num, 6);
  } else if (Number(admin) > 0xffff) {
    b.writeUInt16BE(2, 0);
    b.writeUInt32BE(Number(admin), 2);
    b.writeUInt16BE(num, 6);
  } else {
    b.writeUInt16BE(0, 0);
    b.writeUInt16BE(Number(admin), 2);
    b.writeUInt32BE(num, 4);
  }
  return b;
}

/** MAC of route k: 02:10 + the 32-bit index (as bench/evpn-routes.ts routeMac) */
function writeMac(b: Buffer, o: number, k: number): void {
  b[o] = 0x02;
  b[o + 1] = 0x10;
  b.writeUInt32BE(k >>> 0, o + 2);
}

/** type-2 NLRI: route type, length 33, RD, ESI 0, Ethernet tag 0, MAC length 48, MAC, IP length 0, label1 = VNI */
export const T2_LEN = 2 + 33;
function writeType2(b: Buffer, o: number, s: RouteSpec, k: number): number {
  b[o] = 2;
  b[o + 1] = 33;
  s.rd.copy(b, o + 2);
  b.fill(0, o + 10, o + 24); // ESI (10) + Ethernet tag (4)
  b[o + 24] = 48;
  writeMac(b, o + 25, k);
  b[o + 31] = 0;
  b.writeUIntBE(s.vni & 0xffffff, o + 32, 3);
  return o + T2_LEN;
}

function type3Nlri(s: RouteSpec): Buffer {
  const b = Buffer.alloc(2 + 17);
  b[0] = 3;
  b[1] = 17;
  s.rd.copy(b, 2);
  b[14] = 32;
  ipv4(s.nextHop).copy(b, 15);
  return b;
}

/** path attributes before MP_REACH_NLRI (type codes ascending): ORIGIN IGP, AS_PATH empty, LOCAL_PREF 100 */
const PRE = Buffer.from([0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 5, 4, 0, 0, 0, 100]);

function extCommunities(s: RouteSpec): Buffer {
  const b = Buffer.alloc(3 + 16);
  b[0] = 0xc0; // optional transitive
  b[1] = 16;
  b[2] = 16;
  b[3] = 0x00; // route target, 2-octet AS
  b[4] = 0x02;
  b.writeUInt16BE(s.asn & 0xffff, 5);
  b.writeUInt32BE(s.vni >>> 0, 7);
  b[11] = 0x03; // opaque: encapsulation
  b[12] = 0x0c;
  b.writeUInt16BE(8, 17); // tunnel type 8 = VXLAN
  return b;
}

function pmsi(s: RouteSpec): Buffer {
  const b = Buffer.alloc(3 + 9);
  b[0] = 0xc0;
  b[1] = 22;
  b[2] = 9;
  b[3] = 0; // flags
  b[4] = 6; // ingress replication
  b.writeUIntBE(s.vni & 0xffffff, 5, 3);
  ipv4(s.nextHop).copy(b, 8);
  return b;
}

/** octets of an UPDATE announcing n type-2 NLRIs under the shared attributes */
function reachSize(n: number): number {
  return HDR + 2 + 2 + PRE.length + 13 + n * T2_LEN + 19;
}
/** octets of an UPDATE withdrawing n type-2 NLRIs */
function unreachSize(n: number): number {
  return HDR + 2 + 2 + 4 + 3 + n * T2_LEN;
}
export const MAX_REACH_PER_UPDATE = Math.floor((MAX_MSG - reachSize(0)) / T2_LEN);
export const MAX_UNREACH_PER_UPDATE = Math.floor((MAX_MSG - unreachSize(0)) / T2_LEN);

/** an UPDATE announcing routes k..k+n-1 at b[o]; returns the end offset */
function writeReach(b: Buffer, o: number, s: RouteSpec, ext: Buffer, k: number, n: number): number {
  const total = reachSize(n);
  header(b, o, total, T_UPDATE);
  let p = o + HDR;
  b.writeUInt16BE(0, p); // no withdrawn routes
  b.writeUInt16BE(total - HDR - 4, p + 2);
  p += 4;
  p += PRE.copy(b, p);
  b[p] = 0x90; // optional, extended length
  b[p + 1] = 14;
  b.writeUInt16BE(9 + n * T2_LEN, p + 2); // AFI, SAFI, next-hop length, next hop, reserved, NLRIs
  b.writeUInt16BE(AFI_L2VPN, p + 4);
  b[p + 6] = SAFI_EVPN;
  b[p + 7] = 4;
  ipv4(s.nextHop).copy(b, p + 8);
  b[p + 12] = 0; // reserved
  p += 13;
  for (let i = 0; i < n; i++) p = writeType2(b, p, s, k + i);
  p += ext.copy(b, p);
  if (p - o !== total) throw new Error(`UPDATE size ${p - o} != ${total}`);
  return p;
}

/** an UPDATE withdrawing routes k..k+n-1 at b[o]; returns the end offset */
function writeUnreach(b: Buffer, o: number, s: RouteSpec, k: number, n: number): number {
  const total = unreachSize(n);
  header(b, o, total, T_UPDATE);
  let p = o + HDR;
  b.writeUInt16BE(0, p);
  b.writeUInt16BE(total - HDR - 4, p + 2);
  p += 4;
  b[p] = 0x90;
  b[p + 1] = 15;
  b.writeUInt16BE(3 + n * T2_LEN, p + 2);
  b.writeUInt16BE(AFI_L2VPN, p + 4);
  b[p + 6] = SAFI_EVPN;
  p += 7;
  for (let i = 0; i < n; i++) p = writeType2(b, p, s, k + i);
  if (p - o !== total) throw new Error(`UPDATE size ${p - o} != ${total}`);
  return p;
}

function imetUpdate(s: RouteSpec, ext: Buffer): Buffer {
  const nlri = type3Nlri(s);
  const mp = Buffer.alloc(13 + nlri.length);
  mp[0] = 0x90;
  mp[1] = 14;
  mp.writeUInt16BE(mp.length - 4, 2);
  mp.writeUInt16BE(AFI_L2VPN, 4);
  mp[6] = SAFI_EVPN;
  mp[7] = 4;
  ipv4(s.nextHop).copy(mp, 8);
  nlri.copy(mp, 13);
  const attrs = Buffer.concat([PRE, mp, ext, pmsi(s)]);
  const body = Buffer.alloc(4 + attrs.length);
  body.writeUInt16BE(attrs.length, 2);
  attrs.copy(body, 4);
  return message(T_UPDATE, body);
}

function imetWithdraw(s: RouteSpec): Buffer {
  const nlri = type3Nlri(s);
  const body = Buffer.alloc(4 + 7 + nlri.length);
  body.writeUInt16BE(7 + nlri.length, 2);
  body[4] = 0x90;
  body[5] = 15;
  body.writeUInt16BE(3 + nlri.length, 6);
  body.writeUInt16BE(AFI_L2VPN, 8);
  body[10] = SAFI_EVPN;
  nlri.copy(body, 11);
  return message(T_UPDATE, body);
}

/** End-of-RIB of L2VPN/EVPN: an UPDATE whose only attribute is an empty MP_UNREACH_NLRI */
export const END_OF_RIB = message(T_UPDATE, Buffer.from([0, 0, 0, 6, 0x80, 15, 3, 0, AFI_L2VPN, SAFI_EVPN]));

export type BlastMode = "one" | "many";

/** A pre-encoded stream: one buffer, cut into chunks of whole messages. */
export interface Stream {
  chunks: Buffer[];
  bytes: number;
  messages: number;
  /** type-2 NLRIs in it */
  nlri: number;
}

function cut(b: Buffer, ends: number[], chunkBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  let last = 0;
  for (const e of ends) {
    if (e - start > chunkBytes && last > start) {
      chunks.push(b.subarray(start, last));
      start = last;
    }
    last = e;
  }
  if (last > start) chunks.push(b.subarray(start, last));
  return chunks;
}

/**
 * The announce stream of routes k0..k0+n-1 (with the type-3 first if imet),
 * End-of-RIB last.
 */
export function announceStream(s: RouteSpec, mode: BlastMode, k0: number, n: number, imet: boolean, chunkBytes = 256 * 1024): Stream {
  const per = mode === "one" ? 1 : MAX_REACH_PER_UPDATE;
  const ext = extCommunities(s);
  const head = imet ? imetUpdate(s, ext) : Buffer.alloc(0);
  const full = Math.floor(n / per);
  const rest = n % per;
  const size = head.length + full * reachSize(per) + (rest ? reachSize(rest) : 0) + END_OF_RIB.length;
  const b = Buffer.allocUnsafe(size);
  const ends: number[] = [];
  let o = head.copy(b, 0);
  if (head.length) ends.push(o);
  for (let k = 0; k < n; k += per) {
    o = writeReach(b, o, s, ext, k0 + k, Math.min(per, n - k));
    ends.push(o);
  }
  o += END_OF_RIB.copy(b, o);
  ends.push(o);
  if (o !== size) throw new Error(`announce stream ${o} != ${size} octets`);
  return { chunks: cut(b, ends, chunkBytes), bytes: size, messages: ends.length, nlri: n };
}

/** The withdraw stream of routes k0..k0+n-1 (and the type-3 last if imet). */
export function withdrawStream(s: RouteSpec, mode: BlastMode, k0: number, n: number, imet: boolean, chunkBytes = 256 * 1024): Stream {
  const per = mode === "one" ? 1 : MAX_UNREACH_PER_UPDATE;
  const tail = imet ? imetWithdraw(s) : Buffer.alloc(0);
  const full = Math.floor(n / per);
  const rest = n % per;
  const size = full * unreachSize(per) + (rest ? unreachSize(rest) : 0) + tail.length;
  const b = Buffer.allocUnsafe(size);
  const ends: number[] = [];
  let o = 0;
  for (let k = 0; k < n; k += per) {
    o = writeUnreach(b, o, s, k0 + k, Math.min(per, n - k));
    ends.push(o);
  }
  if (tail.length) {
    o += tail.copy(b, o);
    ends.push(o);
  }
  if (o !== size) throw new Error(`withdraw stream ${o} != ${size} octets`);
  return { chunks: cut(b, ends, chunkBytes), bytes: size, messages: ends.length, nlri: n };
}

// ---------------------------------------------------------------------------
// sessions

const now = () => process.hrtime.bigint();
const say = (ev: Record<string, unknown>) => process.stdout.write(JSON.stringify({ ...ev, t: String(now()) }) + "\n");

class Session {
  sock: Socket | undefined;
  established = false;
  closing = false;
  private buf: Buffer | null = null;
  private gotOpen = false;
  private ka: NodeJS.Timeout | undefined;
  private onUp!: () => void;
  /** resolves once the session is Established */
  readonly up: Promise<void>;

  constructor(
    readonly index: number,
    readonly local: string,
    readonly asn: number,
  ) {
    this.up = new Promise((r) => (this.onUp = r));
  }

  /** active: connect to peer:179 from our address, again every 200 ms while refused, until Established */
  connectTo(peer: string): void {
    const attempt = () => {
      if (this.established || this.closing) return;
      const s = connect({ host: peer, port: 179, localAddress: this.local });
      let failed = false;
      const retry = () => {
        if (failed) return;
        failed = true;
        s.destroy();
        if (!this.established && !this.closing) setTimeout(attempt, 200);
      };
      s.once("error", retry);
      s.once("close", () => {
        if (!this.established) retry();
      });
      s.once("connect", () => this.attach(s));
    };
    attempt();
  }

  /** passive: the first connection to our address's port 179 becomes the session */
  listen(): Promise<Server> {
    return new Promise((resolve, reject) => {
      const srv = createServer((s) => {
        if (this.sock) return void s.destroy();
        this.attach(s);
      });
      srv.once("error", reject);
      srv.listen(179, this.local, () => resolve(srv));
    });
  }

  private attach(s: Socket): void {
    this.sock = s;
    s.setNoDelay(true);
    s.write(openMessage(this.asn, this.local));
    s.on("data", (d: Buffer) => this.onData(d));
    s.on("error", () => {});
    s.on("close", () => {
      if (this.ka) clearInterval(this.ka);
      if (this.established && !this.closing) say({ ev: "lost", session: this.index, why: "connection closed by the peer" });
      if (!this.established) this.sock = undefined;
    });
  }

  private onData(d: Buffer): void {
    const b = this.buf ? Buffer.concat([this.buf, d]) : d;
    let p = 0;
    while (b.length - p >= HDR) {
      const len = b.readUInt16BE(p + 16);
      if (len < HDR || len > 65535) return this.fail(`bad message length ${len}`);
      if (b.length - p < len) break;
      this.onMessage(b[p + 18]!, b.subarray(p + HDR, p + len));
      p += len;
    }
    this.buf = p < b.length ? Buffer.from(b.subarray(p)) : null;
  }

  private onMessage(type: number, body: Buffer): void {
    if (type === T_OPEN) {
      if (body[0] !== 4) return this.fail(`peer speaks BGP version ${body[0]}`);
      this.gotOpen = true;
      const hold = Math.min(HOLD_S, body.readUInt16BE(3));
      this.sock!.write(KEEPALIVE);
      if (hold > 0) this.ka = setInterval(() => this.sock?.write(KEEPALIVE), (hold * 1000) / 3);
    } else if (type === T_KEEPALIVE) {
      if (this.gotOpen && !this.established) {
        this.established = true;
        say({ ev: "established", session: this.index, local: this.local, remote: this.sock!.remoteAddress });
        this.onUp();
      } else if (this.established) this.sock!.write(KEEPALIVE);
    } else if (type === T_NOTIFICATION) {
      const why = `NOTIFICATION ${body[0]}/${body[1]} from the peer`;
      if (this.established && !this.closing) say({ ev: "lost", session: this.index, why });
      else say({ ev: "refused", session: this.index, why });
      this.sock?.destroy();
    }
    // UPDATE (the peer's own routes, End-of-RIB), ROUTE-REFRESH: ignored
  }

  private fail(why: string): void {
    say({ ev: "lost", session: this.index, why });
    this.sock?.destroy();
  }

  /** writes the stream's chunks, waiting for 'drain' whenever the socket's buffer is full; resolves when the last byte went to the kernel */
  async write(st: Stream): Promise<bigint> {
    const s = this.sock;
    if (!s || !this.established) throw new Error(`session ${this.index} is not established`);
    for (let i = 0; i < st.chunks.length; i++) {
      const c = st.chunks[i]!;
      if (i === st.chunks.length - 1) {
        await new Promise<void>((res, rej) => s.write(c, (e) => (e ? rej(e) : res())));
      } else if (!s.write(c)) {
        await new Promise<void>((res, rej) => {
          const onClose = () => rej(new Error(`session ${this.index} closed while sending`));
          s.once("close", onClose);
          s.once("drain", () => {
            s.off("close", onClose);
            res();
          });
        });
      }
    }
    return now();
  }

  down(): Promise<void> {
    this.closing = true;
    if (this.ka) clearInterval(this.ka);
    const s = this.sock;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((r) => {
      s.once("close", () => r());
      s.end(CEASE);
      setTimeout(() => s.destroy(), 2000).unref();
    });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: "string", default: "one" },
      peer: { type: "string" },
      local: { type: "string" },
      routes: { type: "string" },
      stride: { type: "string" },
      imet: { type: "boolean", default: false },
      asn: { type: "string", default: "65000" },
      vni: { type: "string", default: "100" },
      rd: { type: "string", default: "198.18.0.2:1" },
      "next-hop": { type: "string", default: "198.18.0.2" },
      listen: { type: "boolean", default: false },
    },
  });
  const mode = values.mode as BlastMode;
  if (mode !== "one" && mode !== "many") throw new Error("--mode must be one or many");
  if (!values.local) throw new Error("--local A1[,A2...] is required");
  if (!values.listen && !values.peer) throw new Error("--peer is required (or --listen)");
  const locals = values.local.split(",");
  const n = Number(values.routes);
  if (!Number.isInteger(n) || n < 0) throw new Error("--routes N (type-2 routes per session) is required");
  const stride = values.stride === undefined ? n : Number(values.stride);
  const spec: RouteSpec = { asn: Number(values.asn), vni: Number(values.vni), rd: parseRd(values.rd), nextHop: values["next-hop"] };

  // everything on the wire is encoded here, before any session comes up
  const e0 = now();
  const ann = locals.map((_, i) => announceStream(spec, mode, i * stride, n, values.imet && i === 0));
  const wd = locals.map((_, i) => withdrawStream(spec, mode, i * stride, n, values.imet && i === 0));
  const sum = (xs: Stream[], f: (s: Stream) => number) => xs.reduce((a, s) => a + f(s), 0);
  say({
    ev: "encoded",
    ms: Number(now() - e0) / 1e6,
    mode,
    sessions: locals.length,
    announce: { bytes: sum(ann, (s) => s.bytes), messages: sum(ann, (s) => s.messages), nlri: sum(ann, (s) => s.nlri) },
    withdraw: { bytes: sum(wd, (s) => s.bytes), messages: sum(wd, (s) => s.messages), nlri: sum(wd, (s) => s.nlri) },
  });

  const sessions = locals.map((a, i) => new Session(i, a, spec.asn));
  const servers: Server[] = [];
  if (values.listen) for (const s of sessions) servers.push(await s.listen());
  else for (const s of sessions) s.connectTo(values.peer!);
  await Promise.all(sessions.map((s) => s.up));
  for (const srv of servers) srv.close();
  say({ ev: "ready" });

  let busy = false;
  const blast = async (what: "announce" | "withdraw", streams: Stream[]) => {
    busy = true;
    try {
      const t0 = now();
      const ends = await Promise.all(sessions.map((s, i) => s.write(streams[i]!)));
      const t1 = ends.reduce((m, x) => (x > m ? x : m), t0);
      say({
        ev: "sent",
        what,
        t0: String(t0),
        t1: String(t1),
        ms: Number(t1 - t0) / 1e6,
        bytes: sum(streams, (s) => s.bytes),
        messages: sum(streams, (s) => s.messages),
        nlri: sum(streams, (s) => s.nlri),
      });
    } catch (e) {
      say({ ev: "error", msg: `${what}: ${(e as Error).message}` });
    } finally {
      busy = false;
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const cmd = line.trim();
    if (busy && cmd !== "down") return say({ ev: "error", msg: `busy: ${cmd} ignored` });
    if (cmd === "go" || cmd === "announce") void blast("announce", ann);
    else if (cmd === "withdraw") void blast("withdraw", wd);
    else if (cmd === "down") {
      void Promise.all(sessions.map((s) => s.down())).then(() => {
        say({ ev: "down" });
        process.exit(0);
      });
    } else if (cmd) say({ ev: "error", msg: `unknown command ${cmd}` });
  });
  rl.on("close", () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    say({ ev: "error", msg: (e as Error).message });
    process.exit(1);
  });
}

// The receive fast path for EVPN UPDATEs: the common UPDATE (MP_REACH_NLRI
// and/or MP_UNREACH_NLRI for L2VPN EVPN, no IPv4 routes, every attribute
// well formed) decoded straight from the buffer, with its other path
// attributes decoded once per distinct attribute octets and shared.
//
// Same results as decodeUpdateBody, by construction:
//  - the path attributes other than MP_REACH/MP_UNREACH are decoded by
//    decodeUpdateBody itself the first time their octets are seen (in an
//    UPDATE with the same MP_REACH / MP_UNREACH presence, on the same session
//    context); only an outcome without any RFC 7606 issue or discarded
//    attribute is kept, keyed by those octets, and reused for later UPDATEs
//    that carry exactly the same octets;
//  - the EVPN NLRI are parsed here only in their strictly valid shapes (type 2
//    with MAC length 48, IP length 0/32/128 and a Length that matches; other
//    route types through decodeEvpnNlri, one NLRI at a time);
//  - anything else (IPv4 routes, an attribute that does not frame, a repeated
//    attribute, MP flags off their definition, another AFI/SAFI, an NLRI that
//    does not parse, End-of-RIB) is left to decodeUpdateBody: decode() then
//    returns undefined and the caller decodes the message the ordinary way,
//    RFC 7606 handling (treat-as-withdraw, session reset, attribute discard)
//    unchanged.
// The route keys come from the same octets (evpnRouteKey's form), without
// re-encoding the route.

import { formatMacAt } from '../../../config/net.ts';
import { bytesToIp, ESI_ZERO, bytesToEsi } from './addr.ts';
import { AttrCode, AttrFlag, type PathAttribute } from './attributes/index.ts';
import { decodeEvpnNlri, evpnRouteKey, type EvpnMacIpRoute, type EvpnRoute } from './evpn-nlri.ts';
import { decodeRd, type RouteDistinguisher } from './rd.ts';
import { decodeUpdateBody, type UpdateDecodeOptions } from './update.ts';
import { Reader } from './wire.ts';

export interface FastUpdate {
  /**
   * The path attributes other than MP_REACH/MP_UNREACH, as decodeUpdateBody
   * decodes them. Shared by every UPDATE with the same attribute octets: never
   * modify it.
   */
  attrs: PathAttribute[];
  /** MP_REACH_NLRI's next hop (undefined without MP_REACH_NLRI). */
  nextHop: string | undefined;
  announced: EvpnRoute[];
  /** evpnRouteKey of each announced route. */
  announcedKeys: string[];
  /** The withdrawn routes: empty when the decoder was made with `withdrawnRoutes: false` (the keys say it all then). */
  withdrawn: EvpnRoute[];
  /** evpnRouteKey of each withdrawn route. */
  withdrawnKeys: string[];
}

export interface FastPathOptions {
  /**
   * Build the route objects of withdrawals too (default true). A receiver that
   * needs only the keys of what is withdrawn (the speaker: the RIB has the
   * routes) saves an object and a MAC string per withdrawal.
   */
  withdrawnRoutes?: boolean;
}

/** Scratch for keys of the uncommon lengths (IPv6): "2:" then the key octets. */
const KEY_BUF = Buffer.alloc(2 + 64);
KEY_BUF[0] = 0x32;
KEY_BUF[1] = 0x3a;
const OT_MASK = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
/** MP_REACH_NLRI / MP_UNREACH_NLRI are optional non-transitive. */
const MP_FLAGS = AttrFlag.OPTIONAL;
const AFI_L2VPN = 25;
const SAFI_EVPN = 70;
/** Distinct attribute sets kept per session (a MAC Mobility sequence number makes a new one). */
const ATTR_CACHE_MAX = 4096;
const RD_CACHE_MAX = 4096;

/**
 * evpnRouteKey of a type-2 route from its value at v: "2:" + the octets of RD
 * (8) and of tag .. IP (12 + IP length), one character each. The common
 * lengths (no IP, IPv4) are built in one String.fromCharCode call straight
 * from the buffer: a flat string without a trip into C++ (this runs once per
 * route received).
 */
function macIpKey(b: Buffer, v: number, ipLen: number): string {
  if (ipLen === 0)
    return String.fromCharCode(0x32, 0x3a, b[v]!, b[v + 1]!, b[v + 2]!, b[v + 3]!, b[v + 4]!, b[v + 5]!, b[v + 6]!, b[v + 7]!, b[v + 18]!, b[v + 19]!, b[v + 20]!, b[v + 21]!, b[v + 22]!, b[v + 23]!, b[v + 24]!, b[v + 25]!, b[v + 26]!, b[v + 27]!, b[v + 28]!, b[v + 29]!);
  if (ipLen === 4)
    return String.fromCharCode(0x32, 0x3a, b[v]!, b[v + 1]!, b[v + 2]!, b[v + 3]!, b[v + 4]!, b[v + 5]!, b[v + 6]!, b[v + 7]!, b[v + 18]!, b[v + 19]!, b[v + 20]!, b[v + 21]!, b[v + 22]!, b[v + 23]!, b[v + 24]!, b[v + 25]!, b[v + 26]!, b[v + 27]!, b[v + 28]!, b[v + 29]!, b[v + 30]!, b[v + 31]!, b[v + 32]!, b[v + 33]!);
  b.copy(KEY_BUF, 2, v, v + 8);
  b.copy(KEY_BUF, 10, v + 18, v + 30 + ipLen);
  return KEY_BUF.toString('latin1', 0, 22 + ipLen);
}

/** The attribute runs of the UPDATE being decoded: [start, end) pairs in the body (MP_REACH and MP_UNREACH split them into three at most). */
const RUNS = new Int32Array(6);

/** The runs RUNS[0..2n) of b, one after the other, equal all of r (compared here: a Buffer.compare is a call into C++ per UPDATE). */
function sameRuns(r: Buffer, b: Buffer, n: number): boolean {
  let k = 0;
  for (let j = 0; j < n; j++) {
    const from = RUNS[2 * j]!;
    const to = RUNS[2 * j + 1]!;
    if (k + to - from > r.length) return false;
    for (let i = from; i < to; i++) if (r[k++] !== b[i]) return false;
  }
  return k === r.length;
}

/** Cuts an array the decoder overwrote in place to its first n entries. */
function cut<T>(a: T[], n: number): void {
  if (a.length > n) a.length = n;
}

function isZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** One decoder per session context (ebgp / peer AS); its caches are per session. */
export class UpdateFastPath {
  private readonly attrCache = new Map<string, PathAttribute[]>();
  private readonly rdCache = new Map<string, RouteDistinguisher>();
  private readonly nhCache = new Map<number, string>();
  /** The last attribute set looked up (one run of octets, MP_REACH present or not) and its decoding. */
  private lastRun: Buffer = Buffer.alloc(0);
  private lastReach = false;
  private lastAttrs: PathAttribute[] | undefined;
  /** The octets of the last IPv4 next hop decoded, and its text. */
  private readonly lastNh = Buffer.alloc(4);
  private lastNhText: string | undefined;
  /** The octets of the last RD decoded, and the (shared) RD object. */
  private readonly lastRdBytes = Buffer.alloc(8);
  private lastRd: RouteDistinguisher | undefined;
  /** UPDATEs decoded here / left to decodeUpdateBody (tests, stats). */
  readonly stats = { fast: 0, slow: 0 };

  private readonly withdrawnRoutes: boolean;

  constructor(
    private readonly opts: UpdateDecodeOptions = {},
    fast: FastPathOptions = {},
  ) {
    this.withdrawnRoutes = fast.withdrawnRoutes ?? true;
  }

  /** The result, reused by every decode(): valid until the next call. */
  private readonly out: FastUpdate = { attrs: [], nextHop: undefined, announced: [], announcedKeys: [], withdrawn: [], withdrawnKeys: [] };

  /**
   * The UPDATE body (after the 19-octet header) in body[start..end), or
   * undefined: decode it with decodeUpdateBody (not the simple case, or
   * something to report). The result (its arrays included) is reused by the
   * next call: take what is needed from it before.
   */
  decode(body: Buffer, start = 0, end = body.length): FastUpdate | undefined {
    const r = this.tryDecode(body, start, end);
    if (r) this.stats.fast++;
    else this.stats.slow++;
    return r;
  }

  private tryDecode(body: Buffer, start: number, end: number): FastUpdate | undefined {
    if (end - start < 4) return undefined;
    if (body[start] !== 0 || body[start + 1] !== 0) return undefined; // IPv4 Withdrawn Routes
    const taLen = (body[start + 2]! << 8) | body[start + 3]!;
    if (start + 4 + taLen !== end) return undefined; // overrun, or IPv4 NLRI after the attributes
    let pos = start + 4;
    let reachAt = -1;
    let reachEnd = -1;
    let unreachAt = -1;
    let unreachEnd = -1;
    // the other attributes' octets, as runs between MP_REACH / MP_UNREACH: one
    // (MP_REACH first, RFC 7606 §5.1, as FRR sends) or up to three (attributes
    // in code order, as GoBGP sends)
    const R = RUNS;
    let runs = 0;
    let seen0 = 0; // codes 0..31 as bits; anything above in `seenHi`
    let seenHi: number[] | undefined;
    while (pos < end) {
      const left = end - pos;
      if (left < 3) return undefined;
      const flags = body[pos]!;
      const code = body[pos + 1]!;
      const hdr = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
      if (left < hdr) return undefined;
      const len = hdr === 4 ? (body[pos + 2]! << 8) | body[pos + 3]! : body[pos + 2]!;
      if (len > left - hdr) return undefined;
      if (code < 32) {
        const bit = 1 << code;
        if (seen0 & bit) return undefined;
        seen0 |= bit;
      } else {
        seenHi ??= [];
        if (seenHi.includes(code)) return undefined;
        seenHi.push(code);
      }
      const next = pos + hdr + len;
      if (code === AttrCode.MP_REACH_NLRI || code === AttrCode.MP_UNREACH_NLRI) {
        if ((flags & OT_MASK) !== MP_FLAGS) return undefined;
        if (code === AttrCode.MP_REACH_NLRI) {
          reachAt = pos + hdr;
          reachEnd = next;
        } else {
          unreachAt = pos + hdr;
          unreachEnd = next;
        }
      } else if (runs > 0 && R[2 * runs - 1] === pos) {
        R[2 * runs - 1] = next;
      } else {
        R[2 * runs] = pos;
        R[2 * runs + 1] = next;
        runs++;
      }
      pos = next;
    }
    if (reachAt < 0 && unreachAt < 0) return undefined;
    // the attributes of the previous UPDATE again (one NLRI per UPDATE: the
    // common case): compared in place, no key string built or hashed
    const hasReach = reachAt >= 0;
    let attrs: PathAttribute[] | undefined;
    if (this.lastAttrs !== undefined && this.lastReach === hasReach && sameRuns(this.lastRun, body, runs)) attrs = this.lastAttrs;

    const out = this.out;
    out.nextHop = undefined;
    // the arrays are overwritten in place and cut to what this UPDATE has: one
    // route per UPDATE (GoBGP's way) allocates no array
    let withdrawn = 0;
    if (unreachAt >= 0) {
      if (unreachEnd - unreachAt < 3) return undefined;
      if (((body[unreachAt]! << 8) | body[unreachAt + 1]!) !== AFI_L2VPN || body[unreachAt + 2] !== SAFI_EVPN) return undefined;
      if (unreachEnd - unreachAt === 3 && reachAt < 0 && runs === 0) return undefined; // End-of-RIB
      withdrawn = this.nlri(body, unreachAt + 3, unreachEnd, this.withdrawnRoutes ? out.withdrawn : undefined, out.withdrawnKeys);
      if (withdrawn < 0) return undefined;
    }
    cut(out.withdrawn, this.withdrawnRoutes ? withdrawn : 0);
    cut(out.withdrawnKeys, withdrawn);
    let announced = 0;
    if (reachAt >= 0) {
      const vlen = reachEnd - reachAt;
      if (vlen < 5) return undefined;
      if (((body[reachAt]! << 8) | body[reachAt + 1]!) !== AFI_L2VPN || body[reachAt + 2] !== SAFI_EVPN) return undefined;
      const nhLen = body[reachAt + 3]!;
      if (nhLen !== 4 && nhLen !== 16 && nhLen !== 32) return undefined;
      if (4 + nhLen + 1 > vlen) return undefined;
      out.nextHop = this.nextHop(body, reachAt + 4, nhLen);
      announced = this.nlri(body, reachAt + 5 + nhLen, reachEnd, out.announced, out.announcedKeys);
      if (announced < 0) return undefined;
    }
    cut(out.announced, announced);
    cut(out.announcedKeys, announced);
    if (!attrs) {
      let key = hasReach ? 'R' : '-';
      for (let i = 0; i < runs; i++) key += body.toString('latin1', R[2 * i], R[2 * i + 1]);
      attrs = this.attrCache.get(key);
      if (!attrs) {
        // first time these attributes are seen: decodeUpdateBody decides
        const full = decodeUpdateBody(body.subarray(start, end), this.opts);
        if (!full.ok || full.discarded.length > 0) return undefined;
        attrs = full.update.attributes.filter((a) => a.type !== 'mp-reach' && a.type !== 'mp-unreach');
        if (this.attrCache.size >= ATTR_CACHE_MAX) this.attrCache.clear();
        this.attrCache.set(key, attrs);
      }
      this.lastRun = runs === 1 ? Buffer.from(body.subarray(R[0], R[1])) : Buffer.concat(Array.from({ length: runs }, (_, i) => body.subarray(R[2 * i], R[2 * i + 1])));
      this.lastReach = hasReach;
      this.lastAttrs = attrs;
    }
    out.attrs = attrs;
    return out;
  }

  private nextHop(b: Buffer, at: number, len: number): string {
    if (len === 4) {
      // the next hop of the previous UPDATE again (one peer's routes): compared in place
      const l = this.lastNh;
      if (this.lastNhText !== undefined && b[at] === l[0] && b[at + 1] === l[1] && b[at + 2] === l[2] && b[at + 3] === l[3]) return this.lastNhText;
      const n = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) | 0; // a small integer key, never a heap number
      let s = this.nhCache.get(n);
      if (s === undefined) {
        s = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
        if (this.nhCache.size >= RD_CACHE_MAX) this.nhCache.clear();
        this.nhCache.set(n, s);
      }
      b.copy(l, 0, at, at + 4);
      this.lastNhText = s;
      return s;
    }
    return bytesToIp(b.subarray(at, at + 16));
  }

  private rd(b: Buffer, at: number): RouteDistinguisher {
    // the RD of the previous route again (one originator's routes): compared in place
    const l = this.lastRdBytes;
    if (this.lastRd !== undefined && b[at] === l[0] && b[at + 1] === l[1] && b[at + 2] === l[2] && b[at + 3] === l[3] && b[at + 4] === l[4] && b[at + 5] === l[5] && b[at + 6] === l[6] && b[at + 7] === l[7])
      return this.lastRd;
    const rd = this.rdSlow(b, at);
    b.copy(l, 0, at, at + 8);
    this.lastRd = rd;
    return rd;
  }

  private rdSlow(b: Buffer, at: number): RouteDistinguisher {
    const k = b.toString('latin1', at, at + 8);
    let rd = this.rdCache.get(k);
    if (!rd) {
      rd = decodeRd(new Reader(Buffer.from(b.subarray(at, at + 8))));
      if (this.rdCache.size >= RD_CACHE_MAX) this.rdCache.clear();
      this.rdCache.set(k, rd);
    }
    return rd;
  }

  /**
   * EVPN NLRI in b[from..to) into routes (unless undefined) and keys, written
   * from index 0 on (what is beyond is the caller's to cut): how many, or -1 to
   * leave the UPDATE to the full decoder.
   */
  private nlri(b: Buffer, from: number, to: number, routes: EvpnRoute[] | undefined, keys: string[]): number {
    let o = from;
    let n = 0;
    while (o < to) {
      if (to - o < 2) return -1;
      const t = b[o]!;
      const len = b[o + 1]!;
      const v = o + 2;
      if (len > to - v) return -1;
      if (t === 2) {
        // RD 8, ESI 10, tag 4, MAC length 1 (48), MAC 6, IP length 1, IP 0/4/16, label1 3, label2 0/3
        if (len < 33) return -1;
        if (b[v + 22] !== 48) return -1;
        const ipBits = b[v + 29]!;
        const ipLen = ipBits === 0 ? 0 : ipBits === 32 ? 4 : ipBits === 128 ? 16 : -1;
        if (ipLen < 0) return -1;
        const base = 33 + ipLen;
        if (len !== base && len !== base + 3) return -1;
        if (!routes) {
          // every check above is all the route's decoding could fail on
          keys[n++] = macIpKey(b, v, ipLen);
          o = v + len;
          continue;
        }
        const esi = isZero(b, v + 8, v + 18) ? ESI_ZERO : bytesToEsi(b.subarray(v + 8, v + 18));
        const lab = v + 30 + ipLen;
        const route: EvpnMacIpRoute = {
          type: 'mac-ip',
          rd: this.rd(b, v),
          esi,
          ethernetTag: b.readUInt32BE(v + 18),
          mac: formatMacAt(b, v + 23),
          label1: (b[lab]! << 16) | (b[lab + 1]! << 8) | b[lab + 2]!,
        };
        if (ipLen) route.ip = bytesToIp(b.subarray(v + 30, v + 30 + ipLen));
        if (len === base + 3) route.label2 = (b[lab + 3]! << 16) | (b[lab + 4]! << 8) | b[lab + 5]!;
        routes[n] = route;
        keys[n++] = macIpKey(b, v, ipLen);
      } else {
        const d = decodeEvpnNlri(b.subarray(o, v + len));
        if (!d.ok || d.routes.length !== 1) return -1;
        const route = d.routes[0]!;
        if (routes) routes[n] = route;
        keys[n++] = evpnRouteKey(route);
      }
      o = v + len;
    }
    return n;
  }
}

// EVPN RIBs (RFC 4271 §3.2): Adj-RIB-In per peer, the Loc-RIB with best-path
// selection, Adj-RIB-Out per peer, and the route reflection rules of RFC 4456.
// Pure data structures: no sockets, no timers.
//
// Route identity is the RFC 7432 route key (evpnRouteKey: RD + the
// type-specific key fields), so one originator's route for one MAC in one
// VNI is one entry; paths for that key from several peers (e.g. two
// reflectors) compete in best-path selection.
//
// Best path (RFC 4271 §9.1.2.2, RFC 4456 §9), first difference wins:
//   1. locally originated
//   2. higher LOCAL_PREF (absent = 100)
//   3. shorter AS_PATH (a set counts 1)
//   4. lower ORIGIN
//   5. lower MED, only between paths whose first AS is the same
//   6. eBGP over iBGP
//   7. lower originator ID (ORIGINATOR_ID, else the peer's BGP Identifier)
//   8. shorter CLUSTER_LIST
//   9. lower peer address

import {
  asPathLength,
  AttrCode,
  attributeCodeOf,
  evpnRouteKey,
  evpnRouteTypeOf,
  type EvpnRoute,
  findAttribute,
  type PathAttribute,
  prepareForPropagation,
} from "./bgp/index.ts";
import { MULTI_VNI_ATTR_CODE } from "./multi-vni.ts";

export interface PeerRef {
  /** Peer address (unique per session). */
  id: string;
  routerId: string;
  asn: number;
  ibgp: boolean;
  rrClient: boolean;
}

export interface Path {
  key: string;
  route: EvpnRoute;
  nextHop: string;
  /** Path attributes without MP_REACH/MP_UNREACH. */
  attrs: PathAttribute[];
  /** undefined = originated by this switch. */
  from?: PeerRef;
  /** While this is its key's best path: the MAC table's record of what the route claims (macs.ts ClaimHolder). */
  claimed?: unknown;
}

export const LOCAL_PREF_DEFAULT = 100;

function ipNum(ip: string): bigint {
  if (ip.includes(".")) return BigInt(ip.split(".").reduce((a, b) => a * 256 + Number(b), 0));
  // IPv6: good enough for ordering (full expansion not needed for a tie-break)
  let n = 0n;
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g || "0", 16));
  return n;
}

export function compareIp(a: string, b: string): number {
  const x = ipNum(a);
  const y = ipNum(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function localPref(p: Path): number {
  return findAttribute(p.attrs, "local-pref")?.value ?? LOCAL_PREF_DEFAULT;
}
function pathLen(p: Path): number {
  const a = findAttribute(p.attrs, "as-path");
  return a ? asPathLength(a) : 0;
}
function firstAs(p: Path): number | undefined {
  const s = findAttribute(p.attrs, "as-path")?.segments[0];
  return s && s.type === "sequence" ? s.asns[0] : undefined;
}
export function originatorOf(p: Path): string {
  return findAttribute(p.attrs, "originator-id")?.id ?? p.from?.routerId ?? "0.0.0.0";
}

/** Negative when a is better. */
export function comparePaths(a: Path, b: Path): number {
  if (!a.from !== !b.from) return a.from ? 1 : -1;
  if (!a.from || !b.from) return 0;
  const lp = localPref(b) - localPref(a);
  if (lp) return lp;
  const len = pathLen(a) - pathLen(b);
  if (len) return len;
  const o = (findAttribute(a.attrs, "origin")?.value ?? 2) - (findAttribute(b.attrs, "origin")?.value ?? 2);
  if (o) return o;
  if (firstAs(a) === firstAs(b)) {
    const m = (findAttribute(a.attrs, "med")?.value ?? 0) - (findAttribute(b.attrs, "med")?.value ?? 0);
    if (m) return m;
  }
  if (a.from.ibgp !== b.from.ibgp) return a.from.ibgp ? 1 : -1;
  const id = compareIp(originatorOf(a), originatorOf(b));
  if (id) return id;
  const cl = (findAttribute(a.attrs, "cluster-list")?.ids.length ?? 0) - (findAttribute(b.attrs, "cluster-list")?.ids.length ?? 0);
  if (cl) return cl;
  return compareIp(a.from.id, b.from.id);
}

export interface BestChange {
  key: string;
  old?: Path;
  best?: Path;
}

/** A key with two or more candidate paths (one path is stored as the Path itself). */
class Multi {
  constructor(
    public paths: Path[],
    public best?: Path,
  ) {}
}

/**
 * The Loc-RIB: every candidate path per route key and the selected best.
 * A key with one path (the common case: one originator, one session) holds
 * that Path directly, which is its best; no entry object or array per key.
 */
export class LocRib {
  private readonly entries = new Map<string, Path | Multi>();
  /**
   * What the last upsert()/remove() found, besides the best-path change: did
   * upsert add a path from a source that had none for the key (not replace
   * one), did remove find the source's path. The speaker counts each peer's
   * paths by these; the Loc-RIB is also its Adj-RIB-In (each path names its
   * peer), as in FRR, so no per-peer map per route is kept.
   */
  lastUpsertAdded = false;
  lastRemoveFound = false;

  get size(): number {
    return this.entries.size;
  }

  best(key: string): Path | undefined {
    const e = this.entries.get(key);
    return e instanceof Multi ? e.best : e;
  }

  paths(key: string): readonly Path[] {
    const e = this.entries.get(key);
    return e === undefined ? [] : e instanceof Multi ? e.paths : [e];
  }

  *bestPaths(): IterableIterator<Path> {
    for (const e of this.entries.values()) {
      if (!(e instanceof Multi)) yield e;
      else if (e.best) yield e.best;
    }
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** The path of a source for a key (fromId undefined: our own). */
  pathFrom(key: string, fromId: string | undefined): Path | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (!(e instanceof Multi)) return e.from?.id === fromId ? e : undefined;
    return e.paths.find((x) => x.from?.id === fromId);
  }

  /** Every path of a source, with its key (a peer's Adj-RIB-In): one walk of the Loc-RIB. */
  *pathsFrom(fromId: string): IterableIterator<Path> {
    for (const e of this.entries.values()) {
      if (!(e instanceof Multi)) {
        if (e.from?.id === fromId) yield e;
      } else {
        for (const x of e.paths) if (x.from?.id === fromId) yield x;
      }
    }
  }

  /** Adds or replaces the path from the same source; returns the best-path change, if any. */
  upsert(p: Path): BestChange | undefined {
    const key = p.key;
    const e = this.entries.get(key);
    if (e === undefined) {
      this.lastUpsertAdded = true;
      this.entries.set(key, p);
      return { key, best: p };
    }
    const id = p.from?.id;
    if (!(e instanceof Multi)) {
      if (e.from?.id === id) {
        this.lastUpsertAdded = false;
        this.entries.set(key, p);
        return e === p ? undefined : { key, old: e, best: p };
      }
      this.lastUpsertAdded = true;
      const m = new Multi([e, p], e);
      this.entries.set(key, m);
      return this.reselect(key, m);
    }
    let i = -1;
    for (let j = 0; j < e.paths.length; j++)
      if (e.paths[j]!.from?.id === id) {
        i = j;
        break;
      }
    this.lastUpsertAdded = i < 0;
    if (i >= 0) e.paths[i] = p;
    else e.paths.push(p);
    return this.reselect(key, e);
  }

  /** Removes the path of `fromId` (undefined = local). */
  remove(key: string, fromId: string | undefined): BestChange | undefined {
    this.lastRemoveFound = false;
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (!(e instanceof Multi)) {
      if (e.from?.id !== fromId) return undefined;
      this.lastRemoveFound = true;
      this.entries.delete(key);
      return { key, old: e };
    }
    const i = e.paths.findIndex((x) => x.from?.id === fromId);
    if (i < 0) return undefined;
    this.lastRemoveFound = true;
    e.paths.splice(i, 1);
    return this.reselect(key, e);
  }

  private reselect(key: string, e: Multi): BestChange | undefined {
    const old = e.best;
    let best: Path | undefined = e.paths[0];
    for (let j = 1; j < e.paths.length; j++) if (comparePaths(e.paths[j]!, best!) < 0) best = e.paths[j];
    e.best = best;
    if (e.paths.length === 0) this.entries.delete(key);
    else if (e.paths.length === 1) this.entries.set(key, e.paths[0]!); // back to one path, its own best
    if (old === best) return undefined;
    const ch: BestChange = { key };
    if (old) ch.old = old;
    if (best) ch.best = best;
    return ch;
  }
}

// ---------------------------------------------------------------------------
// Receive-side checks (RFC 4271 §9.1.2 loop detection, RFC 4456 §8)

export interface LocalIdentity {
  asn: number;
  routerId: string;
  /** Set when this switch is a route reflector. */
  clusterId?: string;
}

/** Why a received path must not enter the Loc-RIB, or undefined. */
export function rejectReason(p: Path, me: LocalIdentity): string | undefined {
  if (!p.from) return undefined;
  if (p.from.ibgp) {
    const orig = findAttribute(p.attrs, "originator-id");
    if (orig && orig.id === me.routerId) return `ORIGINATOR_ID ${orig.id} is our router id (RFC 4456 §8)`;
    const cl = findAttribute(p.attrs, "cluster-list");
    const ourCluster = me.clusterId ?? me.routerId;
    if (cl && cl.ids.includes(ourCluster)) return `CLUSTER_LIST contains our cluster id ${ourCluster} (RFC 4456 §8)`;
  } else {
    const ap = findAttribute(p.attrs, "as-path");
    if (ap && ap.segments.some((s) => s.asns.includes(me.asn))) return `AS_PATH contains our AS ${me.asn} (RFC 4271 §9.1.2)`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Export (RFC 4271 §9.1.3 + RFC 4456 §6)

/**
 * May a best path learned from `src` be advertised to `dst`?
 * iBGP-learned routes go to iBGP peers only through reflection: from a
 * client to every other peer, from a non-client to clients only.
 */
export function mayAdvertise(p: Path, dst: PeerRef, me: LocalIdentity): boolean {
  const src = p.from;
  if (!src) return true;
  if (src.id === dst.id) return false;
  if (src.ibgp && dst.ibgp) {
    if (me.clusterId === undefined) return false;
    if (!src.rrClient && !dst.rrClient) return false;
    // Don't hand a route back to its originator (it would drop it anyway, RFC 4456 §8).
    if (originatorOf(p) === dst.routerId) return false;
  }
  return true;
}

/**
 * Routes that go only to neighbors configured as capable of the multicast
 * extensions (`smet: true`): EVPN route types 6..11 (RFC 9251 SMET and
 * join/leave synch, RFC 9572 per-region / S-PMSI / Leaf A-D: FRR 8-10 drops
 * them, GoBGP resets the session on a type it does not know), and type-3
 * routes whose PMSI tunnel type is above 7 (RFC 9574's Replicator-AR route,
 * type 0x0A: FRR treats the UPDATE as withdrawn).
 */
export function needsMulticastCapability(p: Pick<Path, "route" | "attrs">): boolean {
  const t = evpnRouteTypeOf(p.route);
  if (t >= 6 && t <= 11) return true;
  if (p.route.type !== "imet") return false;
  const tunnel = findAttribute(p.attrs, "pmsi-tunnel")?.tunnel;
  if (!tunnel || tunnel.type === "ingress-replication") return false;
  return tunnel.type === "assisted-replication" || tunnel.tunnelType > 7;
}

/** RFC 9574 §4 PMSI flag bits: T (0x18), BM (0x04), U (0x02). */
const PMSI_AR_BITS = 0x1e;

/**
 * The attributes of a route for a neighbor that is not multicast-capable:
 * without the Multicast Flags extended community (RFC 9251 §9.4; GoBGP 3.x
 * does not know EVPN sub-type 0x09 and treats the whole UPDATE as withdrawn)
 * and without the RFC 9574 bits of the PMSI Tunnel flags (T, BM, U). A route
 * a capable switch sent a vxgate reflector reaches its other clients as that
 * switch sends it to non-capable ones. Unchanged (the same array) when there
 * is nothing to take out.
 */
export function withoutMulticastSignalling(attrs: PathAttribute[]): PathAttribute[] {
  const isFlags = (c: { type: string; bytes?: Buffer }) => c.type === "multicast-flags" || (c.type === "raw" && c.bytes![0] === 0x06 && c.bytes![1] === 0x09);
  const ext = findAttribute(attrs, "ext-communities");
  const pmsi = findAttribute(attrs, "pmsi-tunnel");
  const extHit = !!ext && ext.communities.some(isFlags);
  const pmsiHit = !!pmsi && ((pmsi.otherFlags ?? 0) & PMSI_AR_BITS) !== 0;
  if (!extHit && !pmsiHit) return attrs;
  const out: PathAttribute[] = [];
  for (const a of attrs) {
    if (a === ext && extHit) {
      const communities = a.communities.filter((c) => !isFlags(c));
      if (communities.length) out.push({ ...a, communities });
    } else if (a === pmsi && pmsiHit) {
      const other = (a.otherFlags ?? 0) & ~PMSI_AR_BITS;
      const { otherFlags: _o, ...rest } = a;
      out.push(other ? { ...rest, otherFlags: other } : rest);
    } else out.push(a);
  }
  return out;
}

/** The attributes to send `p` to `dst` with (next hop stays: it is the VTEP). */
export function exportAttributes(p: Path, dst: PeerRef, me: LocalIdentity): PathAttribute[] {
  const src = p.from;
  // Unknown optional transitive: Partial bit on; unknown non-transitive: dropped.
  // The multi-VNI attribute is ours: passed on as it is.
  const ours = p.attrs.filter((a) => a.type === "unknown" && a.code === MULTI_VNI_ATTR_CODE);
  const base = src ? [...prepareForPropagation(p.attrs.filter((a) => !ours.includes(a))), ...ours] : [...p.attrs];
  let out = base.filter((a) => a.type !== "mp-reach" && a.type !== "mp-unreach");
  if (!dst.ibgp) {
    out = out.filter((a) => a.type !== "local-pref" && a.type !== "originator-id" && a.type !== "cluster-list" && (a.type !== "med" || !src));
    const ap = findAttribute(out, "as-path");
    const segs = ap ? ap.segments : [];
    const first = segs[0];
    const newSegs =
      first && first.type === "sequence" && first.asns.length < 255
        ? [{ type: "sequence" as const, asns: [me.asn, ...first.asns] }, ...segs.slice(1)]
        : [{ type: "sequence" as const, asns: [me.asn] }, ...segs];
    out = out.filter((a) => a.type !== "as-path");
    out.push({ type: "as-path", segments: newSegs });
  } else {
    if (!findAttribute(out, "local-pref")) out.push({ type: "local-pref", value: LOCAL_PREF_DEFAULT });
    if (src?.ibgp) {
      // Reflection (RFC 4456 §8).
      const orig = findAttribute(out, "originator-id")?.id ?? src.routerId;
      const cl = findAttribute(out, "cluster-list")?.ids ?? [];
      out = out.filter((a) => a.type !== "originator-id" && a.type !== "cluster-list");
      out.push({ type: "originator-id", id: orig }, { type: "cluster-list", ids: [me.clusterId ?? me.routerId, ...cl] });
    }
  }
  // Canonical order by type code (RFC 4271 §5 recommends ascending), flags recomputed.
  return out
    .map((a) => (a.type === "unknown" ? a : ({ ...a, flags: undefined } as PathAttribute)))
    .map((a) => {
      if (a.type !== "unknown" && "flags" in a && a.flags === undefined) delete (a as { flags?: number }).flags;
      return a;
    })
    .sort((a, b) => attributeCodeOf(a) - attributeCodeOf(b));
}

export function pathKey(route: EvpnRoute): string {
  return evpnRouteKey(route);
}

export { AttrCode };

// Multicast membership over BGP EVPN, two carriers (README.md, "Over BGP EVPN"):
//
//  - attribute 243 (attribute.ts), to every peer: each switch lists, on its own
//    type-3 (IMET) route of a VNI, the (S or *, G) of that VNI it has local
//    members for, and whether it is the VNI's replicator. The type-3 route is
//    the whole truth for what it carries: a best path without the attribute
//    (or with a malformed one) means "no members in it", a withdrawn route
//    forgets it.
//  - the standard routes, to peers configured `smet: true` only (the speaker
//    decides who gets them): one RFC 9251 type-6 (SMET) route per (VNI, S or
//    *, G), and an RFC 9574 Replicator-AR route (type 3, PMSI tunnel type
//    0x0A, T = AR-REPLICATOR) from a VNI's replication point. multicast(vni)
//    tells the speaker what to originate; received type-6 routes come with the
//    local VNIs they import into, each one (S,G) of one VTEP: its withdrawal
//    removes that (S,G) only.
//
// A VTEP's membership in a VNI is the union of what its type-3 attribute and
// its type-6 routes say; a replicator is known from the attribute, or from a
// Replicator-AR route when no attribute names that address. Receivers keep
// that per (VNI, VTEP) so a sender copies a group only to the VTEPs with
// members (or once, to a replicator).
//
// Wiring (the runtime):
//   const mc = new McastEvpn(vtepIp, { own: (vni) => ..., remoteChanged: (vni) => ... }, log);
//   new EvpnSpeaker(..., { extensions: combineExtensions(mirrorEvpn, mc) });
//   on a local membership change in `vni`: speaker.refreshImet(vni)   (one UPDATE per peer for the
//   attribute; capable peers also get the type-6 routes that came or went)
import type { EvpnImetRoute, EvpnRoute, EvpnSmetRoute, PathAttribute } from "../evpn/bgp/index.ts";
import { arTypeOf, findAttribute, isIpv4, PmsiArType, vniFromLabel } from "../evpn/bgp/index.ts";
import type { RouteExtensions } from "../evpn/speaker.ts";
import type { Logger } from "../log.ts";
import { decodeMcastMembership, encodeMcastMembershipFit, findMcastAttribute, mcastEntryProblem, type McastEntryWire, type McastMembershipWire } from "./attribute.ts";

export interface McastEvpnHooks {
  /** This switch's membership and replicator role in `vni` (undefined: none). */
  own(vni: number): McastMembershipWire | undefined;
  /** What other switches advertise for `vni` (members or replicators) changed. */
  remoteChanged(vni: number): void;
}

export interface McastReplicator {
  /** The originating VTEP of the type-3 route. */
  vtep: string;
  /** Where leaves send the single copy. */
  address: string;
}

/** One (VNI, source, group) with remote members, for `show mcast`. */
export interface McastRemoteRow {
  vni: number;
  /** "*" for any source. */
  source: string;
  group: string;
  remotes: { vtep: string; origin: "bgp" }[];
}

/** What one best path says for one VNI (canonical: sorted, no duplicates). */
interface Learned {
  vni: number;
  vtep: string;
  /** "S|G" / "*|G", sorted. */
  sg: string[];
  replicator?: string;
  /** learned from an RFC 9574 Replicator-AR route (vtep is then its AR-IP) */
  ar?: true;
}

/** What a best path says: nothing, or one entry per VNI (a type-6 route may import into several). */
type LearnedList = readonly Learned[];

const ipNum = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const cmpIp = (a: string, b: string) => ipNum(a) - ipNum(b) || (a < b ? -1 : a > b ? 1 : 0);
/** group, then source ("*" first) */
function cmpSg(a: string, b: string): number {
  const [sa, ga] = a.split("|") as [string, string];
  const [sb, gb] = b.split("|") as [string, string];
  return cmpIp(ga, gb) || (sa === sb ? 0 : sa === "*" ? -1 : sb === "*" ? 1 : cmpIp(sa, sb));
}
const sgKey = (e: McastEntryWire) => `${e.source === "0.0.0.0" ? "*" : e.source}|${e.group}`;

function sameLearned(a: Learned, b: Learned): boolean {
  return a.vni === b.vni && a.vtep === b.vtep && a.replicator === b.replicator && a.ar === b.ar && a.sg.length === b.sg.length && a.sg.every((x, i) => x === b.sg[i]);
}
const sameList = (a: LearnedList, b: LearnedList) => a.length === b.length && a.every((x, i) => sameLearned(x, b[i]!));
const isMulticastIpv4 = (ip: string) => isIpv4(ip) && Number(ip.split(".")[0]) >= 224 && Number(ip.split(".")[0]) <= 239;

export class McastEvpn implements RouteExtensions {
  /** type-3 / type-6 route key -> what its best path says (only other VTEPs' routes that say something) */
  private readonly byKey = new Map<string, LearnedList>();
  /** vni -> route keys in byKey with an entry for that VNI */
  private readonly byVni = new Map<number, Set<string>>();
  readonly counters = { malformed: 0, truncated: 0, invalidOwn: 0, smetIgnored: 0 };

  constructor(
    private readonly ownVtep: string,
    private readonly hooks: McastEvpnHooks,
    private readonly log: Logger,
  ) {}

  // ------------------------------------------------------------ our routes

  /** The attribute for our type-3 route of `vni`: only when we have members or are its replicator. */
  imet(vni: number): PathAttribute[] {
    const own = this.hooks.own(vni);
    if (!own) return [];
    // an entry the wire cannot carry is a bug upstream: leave it out, loudly, and keep the rest
    const entries = own.entries.filter((e) => {
      const why = mcastEntryProblem(e);
      if (why) {
        this.counters.invalidOwn++;
        this.log.error("local multicast membership entry cannot be advertised", { vni, source: e?.source, group: e?.group, why });
      }
      return !why;
    });
    if (entries.length === 0 && own.replicator === undefined) return [];
    let fit;
    try {
      fit = encodeMcastMembershipFit({ ...(own.replicator !== undefined ? { replicator: own.replicator } : {}), entries });
    } catch (e) {
      this.counters.invalidOwn++;
      this.log.error("local multicast membership cannot be advertised", { vni, error: (e as Error).message });
      return [];
    }
    if (fit.omitted > 0) {
      this.counters.truncated++;
      this.log.error("multicast membership does not fit in one type-3 route: some groups are not advertised", {
        vni,
        entries: fit.entries,
        advertised: fit.encoded,
        omitted: fit.omitted,
      });
    }
    return [fit.attribute];
  }

  /**
   * What the speaker sends capable peers for `vni` (type-6 routes, the
   * Replicator-AR route): the same membership as the attribute, every entry
   * (the attribute's 400-entry bound does not apply: each is its own route).
   * Entries the wire cannot carry are left out (imet() logs them).
   */
  multicast(vni: number): { replicator?: string; entries: McastEntryWire[] } | undefined {
    const own = this.hooks.own(vni);
    if (!own) return undefined;
    return { ...(own.replicator !== undefined ? { replicator: own.replicator } : {}), entries: own.entries.filter((e) => !mcastEntryProblem(e)) };
  }

  // ------------------------------------------------------------ others' routes

  received(key: string, route: EvpnRoute, best: { attrs: readonly PathAttribute[]; nextHop: string; vnis?: readonly number[] } | undefined): void {
    if ((route.type !== "imet" && route.type !== "smet") || route.originatorIp === this.ownVtep) return;
    const old = this.byKey.get(key) ?? [];
    const next = !best ? [] : route.type === "imet" ? this.learnImet(key, route, best) : this.learnSmet(key, route, best.vnis ?? []);
    if (sameList(old, next)) return; // nothing new (the common case: no attribute, never had one)
    const vnis = new Set([...old, ...next].map((l) => l.vni));
    const before = new Map([...vnis].map((v) => [v, this.signature(v)]));
    this.drop(key, old);
    if (next.length) {
      this.byKey.set(key, next);
      for (const l of next) {
        let s = this.byVni.get(l.vni);
        if (!s) this.byVni.set(l.vni, (s = new Set()));
        s.add(key);
      }
    }
    for (const v of vnis) if (this.signature(v) !== before.get(v)) this.hooks.remoteChanged(v);
  }

  /** A type-3 route: the attribute on a regular route, or the replicator of an RFC 9574 Replicator-AR route. */
  private learnImet(key: string, route: EvpnImetRoute, best: { attrs: readonly PathAttribute[]; nextHop: string }): LearnedList {
    const pmsi = findAttribute(best.attrs, "pmsi-tunnel");
    if (pmsi?.tunnel.type === "assisted-replication") {
      const address = pmsi.tunnel.endpoint;
      if (arTypeOf(pmsi) !== PmsiArType.AR_REPLICATOR || !isIpv4(address) || address === "0.0.0.0") {
        this.log.debug("assisted-replication route ignored (not an IPv4 AR-REPLICATOR)", { route: key, arType: arTypeOf(pmsi), address });
        return [];
      }
      return [{ vni: vniFromLabel(pmsi.label), vtep: route.originatorIp, sg: [], replicator: address, ar: true }];
    }
    const l = this.learn(key, route.originatorIp, best);
    return l ? [l] : [];
  }

  /**
   * A type-6 route: one (S,G) or (*,G) of its originator, in each local VNI
   * that imports it. IPv4 only (the fast path's groups are IPv4); a wildcard
   * group, an IPv6 group or source, or a source that is multicast are ignored
   * and counted. An IGMPv3 exclude-mode (S,G) (every source but S) counts as
   * (*,G): a few copies too many rather than none.
   */
  private learnSmet(key: string, route: EvpnSmetRoute, vnis: readonly number[]): LearnedList {
    const ignore = (why: string): LearnedList => {
      this.counters.smetIgnored++;
      this.log.debug("type-6 route ignored", { route: key, vtep: route.originatorIp, why });
      return [];
    };
    if (route.group === undefined) return ignore("wildcard group");
    if (!isMulticastIpv4(route.group)) return ignore(`group ${route.group} is not an IPv4 multicast address`);
    let source = route.source === "0.0.0.0" ? undefined : route.source;
    if (source !== undefined && (!isIpv4(source) || isMulticastIpv4(source))) return ignore(`source ${source} is not an IPv4 unicast address`);
    if (source !== undefined && route.flags?.igmpV3 && route.flags.exclude) source = undefined;
    if (vnis.length === 0) {
      this.log.debug("type-6 route imported by no local VNI", { route: key, vtep: route.originatorIp });
      return [];
    }
    const sg = `${source ?? "*"}|${route.group}`;
    return [...new Set(vnis)].sort((a, b) => a - b).map((vni) => ({ vni, vtep: route.originatorIp, sg: [sg] }));
  }

  /** What a regular type-3 best path's attribute says; undefined = nothing (no VNI, no attribute, malformed, or empty). */
  private learn(key: string, vtep: string, best: { attrs: readonly PathAttribute[]; nextHop: string }): Learned | undefined {
    const raw = findMcastAttribute(best.attrs);
    if (!raw) return undefined;
    const pmsi = findAttribute(best.attrs, "pmsi-tunnel");
    if (!pmsi) {
      this.log.debug("multicast membership on a type-3 route without PMSI tunnel ignored (no VNI)", { route: key, vtep });
      return undefined;
    }
    let w: McastMembershipWire;
    try {
      w = decodeMcastMembership(raw);
    } catch (e) {
      // the route itself stands; only the membership is ignored (that VTEP has no members as far as we know)
      this.counters.malformed++;
      this.log.warn("malformed multicast membership attribute ignored", { route: key, vtep, nextHop: best.nextHop, reason: (e as Error).message });
      return undefined;
    }
    const sg = [...new Set(w.entries.map(sgKey))].sort(cmpSg);
    if (sg.length === 0 && w.replicator === undefined) return undefined;
    return { vni: vniFromLabel(pmsi.label), vtep, sg, ...(w.replicator !== undefined ? { replicator: w.replicator } : {}) };
  }

  private drop(key: string, old: LearnedList): void {
    this.byKey.delete(key);
    for (const l of old) {
      const s = this.byVni.get(l.vni);
      s?.delete(key);
      if (s?.size === 0) this.byVni.delete(l.vni);
    }
  }

  /** Every entry learned for `vni`. */
  private *entries(vni: number): IterableIterator<Learned> {
    for (const k of this.byVni.get(vni) ?? []) for (const l of this.byKey.get(k)!) if (l.vni === vni) yield l;
  }

  /** Everything remoteMembers() and replicators() say for `vni`, as one comparable string. */
  private signature(vni: number): string {
    const members = [...this.remoteMembers(vni)].map(([sg, vteps]) => `${sg}=${[...vteps].sort().join(",")}`).sort();
    const reps = this.replicators(vni).map((r) => `${r.vtep}>${r.address}`);
    return `${members.join(";")}#${reps.join(";")}`;
  }

  // ------------------------------------------------------------ queries

  /** (S|G or *|G) -> the remote VTEPs with members, for one VNI (attribute and type-6 routes together). */
  remoteMembers(vni: number): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const l of this.entries(vni)) {
      for (const sg of l.sg) {
        let s = out.get(sg);
        if (!s) out.set(sg, (s = new Set()));
        s.add(l.vtep);
      }
    }
    return out;
  }

  /**
   * The remote VTEPs advertising the replicator flag for `vni`, with their
   * replicator address (sorted by VTEP); a Replicator-AR route adds its AR-IP
   * (as both vtep and address) unless an attribute already names that address.
   */
  replicators(vni: number): McastReplicator[] {
    const seen = new Map<string, McastReplicator>();
    const ar = new Map<string, McastReplicator>();
    for (const l of this.entries(vni)) {
      if (l.replicator === undefined) continue;
      if (l.ar) ar.set(l.replicator, { vtep: l.vtep, address: l.replicator });
      else seen.set(`${l.vtep}>${l.replicator}`, { vtep: l.vtep, address: l.replicator });
    }
    const named = new Set([...seen.values()].map((r) => r.address));
    for (const r of ar.values()) if (!named.has(r.address)) seen.set(`${r.vtep}>${r.address}`, r);
    return [...seen.values()].sort((a, b) => cmpIp(a.vtep, b.vtep) || cmpIp(a.address, b.address));
  }

  /** VNIs with any remote member or replicator. */
  vnis(): number[] {
    return [...this.byVni.keys()].sort((a, b) => a - b);
  }

  /** One row per (VNI, source, group) with remote members, sorted by VNI, group, source; VTEPs sorted. */
  rows(): McastRemoteRow[] {
    const rows: McastRemoteRow[] = [];
    for (const vni of this.vnis()) {
      const m = this.remoteMembers(vni);
      for (const sg of [...m.keys()].sort(cmpSg)) {
        const [source, group] = sg.split("|") as [string, string];
        rows.push({ vni, source, group, remotes: [...m.get(sg)!].sort(cmpIp).map((vtep) => ({ vtep, origin: "bgp" as const })) });
      }
    }
    return rows;
  }
}

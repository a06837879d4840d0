// Multicast membership over BGP EVPN (attribute 243, attribute.ts). Each
// switch lists, on its own type-3 (IMET) route of a VNI, the (S or *, G) of
// that VNI it has local members for, and whether it is the VNI's replicator.
// Receivers keep, per (VNI, originating VTEP), what that VTEP's best type-3
// path says, so a sender copies a group only to the VTEPs with members (or
// once, to a replicator). The type-3 route is the whole truth for its
// originator: a best path without the attribute (or with a malformed one)
// means "no members", a withdrawn route forgets the VTEP.
//
// Wiring (the runtime):
//   const mc = new McastEvpn(vtepIp, { own: (vni) => ..., remoteChanged: (vni) => ... }, log);
//   new EvpnSpeaker(..., { extensions: combineExtensions(mirrorEvpn, mc) });
//   on a local membership change in `vni`: speaker.refreshImet(vni)   (one UPDATE per peer)
import type { EvpnRoute, PathAttribute } from "../evpn/bgp/index.ts";
import { findAttribute, vniFromLabel } from "../evpn/bgp/index.ts";
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

/** What one originator's best type-3 path of one VNI says (canonical: sorted, no duplicates). */
interface Learned {
  vni: number;
  vtep: string;
  /** "S|G" / "*|G", sorted. */
  sg: string[];
  replicator?: string;
}

const ipNum = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const cmpIp = (a: string, b: string) => ipNum(a) - ipNum(b) || (a < b ? -1 : a > b ? 1 : 0);
/** group, then source ("*" first) */
function cmpSg(a: string, b: string): number {
  const [sa, ga] = a.split("|") as [string, string];
  const [sb, gb] = b.split("|") as [string, string];
  return cmpIp(ga, gb) || (sa === sb ? 0 : sa === "*" ? -1 : sb === "*" ? 1 : cmpIp(sa, sb));
}
const sgKey = (e: McastEntryWire) => `${e.source === "0.0.0.0" ? "*" : e.source}|${e.group}`;

function sameLearned(a: Learned | undefined, b: Learned | undefined): boolean {
  if (!a || !b) return a === b;
  return a.vni === b.vni && a.vtep === b.vtep && a.replicator === b.replicator && a.sg.length === b.sg.length && a.sg.every((x, i) => x === b.sg[i]);
}

export class McastEvpn implements RouteExtensions {
  /** type-3 route key -> what its best path says (only routes of other VTEPs with members or a replicator flag) */
  private readonly byKey = new Map<string, Learned>();
  /** vni -> route keys in byKey */
  private readonly byVni = new Map<number, Set<string>>();
  readonly counters = { malformed: 0, truncated: 0, invalidOwn: 0 };

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

  // ------------------------------------------------------------ others' routes

  received(key: string, route: EvpnRoute, best: { attrs: readonly PathAttribute[]; nextHop: string } | undefined): void {
    if (route.type !== "imet" || route.originatorIp === this.ownVtep) return;
    const old = this.byKey.get(key);
    const next = best ? this.learn(key, route.originatorIp, best) : undefined;
    if (sameLearned(old, next)) return; // nothing new (the common case: no attribute, never had one)
    const vnis = new Set<number>();
    if (old) vnis.add(old.vni);
    if (next) vnis.add(next.vni);
    const before = new Map([...vnis].map((v) => [v, this.signature(v)]));
    if (old) this.drop(key, old);
    if (next) {
      this.byKey.set(key, next);
      let s = this.byVni.get(next.vni);
      if (!s) this.byVni.set(next.vni, (s = new Set()));
      s.add(key);
    }
    for (const v of vnis) if (this.signature(v) !== before.get(v)) this.hooks.remoteChanged(v);
  }

  /** What a best path says; undefined = nothing (no VNI, no attribute, malformed, or empty). */
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

  private drop(key: string, l: Learned): void {
    this.byKey.delete(key);
    const s = this.byVni.get(l.vni);
    s?.delete(key);
    if (s?.size === 0) this.byVni.delete(l.vni);
  }

  /** Everything remoteMembers() and replicators() say for `vni`, as one comparable string. */
  private signature(vni: number): string {
    const members = [...this.remoteMembers(vni)].map(([sg, vteps]) => `${sg}=${[...vteps].sort().join(",")}`).sort();
    const reps = this.replicators(vni).map((r) => `${r.vtep}>${r.address}`);
    return `${members.join(";")}#${reps.join(";")}`;
  }

  // ------------------------------------------------------------ queries

  /** (S|G or *|G) -> the remote VTEPs with members, for one VNI. */
  remoteMembers(vni: number): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const k of this.byVni.get(vni) ?? []) {
      const l = this.byKey.get(k)!;
      for (const sg of l.sg) {
        let s = out.get(sg);
        if (!s) out.set(sg, (s = new Set()));
        s.add(l.vtep);
      }
    }
    return out;
  }

  /** The remote VTEPs advertising the replicator flag for `vni`, with their replicator address (sorted by VTEP). */
  replicators(vni: number): McastReplicator[] {
    const seen = new Map<string, McastReplicator>();
    for (const k of this.byVni.get(vni) ?? []) {
      const l = this.byKey.get(k)!;
      if (l.replicator !== undefined) seen.set(`${l.vtep}>${l.replicator}`, { vtep: l.vtep, address: l.replicator });
    }
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

// The switch side of the EVPN speaker: what routes do to the fast path.
// Remote MACs become FDB_CONTROL entries (never aged; the data path may still
// move them when the host shows up locally, which is how MAC mobility starts);
// type-3 routes add VTEPs to a VNI's flood list; every VTEP a route names is
// admitted as an outer source for that VNI.
import { constants } from "../../codegen/tables.ts";
import type { EvpnSwitchPort } from "./macs.ts";
import type { Logger } from "../log.ts";
import type { Target } from "../targets/target.ts";
import type { TableKey, TableValue } from "../codec.ts";

/** Our remote entry for a VTEP (FDB_CONTROL: never aged). */
function remoteEntry(vtep: string, sticky: boolean): TableValue<"fdb"> {
  return { kind: constants.FDB_REMOTE, flags: constants.FDB_CONTROL | (sticky ? constants.FDB_STATIC : 0), vlan: 0, ifindex: 0, remote: vtep, seen_ns: 0n, event_ns: 0n };
}

/** What makes an FDB entry one of ours for a VTEP: kind remote, that VTEP, FDB_CONTROL set. */
const OURS_MASK: TableValue<"fdb"> = { kind: 0xff, flags: constants.FDB_CONTROL, vlan: 0, ifindex: 0, remote: "255.255.255.255", seen_ns: 0n, event_ns: 0n };

/** How recently a local MAC must have sent a frame to count as still present
 * (the data path refreshes an entry's timestamp at most once per LEARN_REFRESH_NS). */
const PRESENT_NS = 2n * BigInt(constants.LEARN_REFRESH_NS);
/** How long a host flushed from a port whose link went down counts as having moved from there when a route for it comes. */
const FLUSHED_MOVE_MS = 60_000;
/** Hosts remembered so at most (a port flush of more forgets the oldest first). */
const FLUSHED_MAX = 1 << 20;

export interface EvpnPortHooks {
  /** the flood or admit sets changed: recompute and apply the VNI tables */
  vnisChanged(): void;
  /** a remote VTEP appeared: keep its outer next hop resolved */
  vtepSeen(vtep: string): void;
  /** is (vni, mac) a static MAC of the config (which routes never replace)? */
  configStatic(vni: number, mac: string): boolean;
  /** a route installed, replaced or removed the entry of (vni, mac) */
  fdbChanged(vni: number, mac: string): void;
  /** does the port have its link (up, with carrier), as the link watcher last saw it? */
  portUp(ifindex: number): boolean;
}

/** A route moved (vni, mac): from a local port (by ifindex) or a VTEP, to a VTEP. */
export type RouteMoveListener = (vni: number, mac: string, from: { ifindex: number } | { vtep: string }, to: string) => void;

/** A queued FDB write of one (vni, mac): the last call for it wins, as the calls would have. */
interface FdbOp {
  vni: number;
  mac: string;
  /** SET: install the remote entry; DEL_IF: delete it while it is our remote entry for `vtep`; DEL: delete */
  op: 0 | 1 | 2;
  vtep: string;
  sticky: boolean;
}
const SET = 0;
const DEL_IF = 1;
const DEL = 2;

export interface DuplicateReport {
  vni: number;
  mac: string;
  detail: string;
  at: string;
}

export class FastPathEvpnPort implements EvpnSwitchPort {
  /** per VNI: VTEPs from type-3 routes */
  readonly flood = new Map<number, Set<string>>();
  /** per VNI: VTEP -> number of remote MACs behind it */
  private readonly macVteps = new Map<number, Map<string, number>>();
  /** per VNI: admitted VTEPs (flood or MAC next hop) */
  readonly admit = new Map<number, Set<string>>();
  /** (vni, mac) -> VTEP of the entry installed, as the MAC table knows it (set by the speaker) */
  private installedOf: (vni: number, mac: string) => string | undefined = () => undefined;
  /**
   * FDB writes not yet in the map: every install and removal of one turn of
   * the event loop goes in one batch (BPF_MAP_UPDATE_BATCH, and one native
   * compare-and-delete call), written in a microtask right after the code
   * that queued them (e.g. one socket read's UPDATEs) and before the port
   * reads the FDB itself. vni -> mac -> op.
   */
  private readonly pending = new Map<number, Map<string, FdbOp>>();
  private pendingCount = 0;
  private flushQueued = false;
  /** Entries the FDB refused (full), since start; the last reason. */
  readonly fdbErrors = { refused: 0, last: "" };
  readonly duplicates: DuplicateReport[] = [];
  /** adopted from the fast path at boot and not yet confirmed by a route */
  private readonly staleFlood = new Set<string>(); // vni/vtep
  /** Remote entries adopted at boot and not yet confirmed by a route: VNI ->
   *  MAC -> VTEP (no key string per MAC: a million of them at a restart); a
   *  VNI goes when its last one does, so an empty map means none */
  private readonly staleMacs = new Map<number, Map<string, string>>();
  /** vni/mac -> ifindex of a local entry deleted because a remote route won;
   * the route's entry is installed right after (macs.ts), which makes the move */
  private readonly leaving = new Map<string, number>();
  /** vni/mac -> the local port a host was flushed from (its link went down),
   * and until when a route for the MAC is that host's move from there */
  private readonly flushedFrom = new Map<string, { ifindex: number; until: number }>();
  private moveListener?: RouteMoveListener;

  constructor(
    private readonly target: Target,
    private readonly hooks: EvpnPortHooks,
    private readonly log: Logger,
  ) {}

  /** Hear of every move a route makes. Set by the runtime once the features
   * exist (the port is built before them; routes flow only after start). */
  onMove(listener: RouteMoveListener): void {
    this.moveListener = listener;
  }

  /** Where the MAC table keeps what it installed (one map per route is enough: it is the speaker's). */
  bindInstalled(lookup: (vni: number, mac: string) => string | undefined): void {
    this.installedOf = lookup;
  }

  /** The VTEP of the remote entry a route installed for (vni, mac), or one adopted at boot, if any. */
  installedVtep(vni: number, mac: string): string | undefined {
    return this.installedOf(vni, mac) ?? (this.staleMacs.size ? this.staleMacs.get(vni)?.get(mac) : undefined);
  }

  installRemoteMac(vni: number, mac: string, vtep: string, info: { seq: number; sticky: boolean }, installed?: string): boolean {
    // known without asking the kernel: this runs once per route received
    if (this.hooks.configStatic(vni, mac)) {
      this.log.warn("EVPN route for a MAC configured static here: kept the static entry", { vni, mac, vtep });
      return false;
    }
    let prev = installed;
    if (this.staleMacs.size) {
      // an entry adopted at boot, confirmed (or replaced) by this route
      const m = this.staleMacs.get(vni);
      const was = m?.get(mac);
      if (was !== undefined) {
        prev ??= was;
        m!.delete(mac);
        if (m!.size === 0) this.staleMacs.delete(vni);
      }
    }
    let leftPort: number | undefined;
    if (this.leaving.size) {
      const id = `${vni}/${mac}`;
      leftPort = this.leaving.get(id);
      this.leaving.delete(id);
    }
    if (leftPort === undefined && this.flushedFrom.size) {
      const id = `${vni}/${mac}`;
      const f = this.flushedFrom.get(id);
      if (f) {
        this.flushedFrom.delete(id);
        if (f.until > Date.now()) leftPort = f.ifindex;
      }
    }
    this.queue(vni, mac, SET, vtep, info.sticky);
    if (prev !== vtep) {
      if (prev) this.unref(vni, prev);
      this.ref(vni, vtep);
    }
    this.hooks.fdbChanged(vni, mac);
    // a move: the host left a local port for another switch, or went from one VTEP to another
    if (leftPort !== undefined) this.moveListener?.(vni, mac, { ifindex: leftPort }, vtep);
    else if (prev !== undefined && prev !== vtep) this.moveListener?.(vni, mac, { vtep: prev }, vtep);
    return true;
  }

  /** Removes the entry installRemoteMac installed for (vni, mac) to `vtep` (the caller's: the MAC table's, or one adopted at boot). */
  removeRemoteMac(vni: number, mac: string, vtep: string): void {
    // only our own entry goes (the host may have shown up locally
    // meanwhile): checked against the FDB when the batch is written
    this.queue(vni, mac, DEL_IF, vtep, false);
    this.hooks.fdbChanged(vni, mac);
    this.unref(vni, vtep);
  }

  /** Queues a write; merged with one already queued for (vni, mac) as the two calls would have ended. */
  private queue(vni: number, mac: string, op: 0 | 1 | 2, vtep: string, sticky: boolean): void {
    let m = this.pending.get(vni);
    if (!m) this.pending.set(vni, (m = new Map()));
    const cur = m.get(mac);
    if (cur === undefined) {
      m.set(mac, { vni, mac, op, vtep, sticky });
      this.pendingCount++;
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushTask);
      }
      return;
    }
    if (op === DEL_IF && cur.op !== DEL_IF) {
      // after our own write: the entry is ours if that write was for this VTEP
      // (an install followed by its removal: deleted, whatever was there before)
      if (cur.op === SET && cur.vtep === vtep) cur.op = DEL;
      return;
    }
    cur.op = op;
    cur.vtep = vtep;
    cur.sticky = sticky;
  }

  private readonly flushTask = (): void => {
    this.flushQueued = false;
    try {
      this.flush();
    } catch (e) {
      this.log.error("EVPN FDB batch write failed", { error: (e as Error).message });
    }
  };

  /** Writes the queued FDB changes now (also done by itself right after the code that queued them). */
  flush(): void {
    if (this.pendingCount === 0) return;
    // an op is its own key ({vni, mac, ...}); one value object per (VTEP, sticky), shared
    const sets: [TableKey<"fdb">, TableValue<"fdb">][] = [];
    const delIf: [TableKey<"fdb">, TableValue<"fdb">][] = [];
    const dels: TableKey<"fdb">[] = [];
    const values = new Map<string, TableValue<"fdb">>();
    const valueOf = (vtep: string, sticky: boolean) => {
      const k = sticky ? `s${vtep}` : vtep;
      let v = values.get(k);
      if (!v) values.set(k, (v = remoteEntry(vtep, sticky)));
      return v;
    };
    for (const m of this.pending.values()) {
      for (const o of m.values()) {
        if (o.op === SET) sets.push([o, valueOf(o.vtep, o.sticky)]);
        else if (o.op === DEL_IF) delIf.push([o, valueOf(o.vtep, false)]);
        else dels.push(o);
      }
    }
    this.pending.clear();
    this.pendingCount = 0;
    const fdb = this.target.table("fdb");
    if (sets.length) {
      if (fdb.trySetMany) {
        const r = fdb.trySetMany(sets);
        if (r.failed.length) this.refused(r.failed.length, r.error ?? "refused");
      } else {
        let failed = 0;
        let why = "";
        for (const [k, v] of sets) {
          try {
            fdb.set(k, v);
          } catch (e) {
            failed++;
            why = (e as Error).message;
          }
        }
        if (failed) this.refused(failed, why);
      }
    }
    if (dels.length) fdb.deleteMany(dels);
    if (delIf.length) {
      if (fdb.deleteManyIf) fdb.deleteManyIf(delIf, OURS_MASK);
      else {
        for (const [k, want] of delIf) {
          const cur = fdb.get(k);
          if (cur && cur.kind === constants.FDB_REMOTE && cur.remote === want.remote && cur.flags & constants.FDB_CONTROL) fdb.delete(k);
        }
      }
    }
  }

  private refused(n: number, why: string): void {
    this.fdbErrors.refused += n;
    this.fdbErrors.last = why;
    this.log.error("EVPN remote MACs not installed: the FDB refused them (size it with tables.fdb in the config)", { entries: n, error: why, refusedSinceStart: this.fdbErrors.refused });
  }

  addFloodVtep(vni: number, vtep: string): void {
    let s = this.flood.get(vni);
    if (!s) this.flood.set(vni, (s = new Set()));
    this.staleFlood.delete(`${vni}/${vtep}`);
    if (s.has(vtep)) return;
    s.add(vtep);
    this.recomputeAdmit(vni);
    this.hooks.vtepSeen(vtep);
    this.hooks.vnisChanged();
  }

  removeFloodVtep(vni: number, vtep: string): void {
    if (!this.flood.get(vni)?.delete(vtep)) return;
    this.recomputeAdmit(vni);
    this.hooks.vnisChanged();
  }

  /** A restarted control plane adopts what the previous one installed (remote
   * EVPN MACs, flood VTEPs beyond the config's) so forwarding goes on; each is
   * stale until a route confirms it, and purgeStale() removes the rest. */
  seedFromFastPath(configFlood: ReadonlyMap<number, readonly string[]>): { macs: number; flood: number } {
    this.target.table("fdb").forEach(
      (k, v) => {
        if (!(v.flags & constants.FDB_CONTROL)) return; // remote (the where below), but not ours
        let s = this.staleMacs.get(k.vni);
        if (!s) this.staleMacs.set(k.vni, (s = new Map()));
        s.set(k.mac, v.remote);
        let m = this.macVteps.get(k.vni);
        if (!m) this.macVteps.set(k.vni, (m = new Map()));
        m.set(v.remote, (m.get(v.remote) ?? 0) + 1);
      },
      { kind: constants.FDB_REMOTE },
    );
    for (const [k, v] of this.target.table("flood").entries()) {
      if (v.kind !== constants.FLOOD_REMOTE || configFlood.get(k.vni)?.includes(v.remote)) continue;
      let s = this.flood.get(k.vni);
      if (!s) this.flood.set(k.vni, (s = new Set()));
      s.add(v.remote);
      this.staleFlood.add(`${k.vni}/${v.remote}`);
    }
    for (const vni of new Set([...this.flood.keys(), ...this.macVteps.keys()])) this.recomputeAdmit(vni);
    return { macs: this.staleMacCount(), flood: this.staleFlood.size };
  }

  private staleMacCount(): number {
    let n = 0;
    for (const m of this.staleMacs.values()) n += m.size;
    return n;
  }

  /** After the first full exchange with the peers: drop what no route confirmed. */
  purgeStale(): { macs: number; flood: number } {
    const done = { macs: this.staleMacCount(), flood: this.staleFlood.size };
    const stale = [...this.staleMacs];
    this.staleMacs.clear();
    for (const [vni, macs] of stale) for (const [mac, vtep] of macs) this.removeRemoteMac(vni, mac, vtep);
    for (const id of [...this.staleFlood]) {
      const [vni, vtep] = id.split("/") as [string, string];
      this.removeFloodVtep(Number(vni), vtep);
    }
    this.staleFlood.clear();
    // written now, not in the microtask: what the caller logs as removed is gone
    this.flush();
    return done;
  }

  localMacPresent(vni: number, mac: string): boolean {
    this.flush();
    const e = this.target.table("fdb").get({ vni, mac });
    if (!e || e.kind !== constants.FDB_LOCAL) return false;
    // a host behind a port without carrier is gone, however recently it spoke
    // (the link state as followed by netlink: asking `ip` here would block the
    // event loop for milliseconds per MAC in a mass move)
    if (!this.hooks.portUp(e.ifindex)) return false;
    if (e.flags & constants.FDB_STATIC) return true;
    return process.hrtime.bigint() - e.seen_ns < PRESENT_NS;
  }

  deleteLocalMac(vni: number, mac: string): void {
    this.flush();
    const fdb = this.target.table("fdb");
    const e = fdb.get({ vni, mac });
    if (e && e.kind === constants.FDB_LOCAL && !(e.flags & constants.FDB_STATIC)) {
      fdb.delete({ vni, mac });
      // per MAC: debug (the l2 activity summary counts the move at info level)
      this.log.debug("local MAC removed: the host moved to another switch", { vni, mac });
      const id = `${vni}/${mac}`;
      this.leaving.set(id, e.ifindex);
      // the winning route's entry follows in the same call (macs.ts); never let it linger
      queueMicrotask(() => this.leaving.delete(id));
      this.hooks.fdbChanged(vni, mac);
    }
  }

  /** A host's port lost its link and its entry went: a route for the MAC within
   * FLUSHED_MOVE_MS is the host's move from that port (as if the route had
   * beaten its local entry). */
  hostLeftPort(vni: number, mac: string, ifindex: number): void {
    const now = Date.now();
    // oldest first (the map's order is the order they came): the expired go,
    // and beyond the bound the oldest
    for (const [k, f] of this.flushedFrom) {
      if (f.until > now && this.flushedFrom.size < FLUSHED_MAX) break;
      this.flushedFrom.delete(k);
    }
    const id = `${vni}/${mac}`;
    this.flushedFrom.delete(id); // to the end, with its new time
    this.flushedFrom.set(id, { ifindex, until: now + FLUSHED_MOVE_MS });
  }

  reportDuplicate(vni: number, mac: string, detail: string): void {
    this.flush();
    const fdb = this.target.table("fdb");
    const e = fdb.get({ vni, mac });
    // freeze where it is: the data path stops moving it until an operator clears it
    if (e) fdb.set({ vni, mac }, { ...e, flags: e.flags | constants.FDB_FROZEN });
    this.duplicates.push({ vni, mac, detail, at: new Date().toISOString() });
    if (this.duplicates.length > 1000) this.duplicates.shift();
    this.log.warn("duplicate MAC detected: frozen", { vni, mac, detail });
  }

  private ref(vni: number, vtep: string): void {
    let m = this.macVteps.get(vni);
    if (!m) this.macVteps.set(vni, (m = new Map()));
    const n = (m.get(vtep) ?? 0) + 1;
    m.set(vtep, n);
    if (n === 1) {
      this.hooks.vtepSeen(vtep);
      if (this.recomputeAdmit(vni)) this.hooks.vnisChanged();
    }
  }

  private unref(vni: number, vtep: string): void {
    const m = this.macVteps.get(vni);
    const n = (m?.get(vtep) ?? 0) - 1;
    if (n > 0) {
      m!.set(vtep, n);
      return;
    }
    m?.delete(vtep);
    if (this.recomputeAdmit(vni)) this.hooks.vnisChanged();
  }

  /** Returns whether the admitted set of the VNI changed. */
  private recomputeAdmit(vni: number): boolean {
    const next = new Set([...(this.flood.get(vni) ?? []), ...(this.macVteps.get(vni)?.keys() ?? [])]);
    const cur = this.admit.get(vni) ?? new Set<string>();
    const changed = next.size !== cur.size || [...next].some((v) => !cur.has(v));
    this.admit.set(vni, next);
    return changed;
  }
}

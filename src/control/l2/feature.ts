// L2 switching, the control-plane side of it: what the data path learned
// (events from the ring buffer), ageing of learned entries, MAC moves, and the
// show views of the forwarding table, VNIs, flood lists and ports. The data
// path learns on its own; this feature hears about it, ages it and tells the
// other features (EVPN advertises local MACs, mirror follows hosts).
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { DataPathEvent, TableKey, TableValue } from "../codec.ts";
import type { Logger } from "../log.ts";
import { listNetDevs } from "../netdev.ts";
import type { Target } from "../targets/target.ts";
import { reconcileTable } from "../reconcile.ts";

export interface FdbRow {
  vni: number;
  mac: string;
  type: "local" | "remote";
  port?: string;
  vlan?: number;
  remote?: string;
  source: "learned" | "static" | "evpn";
  static: boolean;
  frozen?: boolean;
  ageSeconds?: number;
}

/** One MAC move, whoever made it: the data path (the host's frames came from
 * a new port, or from a new VTEP in flood-and-learn) or an EVPN route (the
 * host turned up behind another switch). Places are port names or VTEP IPs. */
export interface MoveRecord {
  vni: number;
  mac: string;
  /** where it was (absent when this control plane never knew) */
  from?: string;
  to: string;
  cause: "data-path" | "evpn";
  at: string;
}

/** `show moves` keeps the latest moves only. */
export const MOVES_KEPT = 1000;

/** At info level the learning activity is one summary line per interval (and
 * none when nothing happened): per-MAC lines are debug, or 100k MACs would
 * log 100k lines. */
export const ACTIVITY_INTERVAL_MS = 10_000;

/** How often the data path's lost-event counter is checked: when it rose,
 * the FDB is swept for learned entries no event told us of. */
export const RESYNC_CHECK_MS = 200;

/** How often the learned-MAC counts of limited ports and VNIs are recounted
 * from the FDB (the data path only counts up; ageing and moves count down). */
export const LIMIT_RECOUNT_MS = 2000;

/** What L2 tells the rest of the switch. */
export interface L2Hooks {
  /** a host was learned (or moved) on a local port */
  localLearned(vni: number, mac: string, vlan: number | undefined): void;
  /** a local host aged out, or the link of its port went down (`from`: that port) */
  localGone(vni: number, mac: string, from?: { ifindex: number }): void;
  /** a remote VTEP showed up as a learned next hop */
  remoteSeen(vtep: string): void;
  /** an outer next hop is unresolved */
  noNeighbour(vtep: string): void;
  /** any FDB entry changed (learned, moved, aged) */
  fdbChanged(vni: number, mac: string): void;
  /** the VTEP an EVPN route installed for (vni, mac), if any: where a MAC was
   * when the data path moves it away from a route's entry */
  routeVtep(vni: number, mac: string): string | undefined;
}

const id = (vni: number, mac: string) => `${vni}/${mac}`;

export class L2Feature {
  readonly moves: MoveRecord[] = [];
  readonly stats = { learnEvents: 0, moveEvents: 0, evpnMoves: 0, aged: 0, flushed: 0, noNeighEvents: 0 };
  private ageTimer?: NodeJS.Timeout;
  private activityTimer?: NodeJS.Timeout;
  /** since the last "l2 activity" line */
  private activity = { learned: 0, moved: 0, aged: 0 };
  /** the data path's count of events it could not queue, at the last summary */
  private lostSeen?: bigint;
  /** (vni/mac) -> where the data path last put a learned entry (port or VTEP):
   * a move event names only the new place. Entries from routes are the EVPN
   * port's to know (hooks.routeVtep); static entries never move. */
  private readonly learnedAt = new Map<string, string>();
  /** the lost-event count the last resync answered */
  private lostResynced?: bigint;
  private resyncTimer?: NodeJS.Timeout;
  private limitTimer?: NodeJS.Timeout;
  /** (without any limit the data path never reads the table: stale entries are harmless) */
  private limitsSet = false;
  readonly resyncs = { sweeps: 0, recovered: 0, lastMs: 0 };

  constructor(
    private config: SwitchConfig,
    private readonly target: Target,
    private readonly log: Logger,
    private readonly portName: (ifindex: number) => string,
    private readonly hooks: L2Hooks,
  ) {}

  onEvent(e: DataPathEvent): void {
    switch (e.kind) {
      case constants.EVT_LEARN:
      case constants.EVT_MOVE: {
        const where = e.ifindex ? { port: this.portName(e.ifindex), vlan: e.vlan || undefined } : { remote: e.remote };
        const to = e.ifindex ? this.portName(e.ifindex) : e.remote;
        const key = id(e.vni, e.mac);
        if (e.kind === constants.EVT_LEARN) {
          this.stats.learnEvents++;
          this.activity.learned++;
          this.log.debug("mac learned", { vni: e.vni, mac: e.mac, ...where });
        } else {
          this.stats.moveEvents++;
          // read before the hooks below: EVPN drops its route entry once it hears the host is here
          const from = this.hooks.routeVtep(e.vni, e.mac) ?? this.learnedAt.get(key);
          this.recordMove({ vni: e.vni, mac: e.mac, ...(from !== undefined ? { from } : {}), to, cause: "data-path" });
        }
        this.learnedAt.set(key, to);
        if (!e.ifindex) this.hooks.remoteSeen(e.remote);
        else this.hooks.localLearned(e.vni, e.mac, e.vlan || undefined);
        this.hooks.fdbChanged(e.vni, e.mac);
        break;
      }
      case constants.EVT_NO_NEIGH:
        this.stats.noNeighEvents++;
        this.hooks.noNeighbour(e.remote);
        break;
      default:
        this.log.warn("unknown data path event", { kind: e.kind });
    }
  }

  /** An EVPN route moved a MAC: a local host now behind another switch, or a
   * remote one from one VTEP to another. */
  routeMoved(vni: number, mac: string, from: string, to: string): void {
    this.stats.evpnMoves++;
    // the local entry (if it was one) is gone; the route's VTEP is the EVPN port's to know
    this.learnedAt.delete(id(vni, mac));
    this.recordMove({ vni, mac, from, to, cause: "evpn" });
  }

  private recordMove(m: Omit<MoveRecord, "at">): void {
    this.activity.moved++;
    this.moves.push({ ...m, at: new Date().toISOString() });
    if (this.moves.length > MOVES_KEPT) this.moves.shift();
    this.log.debug("mac moved", { ...m });
  }

  private ageingSeconds(vni: number): number {
    return this.config.vnis.find((v) => v.vni === vni)?.ageingSeconds ?? 300;
  }

  /** Ageing and the activity summary, once the tables are reconciled.
   *  `learned`: the FDB's learned entries as the reconcile just read them
   *  (else the FDB is read here). */
  start(activityIntervalMs = ACTIVITY_INTERVAL_MS, learned?: Iterable<[TableKey<"fdb">, TableValue<"fdb">]>): void {
    // entries learned before a restart: their moves name where they came from too
    for (const [k, v] of learned ?? this.target.table("fdb").entries()) {
      if (v.flags & (constants.FDB_STATIC | constants.FDB_CONTROL)) continue;
      this.learnedAt.set(id(k.vni, k.mac), v.kind === constants.FDB_LOCAL ? this.portName(v.ifindex) : v.remote);
    }
    this.lostSeen = this.lostEvents();
    this.lostResynced = this.lostSeen;
    this.activityTimer = setInterval(() => this.logActivity(), activityIntervalMs);
    this.activityTimer.unref();
    this.resyncTimer = setInterval(() => {
      try {
        this.resyncIfLost();
      } catch (e) {
        this.log.error("resync from the forwarding table failed", { error: (e as Error).message });
      }
    }, RESYNC_CHECK_MS);
    this.resyncTimer.unref();
    this.syncLimits();
    this.limitTimer = setInterval(() => {
      try {
        this.syncLimits();
      } catch (e) {
        this.log.error("learned-MAC limit recount failed", { error: (e as Error).message });
      }
    }, LIMIT_RECOUNT_MS);
    this.limitTimer.unref();
    this.startAgeing();
  }

  private lostEvents(): bigint | undefined {
    try {
      return this.target.counters().err_event_ring_full.packets;
    } catch {
      return undefined; // counters unreadable: report activity without them
    }
  }

  /** One info line for everything learned, moved and aged since the last one
   * (nothing when nothing happened). lostEvents: events the data path could
   * not queue (ring buffer full): those MACs are in the table but this control
   * plane (and EVPN) did not hear of them. */
  logActivity(): void {
    const lost = this.lostEvents();
    const lostEvents = lost !== undefined && this.lostSeen !== undefined ? Number(lost - this.lostSeen) : 0;
    if (lost !== undefined) this.lostSeen = lost;
    const a = this.activity;
    if (a.learned + a.moved + a.aged + lostEvents === 0) return;
    this.activity = { learned: 0, moved: 0, aged: 0 };
    // worth a warning: those MACs forward, but EVPN does not advertise them
    // until they move or age out and are learned again
    if (lostEvents > 0) this.log.warn("l2 activity", { ...a, lostEvents });
    else this.log.info("l2 activity", { ...a, lostEvents });
  }

  private startAgeing(): void {
    const ageings = this.config.vnis.map((v) => v.ageingSeconds).filter((a) => a > 0);
    if (ageings.length === 0) return;
    // sweep several times per shortest ageing time, between 1 s and 30 s
    const period = Math.min(30, Math.max(1, Math.min(...ageings) / 4)) * 1000;
    this.ageTimer = setInterval(() => {
      try {
        this.ageOnce();
      } catch (e) {
        this.log.error("ageing sweep failed", { error: (e as Error).message });
      }
    }, period);
    this.ageTimer.unref();
  }

  /** The config's learned-MAC limits (max_macs of ports and VNIs) in the
   * fast path, each with its count recounted from the FDB. */
  syncLimits(): void {
    const ifindexOf = new Map(this.target.ports().map((p) => [p.name, p.ifindex]));
    const limits = new Map<string, { kind: number; id: number; max: number }>();
    for (const p of this.config.ports) {
      const ifindex = ifindexOf.get(p.name);
      if (p.maxMacs !== undefined && ifindex !== undefined) limits.set(`${constants.LIMIT_PORT}/${ifindex}`, { kind: constants.LIMIT_PORT, id: ifindex, max: p.maxMacs });
    }
    for (const v of this.config.vnis) if (v.maxMacs !== undefined) limits.set(`${constants.LIMIT_VNI}/${v.vni}`, { kind: constants.LIMIT_VNI, id: v.vni, max: v.maxMacs });
    // no limits now and none before (a reload may remove them): nothing to keep
    if (limits.size === 0 && !this.limitsSet) return;
    this.limitsSet = limits.size > 0;
    const counts = new Map<string, number>();
    if (limits.size > 0) {
      const bump = (k: string) => limits.has(k) && counts.set(k, (counts.get(k) ?? 0) + 1);
      this.target.table("fdb").forEach((k, v) => {
        if (v.flags & (constants.FDB_STATIC | constants.FDB_CONTROL)) return;
        bump(`${constants.LIMIT_VNI}/${k.vni}`);
        if (v.kind === constants.FDB_LOCAL) bump(`${constants.LIMIT_PORT}/${v.ifindex}`);
      });
    }
    reconcileTable(
      this.target,
      "mac_limits",
      [...limits].map(([k, l]) => [{ kind: l.kind, id: l.id }, { count: counts.get(k) ?? 0, max: l.max }]),
      (k) => `${k.kind}/${k.id}`,
    );
  }

  /** A burst larger than the event ring loses events, not MACs: the data path
   * learned them all. When the loss counter rose, sweep the FDB (one batched
   * read) for learned entries this control plane has not heard of, and treat
   * them as learned now (EVPN advertises them, mirror follows them). */
  resyncIfLost(): number {
    const lost = this.lostEvents();
    if (lost === undefined || lost === this.lostResynced) return 0;
    this.lostResynced = lost;
    return this.resync();
  }

  /** Learned entries in the FDB that no event told us of (or told us of another place). */
  resync(): number {
    const t0 = performance.now();
    let n = 0;
    this.target.table("fdb").forEach((k, v) => {
      if (v.flags & (constants.FDB_STATIC | constants.FDB_CONTROL)) return;
      const key = id(k.vni, k.mac);
      const where = v.kind === constants.FDB_LOCAL ? this.portName(v.ifindex) : v.remote;
      if (this.learnedAt.get(key) === where) return;
      this.learnedAt.set(key, where);
      n++;
      this.activity.learned++;
      if (v.kind === constants.FDB_LOCAL) this.hooks.localLearned(k.vni, k.mac, v.vlan || undefined);
      else this.hooks.remoteSeen(v.remote);
      this.hooks.fdbChanged(k.vni, k.mac);
    });
    const ms = performance.now() - t0;
    this.resyncs.sweeps++;
    this.resyncs.recovered += n;
    this.resyncs.lastMs = ms;
    // a sweep that found nothing (the ring was drained in time) is not news
    (n > 0 ? this.log.info : this.log.debug).call(this.log, "learned entries resynced from the forwarding table after lost events", { recovered: n, ms: Math.round(ms) });
    return n;
  }

  /** A reloaded config: VNIs, ageing times and ports may have changed. */
  setConfig(cfg: SwitchConfig): void {
    this.config = cfg;
    if (this.ageTimer) {
      clearInterval(this.ageTimer);
      this.ageTimer = undefined;
      this.startAgeing();
    } else if (this.activityTimer) this.startAgeing();
  }

  /** Before the target is released: the last summary goes out too. */
  stop(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.limitTimer) clearInterval(this.limitTimer);
    if (this.ageTimer) clearInterval(this.ageTimer);
    if (this.activityTimer) {
      clearInterval(this.activityTimer);
      this.activityTimer = undefined;
      this.logActivity();
    }
  }

  /**
   * A port lost its link: the hosts learned behind it are gone, as a bridge
   * flushes a disabled port's dynamic entries (and EVPN withdraws their
   * routes: a host unplugged is not advertised until it ages out). Static,
   * frozen and control-plane entries stay. Returns how many went.
   */
  flushPort(ifindex: number): number {
    const fdb = this.target.table("fdb");
    const keep = constants.FDB_STATIC | constants.FDB_CONTROL | constants.FDB_FROZEN;
    // the MACs we know were learned there (every event, the boot scan, the
    // resyncs after lost events), each checked in the FDB: not a read of the
    // whole table, which a million EVPN routes make long
    const port = this.portName(ifindex);
    const gone: TableKey<"fdb">[] = [];
    for (const [key, where] of this.learnedAt) {
      if (where !== port) continue;
      const slash = key.indexOf("/");
      const k = { vni: Number(key.slice(0, slash)), mac: key.slice(slash + 1) };
      const v = fdb.get(k);
      if (v && v.kind === constants.FDB_LOCAL && v.ifindex === ifindex && !(v.flags & keep)) gone.push(k);
    }
    let n = 0;
    for (const k of gone) {
      if (!fdb.delete(k)) continue;
      n++;
      this.learnedAt.delete(id(k.vni, k.mac));
      this.hooks.localGone(k.vni, k.mac, { ifindex });
      this.hooks.fdbChanged(k.vni, k.mac);
    }
    this.stats.flushed += n;
    if (n) this.log.info("port down: the MACs learned on it flushed", { port, macs: n });
    return n;
  }

  /** Delete learned entries idle longer than their VNI's ageing time. Returns how many went. */
  ageOnce(now: bigint = process.hrtime.bigint()): number {
    const fdb = this.target.table("fdb");
    let n = 0;
    for (const [k, v] of fdb.entries()) {
      if (v.flags & (constants.FDB_STATIC | constants.FDB_CONTROL)) continue;
      const ageing = this.ageingSeconds(k.vni);
      if (ageing === 0) continue;
      if (now - v.seen_ns > BigInt(ageing) * 1_000_000_000n) {
        // re-read right before deleting: a frame may have refreshed it since
        const again = fdb.get(k);
        if (again && now - again.seen_ns > BigInt(ageing) * 1_000_000_000n && fdb.delete(k)) {
          n++;
          this.learnedAt.delete(id(k.vni, k.mac));
          this.log.debug("mac aged out", { vni: k.vni, mac: k.mac });
          if (again.kind === constants.FDB_LOCAL) this.hooks.localGone(k.vni, k.mac);
          this.hooks.fdbChanged(k.vni, k.mac);
        }
      }
    }
    this.stats.aged += n;
    this.activity.aged += n;
    return n;
  }

  // ------------------------------------------------------------------ views

  fdbRows(): FdbRow[] {
    return [...this.fdbRowsSorted()];
  }

  /** `show fdb`, a row at a time in (vni, mac) order: the table is read in one
   *  batch and sorted, each row is made only when it is taken (the API streams
   *  them out). MACs are all "aa:bb:cc:dd:ee:ff", so code-unit order (a sort
   *  without a comparator, done natively) is the order localeCompare gave. */
  *fdbRowsSorted(): Generator<FdbRow> {
    const now = process.hrtime.bigint();
    const byVni = new Map<number, Map<string, TableValue<"fdb">>>();
    this.target.table("fdb").forEach((k, v) => {
      let m = byVni.get(k.vni);
      if (!m) byVni.set(k.vni, (m = new Map()));
      m.set(k.mac, v);
    });
    for (const vni of [...byVni.keys()].sort((a, b) => a - b)) {
      const entries = byVni.get(vni)!;
      for (const mac of [...entries.keys()].sort()) yield this.fdbRow(now, { vni, mac }, entries.get(mac)!);
      byVni.delete(vni); // done with: it can go
    }
  }

  private fdbRow(now: bigint, k: TableKey<"fdb">, v: TableValue<"fdb">): FdbRow {
    const isStatic = (v.flags & constants.FDB_STATIC) !== 0;
    const fromEvpn = (v.flags & constants.FDB_CONTROL) !== 0;
    const row: FdbRow = {
      vni: k.vni,
      mac: k.mac,
      type: v.kind === constants.FDB_LOCAL ? "local" : "remote",
      source: fromEvpn ? "evpn" : isStatic ? "static" : "learned",
      static: isStatic,
    };
    if (v.flags & constants.FDB_FROZEN) row.frozen = true;
    if (v.kind === constants.FDB_LOCAL) {
      row.port = this.portName(v.ifindex);
      row.vlan = v.vlan;
    } else row.remote = v.remote;
    if (!isStatic && !fromEvpn) row.ageSeconds = Number((now - v.seen_ns) / 1_000_000n) / 1000;
    return row;
  }

  vniRows() {
    return this.target
      .table("vnis")
      .entries()
      .map(([k, v]) => {
        const c = this.config.vnis.find((x) => x.vni === k.vni);
        return {
          vni: k.vni,
          learning: (v.flags & constants.VNI_LEARN_LOCAL) !== 0,
          floodAndLearn: (v.flags & constants.VNI_LEARN_REMOTE) !== 0,
          ageingSeconds: c?.ageingSeconds ?? 0,
          floodTargets: v.flood_count,
          ports: this.config.ports.filter((p) => p.vni === k.vni || p.vlans.some((x) => x.vni === k.vni)).map((p) => p.name),
        };
      })
      .sort((a, b) => a.vni - b.vni);
  }

  floodRows() {
    return this.target
      .table("flood")
      .entries()
      .map(([k, v]) => ({
        vni: k.vni,
        slot: k.slot,
        type: v.kind === constants.FLOOD_LOCAL ? "local" : "remote",
        target: v.kind === constants.FLOOD_LOCAL ? this.portName(v.ifindex) : v.remote,
        vlan: v.kind === constants.FLOOD_LOCAL ? v.vlan : undefined,
      }))
      .sort((a, b) => a.vni - b.vni || a.slot - b.slot);
  }

  portRows() {
    const devs = listNetDevs();
    return this.target.ports().map((p) => {
      const cfg = this.config.ports.find((x) => x.name === p.name);
      return {
        name: p.name,
        ifindex: p.ifindex,
        role: p.role,
        vni: cfg?.vni,
        vlans: cfg?.vlans.map((v) => `${v.vlan}->${v.vni}`).join(",") || undefined,
        fastPath: p.fastPath,
        replication: p.replication,
        rxPackets: devs.get(p.name)?.rxPackets,
        txPackets: devs.get(p.name)?.txPackets,
      };
    });
  }
}

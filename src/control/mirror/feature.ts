// Match-mirror-encap as a feature of the switch: the sessions (from the config
// file, from the management API, from BGP EVPN), the entries derived from them
// and from the forwarding table (desired.ts), kept in the fast path's mirror
// tables, recomputed whenever a MAC a session names changes place, and the
// `show mirror` rows with each session's counters.
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { DesiredState } from "../l2/desired.ts";
import type { Logger } from "../log.ts";
import { reconcileTable } from "../reconcile.ts";
import { loadStateList, saveStateList } from "../state-file.ts";
import type { Target } from "../targets/target.ts";
import { parseSessionJson, type MirrorSession } from "./config.ts";
import { mirrorDesired, type Location, type MirrorDesired } from "./desired.ts";
import { MirrorEvpn } from "./evpn.ts";

/** What the mirror feature asks of the EVPN speaker. */
export interface MirrorSpeaker {
  refreshImets(): void;
  refreshLocalMacs(macs: Iterable<string>): void;
}

export type SessionOrigin = "config" | "api" | "bgp";

export interface MirrorFeatureOptions {
  /** where sessions added through the API are kept across control-plane restarts */
  stateFile: string;
  portName(ifindex: number): string;
  /** the VNI flags changed: recompute and apply the VNI table */
  vnisChanged(): void;
  /** a remote VTEP a copy goes to: keep its outer next hop resolved */
  vtepSeen(vtep: string): void;
}

export interface MirrorRow {
  name: string;
  origin: SessionOrigin;
  /** the switch that defined a session learned over BGP */
  owner?: string;
  hostId: number;
  direction: MirrorSession["direction"];
  match: MirrorSession["match"];
  host: string;
  hostAt: string;
  server: string;
  serverAt: string;
  roles: string[];
  shadowedBy?: string;
  counters: { copiesLocal: bigint; copiesRemote: bigint; terminated: bigint; dropNoServer: bigint; dropOversize: bigint; dropOther: bigint; bytes: bigint };
}

/** Safety net: entries are recomputed on every FDB event that names a
 * session's MAC; this sweep also catches changes no event reported. */
const SWEEP_MS = 1000;

export class MirrorFeature {
  private configSessions: MirrorSession[];
  private apiSessions: MirrorSession[] = [];
  private bgpSessions: { session: MirrorSession; owner: string }[] = [];
  private evpn?: MirrorEvpn;
  private speaker?: MirrorSpeaker;
  private readonly slots = new Map<number, number>(); // HOST ID -> counter slot
  private current?: MirrorDesired;
  private queued = false;
  private sweep?: NodeJS.Timeout;
  private stopped = false;
  /** (vni/mac) of every host and server a session names */
  /** MACs the sessions name, by VNI (no string built per FDB change) */
  private watched = new Map<number, Set<string>>();
  readonly stats = { recomputes: 0, written: 0, deleted: 0 };

  constructor(
    private config: SwitchConfig,
    private readonly target: Target,
    private readonly log: Logger,
    private readonly opts: MirrorFeatureOptions,
  ) {
    this.configSessions = config.mirror.sessions;
    this.apiSessions = loadStateList<MirrorSession>(this.opts.stateFile, this.log, "the API's mirror sessions");
    this.adoptSlots();
    this.refreshWatched();
  }

  get enabled(): boolean {
    return this.config.mirror.enabled;
  }

  /** Sessions this switch defined itself: it owns them, and advertises them. */
  own(): MirrorSession[] {
    const names = new Set(this.configSessions.map((s) => s.name));
    return [...this.configSessions, ...this.apiSessions.filter((s) => !names.has(s.name))];
  }

  /** Every session this switch acts on, its own first. A name, and a HOST ID,
   * belongs to one session: a learned one that collides is left out. */
  sessions(): { session: MirrorSession; origin: SessionOrigin; owner?: string }[] {
    const names = new Set<string>();
    const ids = new Set<number>();
    const out: { session: MirrorSession; origin: SessionOrigin; owner?: string }[] = [];
    const add = (s: MirrorSession, origin: SessionOrigin, owner?: string) => {
      if (names.has(s.name) || ids.has(s.hostId)) return;
      names.add(s.name);
      ids.add(s.hostId);
      out.push({ session: s, origin, ...(owner ? { owner } : {}) });
    };
    for (const s of this.configSessions) add(s, "config");
    for (const s of this.apiSessions) add(s, "api");
    for (const b of this.bgpSessions) add(b.session, "bgp", b.owner);
    return out;
  }

  // ------------------------------------------------------------ BGP EVPN

  /** The attributes our routes carry and what we learn from others' (owner = our VTEP). */
  evpnExtensions(owner: string): MirrorEvpn | undefined {
    const carrier = this.config.vnis[0]?.vni;
    if (!this.enabled || carrier === undefined) return undefined;
    this.evpn = new MirrorEvpn(owner, carrier, { own: () => this.own(), learnedChanged: () => this.learnedChanged() }, this.log);
    return this.evpn;
  }

  /** A reloaded config: its sessions replace the old file's. */
  setConfig(cfg: SwitchConfig): void {
    const hosts = [...this.configSessions, ...cfg.mirror.sessions].map((s) => s.host.mac);
    this.config = cfg;
    this.configSessions = cfg.mirror.sessions;
    this.ownChanged(hosts);
  }

  connectSpeaker(speaker: MirrorSpeaker): void {
    this.speaker = speaker;
  }

  /** Only sessions whose host or server VNI is switched here concern this switch. */
  private learnedChanged(): void {
    const local = new Set(this.config.vnis.map((v) => v.vni));
    const before = this.bgpSessions;
    this.bgpSessions = (this.evpn?.learned() ?? []).filter((b) => local.has(b.session.host.vni) || local.has(b.session.server.vni));
    // the type-2 routes of local hosts carry the sessions their owners advertise
    this.speaker?.refreshLocalMacs(new Set([...before, ...this.bgpSessions].map((b) => b.session.host.mac)));
    this.changed();
  }

  /** Our own sessions changed: advertise it (type-3), and on the host's route where it is local. */
  private ownChanged(hostMacs: string[]): void {
    this.speaker?.refreshImets();
    this.speaker?.refreshLocalMacs(hostMacs);
    this.changed();
  }

  // ------------------------------------------------------------ sessions

  /** A controller adds a session (JSON body as the API received it). */
  add(body: unknown, by?: Record<string, unknown>): { session: MirrorSession } | { errors: string[] } {
    if (!this.enabled) return { errors: ["mirroring is disabled on this switch (mirror.enabled: false in its config)"] };
    const vnis = new Set(this.config.vnis.map((v) => v.vni));
    const r = parseSessionJson(body, { vnis, existing: this.sessions().map((x) => x.session) });
    if ("errors" in r) return r;
    this.apiSessions.push(r.session);
    saveStateList(this.opts.stateFile, this.apiSessions);
    this.log.info("mirror session added", { ...(by ? { by } : {}), name: r.session.name, hostId: r.session.hostId });
    this.ownChanged([r.session.host.mac]);
    return r;
  }

  /** Remove a session added through the API. */
  remove(name: string, by?: Record<string, unknown>): { removed: true } | { errors: string[] } {
    const i = this.apiSessions.findIndex((s) => s.name === name);
    if (i < 0) {
      if (this.configSessions.some((s) => s.name === name)) return { errors: [`session ${name} comes from the config file: remove it there and reload`] };
      return { errors: [`no session named ${name} was added on this switch`] };
    }
    const [gone] = this.apiSessions.splice(i, 1);
    saveStateList(this.opts.stateFile, this.apiSessions);
    this.log.info("mirror session removed", { ...(by ? { by } : {}), name });
    this.ownChanged([gone!.host.mac]);
    return { removed: true };
  }

  // ------------------------------------------------------------ counter slots

  /** A restarted control plane keeps the slots the fast path's entries use. */
  private adoptSlots(): void {
    for (const [, v] of this.target.table("mirror").entries()) this.slots.set(v.host_id, v.slot);
    for (const [, v] of this.target.table("mirror_ip").entries()) this.slots.set(v.host_id, v.slot);
    for (const [k, v] of this.target.table("mirror_term").entries()) this.slots.set(k.host_id, v.slot);
  }

  private slotOf = (s: MirrorSession): number => {
    let slot = this.slots.get(s.hostId);
    if (slot !== undefined) return slot;
    const used = new Set(this.slots.values());
    slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= constants.MIRROR_SESSIONS_MAX) throw new Error(`more than ${constants.MIRROR_SESSIONS_MAX} mirror sessions`);
    this.slots.set(s.hostId, slot);
    // a reused slot starts from zero
    this.target.table("mirror_stats").set({ slot }, { copies_local: 0n, copies_remote: 0n, terminated: 0n, drop_no_server: 0n, drop_oversize: 0n, drop_other: 0n, bytes: 0n });
    return slot;
  };

  private releaseUnusedSlots(): void {
    const live = new Set(this.sessions().map((x) => x.session.hostId));
    for (const id of [...this.slots.keys()]) if (!live.has(id)) this.slots.delete(id);
  }

  // ------------------------------------------------------------ entries

  private refreshWatched(): void {
    const w = new Map<number, Set<string>>();
    const add = (vni: number, mac: string) => {
      let s = w.get(vni);
      if (!s) w.set(vni, (s = new Set()));
      s.add(mac);
    };
    for (const { session: s } of this.sessions()) {
      add(s.host.vni, s.host.mac);
      add(s.server.vni, s.server.mac);
    }
    this.watched = w;
  }

  /** An FDB entry changed: recompute when a session names that MAC. */
  fdbChanged(vni: number, mac: string): void {
    if (this.watched.size !== 0 && this.watched.get(vni)?.has(mac)) this.queue();
  }

  /** Sessions changed. */
  private changed(): void {
    this.refreshWatched();
    this.queue();
  }

  private queue(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (this.stopped) return;
      try {
        this.apply();
      } catch (e) {
        this.log.error("mirror entries update failed", { error: (e as Error).message });
      }
    });
  }

  private locate = (vni: number, mac: string): Location => {
    const e = this.target.table("fdb").get({ vni, mac });
    if (!e) return { kind: "unknown" };
    if (e.kind === constants.FDB_LOCAL) return { kind: "local", ifindex: e.ifindex, vlan: e.vlan };
    return { kind: "remote", vtep: e.remote };
  };

  private compute(): MirrorDesired {
    const list = this.enabled ? this.sessions().map((x) => x.session) : [];
    const d = mirrorDesired(list, this.locate, this.slotOf);
    this.releaseUnusedSlots();
    return d;
  }

  /** Recompute the entries and make the tables hold them. */
  apply(): void {
    const before = this.current;
    const d = this.compute();
    this.current = d;
    this.stats.recomputes++;
    // destination and termination entries before the flags that make them live
    const macId = (k: { vni: number; mac: string; dir: number }) => `${k.vni}/${k.mac}/${k.dir}`;
    const ipId = (k: { vni: number; ip: string; dir: number }) => `${k.vni}/${k.ip}/${k.dir}`;
    const rs = [
      reconcileTable(this.target, "mirror_term", d.term, (k) => String(k.host_id)),
      reconcileTable(this.target, "mirror", d.mac, macId),
      reconcileTable(this.target, "mirror_ip", d.ip, ipId),
    ];
    for (const r of rs) {
      this.stats.written += r.written;
      this.stats.deleted += r.deleted;
    }
    for (const [, v] of [...d.mac, ...d.ip]) if (v.kind === constants.MIRROR_TO_REMOTE) this.opts.vtepSeen(v.remote);
    if (!before || !sameFlags(before.vniFlags, d.vniFlags)) this.opts.vnisChanged();
    const changes = rs.reduce((n, r) => n + r.written + r.deleted, 0);
    if (changes > 0) this.log.debug("mirror entries updated", { written: rs.reduce((n, r) => n + r.written, 0), deleted: rs.reduce((n, r) => n + r.deleted, 0) });
  }

  /** The mirror flags of each VNI, and every VTEP we know (vni 0) for the
   * termination's source check, merged into the L2 desired state. */
  contribute(d: DesiredState): void {
    const flags = (this.current ?? this.compute()).vniFlags;
    for (const [vni, v] of d.vnis) {
      const f = flags.get(vni) ?? 0;
      if (f) d.vnis.set(vni, { ...v, flags: v.flags | f });
    }
    const known = new Set(d.vteps.map(([k]) => k.remote));
    for (const remote of known) d.vteps.push([{ vni: 0, remote }, { refs: 1 }]);
  }

  start(): void {
    this.apply();
    this.sweep = setInterval(() => {
      if (this.watched.size) this.queue();
    }, SWEEP_MS);
    this.sweep.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.sweep) clearInterval(this.sweep);
  }

  // ------------------------------------------------------------ views

  private where(l: Location | undefined): string {
    if (!l || l.kind === "unknown") return "unknown";
    if (l.kind === "local") return `local ${this.opts.portName(l.ifindex)}${l.vlan ? `.${l.vlan}` : ""}`;
    return `remote ${l.vtep}`;
  }

  rows(): MirrorRow[] {
    // a view never allocates slots (a read-only inspection must not write)
    const d = this.current ?? mirrorDesired(this.enabled ? this.sessions().map((x) => x.session) : [], this.locate, (s) => this.slots.get(s.hostId) ?? 0);
    return this.sessions().map(({ session: s, origin, owner }) => {
      const p = d.placement.get(s.name);
      const slot = this.slots.get(s.hostId);
      const c = slot !== undefined ? this.target.perCpuSum("mirror_stats", { slot }) : undefined;
      const row: MirrorRow = {
        name: s.name,
        origin,
        ...(owner ? { owner } : {}),
        hostId: s.hostId,
        direction: s.direction,
        match: s.match,
        host: `${s.host.mac} vni ${s.host.vni}${s.host.ip ? ` ${s.host.ip}` : ""}`,
        hostAt: this.where(p?.host),
        server: `${s.server.mac} vni ${s.server.vni}`,
        serverAt: this.where(p?.server),
        roles: p?.roles ?? [],
        counters: {
          copiesLocal: c?.copies_local ?? 0n,
          copiesRemote: c?.copies_remote ?? 0n,
          terminated: c?.terminated ?? 0n,
          dropNoServer: c?.drop_no_server ?? 0n,
          dropOversize: c?.drop_oversize ?? 0n,
          dropOther: c?.drop_other ?? 0n,
          bytes: c?.bytes ?? 0n,
        },
      };
      if (p?.shadowedBy) row.shadowedBy = p.shadowedBy;
      return row;
    });
  }
}

function sameFlags(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

// IGMP snooping for one VNI: which local ports want which (source, group),
// which ports lead to multicast routers, and (optionally) the querier that
// keeps hosts reporting. RFC 4541 practice with RFC 3376 timers.
//
// State is per port, never per host: a port is a member of (*,G) or (S,G)
// while some host behind it reported within the timer. A snooper cannot tell
// whether a leaving host was the last one on its port, so a leave only lowers
// the port's timer to the last-member query time; when we are the querier we
// ask that port (group-specific queries) and any answer keeps the membership.
//
// (*,G) and (S,G) members are kept apart (the caller merges them into what the
// fast path forwards). membersChanged fires exactly once per actual change of
// a (source, group)'s port set, after a whole message has been applied, so one
// first join or last leave is one control update upstream.
//
// Time comes from an injectable Scheduler so tests run in virtual time.
// receive/portDown/routerSeen act only between start() and stop().

import { tryParseIpv4 } from "../../config/net.ts";
import { type IgmpGroupRecord, type IgmpMessage, isLinkLocalGroup, isMulticast, RecordType } from "./igmp.ts";

export interface SnoopTimers {
  queryIntervalMs: number;
  queryResponseIntervalMs: number;
  lastMemberQueryIntervalMs: number;
  lastMemberQueryCount: number;
  robustness: number;
  startupQueryIntervalMs: number;
  startupQueryCount: number;
}

/** RFC 3376 8: the defaults. */
export const RFC3376_TIMERS: SnoopTimers = {
  queryIntervalMs: 125_000,
  queryResponseIntervalMs: 10_000,
  lastMemberQueryIntervalMs: 1_000,
  lastMemberQueryCount: 2,
  robustness: 2,
  startupQueryIntervalMs: 31_250,
  startupQueryCount: 2,
};

export interface Scheduler {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface SnoopVniOptions {
  vni: number;
  /** take part in querier election (and query while elected) */
  querier: boolean;
  /** source of our queries; "0.0.0.0" allowed (then any real querier wins) */
  querierAddress: string;
  /** distinct groups a port may join; Infinity for no limit */
  maxGroupsPerPort: number;
}

export type QueryMessage = IgmpMessage & { type: "query" };

export interface SnoopHooks {
  /** the set of local member ports of (source, group) changed; once per change,
   *  after a whole message. source "*" = (*,G). Empty set = no members left. */
  membersChanged(vni: number, source: string, group: string, ports: ReadonlySet<string>): void;
  /** send a query out of every port of the VNI (port undefined, general query)
   *  or out of one port (group-specific after a leave) */
  sendQuery(vni: number, port: string | undefined, message: QueryMessage): void;
  /** the set of mrouter ports changed */
  mrouterChanged(vni: number, ports: ReadonlySet<string>): void;
}

// Show rows (`show igmp groups|ports|querier`); the caller adds the VNI.

export interface GroupPortRow {
  port: string;
  /** exclude for (*,G), include for (S,G) */
  mode: "include" | "exclude";
  /** the port's host compatibility mode for the group (RFC 3376 7.3.2) */
  version: 1 | 2 | 3;
  expiresInMs: number;
  lastReporter: string;
  /** a last-member query series is running for it */
  leaving: boolean;
}

export interface GroupRow {
  source: string;
  group: string;
  ports: GroupPortRow[];
}

export interface PortCounters {
  reports: number;
  leaves: number;
  queries: number;
  groupLimitDrops: number;
}

export interface PortRow {
  port: string;
  groups: number;
  mrouter: boolean;
  mrouterExpiresInMs?: number;
  counters: PortCounters;
}

export interface QuerierRow {
  /** configured to take part in the election */
  enabled: boolean;
  /** the elected querier's address; undefined when none is known */
  address?: string;
  self: boolean;
  otherQuerierExpiresInMs?: number;
  nextGeneralQueryInMs?: number;
}

export interface SnoopStats {
  reports: number;
  leaves: number;
  queriesReceived: number;
  queriesSent: number;
  /** memberships removed by their timer (silent members and completed leaves) */
  expiries: number;
  groupLimitDrops: number;
  /** messages or records dropped by rule: link-local or non-multicast groups,
   *  leaves/BLOCK/TO_IN ignored in an older compatibility mode, input while stopped */
  ignored: number;
}

interface Member {
  port: string;
  source: string;
  group: string;
  expiresAt: number;
  timer: unknown;
  lastReporter: string;
  series?: LmqSeries;
}

/** Last-member queries for memberships of one port waiting to be confirmed. */
interface LmqSeries {
  port: string;
  group: string;
  /** group-and-source-specific (BLOCK) rather than group-specific */
  withSources: boolean;
  members: Set<Member>;
  sent: number;
  timer?: unknown;
}

interface PortState {
  /** group -> number of (source, group) entries the port is a member of */
  groups: Map<string, number>;
  /** group -> end of the older-version-host-present timers */
  compat: Map<string, { v1Until: number; v2Until: number }>;
  mrouter?: { expiresAt: number; timer: unknown };
  counters: PortCounters;
}

const ANY = "*";
const keyOf = (source: string, group: string) => `${source} ${group}`;

export class SnoopingVni {
  readonly stats: SnoopStats = { reports: 0, leaves: 0, queriesReceived: 0, queriesSent: 0, expiries: 0, groupLimitDrops: 0, ignored: 0 };

  private readonly sched: Scheduler;
  private readonly handles = new Set<unknown>();
  private running = false;
  /** (source, group) -> port -> member */
  private readonly entries = new Map<string, Map<string, Member>>();
  private readonly portStates = new Map<string, PortState>();
  /** port sets as they were before the message being applied */
  private readonly pending = new Map<string, { source: string; group: string; before: Set<string> }>();
  private readonly series = new Set<LmqSeries>();

  private selfQuerier = false;
  private startupLeft = 0;
  private general?: { at: number; timer: unknown };
  private other?: { address: string; expiresAt: number; timer: unknown };

  constructor(
    private readonly opts: SnoopVniOptions,
    private readonly timing: SnoopTimers,
    private readonly hooks: SnoopHooks,
    sched?: Scheduler,
  ) {
    if (tryParseIpv4(opts.querierAddress) === undefined) throw new RangeError(`querier address ${JSON.stringify(opts.querierAddress)}`);
    this.sched = sched ?? realScheduler;
  }

  // RFC 3376 8.4, 8.5, 8.13 (older host present = GMI), 8.12 (LMQT)
  private get gmi(): number {
    return this.timing.robustness * this.timing.queryIntervalMs + this.timing.queryResponseIntervalMs;
  }
  private get oqpi(): number {
    return this.timing.robustness * this.timing.queryIntervalMs + this.timing.queryResponseIntervalMs / 2;
  }
  private get lmqt(): number {
    return this.timing.lastMemberQueryCount * this.timing.lastMemberQueryIntervalMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.opts.querier) this.becomeQuerier(true);
  }

  /** Clears every timer and forgets all state without calling hooks (the
   *  caller is tearing the VNI down). Stats and port counters stay. */
  stop(): void {
    this.running = false;
    for (const h of this.handles) this.sched.clearTimeout(h);
    this.handles.clear();
    this.entries.clear();
    this.pending.clear();
    this.series.clear();
    for (const ps of this.portStates.values()) {
      ps.groups.clear();
      ps.compat.clear();
      ps.mrouter = undefined;
    }
    this.selfQuerier = false;
    this.general = undefined;
    this.other = undefined;
  }

  /** A decoded IGMP message from a local port (never one from the overlay).
   *  dstIp is not checked: hosts send reports to the group or to 224.0.0.22,
   *  and membership is the same either way. */
  receive(port: string, srcIp: string, _dstIp: string, m: IgmpMessage): void {
    if (!this.running) {
      this.stats.ignored++;
      return;
    }
    const ps = this.portState(port);
    this.pruneCompat(ps);
    switch (m.type) {
      case "query":
        this.stats.queriesReceived++;
        ps.counters.queries++;
        this.learnMrouter(port);
        this.elect(srcIp);
        break;
      case "report":
        this.stats.reports++;
        ps.counters.reports++;
        this.onReport(port, srcIp, m.version, m.group);
        break;
      case "leave":
        this.stats.leaves++;
        ps.counters.leaves++;
        this.onLeave(port, m.group);
        break;
      case "v3report":
        this.stats.reports++;
        ps.counters.reports++;
        for (const r of m.records) this.onRecord(port, srcIp, r);
        break;
    }
    this.flush();
  }

  /** Forget the port's memberships and mrouter state (link down, port removed). */
  portDown(port: string): void {
    const ps = this.portStates.get(port);
    if (!this.running || !ps) return;
    for (const members of [...this.entries.values()]) {
      const m = members.get(port);
      if (m) this.removeMember(m);
    }
    ps.compat.clear();
    if (ps.mrouter) {
      this.cancel(ps.mrouter.timer);
      ps.mrouter = undefined;
      this.emitMrouters();
    }
    this.flush();
  }

  /** A multicast router was seen on the port by other means (a PIM hello):
   *  it is an mrouter port for the other-querier-present interval. */
  routerSeen(port: string): void {
    if (!this.running) return;
    this.learnMrouter(port);
  }

  // -------------------------------------------------------------------------
  // Reports and leaves

  private onReport(port: string, reporter: string, version: 1 | 2, group: string): void {
    if (!this.snoopable(group)) return;
    if (!this.admits(port, group)) return;
    this.noteOlderHost(port, group, version);
    this.join(port, ANY, group, reporter);
  }

  private onLeave(port: string, group: string): void {
    if (!this.snoopable(group)) return;
    // RFC 2236 5 / RFC 3376 7.3.2: with v1 hosts present, leaves are ignored.
    if (this.compatVersion(port, group) === 1) {
      this.stats.ignored++;
      return;
    }
    this.leave(port, group, [ANY]);
  }

  private onRecord(port: string, reporter: string, r: IgmpGroupRecord): void {
    const { group, sources } = r;
    if (!this.snoopable(group)) return;
    const version = this.compatVersion(port, group);
    switch (r.type) {
      case RecordType.MODE_IS_EXCLUDE:
      case RecordType.CHANGE_TO_EXCLUDE:
        // Forwarding is per group here: an exclude list still wants the group.
        if (this.admits(port, group)) this.join(port, ANY, group, reporter);
        break;
      case RecordType.MODE_IS_INCLUDE:
      case RecordType.ALLOW_NEW_SOURCES:
        if (sources.length > 0 && this.admits(port, group)) for (const s of sources) this.join(port, s, group, reporter);
        break;
      case RecordType.CHANGE_TO_INCLUDE:
        // RFC 3376 7.3.2: ignored in v1 mode, like a leave.
        if (version === 1) {
          this.stats.ignored++;
          break;
        }
        if (sources.length > 0 && this.admits(port, group)) for (const s of sources) this.join(port, s, group, reporter);
        // The host left exclude mode, so its (*,G) interest is gone (RFC 3376 6.4.2: Q(G)).
        this.leave(port, group, [ANY]);
        break;
      case RecordType.BLOCK_OLD_SOURCES:
        // RFC 3376 7.3.2: BLOCK is ignored while older hosts are present.
        if (version !== 3) {
          this.stats.ignored++;
          break;
        }
        this.leave(port, group, sources);
        break;
    }
  }

  /** Link-local and (defensively) non-multicast groups never create state. */
  private snoopable(group: string): boolean {
    if (isMulticast(group) && !isLinkLocalGroup(group)) return true;
    this.stats.ignored++;
    return false;
  }

  /** Whether the port may hold (some source of) group; counts a refusal. */
  private admits(port: string, group: string): boolean {
    const ps = this.portState(port);
    if (ps.groups.has(group) || ps.groups.size < this.opts.maxGroupsPerPort) return true;
    this.stats.groupLimitDrops++;
    ps.counters.groupLimitDrops++;
    return false;
  }

  private join(port: string, source: string, group: string, reporter: string): void {
    const key = keyOf(source, group);
    let members = this.entries.get(key);
    let m = members?.get(port);
    if (!m) {
      this.noteChange(source, group);
      if (!members) this.entries.set(key, (members = new Map()));
      m = { port, source, group, expiresAt: 0, timer: undefined, lastReporter: reporter };
      members.set(port, m);
      const ps = this.portState(port);
      ps.groups.set(group, (ps.groups.get(group) ?? 0) + 1);
    }
    m.lastReporter = reporter;
    this.leaveSeries(m); // a report answers the last-member query
    this.arm(m, this.gmi);
  }

  /** Lower the port's timers for these sources of group to the last-member
   *  query time; the querier then asks the port whether anyone still wants them. */
  private leave(port: string, group: string, sources: string[]): void {
    const lowered: Member[] = [];
    for (const s of sources) {
      const m = this.entries.get(keyOf(s, group))?.get(port);
      if (!m) continue;
      if (m.expiresAt - this.sched.now() > this.lmqt) this.arm(m, this.lmqt);
      lowered.push(m);
    }
    if (this.selfQuerier) this.startSeries(port, group, lowered, !sources.includes(ANY));
  }

  private arm(m: Member, ms: number): void {
    if (m.timer !== undefined) this.cancel(m.timer);
    m.expiresAt = this.sched.now() + ms;
    m.timer = this.schedule(ms, () => {
      m.timer = undefined;
      this.stats.expiries++;
      this.removeMember(m);
      this.flush();
    });
  }

  private removeMember(m: Member): void {
    const key = keyOf(m.source, m.group);
    const members = this.entries.get(key);
    if (members?.get(m.port) !== m) return;
    this.noteChange(m.source, m.group);
    if (m.timer !== undefined) this.cancel(m.timer);
    m.timer = undefined;
    this.leaveSeries(m);
    members.delete(m.port);
    if (members.size === 0) this.entries.delete(key);
    const ps = this.portState(m.port);
    const n = (ps.groups.get(m.group) ?? 1) - 1;
    if (n > 0) ps.groups.set(m.group, n);
    else ps.groups.delete(m.group);
  }

  // -------------------------------------------------------------------------
  // Last-member queries (RFC 3376 6.6.3): LMQC queries LMQI apart, the first
  // at once. A member that is refreshed meanwhile leaves the series; the
  // series ends when it has sent them all or has no member left.

  private startSeries(port: string, group: string, members: Member[], withSources: boolean): void {
    const fresh = members.filter((m) => m.series === undefined);
    if (fresh.length === 0 || this.timing.lastMemberQueryCount < 1) return;
    const s: LmqSeries = { port, group, withSources, members: new Set(fresh), sent: 0 };
    for (const m of fresh) m.series = s;
    this.series.add(s);
    this.seriesTick(s);
  }

  private seriesTick(s: LmqSeries): void {
    s.timer = undefined;
    const sources = s.withSources ? [...s.members].map((m) => m.source) : [];
    this.send(s.port, this.query(s.group, this.timing.lastMemberQueryIntervalMs, sources));
    s.sent++;
    if (s.sent < this.timing.lastMemberQueryCount) s.timer = this.schedule(this.timing.lastMemberQueryIntervalMs, () => this.seriesTick(s));
    else this.endSeries(s);
  }

  private leaveSeries(m: Member): void {
    const s = m.series;
    if (!s) return;
    m.series = undefined;
    s.members.delete(m);
    if (s.members.size === 0) this.endSeries(s);
  }

  private endSeries(s: LmqSeries): void {
    if (s.timer !== undefined) this.cancel(s.timer);
    s.timer = undefined;
    for (const m of s.members) m.series = undefined;
    s.members.clear();
    this.series.delete(s);
  }

  // -------------------------------------------------------------------------
  // Host compatibility (RFC 3376 7.3.2), per port and group

  private noteOlderHost(port: string, group: string, version: 1 | 2): void {
    const ps = this.portState(port);
    let c = ps.compat.get(group);
    if (!c) ps.compat.set(group, (c = { v1Until: 0, v2Until: 0 }));
    // Older Host Present Interval = GMI (RFC 3376 8.13)
    if (version === 1) c.v1Until = this.sched.now() + this.gmi;
    else c.v2Until = this.sched.now() + this.gmi;
  }

  private compatVersion(port: string, group: string): 1 | 2 | 3 {
    const c = this.portStates.get(port)?.compat.get(group);
    const now = this.sched.now();
    if (c && c.v1Until > now) return 1;
    if (c && c.v2Until > now) return 2;
    return 3;
  }

  /** Drop expired compatibility timers so they cannot pile up. */
  private pruneCompat(ps: PortState): void {
    const now = this.sched.now();
    for (const [g, c] of ps.compat) if (c.v1Until <= now && c.v2Until <= now) ps.compat.delete(g);
  }

  // -------------------------------------------------------------------------
  // Querier and mrouter ports

  private learnMrouter(port: string): void {
    const ps = this.portState(port);
    const had = ps.mrouter !== undefined;
    if (ps.mrouter) this.cancel(ps.mrouter.timer);
    const ms = this.oqpi;
    ps.mrouter = {
      expiresAt: this.sched.now() + ms,
      timer: this.schedule(ms, () => {
        ps.mrouter = undefined;
        this.emitMrouters();
      }),
    };
    if (!had) this.emitMrouters();
  }

  private emitMrouters(): void {
    const ports = new Set<string>();
    for (const [p, ps] of this.portStates) if (ps.mrouter) ports.add(p);
    this.hooks.mrouterChanged(this.opts.vni, ports);
  }

  /** RFC 3376 6.6.2: the lowest address queries. 0.0.0.0 (a snooper without
   *  an address) never wins against a real one. */
  private elect(src: string): void {
    if (tryParseIpv4(src) === undefined) return;
    if (this.other && this.other.address === src) {
      this.armOther(src);
      return;
    }
    const incumbent = this.other?.address ?? (this.opts.querier ? this.opts.querierAddress : undefined);
    if (incumbent !== undefined && !beats(src, incumbent)) return;
    if (this.selfQuerier) this.resign();
    this.armOther(src);
  }

  private armOther(address: string): void {
    if (this.other) this.cancel(this.other.timer);
    const ms = this.oqpi;
    this.other = {
      address,
      expiresAt: this.sched.now() + ms,
      timer: this.schedule(ms, () => {
        this.other = undefined;
        if (this.opts.querier) this.becomeQuerier(false);
      }),
    };
  }

  private becomeQuerier(startup: boolean): void {
    this.selfQuerier = true;
    this.startupLeft = startup ? this.timing.startupQueryCount : 0;
    this.generalTick();
  }

  private resign(): void {
    this.selfQuerier = false;
    if (this.general) this.cancel(this.general.timer);
    this.general = undefined;
    // Only the querier sends last-member queries; lowered timers stay.
    for (const s of [...this.series]) this.endSeries(s);
  }

  private generalTick(): void {
    this.send(undefined, this.query("0.0.0.0", this.timing.queryResponseIntervalMs, []));
    if (this.startupLeft > 0) this.startupLeft--;
    const ms = this.startupLeft > 0 ? this.timing.startupQueryIntervalMs : this.timing.queryIntervalMs;
    this.general = { at: this.sched.now() + ms, timer: this.schedule(ms, () => this.generalTick()) };
  }

  private query(group: string, maxRespMs: number, sources: string[]): QueryMessage {
    const r = this.timing.robustness;
    return {
      type: "query",
      version: 3,
      group,
      maxRespMs,
      sFlag: false,
      qrv: r <= 7 ? r : 0, // RFC 3376 4.1.6: 0 when above 7
      qqicS: Math.floor(this.timing.queryIntervalMs / 1000),
      sources,
    };
  }

  private send(port: string | undefined, q: QueryMessage): void {
    this.stats.queriesSent++;
    this.hooks.sendQuery(this.opts.vni, port, q);
  }

  // -------------------------------------------------------------------------
  // Change batching, timers, state

  private noteChange(source: string, group: string): void {
    const key = keyOf(source, group);
    if (this.pending.has(key)) return;
    this.pending.set(key, { source, group, before: new Set(this.entries.get(key)?.keys() ?? []) });
  }

  private flush(): void {
    const changes = [...this.pending.values()];
    this.pending.clear();
    for (const { source, group, before } of changes) {
      const after = new Set(this.entries.get(keyOf(source, group))?.keys() ?? []);
      // Defensive: a port added and removed within one message is no change.
      if (after.size === before.size && [...after].every((p) => before.has(p))) continue;
      this.hooks.membersChanged(this.opts.vni, source, group, after);
    }
  }

  private schedule(ms: number, f: () => void): unknown {
    const h = this.sched.setTimeout(() => {
      this.handles.delete(h);
      f();
    }, ms);
    this.handles.add(h);
    return h;
  }

  private cancel(h: unknown): void {
    this.sched.clearTimeout(h);
    this.handles.delete(h);
  }

  private portState(port: string): PortState {
    let ps = this.portStates.get(port);
    if (!ps) {
      ps = { groups: new Map(), compat: new Map(), counters: { reports: 0, leaves: 0, queries: 0, groupLimitDrops: 0 } };
      this.portStates.set(port, ps);
    }
    return ps;
  }

  // -------------------------------------------------------------------------
  // Show views

  groups(): GroupRow[] {
    const now = this.sched.now();
    const rows: GroupRow[] = [];
    for (const members of this.entries.values()) {
      const first = members.values().next().value as Member;
      rows.push({
        source: first.source,
        group: first.group,
        ports: [...members.values()]
          .map((m) => ({
            port: m.port,
            mode: m.source === ANY ? ("exclude" as const) : ("include" as const),
            version: this.compatVersion(m.port, m.group),
            expiresInMs: Math.max(0, m.expiresAt - now),
            lastReporter: m.lastReporter,
            leaving: m.series !== undefined,
          }))
          .sort((a, b) => cmp(a.port, b.port)),
      });
    }
    return rows.sort((a, b) => ipOrder(a.group) - ipOrder(b.group) || ipOrder(a.source) - ipOrder(b.source));
  }

  ports(): PortRow[] {
    const now = this.sched.now();
    return [...this.portStates]
      .map(([port, ps]) => ({
        port,
        groups: ps.groups.size,
        mrouter: ps.mrouter !== undefined,
        ...(ps.mrouter ? { mrouterExpiresInMs: Math.max(0, ps.mrouter.expiresAt - now) } : {}),
        counters: { ...ps.counters },
      }))
      .sort((a, b) => cmp(a.port, b.port));
  }

  querier(): QuerierRow {
    const now = this.sched.now();
    const address = this.selfQuerier ? this.opts.querierAddress : this.other?.address;
    return {
      enabled: this.opts.querier,
      ...(address !== undefined ? { address } : {}),
      self: this.selfQuerier,
      ...(this.other ? { otherQuerierExpiresInMs: Math.max(0, this.other.expiresAt - now) } : {}),
      ...(this.general ? { nextGeneralQueryInMs: Math.max(0, this.general.at - now) } : {}),
    };
  }
}

/** Whether querier address a wins the election against b. */
function beats(a: string, b: string): boolean {
  const x = tryParseIpv4(a);
  const y = tryParseIpv4(b);
  if (x === undefined || x === 0) return false;
  if (y === undefined || y === 0) return true;
  return x < y;
}

/** "*" sorts before every address. */
function ipOrder(s: string): number {
  return tryParseIpv4(s) ?? -1;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

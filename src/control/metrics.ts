// Prometheus metrics of a switch (GET /metrics on the management API), in the
// text exposition format, through prom-client. Everything is read at scrape
// time from what the switch already keeps: the fast path's per-CPU counters
// (one read of the counters map), the tables' occupancy (the kernel's own
// element counts: never a walk of the FDB), the BGP sessions (the speaker's
// summary), learning, ageing and resync statistics, and each mirror session's
// counters. One snapshot per scrape, so related series agree with each other.
//
// Series (see README.md, "Metrics", for example queries):
//   vxgate_fastpath_packets_total{counter}, vxgate_fastpath_bytes_total{counter}
//   vxgate_table_entries{table}, vxgate_table_max_entries{table}
//   vxgate_bgp_session_state{neighbor,state}, vxgate_bgp_prefixes_{received,accepted,sent}{neighbor}, ...
//   vxgate_l2_*_total, vxgate_static_macs{origin}
//   vxgate_mirror_{copies,terminated,dropped,bytes}_total{session,...}
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { counterNames, type CounterName } from "../codegen/tables.ts";
import type { SummaryRow } from "./evpn/speaker.ts";
import type { MirrorRow } from "./mirror/feature.ts";
import type { CounterValue, TableOccupancy } from "./targets/target.ts";
import type { Runtime } from "./runtime.ts";

/** What a scrape reads; a Runtime provides it (runtimeSource), tests fake it. */
export interface MetricsSource {
  switchName: string;
  vtep: string;
  startedAt: Date;
  counters(): Record<CounterName, CounterValue>;
  tables(): TableOccupancy[];
  l2(): {
    stats: { learnEvents: number; moveEvents: number; evpnMoves: number; aged: number; noNeighEvents: number };
    resyncs: { sweeps: number; recovered: number; lastMs: number };
  };
  staticMacs(): { config: number; api: number };
  /** undefined without a bgp: section */
  bgp(): { summary: SummaryRow[]; counters: Record<string, number> } | undefined;
  mirror(): MirrorRow[];
}

export function runtimeSource(rt: Runtime): MetricsSource {
  const cfg = rt.config;
  return {
    switchName: cfg.switch.name,
    vtep: cfg.vtep.sourceIp,
    startedAt: rt.startedAt,
    counters: () => rt.counterRows(),
    tables: () => rt.target.tableOccupancy?.() ?? [],
    l2: () => ({ stats: rt.l2.stats, resyncs: rt.l2.resyncs }),
    // the config as it is now (a reload may change its static MACs)
    staticMacs: () => ({ config: rt.config.vnis.reduce((n, v) => n + v.staticMacs.length, 0), api: rt.staticMacs.active().length }),
    bgp: () => (rt.evpn ? { summary: rt.evpn.speaker.summary(), counters: { ...rt.evpn.speaker.counters } } : undefined),
    mirror: () => rt.mirror.rows(),
  };
}

/** RFC 4271 §8.2.2, as SummaryRow.state spells them. */
export const BGP_STATES = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"] as const;

/** The speaker's route counters, as the `event` label names them. */
const EVPN_EVENTS: Record<string, string> = {
  unknownRouteTypes: "unknown_route_type",
  rejected: "rejected",
  treatAsWithdraw: "treat_as_withdraw",
  multiVniMalformed: "multi_vni_malformed",
  staleKept: "stale_kept",
  stalePurged: "stale_purged",
};

interface Snapshot {
  counters: Record<CounterName, CounterValue>;
  tables: TableOccupancy[];
  l2: ReturnType<MetricsSource["l2"]>;
  staticMacs: ReturnType<MetricsSource["staticMacs"]>;
  bgp: ReturnType<MetricsSource["bgp"]>;
  mirror: MirrorRow[];
}

/** u64 counters as Prometheus floats (exact up to 2^53). */
const num = (v: bigint | number): number => Number(v);

export class SwitchMetrics {
  readonly registry = new Registry();
  private snap?: Snapshot;
  /** scrapes run one at a time: each one's collectors read its own snapshot */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly src: MetricsSource,
    opts: { processMetrics?: boolean } = {},
  ) {
    const r = [this.registry];
    const snap = () => {
      if (!this.snap) throw new Error("metrics collected outside a scrape");
      return this.snap;
    };
    /** a counter whose every series is set from the snapshot (reset first: series that went away go too) */
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (s: Snapshot, set: (labels: Record<L, string>, v: number) => void) => void) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: r,
        collect() {
          this.reset();
          fill(snap(), (labels, v) => this.inc(labels as never, v));
        },
      });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (s: Snapshot, set: (labels: Record<L, string>, v: number) => void) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: r,
        collect() {
          this.reset();
          fill(snap(), (labels, v) => this.set(labels as never, v));
        },
      });
    const none = {} as Record<never, string>;

    gauge("vxgate_info", "The switch: its name and VTEP address (always 1).", ["switch", "vtep"], (_s, set) => set({ switch: src.switchName, vtep: src.vtep }, 1));
    gauge("vxgate_start_time_seconds", "When this control plane started, in seconds since the epoch.", [], (_s, set) => set(none, src.startedAt.getTime() / 1000));

    // ------------------------------------------------------------ fast path
    counter("vxgate_fastpath_packets_total", "Packets counted by the fast path, per action or drop reason (counter: the name in `vxgate show counters`). Kept in the pinned maps: they survive control-plane restarts.", ["counter"], (s, set) => {
      for (const n of counterNames) set({ counter: n }, num(s.counters[n]?.packets ?? 0n));
    });
    counter("vxgate_fastpath_bytes_total", "Bytes counted by the fast path, per action or drop reason.", ["counter"], (s, set) => {
      for (const n of counterNames) set({ counter: n }, num(s.counters[n]?.bytes ?? 0n));
    });
    gauge("vxgate_table_entries", "Entries in a fast-path table (the kernel's element count; absent where it cannot be read).", ["table"], (s, set) => {
      for (const t of s.tables) if (t.entries !== undefined) set({ table: t.table }, t.entries);
    });
    gauge("vxgate_table_max_entries", "Capacity of a fast-path table (max_entries).", ["table"], (s, set) => {
      for (const t of s.tables) set({ table: t.table }, t.maxEntries);
    });

    // ------------------------------------------------------------ learning, ageing
    counter("vxgate_l2_learned_total", "MACs learned, as learning events from the data path.", [], (s, set) => set(none, s.l2.stats.learnEvents));
    counter("vxgate_l2_moved_total", "MAC moves, by cause: data-path (frames from another port or VTEP) or evpn (a route moved it).", ["cause"], (s, set) => {
      set({ cause: "data-path" }, s.l2.stats.moveEvents);
      set({ cause: "evpn" }, s.l2.stats.evpnMoves);
    });
    counter("vxgate_l2_aged_total", "Learned MACs removed by ageing.", [], (s, set) => set(none, s.l2.stats.aged));
    counter("vxgate_l2_no_neighbour_events_total", "Data-path reports of an outer next hop without a neighbour entry.", [], (s, set) => set(none, s.l2.stats.noNeighEvents));
    counter("vxgate_l2_resyncs_total", "Sweeps of the FDB after the data path lost learning events (ring buffer full: see vxgate_fastpath_packets_total{counter=\"err_event_ring_full\"}).", [], (s, set) => set(none, s.l2.resyncs.sweeps));
    counter("vxgate_l2_resync_recovered_total", "Learned MACs found by those sweeps that no event had reported.", [], (s, set) => set(none, s.l2.resyncs.recovered));
    gauge("vxgate_l2_resync_last_duration_seconds", "How long the last resync sweep took.", [], (s, set) => set(none, s.l2.resyncs.lastMs / 1000));
    gauge("vxgate_static_macs", "Static MACs, by origin: the config file or the management API (`vxgate mac add`).", ["origin"], (s, set) => {
      set({ origin: "config" }, s.staticMacs.config);
      set({ origin: "api" }, s.staticMacs.api);
    });

    // ------------------------------------------------------------ BGP EVPN
    gauge("vxgate_bgp_session_state", "BGP session state per neighbor: 1 for the current state, 0 for the others.", ["neighbor", "state"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) for (const st of BGP_STATES) set({ neighbor: p.neighbor, state: st }, p.state === st ? 1 : 0);
    });
    gauge("vxgate_bgp_neighbor_info", "A configured BGP neighbor (always 1).", ["neighbor", "remote_as", "type", "role"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor, remote_as: String(p.remoteAs), type: p.type, role: p.role }, 1);
    });
    gauge("vxgate_bgp_session_uptime_seconds", "Seconds since the session reached Established (0 when it is not).", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.upSeconds ?? 0);
    });
    gauge("vxgate_bgp_prefixes_received", "EVPN routes received from the neighbor (accepted or not).", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.pfxRcvd);
    });
    gauge("vxgate_bgp_prefixes_accepted", "EVPN routes from the neighbor in its Adj-RIB-In.", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.pfxAccepted);
    });
    gauge("vxgate_bgp_prefixes_sent", "EVPN routes advertised to the neighbor (Adj-RIB-Out).", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.pfxSent);
    });
    counter("vxgate_bgp_messages_received_total", "BGP messages received from the neighbor.", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.msgRcvd);
    });
    counter("vxgate_bgp_messages_sent_total", "BGP messages sent to the neighbor.", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.msgSent);
    });
    counter("vxgate_bgp_session_flaps_total", "Times the Established session to the neighbor went down.", ["neighbor"], (s, set) => {
      for (const p of s.bgp?.summary ?? []) set({ neighbor: p.neighbor }, p.flaps);
    });
    counter("vxgate_evpn_route_events_total", "Received EVPN routes the speaker had to treat specially, by event.", ["event"], (s, set) => {
      if (!s.bgp) return;
      for (const [k, label] of Object.entries(EVPN_EVENTS)) set({ event: label }, s.bgp.counters[k] ?? 0);
    });

    // ------------------------------------------------------------ mirror
    gauge("vxgate_mirror_session_info", "A mirror session this switch acts on (always 1): where it came from and this switch's roles in it.", ["session", "origin", "host_id", "roles"], (s, set) => {
      for (const m of s.mirror) set({ session: m.name, origin: m.origin, host_id: String(m.hostId), roles: m.roles.join(",") }, 1);
    });
    counter("vxgate_mirror_copies_total", "Mirror copies made here, by where they went: local (out of the server's port) or remote (VXLAN-GBP to its switch).", ["session", "to"], (s, set) => {
      for (const m of s.mirror) {
        set({ session: m.name, to: "local" }, num(m.counters.copiesLocal));
        set({ session: m.name, to: "remote" }, num(m.counters.copiesRemote));
      }
    });
    counter("vxgate_mirror_terminated_total", "Mirror copies from the overlay delivered to a local monitoring server.", ["session"], (s, set) => {
      for (const m of s.mirror) set({ session: m.name }, num(m.counters.terminated));
    });
    counter("vxgate_mirror_dropped_total", "Mirror copies not made or not delivered, by reason.", ["session", "reason"], (s, set) => {
      for (const m of s.mirror) {
        set({ session: m.name, reason: "no_server" }, num(m.counters.dropNoServer));
        set({ session: m.name, reason: "oversize" }, num(m.counters.dropOversize));
        set({ session: m.name, reason: "other" }, num(m.counters.dropOther));
      }
    });
    counter("vxgate_mirror_bytes_total", "Bytes of the mirror copies made or delivered here.", ["session"], (s, set) => {
      for (const m of s.mirror) set({ session: m.name }, num(m.counters.bytes));
    });

    // the control plane's own process: CPU, memory, event-loop lag, GC
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: one snapshot of the switch, every metric from it. */
  scrape(): Promise<string> {
    const run = async () => {
      this.snap = {
        counters: this.src.counters(),
        tables: this.src.tables(),
        l2: this.src.l2(),
        staticMacs: this.src.staticMacs(),
        bgp: this.src.bgp(),
        mirror: this.src.mirror(),
      };
      try {
        return await this.registry.metrics();
      } finally {
        this.snap = undefined;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

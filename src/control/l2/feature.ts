// L2 switching, the control-plane side of it: what the data path learned
// (events from the ring buffer), ageing of learned entries, MAC moves, and the
// show views of the forwarding table, VNIs, flood lists and ports. The data
// path learns on its own; this feature hears about it, ages it and tells the
// other features (EVPN advertises local MACs, mirror follows hosts).
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { DataPathEvent } from "../codec.ts";
import type { Logger } from "../log.ts";
import { listNetDevs } from "../netdev.ts";
import type { Target } from "../targets/target.ts";

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

export interface MoveRecord {
  vni: number;
  mac: string;
  to: string;
  at: string;
}

/** What L2 tells the rest of the switch. */
export interface L2Hooks {
  /** a host was learned (or moved) on a local port */
  localLearned(vni: number, mac: string, vlan: number | undefined): void;
  /** a local host aged out */
  localGone(vni: number, mac: string): void;
  /** a remote VTEP showed up as a learned next hop */
  remoteSeen(vtep: string): void;
  /** an outer next hop is unresolved */
  noNeighbour(vtep: string): void;
  /** any FDB entry changed (learned, moved, aged) */
  fdbChanged(vni: number, mac: string): void;
}

export class L2Feature {
  readonly moves: MoveRecord[] = [];
  readonly stats = { learnEvents: 0, moveEvents: 0, aged: 0, noNeighEvents: 0 };
  private ageTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: SwitchConfig,
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
        if (e.kind === constants.EVT_LEARN) this.stats.learnEvents++;
        else {
          this.stats.moveEvents++;
          this.moves.push({ vni: e.vni, mac: e.mac, to: e.ifindex ? this.portName(e.ifindex) : e.remote, at: new Date().toISOString() });
          if (this.moves.length > 1000) this.moves.shift();
        }
        this.log.info(e.kind === constants.EVT_LEARN ? "mac learned" : "mac moved", { vni: e.vni, mac: e.mac, ...where });
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

  private ageingSeconds(vni: number): number {
    return this.config.vnis.find((v) => v.vni === vni)?.ageingSeconds ?? 300;
  }

  startAgeing(): void {
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

  stop(): void {
    if (this.ageTimer) clearInterval(this.ageTimer);
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
          this.log.info("mac aged out", { vni: k.vni, mac: k.mac });
          if (again.kind === constants.FDB_LOCAL) this.hooks.localGone(k.vni, k.mac);
          this.hooks.fdbChanged(k.vni, k.mac);
        }
      }
    }
    this.stats.aged += n;
    return n;
  }

  // ------------------------------------------------------------------ views

  fdbRows(): FdbRow[] {
    const now = process.hrtime.bigint();
    return this.target
      .table("fdb")
      .entries()
      .map(([k, v]) => {
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
      })
      .sort((a, b) => a.vni - b.vni || a.mac.localeCompare(b.mac));
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

// The switch's control plane at run time: boots the fast path for a config,
// keeps its tables equal to the config plus what the data path learned, ages
// learned entries, follows MAC moves, keeps outer next hops resolved, and
// answers the management API's questions.
import { readFileSync, writeFileSync } from "node:fs";
import type { SwitchConfig } from "../config/types.ts";
import { constants, type CounterName } from "../codegen/tables.ts";
import { pipelineFor } from "../codegen/pipeline.ts";
import { buildPipeline, DEFAULT_CACHE_DIR } from "../codegen/build.ts";
import type { DataPathEvent } from "./codec.ts";
import { desiredState, type DesiredState } from "./desired.ts";
import { FastPathEvpnPort } from "./evpn-port.ts";
import { EvpnSpeaker } from "./evpn/speaker.ts";
import { reconcile } from "./reconcile.ts";
import { EbpfTarget } from "./ebpf-target.ts";
import { listNetDevs } from "./netdev.ts";
import { NeighbourKeeper } from "./neighbours.ts";
import type { Logger } from "./log.ts";
import type { CounterValue, Target } from "./target.ts";

export interface RuntimeOptions {
  config: SwitchConfig;
  log: Logger;
  cacheDir?: string;
  xdpMode?: "native" | "generic" | "auto";
  bpffsRoot?: string;
  runRoot?: string;
}

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

export class Runtime {
  readonly target: Target;
  /** set by boot (an inspecting runtime never computes it: its ports may live in another namespace) */
  private desired!: DesiredState;
  private readonly neighbours: NeighbourKeeper;
  private ageTimer?: NodeJS.Timeout;
  private readonly names = new Map<number, string>();
  readonly moves: MoveRecord[] = [];
  private readonly startedAt = new Date();
  private readonly ifindexes: Map<string, number>;
  evpn?: { speaker: EvpnSpeaker; port: FastPathEvpnPort };
  private vniUpdateQueued = false;
  private stopped = false;
  readonly stats = { learnEvents: 0, moveEvents: 0, aged: 0, noNeighEvents: 0 };

  private constructor(private readonly opts: RuntimeOptions, target: Target, ifindexes: Map<string, number>) {
    this.target = target;
    this.ifindexes = ifindexes;
    this.neighbours = new NeighbourKeeper(opts.log);
  }

  private ifindexOf = (name: string): number => {
    const i = this.ifindexes.get(name);
    if (i === undefined) throw new Error(`interface ${name} does not exist in this network namespace`);
    return i;
  };

  /** Config plus what EVPN routes added, within the flood loop's bound. */
  private computeDesired(): DesiredState {
    const port = this.evpn?.port;
    const d = desiredState(this.opts.config, this.ifindexOf, port ? { flood: port.flood, admit: port.admit } : undefined);
    const slots = pipelineFor(this.opts.config).floodSlots;
    for (const [vni, list] of d.flood) {
      if (list.length <= slots) continue;
      this.opts.log.warn("flood list longer than tables.flood_per_vni: extra VTEPs get no BUM copies", { vni, targets: list.length, slots });
      d.flood.set(vni, list.slice(0, slots));
      d.vnis.get(vni)!.flood_count = slots;
    }
    return d;
  }

  /** EVPN changed a VNI's flood or admit set: apply it (batched per tick). */
  private queueVniUpdate(): void {
    if (this.vniUpdateQueued) return;
    this.vniUpdateQueued = true;
    setImmediate(() => {
      this.vniUpdateQueued = false;
      if (this.stopped) return;
      try {
        this.desired = this.computeDesired();
        const r = reconcile(this.target, this.desired, { fdb: false });
        this.opts.log.debug("flood lists updated", { written: r.written, deleted: r.deleted });
      } catch (e) {
        this.opts.log.error("flood list update failed", { error: (e as Error).message });
      }
    });
  }

  /** A read-only view of a switch's pinned fast path, for `vxgate show` while
   * its control plane is down: the tables, ports and counters as they are. */
  static inspect(opts: RuntimeOptions): Runtime | undefined {
    const target = EbpfTarget.inspectPinned(opts.config.switch.name, { bpffsRoot: opts.bpffsRoot, runRoot: opts.runRoot });
    if (!target) return undefined;
    const ifindexes = new Map([...listNetDevs().values()].map((d) => [d.name, d.ifindex]));
    const rt = new Runtime(opts, target, ifindexes);
    for (const p of target.ports()) rt.names.set(p.ifindex, p.name);
    return rt;
  }

  static async boot(opts: RuntimeOptions): Promise<Runtime> {
    const cfg = opts.config;
    const log = opts.log;
    // every port must exist before anything is touched: a switch that cannot
    // boot leaves the kernel as it found it
    const devs = listNetDevs();
    const missing = [...cfg.uplinks, ...cfg.ports].map((p) => p.name).filter((n) => !devs.has(n));
    if (missing.length > 0) throw new Error(`${cfg.file}: interface${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found in this network namespace`);
    const built = buildPipeline(pipelineFor(cfg), opts.cacheDir ?? DEFAULT_CACHE_DIR);
    log.info("fast path generated", { hash: built.hash, object: built.objectPath, reused: built.reused });
    for (const u of cfg.uplinks) enableForwarding(u.name, log);
    const target = EbpfTarget.open({
      switchName: cfg.switch.name,
      objectPath: built.objectPath,
      hash: built.hash,
      ports: [...cfg.uplinks.map((u) => ({ name: u.name, role: "uplink" as const })), ...cfg.ports.map((p) => ({ name: p.name, role: "access" as const }))],
      log,
      xdpMode: opts.xdpMode,
      bpffsRoot: opts.bpffsRoot,
      runRoot: opts.runRoot,
    });
    const ifindexes = new Map([...listNetDevs().values()].map((d) => [d.name, d.ifindex]));
    const rt = new Runtime(opts, target, ifindexes);
    for (const p of target.ports()) rt.names.set(p.ifindex, p.name);
    rt.desired = rt.computeDesired();
    if (cfg.bgp) rt.prepareEvpn();
    const rep = reconcile(target, rt.desired);
    log.info("tables reconciled", { written: rep.written, deleted: rep.deleted, adopted: target.adopted });
    target.onEvent((e) => {
      // one bad event must not take the control plane down with it
      try {
        rt.onDataPathEvent(e);
      } catch (err) {
        log.error("data path event handling failed", { kind: e.kind, vni: e.vni, mac: e.mac, error: (err as Error).stack ?? String(err) });
      }
    });
    rt.startAgeing();
    for (const ip of rt.knownRemoteVteps()) void rt.neighbours.ensure(ip);
    if (cfg.bgp) await rt.startEvpn();
    return rt;
  }

  /** The speaker and its port, before the first reconcile: what an earlier
   * control plane installed from routes is adopted (stale until confirmed), so
   * the reconcile keeps those flood lists and admissions and nothing stops. */
  private prepareEvpn(): void {
    const cfg = this.opts.config;
    const log = this.opts.log.child({ part: "evpn" });
    const staticMacs = new Set(cfg.vnis.flatMap((v) => v.staticMacs.map((m) => `${v.vni}/${m.mac}`)));
    const port = new FastPathEvpnPort(
      this.target,
      {
        vnisChanged: () => this.queueVniUpdate(),
        vtepSeen: (v) => void this.neighbours.ensure(v),
        configStatic: (vni, mac) => staticMacs.has(`${vni}/${mac}`),
      },
      log,
    );
    // the fast path went on forwarding through this restart: say so (graceful
    // restart R/F bits), so peers keep our routes until our End-of-RIB
    const speaker = new EvpnSpeaker(cfg.bgp!, cfg.vtep.sourceIp, cfg.vnis.map((v) => v.vni), port, log, {
      forwardingPreserved: this.target.adopted,
    });
    this.evpn = { speaker, port };
    const seeded = port.seedFromFastPath(new Map(cfg.vnis.map((v) => [v.vni, v.flood])));
    if (seeded.macs + seeded.flood > 0) log.info("adopted EVPN state from the fast path, stale until routes confirm it", seeded);
    this.desired = this.computeDesired();
  }

  private async startEvpn(): Promise<void> {
    const { speaker } = this.evpn!;
    // hosts already here (static, or learned before a restart) are announced at once
    for (const [k, v] of this.target.table("fdb").entries()) {
      if (v.kind === constants.FDB_LOCAL) speaker.localMacLearned(k.vni, k.mac, { vlan: v.vlan || undefined, sticky: (v.flags & constants.FDB_STATIC) !== 0 });
    }
    await speaker.start();
    void this.purgeStaleEvpnWhenSynced();
  }

  /** Adopted EVPN entries that no route confirmed go once the peers have sent
   * their full tables (End-of-RIB from each), or when the graceful-restart
   * bound expires: forwarding on stale entries beats no forwarding while a
   * reflector is away. */
  private async purgeStaleEvpnWhenSynced(): Promise<void> {
    const evpn = this.evpn!;
    const sync = await evpn.speaker.initialSync;
    if (sync.reason === "stopped" || this.stopped) return;
    const purged = evpn.port.purgeStale();
    this.opts.log.info("EVPN initial sync done", { ...sync, staleRemoved: purged });
  }

  get config(): SwitchConfig {
    return this.opts.config;
  }

  private knownRemoteVteps(): Set<string> {
    const s = new Set<string>();
    for (const list of this.desired.flood.values()) for (const f of list) if (f.kind === constants.FLOOD_REMOTE) s.add(f.remote);
    for (const [, v] of this.desired.staticFdb) if (v.kind === constants.FDB_REMOTE) s.add(v.remote);
    return s;
  }

  private onDataPathEvent(e: DataPathEvent): void {
    const log = this.opts.log;
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
        log.info(e.kind === constants.EVT_LEARN ? "mac learned" : "mac moved", { vni: e.vni, mac: e.mac, ...where });
        if (!e.ifindex) void this.neighbours.ensure(e.remote);
        else this.evpn?.speaker.localMacLearned(e.vni, e.mac, { vlan: e.vlan || undefined });
        break;
      }
      case constants.EVT_NO_NEIGH:
        this.stats.noNeighEvents++;
        void this.neighbours.ensure(e.remote);
        break;
      default:
        log.warn("unknown data path event", { kind: e.kind });
    }
  }

  portName(ifindex: number): string {
    return this.names.get(ifindex) ?? `if${ifindex}`;
  }

  private ageingSeconds(vni: number): number {
    return this.opts.config.vnis.find((v) => v.vni === vni)?.ageingSeconds ?? 300;
  }

  private startAgeing(): void {
    const ageings = this.opts.config.vnis.map((v) => v.ageingSeconds).filter((a) => a > 0);
    if (ageings.length === 0) return;
    // sweep several times per shortest ageing time, between 1 s and 30 s
    const period = Math.min(30, Math.max(1, Math.min(...ageings) / 4)) * 1000;
    this.ageTimer = setInterval(() => {
      try {
        this.ageOnce();
      } catch (e) {
        this.opts.log.error("ageing sweep failed", { error: (e as Error).message });
      }
    }, period);
    this.ageTimer.unref();
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
          this.opts.log.info("mac aged out", { vni: k.vni, mac: k.mac });
          if (again.kind === constants.FDB_LOCAL) this.evpn?.speaker.localMacGone(k.vni, k.mac);
        }
      }
    }
    this.stats.aged += n;
    return n;
  }

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
        const c = this.opts.config.vnis.find((x) => x.vni === k.vni);
        return {
          vni: k.vni,
          learning: (v.flags & constants.VNI_LEARN_LOCAL) !== 0,
          floodAndLearn: (v.flags & constants.VNI_LEARN_REMOTE) !== 0,
          ageingSeconds: c?.ageingSeconds ?? 0,
          floodTargets: v.flood_count,
          ports: this.opts.config.ports.filter((p) => p.vni === k.vni || p.vlans.some((x) => x.vni === k.vni)).map((p) => p.name),
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
      const cfg = this.opts.config.ports.find((x) => x.name === p.name);
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

  counterRows(): Record<CounterName, CounterValue> {
    return this.target.counters();
  }

  status() {
    return {
      switch: this.opts.config.switch.name,
      vtep: this.opts.config.vtep.sourceIp,
      udpPort: this.opts.config.vtep.udpPort,
      adopted: this.target.adopted,
      bgp: this.evpn ? { asn: this.opts.config.bgp!.asn, routerId: this.opts.config.bgp!.routerId } : undefined,
      startedAt: this.startedAt.toISOString(),
      ...this.stats,
    };
  }

  /** Control plane exits; the pinned fast path keeps forwarding. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.ageTimer) clearInterval(this.ageTimer);
    // the fast path keeps forwarding: peers may keep our routes while we restart
    await this.evpn?.speaker.stop({ graceful: true });
    this.target.release();
  }

  /** `vxgate stop`: remove everything this switch put in the kernel. */
  async destroy(): Promise<void> {
    this.stopped = true;
    if (this.ageTimer) clearInterval(this.ageTimer);
    await this.evpn?.speaker.stop();
    this.target.destroy();
  }
}

/** bpf_fib_lookup answers only for interfaces with IPv4 forwarding enabled. */
function enableForwarding(uplink: string, log: Logger): void {
  const path = `/proc/sys/net/ipv4/conf/${uplink}/forwarding`;
  try {
    if (readFileSync(path, "utf8").trim() !== "1") {
      writeFileSync(path, "1");
      log.info("enabled IPv4 forwarding on uplink (needed by the outer next-hop lookup)", { uplink });
    }
  } catch (e) {
    log.warn("could not enable forwarding on uplink", { uplink, error: String(e) });
  }
}

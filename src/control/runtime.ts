// The switch's control plane at run time, as thin wiring: boots the fast path
// for a config through a Target, hands each feature (l2, evpn, mirror) the
// target and the events it subscribed to, merges what the features want the
// tables to hold into one desired state and reconciles the tables with it.
import { readFileSync, writeFileSync } from "node:fs";
import { ConfigError, formatSourceRef, type SwitchConfig } from "../config/types.ts";
import type { CounterName } from "../codegen/tables.ts";
import { pipelineFor } from "../codegen/pipeline.ts";
import { buildPipeline, DEFAULT_CACHE_DIR } from "../codegen/build.ts";
import { desiredState, type DesiredState } from "./l2/desired.ts";
import { L2Feature } from "./l2/feature.ts";
import { EvpnFeature } from "./evpn/feature.ts";
import { MirrorFeature } from "./mirror/feature.ts";
import { McastFeature } from "./mcast/feature.ts";
import { combineExtensions } from "./evpn/extensions.ts";
import { LinkWatcher } from "./l2/links.ts";
import { StaticMacFeature } from "./static-macs.ts";
import { reconcile } from "./reconcile.ts";
import { constants } from "../codegen/tables.ts";
import { EbpfTarget, RUN_ROOT } from "./targets/ebpf/target.ts";
import { Bmv2Target } from "./targets/bmv2/target.ts";
import { DEFAULT_THRIFT_PORT } from "./targets/bmv2/switch-process.ts";
import { buildP4 } from "../codegen/build-p4.ts";
import { join } from "node:path";
import { listNetDevs } from "./netdev.ts";
import { NeighbourKeeper } from "./neighbours.ts";
import type { Logger } from "./log.ts";
import type { CounterValue, Target } from "./targets/target.ts";

export type { FdbRow, MoveRecord } from "./l2/feature.ts";

export interface RuntimeOptions {
  config: SwitchConfig;
  log: Logger;
  cacheDir?: string;
  xdpMode?: "native" | "generic" | "auto";
  bpffsRoot?: string;
  runRoot?: string;
  /** the fast path: eBPF in this kernel (default) or the P4 program on bmv2 simple_switch */
  target?: "ebpf" | "bmv2";
  /** bmv2: simple_switch's Thrift port (default 9090) */
  thriftPort?: number;
}

export class Runtime {
  readonly target: Target;
  /** set by boot (an inspecting runtime never computes it: its ports may live in another namespace) */
  private desired!: DesiredState;
  private readonly neighbours: NeighbourKeeper;
  private readonly names = new Map<number, string>();
  readonly startedAt = new Date();
  private ifindexes: Map<string, number>;
  readonly l2: L2Feature;
  evpn?: EvpnFeature;
  readonly mirror: MirrorFeature;
  readonly mcast: McastFeature;
  private links: LinkWatcher;
  /** static MACs added through the management API */
  readonly staticMacs: StaticMacFeature;
  private vniUpdateQueued = false;
  private stopped = false;

  private constructor(private readonly opts: RuntimeOptions, target: Target, ifindexes: Map<string, number>) {
    this.target = target;
    this.ifindexes = ifindexes;
    this.neighbours = new NeighbourKeeper(opts.log);
    for (const p of target.ports()) this.names.set(p.ifindex, p.name);
    this.l2 = new L2Feature(opts.config, target, opts.log, (i) => this.portName(i), {
      localLearned: (vni, mac, vlan) => this.evpn?.localLearned(vni, mac, vlan),
      localGone: (vni, mac, from) => {
        if (from) this.evpn?.port.hostLeftPort(vni, mac, from.ifindex);
        this.evpn?.localGone(vni, mac);
      },
      remoteSeen: (vtep) => void this.neighbours.ensure(vtep),
      noNeighbour: (vtep) => void this.neighbours.ensure(vtep, { force: true }),
      fdbChanged: (vni, mac) => this.mirror.fdbChanged(vni, mac),
      routeVtep: (vni, mac) => this.evpn?.port.installedVtep(vni, mac),
    });
    this.staticMacs = new StaticMacFeature(opts.config, target, opts.log.child({ part: "static-macs" }), {
      stateFile: join(opts.runRoot ?? RUN_ROOT, opts.config.switch.name, "static-macs.json"),
      ifindexOf: (name) => this.ifindexOf(name),
      hooks: {
        fdbChanged: (vni, mac) => this.mirror.fdbChanged(vni, mac),
        localAdded: (vni, mac, vlan) => this.evpn?.speaker.localMacLearned(vni, mac, { vlan, sticky: true }),
        localRemoved: (vni, mac) => this.evpn?.localGone(vni, mac),
        vnisChanged: () => this.queueVniUpdate(),
        vtepSeen: (v) => void this.neighbours.ensure(v),
      },
    });
    this.links = this.watchLinks(opts.config);
    this.mcast = new McastFeature(opts.config, target, opts.log.child({ part: "mcast" }), {
      stateFile: join(opts.runRoot ?? RUN_ROOT, opts.config.switch.name, "mcast-remotes.json"),
      portName: (i) => this.portName(i),
      ifindexOf: (name) => this.ifindexOf(name),
      vtepSeen: (v) => void this.neighbours.ensure(v),
    });
    this.mirror = new MirrorFeature(opts.config, target, opts.log.child({ part: "mirror" }), {
      stateFile: join(opts.runRoot ?? RUN_ROOT, opts.config.switch.name, "mirror-sessions.json"),
      portName: (i) => this.portName(i),
      vnisChanged: () => this.queueVniUpdate(),
      vtepSeen: (v) => void this.neighbours.ensure(v),
    });
  }

  /** Link state: down ports leave the flood lists (and their group memberships); what was learned on a port that just went down is flushed. */
  private watchLinks(cfg: SwitchConfig): LinkWatcher {
    return new LinkWatcher(
      cfg.ports.map((p) => p.name),
      (down, wentDown) => {
        for (const p of down) this.mcast?.portDown(p);
        for (const p of wentDown) {
          const ifindex = this.ifindexes.get(p);
          if (ifindex !== undefined) this.l2.flushPort(ifindex);
        }
        this.queueVniUpdate();
      },
      this.opts.log.child({ part: "links" }),
    );
  }

  private ifindexOf = (name: string): number => {
    const i = this.ifindexes.get(name);
    if (i === undefined) throw new Error(`interface ${name} does not exist in this network namespace`);
    return i;
  };

  /** Config plus what the features add, within the flood loop's bound. */
  private computeDesired(): DesiredState {
    const d = desiredState(this.opts.config, this.ifindexOf, { ...this.evpn?.additions, portsDown: this.links.portsDown });
    this.staticMacs.contribute(d);
    this.mirror.contribute(d);
    this.mcast.contribute(d);
    const slots = pipelineFor(this.opts.config).floodSlots;
    for (const [vni, list] of d.flood) {
      if (list.length <= slots) continue;
      this.opts.log.warn("flood list longer than tables.flood_per_vni: extra VTEPs get no BUM copies", { vni, targets: list.length, slots });
      d.flood.set(vni, list.slice(0, slots));
      d.vnis.get(vni)!.flood_count = slots;
    }
    return d;
  }

  /** A feature changed what the VNI tables should hold: apply it (batched per tick). */
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
    return new Runtime(opts, target, ifindexes);
  }

  static async boot(opts: RuntimeOptions): Promise<Runtime> {
    const cfg = opts.config;
    const log = opts.log;
    // every port must exist before anything is touched: a switch that cannot
    // boot leaves the kernel as it found it
    const devs = listNetDevs();
    const missing = [...cfg.uplinks, ...cfg.ports].filter((p) => !devs.has(p.name));
    if (missing.length > 0) throw new ConfigError(missing.map((p) => `${p.nameAt ? formatSourceRef(p.nameAt) : cfg.file}: interface ${p.name} not found in this network namespace`));
    const target: Target = opts.target === "bmv2" ? await openBmv2(opts) : openEbpf(opts);
    const ifindexes = new Map([...listNetDevs().values()].map((d) => [d.name, d.ifindex]));
    const rt = new Runtime(opts, target, ifindexes);
    if (cfg.bgp) {
      rt.evpn = new EvpnFeature(cfg, target, log.child({ part: "evpn" }), {
        vnisChanged: () => rt.queueVniUpdate(),
        vtepSeen: (v) => void rt.neighbours.ensure(v),
        fdbChanged: (vni, mac) => rt.mirror.fdbChanged(vni, mac),
        staticMac: (vni, mac) => rt.staticMacs.has(vni, mac),
        portUp: (ifindex) => rt.portUp(ifindex),
      }, combineExtensions(rt.mirror.evpnExtensions(cfg.vtep.sourceIp), rt.mcast.evpnExtensions(cfg.vtep.sourceIp)));
      rt.mirror.connectSpeaker(rt.evpn.speaker);
      rt.mcast.connectSpeaker(rt.evpn.speaker);
      // moves made by routes are listed with the data path's (`show moves`)
      rt.evpn.port.onMove((vni, mac, from, to) => rt.l2.routeMoved(vni, mac, "ifindex" in from ? rt.portName(from.ifindex) : from.vtep, to));
    }
    rt.links.readNow();
    rt.desired = rt.computeDesired();
    const rep = reconcile(target, rt.desired);
    await target.flush?.();
    log.info("tables reconciled", { written: rep.written, deleted: rep.deleted, adopted: target.adopted });
    target.onEvent((e) => {
      // one bad event must not take the control plane down with it
      try {
        if (e.kind === constants.EVT_IGMP) rt.mcast.onIgmp(e);
        else rt.l2.onEvent(e);
      } catch (err) {
        log.error("data path event handling failed", { kind: e.kind, vni: e.vni, mac: e.mac, error: (err as Error).stack ?? String(err) });
      }
    });
    rt.mirror.start();
    rt.mcast.start();
    rt.links.start();
    // every table is filled: an upgrade's programs can take over now
    target.activate();
    rt.l2.start(undefined, rep.learned);
    for (const ip of rt.knownRemoteVteps()) void rt.neighbours.ensure(ip);
    if (rt.evpn) await rt.evpn.start(() => rt.stopped);
    return rt;
  }

  get config(): SwitchConfig {
    return this.opts.config;
  }

  private knownRemoteVteps(): Set<string> {
    return new Set(this.desired.vteps.map(([k]) => k.remote));
  }

  portName(ifindex: number): string {
    return this.names.get(ifindex) ?? `if${ifindex}`;
  }

  /** A port of this switch with its link up (as the link watcher last saw it). */
  portUp(ifindex: number): boolean {
    const name = this.names.get(ifindex);
    return name !== undefined && !this.links.portsDown.has(name);
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
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      ...this.l2.stats,
      resyncs: this.l2.resyncs,
      portsDown: [...this.links.portsDown],
    };
  }

  /**
   * `vxgate reload` / SIGHUP: apply a changed config file to the running
   * switch. A file with errors is refused whole (ConfigError, positioned) and
   * changes nothing. Ports, VNIs, flood lists, static MACs, table contents and
   * mirror sessions change in place; when the generated program changes (a
   * feature or a size), the new one is loaded beside the old, its tables are
   * filled, and it replaces the old on every port by an atomic link update:
   * forwarding the change does not touch never stops. What would need new
   * sessions or a new identity (switch name, VTEP, uplinks, management, the
   * bgp section, the VNIs of an EVPN switch) is refused with the reason.
   */
  async reload(next: SwitchConfig): Promise<{ changed: string[] }> {
    const cur = this.opts.config;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const strip = <T extends { nameAt?: unknown }>(xs: readonly T[]) => xs.map(({ nameAt: _, ...x }) => x);
    const refuse: string[] = [];
    if (next.switch.name !== cur.switch.name) refuse.push("switch.name");
    if (!same(next.vtep, cur.vtep)) refuse.push("vtep");
    if (!same(strip(next.uplinks), strip(cur.uplinks))) refuse.push("uplinks");
    if (!same(next.management, cur.management)) refuse.push("management");
    if (!same(next.bgp, cur.bgp)) refuse.push("bgp");
    if (cur.bgp && !same(next.vnis.map((v) => v.vni), cur.vnis.map((v) => v.vni))) refuse.push("the VNIs of an EVPN switch");
    if (refuse.length) throw new Error(`${next.file}: cannot apply a change to ${refuse.join(", ")} without a restart (vxgate run again: the fast path keeps forwarding meanwhile)`);

    const changed = (["ports", "vnis", "tables", "mirror", "multicast"] as const).filter((k) => !same(k === "ports" ? strip(next.ports) : next[k], k === "ports" ? strip(cur.ports) : cur[k]));
    if (changed.length === 0) return { changed };
    const devs = listNetDevs();
    const missing = next.ports.filter((p) => !devs.has(p.name));
    if (missing.length) throw new Error(missing.map((p) => `${p.nameAt ? `${p.nameAt.file}:${p.nameAt.line}:${p.nameAt.col}: ` : ""}interface ${p.name} not found in this network namespace`).join("\n"));

    if (this.target.kind === "bmv2") {
      const p4 = buildP4(pipelineFor(next), { udpPort: next.vtep.udpPort }, this.opts.cacheDir ?? DEFAULT_CACHE_DIR);
      if (p4.hash !== (this.target as Bmv2Target).hash) throw new Error(`${next.file}: the change needs a new P4 program (${changed.join(", ")}); on bmv2 that takes a restart (vxgate run again: the running switch keeps forwarding until the new one starts)`);
    }
    const built = buildPipeline(pipelineFor(next), this.opts.cacheDir ?? DEFAULT_CACHE_DIR);
    if (this.target.kind === "ebpf") (this.target as EbpfTarget).reconfigure({
      objectPath: built.objectPath,
      hash: built.hash,
      ports: [...next.uplinks.map((u) => ({ name: u.name, role: "uplink" as const })), ...next.ports.map((p) => ({ name: p.name, role: "access" as const }))],
    });
    this.opts.config = next;
    this.ifindexes = new Map([...listNetDevs().values()].map((d) => [d.name, d.ifindex]));
    this.l2.setConfig(next);
    this.evpn?.setConfig(next);
    this.links.stop();
    this.links = this.watchLinks(next);
    this.links.readNow();
    this.mirror.setConfig(next);
    this.mcast.setConfig(next);
    this.staticMacs.setConfig(next);
    this.mirror.apply();
    this.mcast.apply();
    this.desired = this.computeDesired();
    const rep = reconcile(this.target, this.desired);
    await this.target.flush?.();
    this.target.activate();
    for (const p of this.target.ports()) this.names.set(p.ifindex, p.name);
    this.l2.syncLimits();
    this.links.start();
    this.opts.log.info("config reloaded", { changed, program: built.hash, written: rep.written, deleted: rep.deleted });
    return { changed };
  }

  /** Control plane exits; the pinned fast path keeps forwarding. */
  async release(): Promise<void> {
    this.stopped = true;
    this.l2.stop();
    this.mirror.stop();
    this.mcast.stop();
    this.links.stop();
    // the fast path keeps forwarding: peers may keep our routes while we restart
    await this.evpn?.stop(true);
    this.target.release();
  }

  /** `vxgate stop`: remove everything this switch put in the kernel. */
  async destroy(): Promise<void> {
    this.stopped = true;
    this.l2.stop();
    this.mirror.stop();
    this.mcast.stop();
    this.links.stop();
    await this.evpn?.stop(false);
    await this.target.destroy();
  }
}

function targetPorts(cfg: SwitchConfig) {
  return [...cfg.uplinks.map((u) => ({ name: u.name, role: "uplink" as const })), ...cfg.ports.map((p) => ({ name: p.name, role: "access" as const }))];
}

function openEbpf(opts: RuntimeOptions): EbpfTarget {
  const cfg = opts.config;
  const built = buildPipeline(pipelineFor(cfg), opts.cacheDir ?? DEFAULT_CACHE_DIR);
  opts.log.info("fast path generated", { hash: built.hash, object: built.objectPath, reused: built.reused });
  for (const u of cfg.uplinks) enableForwarding(u.name, opts.log);
  return EbpfTarget.open({
    switchName: cfg.switch.name,
    objectPath: built.objectPath,
    hash: built.hash,
    ports: targetPorts(cfg),
    log: opts.log,
    xdpMode: opts.xdpMode,
    bpffsRoot: opts.bpffsRoot,
    runRoot: opts.runRoot,
  });
}

async function openBmv2(opts: RuntimeOptions): Promise<Bmv2Target> {
  const cfg = opts.config;
  const pipeline = pipelineFor(cfg);
  const built = buildP4(pipeline, { udpPort: cfg.vtep.udpPort }, opts.cacheDir ?? DEFAULT_CACHE_DIR);
  opts.log.info("P4 program generated", { hash: built.hash, json: built.jsonPath, reused: built.reused });
  return Bmv2Target.open({
    switchName: cfg.switch.name,
    jsonPath: built.jsonPath,
    hash: built.hash,
    pipeline,
    ports: targetPorts(cfg),
    thriftPort: opts.thriftPort ?? DEFAULT_THRIFT_PORT,
    runDir: join(opts.runRoot ?? RUN_ROOT, cfg.switch.name),
    log: opts.log,
    vxlanAddresses: [cfg.vtep.sourceIp, ...(cfg.multicast.replicatorAddress ? [cfg.multicast.replicatorAddress] : [])],
    udpPort: cfg.vtep.udpPort,
    ageingSeconds: cfg.vnis.map((v) => v.ageingSeconds),
  });
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

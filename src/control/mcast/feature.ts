// Per-group replication as a feature of the switch: IGMP snooping and the
// querier per VNI (snooping.ts), fed by the IGMP frames the fast path copies up
// from access ports; the switch's own membership advertised over BGP EVPN
// (evpn.ts) and reported through the API; remote members from EVPN, the config
// file and the API; and the fast path's group tables (vxg_mcast,
// vxg_mcast_mbr) kept equal to what all of that says.
import { PacketSender } from "libbpf-ts-bindings";
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { DataPathEvent, TableKey, TableValue } from "../codec.ts";
import type { DesiredState } from "../l2/desired.ts";
import { portVlanFor } from "../l2/desired.ts";
import type { Logger } from "../log.ts";
import { macOf } from "../netdev.ts";
import { reconcileTable } from "../reconcile.ts";
import { loadStateList, saveStateList } from "../state-file.ts";
import type { Target } from "../targets/target.ts";
import { parseRemoteGroupJson, type MulticastVni, type StaticGroup } from "./config.ts";
import { McastEvpn } from "./evpn.ts";
import { decodeIgmpFrame, encodeIgmpFrame, IgmpError, type IgmpMessage } from "./igmp.ts";
import { SnoopingVni } from "./snooping.ts";

/** What the feature asks of the EVPN speaker: re-send one VNI's type-3 route. */
export interface McastSpeaker {
  refreshImet(vni: number): void;
}

export interface McastFeatureOptions {
  /** remote members set through the API, kept across control-plane restarts */
  stateFile: string;
  portName(ifindex: number): string;
  ifindexOf(name: string): number;
  /** a remote VTEP copies go to: keep its outer next hop resolved */
  vtepSeen(vtep: string): void;
}

/** "S|G" with S = "*" for any source. */
type GroupId = string;
const gid = (source: string, group: string): GroupId => `${source}|${group}`;
/** An IPv4 PIM packet (protocol 103) in an untagged frame, as the fast path copies it up. */
const isPim = (f: Buffer): boolean => f.length >= 34 && f.readUInt16BE(12) === 0x0800 && f[14]! >> 4 === 4 && f[23] === 103;
const ipKey = (ip: string): number => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
/** A group entry of the fast path's tables (source 0.0.0.0 = any) as "vni|S|G". */
const entryKey = (k: { vni: number; source: string; group: string }): string => `${k.vni}|${k.source === "0.0.0.0" ? "*" : k.source}|${k.group}`;
const split = (id: GroupId): { source: string; group: string } => {
  const [source, group] = id.split("|") as [string, string];
  return { source, group };
};

export interface McastRow {
  vni: number;
  source: string;
  group: string;
  localPorts: string[];
  mrouterPorts: string[];
  remotes: { vtep: string; from: string[] }[];
  /** the replication point the one copy goes to, when the VNI has one */
  replicator?: string;
  counters: { frames: bigint; bytes: bigint; copiesLocal: bigint; copiesRemote: bigint };
}

/** A port of a VNI as the fast path names it: ifindex and 802.1Q tag (0 untagged). */
interface PortRef {
  ifindex: number;
  vlan: number;
}

export class McastFeature {
  private snoop = new Map<number, SnoopingVni>();
  /** vni -> group -> local member ports (port ids: "name" or "name.vlan") */
  private local = new Map<number, Map<GroupId, ReadonlySet<string>>>();
  private mrouters = new Map<number, ReadonlySet<string>>();
  /** port id -> where it is in the fast path */
  private portRefs = new Map<string, PortRef>();
  private apiGroups: ({ vni: number } & StaticGroup)[] = [];
  private evpn?: McastEvpn;
  private speaker?: McastSpeaker;
  private sender?: PacketSender;
  private readonly slots = new Map<string, number>(); // "vni|S|G" -> mcast_stats slot
  private queued = false;
  private readonly refreshQueued = new Set<number>();
  private stopped = false;
  /** per VNI, the groups advertised last (to send one update per change) */
  private advertised = new Map<number, string>();
  readonly stats = { applies: 0, written: 0, deleted: 0, badIgmp: 0, truncatedGroups: 0, groupsOverTable: 0, controlUpdates: 0 };

  constructor(
    private config: SwitchConfig,
    private readonly target: Target,
    private readonly log: Logger,
    private readonly opts: McastFeatureOptions,
  ) {
    this.apiGroups = loadStateList<{ vni: number } & StaticGroup>(this.opts.stateFile, this.log, "the API's multicast remote lists");
    this.adoptSlots();
  }

  get enabled(): boolean {
    return this.config.multicast.enabled;
  }

  private vniConfigs(): MulticastVni[] {
    return this.enabled ? this.config.multicast.vnis : [];
  }

  /** A port as snooping names it: "name", or "name.vlan" on a trunk. */
  private portId(ifindex: number, vlan: number): string {
    const name = this.opts.portName(ifindex);
    return vlan ? `${name}.${vlan}` : name;
  }

  /** Access ports (with their tag) that carry `vni`, as port ids. */
  private portsOf(vni: number): string[] {
    const out: string[] = [];
    for (const p of this.config.ports) {
      const vlan = portVlanFor(p, vni);
      if (vlan === undefined) continue;
      const id = vlan ? `${p.name}.${vlan}` : p.name;
      try {
        this.portRefs.set(id, { ifindex: this.opts.ifindexOf(p.name), vlan });
      } catch {
        continue; // not in this namespace (an inspecting CLI)
      }
      out.push(id);
    }
    return out;
  }

  // ------------------------------------------------------------ snooping

  start(): void {
    if (!this.enabled) return;
    this.sender = new PacketSender();
    for (const v of this.vniConfigs()) this.startVni(v);
    if (this.target.adopted) this.restoreFromTables();
    this.apply();
  }

  /**
   * A restarted control plane finds the member lists its predecessor
   * installed: each local member port is taken as a fresh report (the
   * group membership interval starts now), so the groups keep forwarding and
   * stay advertised; members that still want the group answer the queries and
   * keep it, the others expire as they would have.
   */
  private restoreFromTables(): void {
    const mrouters = new Set<string>();
    const found = new Map<string, { vni: number; source: string; group: string; ports: Set<string> }>();
    for (const [k, v] of this.target.table("mcast_members").entries()) {
      if (v.kind !== constants.FLOOD_LOCAL) continue;
      const port = this.portId(v.ifindex, v.vlan);
      this.portRefs.set(port, { ifindex: v.ifindex, vlan: v.vlan });
      if (k.group === "0.0.0.0") {
        mrouters.add(`${k.vni}|${port}`);
        continue;
      }
      const id = entryKey(k);
      let f = found.get(id);
      if (!f) found.set(id, (f = { vni: k.vni, source: k.source === "0.0.0.0" ? "*" : k.source, group: k.group, ports: new Set() }));
      f.ports.add(port);
    }
    let restored = 0;
    for (const f of found.values()) {
      const s = this.snoop.get(f.vni);
      if (!s) continue;
      for (const port of f.ports) {
        if (mrouters.has(`${f.vni}|${port}`)) continue;
        const record = f.source === "*" ? { type: 2 as const, group: f.group, sources: [] } : { type: 1 as const, group: f.group, sources: [f.source] };
        s.receive(port, "0.0.0.0", "224.0.0.22", { type: "v3report", records: [record] });
        restored++;
      }
    }
    if (restored) this.log.info("multicast membership restored from the fast path", { memberships: restored });
  }

  private startVni(v: MulticastVni): void {
    if (!v.snooping) return;
    this.portsOf(v.vni);
    const s = new SnoopingVni(
      { vni: v.vni, querier: v.querier, querierAddress: v.querierAddress, maxGroupsPerPort: this.config.multicast.maxGroupsPerPort },
      this.config.multicast.timers,
      {
        membersChanged: (vni, source, group, ports) => this.membersChanged(vni, source, group, ports),
        sendQuery: (vni, port, message) => this.sendQuery(vni, port, message),
        mrouterChanged: (vni, ports) => {
          this.mrouters.set(vni, new Set(ports));
          this.queue();
        },
      },
    );
    this.snoop.set(v.vni, s);
    s.start();
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.snoop.values()) s.stop();
    this.snoop.clear();
    this.sender?.close();
    this.sender = undefined;
  }

  /** A reloaded config: snooping restarts for VNIs whose settings changed. */
  setConfig(cfg: SwitchConfig): void {
    const before = new Map(this.vniConfigs().map((v) => [v.vni, JSON.stringify(v)]));
    const timersBefore = JSON.stringify(this.config.multicast.timers);
    this.config = cfg;
    const timersSame = timersBefore === JSON.stringify(cfg.multicast.timers);
    const now = new Map(this.vniConfigs().map((v) => [v.vni, v]));
    for (const [vni, s] of [...this.snoop]) {
      const v = now.get(vni);
      if (v && timersSame && before.get(vni) === JSON.stringify(v)) continue;
      s.stop();
      this.snoop.delete(vni);
      this.local.delete(vni);
      this.mrouters.delete(vni);
    }
    if (this.enabled && !this.sender) this.sender = new PacketSender();
    for (const v of now.values()) if (!this.snoop.has(v.vni)) this.startVni(v);
    for (const vni of new Set([...before.keys(), ...now.keys()])) this.queueRefresh(vni);
    this.queue();
  }

  /** An IGMP frame the fast path copied up from an access port. */
  onIgmp(e: DataPathEvent): void {
    const s = this.snoop.get(e.vni);
    if (!s || !e.packet) return;
    const port = this.portId(e.ifindex, e.vlan);
    if (isPim(e.packet)) {
      this.portRefs.set(port, { ifindex: e.ifindex, vlan: e.vlan });
      s.routerSeen(port);
      return;
    }
    let f: ReturnType<typeof decodeIgmpFrame>;
    try {
      f = decodeIgmpFrame(e.packet);
    } catch (err) {
      this.stats.badIgmp++;
      this.log.debug("malformed IGMP ignored", { vni: e.vni, port, reason: err instanceof IgmpError ? err.reason : String(err) });
      return;
    }
    this.portRefs.set(port, { ifindex: e.ifindex, vlan: e.vlan });
    s.receive(port, f.srcIp, f.dstIp, f.message);
  }

  /** A port went down: its memberships and mrouter state go with it. */
  portDown(name: string): void {
    for (const s of this.snoop.values()) for (const id of this.portRefs.keys()) if (id === name || id.startsWith(`${name}.`)) s.portDown(id);
  }

  private membersChanged(vni: number, source: string, group: string, ports: ReadonlySet<string>): void {
    let m = this.local.get(vni);
    if (!m) this.local.set(vni, (m = new Map()));
    const id = gid(source, group);
    if (ports.size === 0) m.delete(id);
    else m.set(id, new Set(ports));
    this.queueRefresh(vni);
    this.queue();
  }

  private sendQuery(vni: number, port: string | undefined, message: IgmpMessage & { type: "query" }): void {
    const v = this.vniConfigs().find((x) => x.vni === vni);
    if (!v || !this.sender) return;
    const dstIp = message.group === "0.0.0.0" ? "224.0.0.1" : message.group;
    for (const id of port ? [port] : this.portsOf(vni)) {
      const ref = this.portRefs.get(id);
      if (!ref) continue;
      try {
        const frame = encodeIgmpFrame({ srcMac: macOf(id.split(".")[0]!), vlan: ref.vlan, srcIp: v.querierAddress, dstIp, message });
        this.sender.send(ref.ifindex, frame);
      } catch (e) {
        this.log.debug("query not sent", { vni, port: id, error: (e as Error).message });
      }
    }
  }

  // ------------------------------------------------------------ membership

  /** This switch's own membership in `vni` (what it advertises and reports). */
  own(vni: number): { replicator?: string; entries: { source: string; group: string }[] } | undefined {
    const v = this.vniConfigs().find((x) => x.vni === vni);
    if (!v) return undefined;
    const entries = [...(this.local.get(vni)?.keys() ?? [])].map(split).sort((a, b) => (a.group === b.group ? a.source.localeCompare(b.source) : a.group.localeCompare(b.group)));
    const rp = v.replicator ? this.config.multicast.replicatorAddress : undefined;
    return { ...(rp ? { replicator: rp } : {}), entries };
  }

  /** Every VNI's own membership (GET /v1/mcast/local, for an external controller). */
  localMembership(): { vni: number; source: string; group: string; ports: string[] }[] {
    const out: { vni: number; source: string; group: string; ports: string[] }[] = [];
    for (const [vni, m] of this.local) for (const [id, ports] of m) out.push({ vni, ...split(id), ports: [...ports].sort() });
    return out.sort((a, b) => a.vni - b.vni || a.group.localeCompare(b.group) || a.source.localeCompare(b.source));
  }

  evpnExtensions(ownVtep: string): McastEvpn | undefined {
    if (!this.enabled) return undefined;
    this.evpn = new McastEvpn(ownVtep, { own: (vni) => this.own(vni), remoteChanged: () => this.queue() }, this.log);
    return this.evpn;
  }

  connectSpeaker(speaker: McastSpeaker): void {
    this.speaker = speaker;
  }

  /** One type-3 update per VNI per change of its advertised groups. */
  private queueRefresh(vni: number): void {
    this.refreshQueued.add(vni);
    this.queue();
  }

  private flushRefreshes(): void {
    for (const vni of this.refreshQueued) {
      const own = this.own(vni);
      const text = JSON.stringify(own ?? null);
      if (this.advertised.get(vni) === text) continue;
      this.advertised.set(vni, text);
      this.stats.controlUpdates++;
      this.log.info("multicast membership changed", { vni, groups: own?.entries.length ?? 0 });
      this.speaker?.refreshImet(vni);
    }
    this.refreshQueued.clear();
  }

  /** The replication point leaves of `vni` send to (another switch's, learned
   * over EVPN; the lowest VTEP when several claim it), unless this switch is it. */
  replicatorFor(vni: number): { vtep: string; address: string } | undefined {
    if (this.vniConfigs().find((x) => x.vni === vni)?.replicator) return undefined;
    const rs = (this.evpn?.replicators(vni) ?? []).filter((r) => r.vtep !== this.config.vtep.sourceIp);
    return rs.sort((a, b) => ipKey(a.vtep) - ipKey(b.vtep))[0];
  }

  /** Remote members by group, with where each came from. */
  private remotes(vni: number): Map<GroupId, Map<string, Set<string>>> {
    const out = new Map<GroupId, Map<string, Set<string>>>();
    const add = (id: GroupId, vtep: string, from: string) => {
      if (vtep === this.config.vtep.sourceIp) return;
      let m = out.get(id);
      if (!m) out.set(id, (m = new Map()));
      let f = m.get(vtep);
      if (!f) m.set(vtep, (f = new Set()));
      f.add(from);
    };
    const v = this.vniConfigs().find((x) => x.vni === vni);
    // a controller's list for a group replaces the file's (an empty one: no static members)
    const byApi = new Set(this.apiGroups.filter((g) => g.vni === vni).map((g) => gid(g.source ?? "*", g.group)));
    for (const g of v?.groups ?? []) if (!byApi.has(gid(g.source ?? "*", g.group))) for (const r of g.remotes) add(gid(g.source ?? "*", g.group), r, "config");
    for (const g of this.apiGroups) if (g.vni === vni) for (const r of g.remotes) add(gid(g.source ?? "*", g.group), r, "api");
    for (const [id, vteps] of this.evpn?.remoteMembers(vni) ?? []) for (const r of vteps) add(id, r, "bgp");
    return out;
  }

  // ------------------------------------------------------------ API: remote lists

  /** A controller sets the remote members of one group: its list replaces
   * the config file's for that group (an empty list: none); members learned
   * over BGP EVPN still count. */
  setRemotes(body: unknown, by?: Record<string, unknown>): { group: { vni: number } & StaticGroup } | { errors: string[] } {
    if (!this.enabled) return { errors: ["multicast is disabled on this switch (multicast.enabled: false in its config)"] };
    const r = parseRemoteGroupJson(body, this.config);
    if (!r.ok) return { errors: r.errors };
    const g = r.value;
    const same = (x: { vni: number } & StaticGroup) => x.vni === g.vni && x.group === g.group && (x.source ?? "*") === (g.source ?? "*");
    this.apiGroups = this.apiGroups.filter((x) => !same(x));
    this.apiGroups.push(g);
    saveStateList(this.opts.stateFile, this.apiGroups);
    this.log.info("multicast remote members set", { ...(by ? { by } : {}), vni: g.vni, group: g.group, source: g.source ?? "*", remotes: g.remotes });
    this.queue();
    return { group: g };
  }

  // ------------------------------------------------------------ tables

  private adoptSlots(): void {
    for (const [k, v] of this.target.table("mcast").entries()) this.slots.set(entryKey(k), v.slot);
  }

  private slotOf(key: string): number {
    let slot = this.slots.get(key);
    if (slot !== undefined) return slot;
    const used = new Set(this.slots.values());
    slot = 0;
    while (used.has(slot)) slot++;
    this.slots.set(key, slot);
    this.target.table("mcast_stats").set({ slot }, { frames: 0n, bytes: 0n, copies_local: 0n, copies_remote: 0n });
    return slot;
  }

  /** What vxg_mcast and vxg_mcast_mbr must hold. */
  private compute(): { groups: [TableKey<"mcast">, TableValue<"mcast">][]; members: [TableKey<"mcast_members">, TableValue<"mcast_members">][] } {
    const groups: [TableKey<"mcast">, TableValue<"mcast">][] = [];
    const members: [TableKey<"mcast_members">, TableValue<"mcast_members">][] = [];
    const max = Math.min(this.config.tables.mcastMembers, constants.MCAST_MEMBERS_MAX);
    const live = new Set<string>();
    const add = (vni: number, source: string, group: string, ports: Iterable<string>, vteps: Iterable<string>) => {
      const list: TableValue<"mcast_members">[] = [];
      for (const p of new Set(ports)) {
        const ref = this.portRefs.get(p);
        if (ref) list.push({ kind: constants.FLOOD_LOCAL, vlan: ref.vlan, ifindex: ref.ifindex, remote: "0.0.0.0" });
      }
      for (const r of new Set(vteps)) list.push({ kind: constants.FLOOD_REMOTE, vlan: 0, ifindex: 0, remote: r });
      if (list.length > max) {
        this.stats.truncatedGroups++;
        this.log.warn("group has more members than tables.mcast_members: the rest get no copies", { vni, source, group, members: list.length, max });
        list.length = max;
      }
      const src = source === "*" ? "0.0.0.0" : source;
      const key = entryKey({ vni, source, group });
      live.add(key);
      groups.push([{ vni, group, source: src }, { count: list.length, slot: this.slotOf(key) }]);
      list.forEach((v, slot) => members.push([{ vni, group, source: src, slot }, v]));
    };
    for (const v of this.vniConfigs()) {
      if (!v.snooping) continue;
      const vni = v.vni;
      const mr = this.mrouters.get(vni) ?? new Set<string>();
      const local = this.local.get(vni) ?? new Map<GroupId, ReadonlySet<string>>();
      const remote = this.remotes(vni);
      // with a replication point, the one copy goes there; it fans out
      const rp = this.replicatorFor(vni);
      if (rp) this.opts.vtepSeen(rp.address);
      // the VNI's mrouter list: reports and leaves, and unregistered traffic when dropped
      add(vni, "*", "0.0.0.0", mr, []);
      for (const id of new Set([...local.keys(), ...remote.keys()])) {
        const { source, group } = split(id);
        const any = gid("*", group);
        // an (S,G) list also serves the group's any-source members
        const ports = [...(local.get(id) ?? []), ...(source !== "*" ? (local.get(any) ?? []) : []), ...mr];
        const vteps = [...(remote.get(id)?.keys() ?? []), ...(source !== "*" ? (remote.get(any)?.keys() ?? []) : [])];
        add(vni, source, group, ports, rp && vteps.length > 0 ? [rp.address] : vteps);
      }
    }
    for (const k of [...this.slots.keys()]) if (!live.has(k)) this.slots.delete(k);
    const cap = this.config.tables.mcastGroups;
    if (groups.length > cap) {
      // the table's end is not an error path in the fast path: the rest stay unregistered
      this.stats.groupsOverTable = groups.length - cap;
      this.log.warn("more multicast groups than tables.mcast_groups: the rest are treated as unregistered", { groups: groups.length, max: cap });
      const kept = new Set(groups.slice(0, cap).map(([k]) => entryKey(k)));
      return { groups: groups.slice(0, cap), members: members.filter(([k]) => kept.has(entryKey(k))) };
    }
    this.stats.groupsOverTable = 0;
    return { groups, members };
  }

  private queue(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (this.stopped) return;
      try {
        this.flushRefreshes();
        this.apply();
      } catch (e) {
        this.log.error("multicast tables update failed", { error: (e as Error).message });
      }
    });
  }

  /** Make the group tables hold what membership says. Members before the
   * group entries that make them live; group entries go before their members. */
  apply(): void {
    if (!this.enabled) return;
    const d = this.compute();
    this.stats.applies++;
    const m = reconcileTable(this.target, "mcast_members", d.members, (k) => `${entryKey(k)}|${k.slot}`);
    const g = reconcileTable(this.target, "mcast", d.groups, entryKey);
    this.stats.written += m.written + g.written;
    this.stats.deleted += m.deleted + g.deleted;
    for (const [, v] of d.members) if (v.kind === constants.FLOOD_REMOTE) this.opts.vtepSeen(v.remote);
    if (m.written + m.deleted + g.written + g.deleted > 0) this.log.debug("multicast groups updated", { groups: d.groups.length, written: m.written + g.written, deleted: m.deleted + g.deleted });
  }

  /** Snooping VNIs' flags, and the replication point's address, merged into the L2 desired state. */
  contribute(d: DesiredState): void {
    const rp = this.config.multicast.replicatorAddress;
    if (rp && this.vniConfigs().some((v) => v.replicator)) d.globals = { ...d.globals, replicator_ip: rp };
    if (this.enabled) d.globals = { ...d.globals, igmp_rate: this.config.multicast.igmpRate };
    for (const v of this.vniConfigs()) {
      if (!v.snooping) continue;
      const cur = d.vnis.get(v.vni);
      if (!cur) continue;
      const f = constants.VNI_MCAST_SNOOP | (v.unregistered === "drop" ? constants.VNI_MCAST_DROP_UNREG : 0);
      d.vnis.set(v.vni, { ...cur, flags: cur.flags | f });
    }
  }

  // ------------------------------------------------------------ views

  rows(): McastRow[] {
    const out: McastRow[] = [];
    const name = (r: TableValue<"mcast_members">) => this.portId(r.ifindex, r.vlan);
    const installed = new Map<string, { slot: number }>();
    for (const [k, v] of this.target.table("mcast").entries()) installed.set(entryKey(k), v);
    const members = new Map<string, TableValue<"mcast_members">[]>();
    // per VNI, once: where its remote members came from, and its replication point
    const perVni = new Map<number, { from: ReturnType<McastFeature["remotes"]>; rp?: string }>();
    const vniInfo = (vni: number) => {
      let i = perVni.get(vni);
      if (!i) perVni.set(vni, (i = { from: this.remotes(vni), rp: this.replicatorFor(vni)?.vtep }));
      return i;
    };
    for (const [k, v] of this.target.table("mcast_members").entries()) {
      const id = entryKey(k);
      let l = members.get(id);
      if (!l) members.set(id, (l = []));
      l.push(v);
    }
    for (const [id, g] of installed) {
      const [vniS, source, group] = id.split("|") as [string, string, string];
      const vni = Number(vniS);
      const mr = this.mrouters.get(vni) ?? new Set<string>();
      const { from: remoteFrom, rp } = vniInfo(vni);
      const list = members.get(id) ?? [];
      const locals = list.filter((m) => m.kind === constants.FLOOD_LOCAL).map(name);
      const c = this.target.perCpuSum("mcast_stats", { slot: g.slot });
      out.push({
        vni,
        source,
        group,
        localPorts: locals.filter((p) => !mr.has(p) || (this.local.get(vni)?.get(gid(source, group))?.has(p) ?? false)),
        mrouterPorts: locals.filter((p) => mr.has(p)),
        remotes: list
          .filter((m) => m.kind === constants.FLOOD_REMOTE)
          .map((m) => ({ vtep: m.remote, from: [...(remoteFrom.get(gid(source, group))?.get(m.remote) ?? remoteFrom.get(gid("*", group))?.get(m.remote) ?? [])] })),
        ...(rp ? { replicator: rp } : {}),
        counters: { frames: c?.frames ?? 0n, bytes: c?.bytes ?? 0n, copiesLocal: c?.copies_local ?? 0n, copiesRemote: c?.copies_remote ?? 0n },
      });
    }
    return out.sort((a, b) => a.vni - b.vni || a.group.localeCompare(b.group) || a.source.localeCompare(b.source));
  }

  igmpGroups(): unknown[] {
    return [...this.snoop].flatMap(([vni, s]) => s.groups().map((g) => ({ vni, ...g })));
  }

  igmpPorts(): unknown[] {
    return [...this.snoop].flatMap(([vni, s]) => s.ports().map((p) => ({ vni, ...p })));
  }

  igmpQuerier(): unknown[] {
    return [...this.snoop].map(([vni, s]) => ({ vni, ...s.querier(), stats: { ...s.stats } }));
  }
}

// Writes the shadow tables' changes into bmv2: for each dirty key the
// difference between what the control plane wants and what the switch holds
// (add, modify or delete, by entry handle), and for each VNI whose flood list
// changed its PRE group (one node per copy, rid = the slot) and the egress
// rewrite of each copy. Every call of one flush is issued before any reply is
// awaited, so they travel pipelined on the Thrift connection.
import { constants, type TableName } from "../../../codegen/tables.ts";
import { enabledLookups, p4Width } from "../../../codegen/emit-p4.ts";
import type { P4Lookup } from "../../../codegen/p4-tables.ts";
import type { FieldDecl } from "../../../codegen/schema.ts";
import type { Pipeline } from "../../../codegen/pipeline.ts";
import { tableCodec, type TableKey, type TableValue } from "../../codec.ts";
import type { Logger } from "../../log.ts";
import { lookupCodec, type LookupCodec, type PortMap } from "./p4-codec.ts";
import type { ShadowTable } from "./shadow.ts";
import type { Nexthop } from "./nexthops.ts";
import { fitWidth, match, type Bmv2Runtime, type TableEntry } from "./thrift/runtime.ts";

interface Installed {
  handle: number;
  /** the action data as written (hex), to skip rewriting what is there */
  data: string;
}

interface PreNode {
  handle: number;
  port: number;
}

/** Calls in flight per flush at most (pipelined: the connection stays full). */
const FLUSH_WINDOW = 8192;

/** An FDB entry's activity survives this long on bmv2 before it expires there (we age it ourselves first). */
const FDB_SRC_TTL_MS = 0x7fffffff;

type Shadows = { [N in TableName]: ShadowTable<N> };

export class Bmv2Writer {
  private readonly codecs = new Map<string, LookupCodec>();
  /** per P4 table: identity string -> the entry bmv2 holds */
  private readonly installed = new Map<string, Map<string, Installed>>();
  private readonly lookups: P4Lookup[];
  /** replication list -> its PRE group id (also its mgid) and group handle */
  private readonly groups = new Map<ListId, { mgrp: number; handle?: number }>();
  private readonly freeMgrps: number[] = [];
  private nextMgrp = 1;
  /** (mgrp/slot) -> PRE node */
  private readonly nodes = new Map<string, PreNode>();
  private readonly dirtyLists = new Set<ListId>();
  /** resolved outer next hops of remote VTEPs */
  private nexthops = new Map<string, Nexthop>();
  writes = 0;
  errors = 0;

  constructor(
    private readonly rt: Bmv2Runtime,
    private readonly shadows: Shadows,
    private readonly ports: PortMap,
    pipeline: Pipeline,
    private readonly log: Logger,
  ) {
    this.lookups = enabledLookups(pipeline);
    for (const l of this.lookups) {
      this.codecs.set(l.p4, lookupCodec(l, ports));
      this.installed.set(l.p4, new Map());
    }
  }

  /** every VTEP an FDB entry written to bmv2 pointed at (kept: a next hop too many costs one entry) */
  private readonly fdbRemotes = new Set<string>();

  /** Remote VTEPs the switch forwards to (flood lists, FDB, admitted): the nexthops the target resolves. */
  remotes(): Set<string> {
    const out = new Set<string>();
    this.shadows.vteps.forEach((k) => out.add(k.remote));
    this.shadows.flood.forEach((_, v) => v.kind === constants.FLOOD_REMOTE && out.add(v.remote));
    this.shadows.mcast_members.forEach((_, v) => v.kind === constants.FLOOD_REMOTE && out.add(v.remote));
    this.shadows.mirror.forEach((_, v) => v.kind === constants.MIRROR_TO_REMOTE && out.add(v.remote));
    this.shadows.mirror_ip.forEach((_, v) => v.kind === constants.MIRROR_TO_REMOTE && out.add(v.remote));
    // the FDB's VTEPs are gathered as its entries are written (no walk of 100k entries a second)
    for (const r of this.fdbRemotes) out.add(r);
    return out;
  }

  /** New next-hop answers: the nexthops table and every flood copy to a remote that moved. */
  setNexthops(next: Map<string, Nexthop>): void {
    const changed = new Set<string>();
    for (const [r, nh] of next) {
      const cur = this.nexthops.get(r);
      if (!cur || cur.ifindex !== nh.ifindex || cur.smac !== nh.smac || cur.dmac !== nh.dmac) changed.add(r);
    }
    for (const r of this.nexthops.keys()) if (!next.has(r)) changed.add(r);
    this.nexthops = next;
    if (changed.size === 0) return;
    this.shadows.flood.forEach((k, v) => {
      if (v.kind === constants.FLOOD_REMOTE && changed.has(v.remote)) this.dirtyLists.add(floodList(k.vni));
    });
    this.shadows.mcast_members.forEach((k, v) => {
      if (v.kind === constants.FLOOD_REMOTE && changed.has(v.remote)) this.dirtyLists.add(groupList(k));
    });
    this.nexthopsDirty = changed;
  }
  private nexthopsDirty = new Set<string>();

  get pending(): boolean {
    return this.nexthopsDirty.size > 0 || this.dirtyLists.size > 0 || Object.values(this.shadows).some((s) => s.dirty.size > 0);
  }

  /** One round: everything dirty now, written pipelined; resolves when bmv2 answered all of it. */
  async flush(): Promise<void> {
    let calls: Promise<unknown>[] = [];
    // at most a window of calls in flight: 100k entries' promises and buffers never exist at once
    const window = async () => {
      if (calls.length < FLUSH_WINDOW) return;
      await Promise.all(calls.map((p) => p.catch(() => undefined)));
      calls = [];
    };
    const ttl: string[] = [];
    // limits first: they mark the ports and VNIs whose data they change
    const names = Object.keys(this.shadows) as TableName[];
    for (const name of ["mac_limits" as const, ...names.filter((n) => n !== "mac_limits")]) {
      const shadow = this.shadows[name] as ShadowTable<TableName>;
      if (shadow.dirty.size === 0) continue;
      const ids = [...shadow.dirty];
      shadow.dirty.clear();
      if (name === "mac_limits") {
        // a limit reached or freed: the port's or VNI's entry says so to the data path
        const codec = tableCodec("mac_limits").key;
        for (const id of ids) {
          const k = codec.decode(Buffer.from(id, "latin1"));
          if (k.kind === constants.LIMIT_PORT) this.shadows.ports.markDirty({ ifindex: k.id });
          else this.shadows.vnis.markDirty({ vni: k.id });
        }
      }
      if (name === "flood" || name === "mcast_members") {
        const codec = tableCodec(name).key;
        for (const id of ids) {
          const k = codec.decode(Buffer.from(id, "latin1")) as TableKey<"mcast_members">;
          this.dirtyLists.add(name === "flood" ? floodList(k.vni) : groupList(k));
        }
        continue;
      }
      for (const l of this.lookups) {
        if (l.table !== name) continue;
        for (const id of ids) {
          const e = shadow.byId(id);
          const p = this.writeEntry(l, id, e?.[0] as Record<string, unknown> | undefined, e?.[1] as Record<string, unknown> | undefined);
          if (p) calls.push(p);
          // static and route-installed entries never age: no activity to follow
          const learned = e && !((e[1] as TableValue<"fdb">).flags & (constants.FDB_STATIC | constants.FDB_CONTROL));
          if (p && l.timeout && learned) ttl.push(id);
          await window();
        }
      }
    }
    const nh = [...this.nexthopsDirty];
    this.nexthopsDirty.clear();
    for (const nhLookup of this.lookups.filter((l) => l.table === "nexthops")) {
      for (const r of nh) {
        const v = this.nexthops.get(r);
        const p = this.writeEntry(nhLookup, r, v ? { remote: r } : undefined, v as unknown as Record<string, unknown> | undefined);
        if (p) calls.push(p);
      }
    }
    const lists = [...this.dirtyLists];
    this.dirtyLists.clear();
    if (lists.length) calls.push(this.syncLists(lists));
    await Promise.all(calls.map((p) => p.catch(() => undefined)));
    calls = [];
    // ageing on bmv2: only entries with a TTL report their time since the last hit
    const fdbSrc = this.lookups.find((l) => "timeout" in l && l.timeout);
    if (fdbSrc) {
      for (const id of ttl) {
        const inst = this.installed.get(fdbSrc.p4)!.get(id);
        if (inst) calls.push(this.rt.setEntryTtl(fdbSrc.p4, inst.handle, FDB_SRC_TTL_MS).catch((e) => this.failed(fdbSrc.p4, "ttl", e)));
        await window();
      }
      await Promise.all(calls);
    }
  }

  private failed(table: string, op: string, e: unknown): void {
    this.errors++;
    this.log.warn("bmv2 write failed", { table, op, error: (e as Error).message });
  }

  /** Make one P4 table's entry for `id` what the shadow says (undefined: absent). */
  private writeEntry(l: P4Lookup, id: string, key: Record<string, unknown> | undefined, value: Record<string, unknown> | undefined): Promise<unknown> | undefined {
    const c = this.codecs.get(l.p4)!;
    const inst = this.installed.get(l.p4)!;
    const cur = inst.get(id);
    const action = `${l.p4}_set`;
    if (l.keyless) {
      if (!value) return this.count(this.rt.setDefaultAction(l.p4, `${l.p4}_miss`, []), l.p4, "default");
      const data = c.encodeParams(value);
      return this.count(this.rt.setDefaultAction(l.p4, action, data), l.p4, "default");
    }
    if (!value || !key) {
      if (!cur) return undefined;
      inst.delete(id);
      return this.count(this.rt.deleteEntry(l.p4, cur.handle), l.p4, "delete");
    }
    if (l.table === "fdb" && value.kind === constants.FDB_REMOTE) this.fdbRemotes.add(value.remote as string);
    const data = c.encodeParams(this.withTargetParams(l, key, value));
    const hex = Buffer.concat(data).toString("hex");
    if (cur) {
      if (cur.data === hex) return undefined;
      cur.data = hex;
      return this.count(this.rt.modifyEntry(l.p4, cur.handle, action, data), l.p4, "modify");
    }
    const placeholder: Installed = { handle: -1, data: hex };
    inst.set(id, placeholder);
    const p = this.rt.addEntry(l.p4, c.encodeKey(key).map(match.exact), action, data);
    return p.then(
      (handle) => {
        this.writes++;
        placeholder.handle = handle;
        return handle;
      },
      (e) => {
        if (inst.get(id) === placeholder) inst.delete(id);
        this.failed(l.p4, "add", e);
        throw e;
      },
    );
  }

  private count<T>(p: Promise<T>, table: string, op: string): Promise<T | undefined> {
    return p.then(
      (v) => {
        this.writes++;
        return v;
      },
      (e) => {
        this.failed(table, op, e);
        return undefined;
      },
    );
  }

  /** A value with the action parameters only this target adds: a replication list's PRE group, a learned-MAC limit reached. */
  private withTargetParams(l: P4Lookup, key: Record<string, unknown>, value: Record<string, unknown>): Record<string, unknown> {
    if (l.table === "ports") return { ...value, learn_full: this.limitReached(constants.LIMIT_PORT, key.ifindex as number) ? 1 : 0 };
    if (l.table === "vnis") return { ...value, mgrp: this.groupOf(floodList(key.vni as number)).mgrp, learn_full: this.limitReached(constants.LIMIT_VNI, key.vni as number) ? 1 : 0 };
    if (l.table === "mcast") return { ...value, mgrp: this.groupOf(groupList(key as TableKey<"mcast">)).mgrp };
    return value;
  }

  /** Has a port's or VNI's learned-MAC count reached its max_macs? (the control plane recounts, the target counts up as it learns) */
  limitReached(kind: number, id: number): boolean {
    const l = this.shadows.mac_limits.get({ kind, id });
    return l !== undefined && l.count >= l.max;
  }

  /** A replication list's PRE group (allocated on first use; created in bmv2 by the list sync). */
  groupOf(list: ListId): { mgrp: number; handle?: number } {
    let g = this.groups.get(list);
    if (!g) {
      const mgrp = this.freeMgrps.pop() ?? this.nextMgrp++;
      if (mgrp > 0xffff) throw new Error("bmv2: more replication lists than the PRE's 16-bit group ids");
      g = { mgrp };
      this.groups.set(list, g);
    }
    return g;
  }

  /** Each list as PRE nodes (rid = slot) and replicas entries; a list nobody names any more gives its group back. */
  private async syncLists(lists: ListId[]): Promise<void> {
    const want = new Map<ListId, Map<number, TableValue<"flood">>>();
    for (const id of lists) want.set(id, new Map());
    if (lists.some((id) => id.startsWith("f"))) this.shadows.flood.forEach((k, v) => want.get(floodList(k.vni))?.set(k.slot, v));
    if (lists.some((id) => id.startsWith("m"))) this.shadows.mcast_members.forEach((k, v) => want.get(groupList(k))?.set(k.slot, v));
    const replicas = this.lookups.find((l) => l.table === "replicas")!;
    const calls: Promise<unknown>[] = [];
    for (const [list, slots] of want) {
      const owned = list.startsWith("f") ? this.shadows.vnis.get({ vni: Number(list.slice(1)) }) : this.shadows.mcast.get(groupKey(list));
      if (slots.size === 0 && !owned) {
        calls.push(this.releaseGroup(list, replicas));
        continue;
      }
      const g = this.groupOf(list);
      if (g.handle === undefined) {
        try {
          g.handle = await this.rt.mcGroupCreate(g.mgrp);
        } catch (e) {
          this.failed("pre", "group create", e);
          continue;
        }
      }
      const seen = new Set<string>();
      for (const [slot, v] of slots) {
        const id = `${g.mgrp}/${slot}`;
        const nh = v.kind === constants.FLOOD_REMOTE ? this.nexthops.get(v.remote) : undefined;
        const ifindex = v.kind === constants.FLOOD_REMOTE ? nh?.ifindex : v.ifindex;
        if (ifindex === undefined) continue; // a remote not resolved yet: no copy until it is
        seen.add(id);
        const port = this.ports.portOf(ifindex);
        calls.push(this.syncNode(g.handle, id, slot, port));
        const rv = { kind: v.kind, vlan: v.vlan, remote: v.remote, smac: nh?.smac ?? "00:00:00:00:00:00", dmac: nh?.dmac ?? "00:00:00:00:00:00" };
        const p = this.writeEntry(replicas, id, { mgrp: g.mgrp, rid: slot }, rv);
        if (p) calls.push(p.catch(() => undefined));
      }
      calls.push(...this.dropNodes(g, seen, replicas));
    }
    await Promise.all(calls);
  }

  /** Remove the group's nodes (and their replicas entries) that are not in `keep`. */
  private dropNodes(g: { mgrp: number; handle?: number }, keep: Set<string>, replicas: P4Lookup): Promise<unknown>[] {
    const calls: Promise<unknown>[] = [];
    for (const [id, node] of this.nodes) {
      if (!id.startsWith(`${g.mgrp}/`) || keep.has(id)) continue;
      this.nodes.delete(id);
      calls.push(this.count(this.rt.mcNodeDissociate(g.handle!, node.handle).then(() => this.rt.mcNodeDestroy(node.handle)), "pre", "node remove"));
      const p = this.writeEntry(replicas, id, undefined, undefined);
      if (p) calls.push(p);
    }
    return calls;
  }

  private async releaseGroup(list: ListId, replicas: P4Lookup): Promise<void> {
    const g = this.groups.get(list);
    if (!g) return;
    this.groups.delete(list);
    if (g.handle !== undefined) {
      await Promise.all(this.dropNodes(g, new Set(), replicas));
      await this.count(this.rt.mcGroupDestroy(g.handle), "pre", "group destroy");
    }
    this.freeMgrps.push(g.mgrp);
  }

  private async syncNode(group: number, id: string, rid: number, port: number): Promise<void> {
    const cur = this.nodes.get(id);
    if (cur?.port === port) return;
    try {
      if (cur) {
        cur.port = port;
        await this.rt.mcNodeUpdate(cur.handle, [port]);
      } else {
        const node: PreNode = { handle: -1, port };
        this.nodes.set(id, node);
        node.handle = await this.rt.mcNodeCreate(rid, [port]);
        await this.rt.mcNodeAssociate(group, node.handle);
      }
      this.writes++;
    } catch (e) {
      this.failed("pre", "node", e);
    }
  }

  /**
   * Adoption: read what a running switch holds into the shadow tables and the
   * installed maps (tables, PRE groups and nodes), so the first reconcile
   * writes only the difference and forwarding never stops.
   */
  async adopt(): Promise<number> {
    let n = 0;
    for (const l of this.lookups) {
      if (l.keyless) continue;
      const c = this.codecs.get(l.p4)!;
      const entries: TableEntry[] = await this.rt.getEntries(l.p4);
      for (const e of entries) {
        if (e.action.kind !== "action" || e.action.name !== `${l.p4}_set`) continue;
        let key, value;
        try {
          key = c.decodeKey(e.key.map((m, i) => fitWidth(m.kind === "exact" ? m.key : Buffer.alloc(0), bytesOf(c.keyFields[i]))));
          value = c.decodeParams(e.action.data.map((d, i) => fitWidth(d, bytesOf(c.paramFields[i]))));
        } catch {
          continue; // a port this boot does not have: reconcile rewrites it
        }
        const data = Buffer.concat(c.encodeParams(value)).toString("hex");
        if (l.table === "nexthops" || l.table === "replicas") {
          const id = l.table === "nexthops" ? (key.remote as string) : `${key.mgrp}/${key.rid}`;
          this.installed.get(l.p4)!.set(id, { handle: e.handle, data });
          continue;
        }
        const shadow = this.shadows[l.table as TableName] as ShadowTable<TableName>;
        const full = schemaValue(l, value);
        if (l.table === "fdb" && value.kind === constants.FDB_REMOTE) this.fdbRemotes.add(value.remote as string);
        if (l.table === "vnis") this.adoptGroup(floodList(key.vni as number), value.mgrp as number);
        if (l.p4 === "mcast") this.adoptGroup(groupList(key as TableKey<"mcast">), value.mgrp as number);
        const id = shadow.id(key as never);
        this.installed.get(l.p4)!.set(id, { handle: e.handle, data });
        if (l.p4 === l.table) {
          shadow.load(key as never, full as never);
          n++;
        }
      }
    }
    const pre = await this.rt.mcGetEntries();
    const l2 = new Map(pre.l2_handles.map((h) => [h.handle, h.ports]));
    const l1 = new Map(pre.l1_handles.map((h) => [h.handle, h]));
    const groupOfMgrp = new Map([...this.groups.values()].map((g) => [g.mgrp, g]));
    for (const g of pre.mgrps) {
      const mine = groupOfMgrp.get(g.id);
      if (!mine) continue;
      mine.handle = g.id;
      for (const h of g.l1_handles) {
        const node = l1.get(h);
        const ports = node ? l2.get(node.l2_handle) : undefined;
        if (node && ports?.length === 1) this.nodes.set(`${g.id}/${node.rid}`, { handle: h, port: ports[0] });
      }
    }
    return n;
  }

  private adoptGroup(list: ListId, mgrp: number): void {
    this.groups.set(list, { mgrp });
    if (mgrp >= this.nextMgrp) this.nextMgrp = mgrp + 1;
  }
}

/** A replication list: a VNI's flood list ("f<vni>") or a group's member list ("m<vni>/<group>/<source>"). */
type ListId = string;
const floodList = (vni: number): ListId => `f${vni}`;
const groupList = (k: { vni: number; group: string; source: string }): ListId => `m${k.vni}/${k.group}/${k.source}`;
function groupKey(list: ListId): TableKey<"mcast"> {
  const [vni, group, source] = list.slice(1).split("/");
  return { vni: Number(vni), group: group!, source: source! };
}

const bytesOf = (f: FieldDecl): number => (p4Width(f.type) + 7) >> 3;

/** A value as the schema has it: what only eBPF keeps comes back as zero (an
 *  adopted FDB entry counts as seen now: it ages from this boot). */
function schemaValue(l: P4Lookup, v: Record<string, unknown>): Record<string, unknown> {
  const out = { ...v };
  for (const f of l.omit ?? []) out[f] = 0n;
  if (l.table === "fdb") out.seen_ns = process.hrtime.bigint();
  delete out.mgrp;
  return out;
}

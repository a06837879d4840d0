// Make the fast path's tables equal to the desired state, touching only what
// differs: a restarted control plane reconciles adopted maps without
// disturbing learned entries or in-flight forwarding. Order matters: a VNI's
// members and flood slots exist before its flood_count makes them live, and a
// shrinking flood list is cut (count first) before its slots are removed.
import { constants } from "../codegen/tables.ts";
import type { TableKey, TableValue } from "./codec.ts";
import type { DesiredState } from "./l2/desired.ts";
import type { Target } from "./targets/target.ts";

export interface ReconcileReport {
  written: number;
  deleted: number;
  /** when the FDB was reconciled: its learned entries (neither static nor
   *  from a route) as they are now, from the one read reconcile made */
  learned?: [TableKey<"fdb">, TableValue<"fdb">][];
}

function same(a: object, b: object): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return Object.keys(ra).every((k) => ra[k] === rb[k]);
}

export interface ReconcileOptions {
  /** also walk the FDB (boot, config change); run-time flood-list updates skip it */
  fdb?: boolean;
}

export function reconcile(target: Target, want: DesiredState, opts: ReconcileOptions = {}): ReconcileReport {
  const r: ReconcileReport = { written: 0, deleted: 0 };
  const put = <N extends Parameters<Target["table"]>[0]>(name: N, k: TableKey<N>, v: TableValue<N>) => {
    const t = target.table(name);
    const cur = t.get(k);
    if (cur && same(v, cur)) return;
    t.set(k, v);
    r.written++;
  };
  const del = <N extends Parameters<Target["table"]>[0]>(name: N, k: TableKey<N>) => {
    if (target.table(name).delete(k)) r.deleted++;
  };

  // globals: the data path owns no_neigh_ns, so compare the rest
  const g = target.table("globals");
  const gcur = g.get({ index: 0 });
  if (!gcur || !same({ ...want.globals, no_neigh_ns: 0n }, { ...gcur, no_neigh_ns: 0n })) {
    g.set({ index: 0 }, want.globals);
    r.written++;
  }

  for (const [ifindex, v] of want.ports) put("ports", { ifindex }, v);
  for (const [k] of target.table("ports").entries()) if (!want.ports.has(k.ifindex)) del("ports", k);

  const vlanIds = new Set(want.vlans.map(([k]) => `${k.ifindex}/${k.vlan}`));
  for (const [k, v] of want.vlans) put("vlans", k, v);
  for (const [k] of target.table("vlans").entries()) if (!vlanIds.has(`${k.ifindex}/${k.vlan}`)) del("vlans", k);

  // VNIs that are going away: stop flooding first
  const vnis = target.table("vnis");
  for (const [k, v] of vnis.entries()) {
    if (!want.vnis.has(k.vni)) vnis.set(k, { ...v, flood_count: 0 });
  }

  // flood lists: cut the count when shrinking, write slots, then publish the count
  const flood = target.table("flood");
  const currentSlots = new Map<number, number[]>();
  for (const [k] of flood.entries()) {
    const list = currentSlots.get(k.vni) ?? [];
    list.push(k.slot);
    currentSlots.set(k.vni, list);
  }
  for (const [vni, list] of want.flood) {
    const cur = vnis.get({ vni });
    const vv = want.vnis.get(vni)!;
    if (cur && cur.flood_count > list.length) vnis.set({ vni }, { ...cur, flood_count: list.length });
    list.forEach((v, slot) => put("flood", { vni, slot }, v));
    for (const slot of currentSlots.get(vni) ?? []) if (slot >= list.length) del("flood", { vni, slot });
    put("vnis", { vni }, vv);
  }
  for (const [vni, slots] of currentSlots) {
    if (!want.flood.has(vni)) for (const slot of slots) del("flood", { vni, slot });
  }

  const vtepIds = new Set(want.vteps.map(([k]) => `${k.vni}/${k.remote}`));
  for (const [k, v] of want.vteps) put("vteps", k, v);
  for (const [k] of target.table("vteps").entries()) if (!vtepIds.has(`${k.vni}/${k.remote}`)) del("vteps", k);

  if (opts.fdb !== false) reconcileFdb(target, want, r);

  for (const [k] of vnis.entries()) if (!want.vnis.has(k.vni)) del("vnis", k);
  return r;
}

/** Static entries exactly as configured; learned and control-plane (EVPN)
 * entries survive only while their VNI (and, for local ones, port and VLAN)
 * still exist. One batched read of the FDB, compared in memory, then batched
 * deletes and writes of what differs: a restart that adopts 100k static MACs
 * makes a few dozen system calls, not 100k. */
function reconcileFdb(target: Target, want: DesiredState, r: ReconcileReport): void {
  const fdb = target.table("fdb");
  /** static entries not (yet) found in the FDB as they should be, by VNI and MAC */
  const pending = new Map<number, Map<string, [TableKey<"fdb">, TableValue<"fdb">]>>();
  for (const e of want.staticFdb) {
    let m = pending.get(e[0].vni);
    if (!m) pending.set(e[0].vni, (m = new Map()));
    m.set(e[0].mac, e);
  }
  const gone: TableKey<"fdb">[] = [];
  const learned: [TableKey<"fdb">, TableValue<"fdb">][] = [];
  fdb.forEach((k, v) => {
    const inVni = pending.get(k.vni);
    const wanted = inVni?.get(k.mac);
    const fromConfig = (v.flags & constants.FDB_STATIC) !== 0 && (v.flags & constants.FDB_CONTROL) === 0;
    if ((fromConfig && !wanted) || !want.vnis.has(k.vni) || (!fromConfig && v.kind === constants.FDB_LOCAL && !learnedPortStillValid(want, k.vni, v.ifindex, v.vlan))) {
      gone.push(k);
      return;
    }
    if (wanted) {
      if (sameFdbEntry(wanted[1], v)) inVni!.delete(k.mac);
    } else if ((v.flags & (constants.FDB_STATIC | constants.FDB_CONTROL)) === 0) learned.push([k, v]);
  });
  r.deleted += fdb.deleteMany(gone);
  const writes = [...pending.values()].flatMap((m) => [...m.values()]);
  if (fdb.trySetMany) {
    // packed batches where the target has them (eBPF): no Buffer per entry
    const res = fdb.trySetMany(writes);
    if (res.failed.length) throw new Error(`${res.failed.length} of ${writes.length} static FDB entries not written: ${res.error}`);
  } else fdb.setMany(writes);
  r.written += writes.length;
  r.learned = learned;
}

/** The same entry, but for the times the data path keeps in it. */
function sameFdbEntry(a: TableValue<"fdb">, b: TableValue<"fdb">): boolean {
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const k in ra) if (k !== "seen_ns" && k !== "event_ns" && ra[k] !== rb[k]) return false;
  return true;
}

function learnedPortStillValid(want: DesiredState, vni: number, ifindex: number, vlan: number): boolean {
  return (want.flood.get(vni) ?? []).some((f) => f.kind === constants.FLOOD_LOCAL && f.ifindex === ifindex && f.vlan === vlan);
}

/** Make one table hold exactly `want` (keys compared by their encoding in
 * `idOf`), writing only what differs. For tables a feature owns whole. */
export function reconcileTable<N extends Parameters<Target["table"]>[0]>(
  target: Target,
  name: N,
  want: readonly [TableKey<N>, TableValue<N>][],
  idOf: (k: TableKey<N>) => string,
): ReconcileReport {
  const r: ReconcileReport = { written: 0, deleted: 0 };
  const t = target.table(name);
  const wanted = new Map(want.map(([k, v]) => [idOf(k), [k, v] as const]));
  for (const [k] of t.entries()) if (!wanted.has(idOf(k)) && t.delete(k)) r.deleted++;
  for (const [k, v] of wanted.values()) {
    const cur = t.get(k);
    if (cur && same(v, cur)) continue;
    t.set(k, v);
    r.written++;
  }
  return r;
}

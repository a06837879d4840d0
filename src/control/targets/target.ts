// What the runtime needs from a fast path, whatever it runs on (eBPF maps in
// the kernel, bmv2 tables). The runtime speaks in decoded keys and values;
// each target owns the bytes.
import type { CounterName, TableName } from "../../codegen/tables.ts";
import type { DataPathEvent, TableKey, TableValue } from "../codec.ts";

export interface TableHandle<N extends TableName> {
  get(key: TableKey<N>): TableValue<N> | undefined;
  set(key: TableKey<N>, value: TableValue<N>): void;
  /** false when the key was absent */
  delete(key: TableKey<N>): boolean;
  entries(): [TableKey<N>, TableValue<N>][];
  /**
   * Every entry, decoded one at a time as `f` takes it (no array of them all);
   * with `where`, only the entries whose value has those field values (the
   * others are not decoded: a scan for the few local hosts among a million
   * remote entries costs a byte compare each).
   */
  forEach(f: (key: TableKey<N>, value: TableValue<N>) => void, where?: Partial<TableValue<N>>): void;
  /** Write many entries at once (on eBPF: BPF_MAP_UPDATE_BATCH, a few
   *  thousand per system call instead of one each). */
  setMany(entries: readonly (readonly [TableKey<N>, TableValue<N>])[]): void;
  /** Delete many keys at once; how many of them were there. */
  deleteMany(keys: readonly TableKey<N>[]): number;
  /**
   * Optional (targets that can batch writes cheaply, eBPF): write many
   * entries, never throwing for an entry the table refuses (e.g. full): the
   * indexes of the entries not written and why.
   */
  trySetMany?(entries: readonly (readonly [TableKey<N>, TableValue<N>])[]): { failed: number[]; error?: string };
  /**
   * Optional: compare-and-delete. Entry i's key is deleted only while its
   * current value equals entry i's value on the bits set in `mask` (numbers:
   * bit masks; addresses: "255.255.255.255" / "ff:ff:ff:ff:ff:ff" to compare,
   * zero to ignore). Absent keys are skipped. How many were deleted.
   */
  deleteManyIf?(entries: readonly (readonly [TableKey<N>, TableValue<N>])[], mask: TableValue<N>): number;
}

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

/** How full a table is (metrics). */
export interface TableOccupancy {
  table: TableName;
  maxEntries: number;
  /** absent when the target cannot count without walking the table */
  entries?: number;
}

export interface PortAttachment {
  name: string;
  ifindex: number;
  role: "access" | "uplink";
  /** how the one-in-one-out stage is attached (e.g. "xdp native", "xdp generic") */
  fastPath: string;
  /** how the replication stage is attached (e.g. "tcx ingress") */
  replication: string;
}

export interface Target {
  readonly kind: string;
  /** true when this boot adopted forwarding state left by an earlier control plane */
  readonly adopted: boolean;
  table<N extends TableName>(name: N): TableHandle<N>;
  counters(): Record<CounterName, CounterValue>;
  /** A per-CPU table's entry summed over CPUs (undefined when absent). */
  perCpuSum<N extends TableName>(name: N, key: TableKey<N>): TableValue<N> | undefined;
  ports(): PortAttachment[];
  /** Entries and capacity of each hash table, read without walking them. */
  tableOccupancy?(): TableOccupancy[];
  /** Data-path events (learning, missing neighbours). */
  onEvent(cb: (e: DataPathEvent) => void): void;
  /** Resolves when the fast path holds everything written so far (targets that write behind, as bmv2 does over RPC). */
  flush?(): Promise<void>;
  /** After the first reconcile: put programs loaded by an upgrade on the ports
   * (the old ones forward until then, on tables already filled for the new). */
  activate(): void;
  /** Stop consuming events and drop our handles; forwarding continues on pinned state. */
  release(): void;
  /** Detach everything and remove every pin this switch owns. */
  destroy(): void | Promise<void>;
}

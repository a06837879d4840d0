// The control plane's copy of every table on the bmv2 target. bmv2's tables
// are written by RPC, not read per packet by us, so the target answers reads
// from this copy (synchronously, as the eBPF target answers from its maps) and
// writes behind: each change marks its key dirty, and the writer sends the
// difference between this copy and what the switch holds in pipelined
// batches.
import type { TableName } from "../../../codegen/tables.ts";
import { tableCodec, type TableKey, type TableValue } from "../../codec.ts";
import type { TableHandle } from "../target.ts";

export class ShadowTable<N extends TableName> implements TableHandle<N> {
  private readonly entries_ = new Map<string, [TableKey<N>, TableValue<N>]>();
  /** keys changed since the writer last looked (their identity strings) */
  readonly dirty = new Set<string>();
  private readonly keyCodec;

  constructor(readonly name: N, private readonly changed: () => void) {
    this.keyCodec = tableCodec(name).key;
  }

  id(key: TableKey<N>): string {
    return this.keyCodec.encode(key).toString("latin1");
  }

  /** the entry behind an identity string */
  byId(id: string): [TableKey<N>, TableValue<N>] | undefined {
    return this.entries_.get(id);
  }

  get size(): number {
    return this.entries_.size;
  }

  get(key: TableKey<N>): TableValue<N> | undefined {
    return this.entries_.get(this.id(key))?.[1];
  }

  set(key: TableKey<N>, value: TableValue<N>): void {
    const id = this.id(key);
    this.entries_.set(id, [{ ...key }, { ...value }]);
    this.mark(id);
  }

  delete(key: TableKey<N>): boolean {
    const id = this.id(key);
    if (!this.entries_.delete(id)) return false;
    this.mark(id);
    return true;
  }

  entries(): [TableKey<N>, TableValue<N>][] {
    return [...this.entries_.values()].map(([k, v]) => [{ ...k }, { ...v }]);
  }

  forEach(f: (key: TableKey<N>, value: TableValue<N>) => void, where?: Partial<TableValue<N>>): void {
    const want = where ? (Object.entries(where) as [keyof TableValue<N>, unknown][]) : [];
    for (const [k, v] of this.entries_.values()) if (want.every(([name, x]) => v[name] === x)) f({ ...k }, { ...v });
  }

  setMany(entries: readonly (readonly [TableKey<N>, TableValue<N>])[]): void {
    for (const [k, v] of entries) this.set(k, v);
  }

  deleteMany(keys: readonly TableKey<N>[]): number {
    let n = 0;
    for (const k of keys) if (this.delete(k)) n++;
    return n;
  }

  /** Write the entry again (what the target adds to it changed), if there is one. */
  markDirty(key: TableKey<N>): void {
    const id = this.id(key);
    if (this.entries_.has(id)) this.mark(id);
  }

  /** Change a value without writing it to the switch (what only the control plane keeps: seen_ns). */
  touch(id: string, f: (v: TableValue<N>) => void): void {
    const e = this.entries_.get(id);
    if (e) f(e[1]);
  }

  /** Fill from what the switch holds (adoption): nothing becomes dirty. */
  load(key: TableKey<N>, value: TableValue<N>): void {
    this.entries_.set(this.id(key), [key, value]);
  }

  private mark(id: string): void {
    const first = this.dirty.size === 0;
    this.dirty.add(id);
    if (first) this.changed();
  }
}

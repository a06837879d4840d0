import { addon, type NativeMap } from "./native.ts";
import { checkInternal, HANDLE, INTERNAL } from "./internal.ts";
import { BpfError } from "./errors.ts";

export type UpdateFlag = "any" | "noexist" | "exist";

const FLAG_VALUES: Record<UpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

function flagValue(flags: UpdateFlag | undefined): number {
  if (flags === undefined) return 0;
  const v = FLAG_VALUES[flags];
  if (v === undefined) throw new TypeError(`update flags must be 'any', 'noexist' or 'exist', got ${String(flags)}`);
  return v;
}

/**
 * A BPF map, either owned by a BpfObject or opened from a pin.
 *
 * Keys and values are raw bytes and must be exactly keySize / valueSize
 * long (TypeError otherwise). Per-CPU maps (perCpu === true):
 * - lookupPerCpu() returns one Buffer of valueSize bytes per possible CPU;
 * - lookup(), entries() and lookupBatch() return those values packed into one
 *   Buffer of numPossibleCpus() * valueSize bytes (CPU 0 first);
 * - update()/updateBatch() accept valueSize bytes (written to every CPU) or
 *   numPossibleCpus() * valueSize bytes (one value per CPU).
 */
export class BpfMap {
  readonly #h: NativeMap;
  readonly #name: string;

  /** @internal */
  constructor(token: typeof INTERNAL, h: NativeMap) {
    checkInternal(token, "BpfMap");
    this.#h = h;
    this.#name = h.name;
  }

  /** @internal */
  get [HANDLE](): NativeMap {
    return this.#h;
  }

  get name(): string {
    return this.#name;
  }
  /** Map fd; -1 before the object is loaded. Throws once closed. */
  get fd(): number {
    return this.#h.fd;
  }
  /** libbpf's name of the map type: 'hash', 'array', 'percpu_array', 'ringbuf', 'lru_hash', ... */
  get type(): string {
    return this.#h.type;
  }
  get keySize(): number {
    return this.#h.keySize;
  }
  get valueSize(): number {
    return this.#h.valueSize;
  }
  get maxEntries(): number {
    return this.#h.maxEntries;
  }
  /** BPF_F_* map flags. */
  get flags(): number {
    return this.#h.flags;
  }
  get perCpu(): boolean {
    return this.#h.perCpu;
  }
  /** Kernel map id. */
  get id(): number {
    return this.#h.id;
  }
  get closed(): boolean {
    return this.#h.closed;
  }

  lookup(key: Uint8Array): Buffer | null {
    return this.#h.lookup(key);
  }

  lookupPerCpu(key: Uint8Array): Buffer[] | null {
    return this.#h.lookupPerCpu(key);
  }

  update(key: Uint8Array, value: Uint8Array, flags?: UpdateFlag): void {
    this.#h.update(key, value, flagValue(flags));
  }

  /** Per-CPU maps: one value per possible CPU. */
  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags?: UpdateFlag): void {
    if (!Array.isArray(values)) throw new TypeError("updatePerCpu: values must be an array");
    this.#h.update(key, Buffer.concat(values), flagValue(flags));
  }

  /** false when the key was absent. */
  delete(key: Uint8Array): boolean {
    return this.#h.delete(key);
  }

  /**
   * Keys via bpf_map_get_next_key. Like the kernel API, iteration restarts
   * from the first key if the current key is deleted by someone else; it
   * gives up with EAGAIN after 4 * maxEntries + 16 steps.
   */
  *keys(): IterableIterator<Buffer> {
    let prev: Buffer | null = null;
    const limit = this.#h.maxEntries * 4 + 16;
    for (let steps = 0; ; steps++) {
      if (steps > limit) {
        throw new BpfError(`iterate map '${this.#name}': map changed too much during iteration [EAGAIN]`, {
          errno: 11,
          code: "EAGAIN",
          op: `iterate map '${this.#name}'`,
        });
      }
      const k = this.#h.nextKey(prev);
      if (k === null) return;
      yield k;
      prev = k;
    }
  }

  /** [key, value] pairs; keys deleted between the two look-ups are skipped. */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.#h.lookup(k);
      if (v !== null) yield [k, v];
    }
  }

  [Symbol.iterator](): IterableIterator<[Buffer, Buffer]> {
    return this.entries();
  }

  /**
   * The whole map with BPF_MAP_LOOKUP_BATCH, count entries per syscall
   * (default min(maxEntries, 1024)); falls back to key iteration where the
   * map type has no batch support.
   */
  lookupBatch(opts: { count?: number } = {}): [Buffer, Buffer][] {
    return this.#h.lookupBatch(opts.count);
  }

  /**
   * The whole map as lookupBatch() reads it, in two Buffers instead of two
   * per entry: entry i's key at `i * keySize` in `keys`, its value at
   * `i * valueSize` in `values` (per-CPU maps: `i * numPossibleCpus() *
   * valueSize`, packed as lookup() gives it). A 100k-entry map costs two
   * allocations, not 200k.
   */
  lookupBatchPacked(opts: { count?: number } = {}): { count: number; keys: Buffer; values: Buffer } {
    return this.#h.lookupBatchPacked(opts.count);
  }

  /** BPF_MAP_UPDATE_BATCH (per-element fallback where unsupported). */
  updateBatch(entries: [Uint8Array, Uint8Array][], flags?: UpdateFlag): void {
    if (!Array.isArray(entries)) throw new TypeError("updateBatch: entries must be an array of [key, value]");
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2) throw new TypeError("updateBatch: each entry must be [key, value]");
      keys.push(e[0]);
      values.push(e[1]);
    }
    this.#h.updateBatch(keys, values, flagValue(flags));
  }

  /** BPF_MAP_DELETE_BATCH; returns how many keys were deleted (absent keys are skipped). */
  deleteBatch(keys: Uint8Array[]): number {
    if (!Array.isArray(keys)) throw new TypeError("deleteBatch: keys must be an array");
    return this.#h.deleteBatch(keys);
  }

  /**
   * BPF_MAP_UPDATE_BATCH (BPF_ANY) of `count` entries packed in two buffers:
   * entry i's key at `i * keySize` in `keys`, its value at `i * valueSize` in
   * `values` (not per-CPU maps); element by element where the kernel has no
   * batch support. Does not throw for a failing element: `written` entries
   * (from the first) are in the map, and when that is less than `count`,
   * `errno` says why entry `written` was refused (e.g. E2BIG: the map is full).
   */
  updateBatchPacked(keys: Uint8Array, values: Uint8Array, count: number): { written: number; errno: number } {
    return this.#h.updateBatchPacked(keys, values, count);
  }

  /**
   * Compare-and-delete for `count` keys packed `keySize` apart: key i is
   * deleted only while its current value, masked with `mask` (valueSize
   * bytes), equals expected value i (packed `valueSize` apart in `expect`)
   * masked the same; absent keys are skipped. Returns how many were deleted.
   * One lookup system call per key, the matching keys deleted in
   * BPF_MAP_DELETE_BATCH calls of up to 256 keys, no JS per key.
   */
  deleteBatchIf(keys: Uint8Array, expect: Uint8Array, mask: Uint8Array, count: number): number {
    return this.#h.deleteBatchIf(keys, expect, mask, count);
  }

  pin(path: string): void {
    this.#h.pin(path);
  }

  unpin(path: string): void {
    this.#h.unpin(path);
  }

  /**
   * Maps from openPinned(): closes the fd. Maps of a BpfObject are owned by
   * it; close() only retires this handle.
   */
  close(): void {
    this.#h.close();
  }

  /** bpf_obj_get + bpf_obj_get_info_by_fd for name/type/sizes (name is kernel-truncated to 15 chars). */
  static openPinned(path: string): BpfMap {
    return new BpfMap(INTERNAL, addon.openPinnedMap(path));
  }
}

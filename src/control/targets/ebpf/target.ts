// The Linux fast path: the generated ELF loaded through libbpf, XDP on every
// port for one-in-one-out forwarding and TC ingress for replication. Maps,
// programs and links are pinned under one bpffs directory per switch so that a
// restarted control plane adopts them while forwarding carries on.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BpfLink, BpfMap, BpfObject, BpfProgram, RingBuffer, bpffsMounted } from "libbpf-ts-bindings";
import { constants, counterNames, records, tables, type CounterName, type TableName } from "../../../codegen/tables.ts";
import { layout, type TableDecl } from "../../../codegen/schema.ts";
import { decodeEvent, tableCodec, type DataPathEvent, type TableKey, type TableValue } from "../../codec.ts";
import type { CounterValue, PortAttachment, TableHandle, TableOccupancy, Target } from "../target.ts";
import { MapCounter } from "./map-count.ts";
import { NexthopCacheKeeper } from "./nh-cache.ts";
import type { Logger } from "../../log.ts";
import { ifindexOf, listNetDevs, xdpTxCheck, type XdpTxCheck } from "../../netdev.ts";

export const BPFFS_ROOT = "/sys/fs/bpf/vxgate";
export const RUN_ROOT = "/run/vxgate";

const PROGRAMS = {
  access: { xdp: "vxg_xdp_access", tc: "vxg_tc_access" },
  uplink: { xdp: "vxg_xdp_uplink", tc: "vxg_tc_uplink" },
} as const;
/** The control plane's in-kernel compare-and-delete of FDB entries (bpf/fdb_ops.h): run, never attached. */
const FDB_DEL_PROGRAM = "vxg_fdb_del_if";

export interface PortSpec {
  name: string;
  role: "access" | "uplink";
}

export interface EbpfTargetOptions {
  switchName: string;
  objectPath: string;
  /** identifies the generated program; state pinned under another hash is replaced */
  hash: string;
  ports: PortSpec[];
  log: Logger;
  /** "native" (default, falls back to generic where the driver has no XDP), or force "generic" */
  xdpMode?: "native" | "generic" | "auto";
  bpffsRoot?: string;
  runRoot?: string;
}

interface PinnedState {
  hash: string;
  objectPath: string;
  ports: PortAttachment[];
  /** per map: a signature of its declared layout, so an upgrade reuses only maps whose entries mean the same */
  layouts?: Record<string, string>;
  /** inode of the network namespace the ports were attached in (ifindexes are per namespace) */
  netns?: number;
}

const currentNetns = (): number => statSync("/proc/self/ns/net").ino;

function layoutSignature(t: TableDecl): string {
  return createHash("sha256")
    .update(JSON.stringify([t.kind, t.key ?? null, t.value ?? null]))
    .digest("hex")
    .slice(0, 16);
}

/** Offsets in vxg_fdb_del_if's context (struct vxg_fdb_del_ctx; bpf/fdb_ops.h asserts the same). */
const fdbDelCtx = (() => {
  const key = layout(tables.fdb.key).size;
  const value = layout(tables.fdb.value).size;
  const hdr = layout(records.fdbDel).size;
  const n = constants.FDB_DEL_BATCH;
  return { mask: hdr, keys: hdr + value, want: hdr + value + n * key, size: hdr + value + n * (key + value) };
})();

const currentLayouts = (): Record<string, string> =>
  Object.fromEntries((Object.values(tables) as TableDecl[]).map((t) => [t.mapName, layoutSignature(t)]));


/** Exported for tests. */
export class MapTable<N extends TableName> implements TableHandle<N> {
  private readonly codec;
  /** vxg_fdb_del_if, for the FDB's deleteManyIf: one run per FDB_DEL_BATCH entries, not a lookup per entry */
  private cmpDel?: { prog: BpfProgram; ctx: Buffer };
  constructor(private readonly map: BpfMap, name: N) {
    this.codec = tableCodec(name);
  }
  /** Does deleteManyIf run vxg_fdb_del_if (false after a run failed: then it asks per entry)? */
  get comparesInKernel(): boolean {
    return this.cmpDel !== undefined;
  }
  /** Let deleteManyIf run vxg_fdb_del_if (the FDB only: the program knows no other map). */
  useCompareDelete(prog: BpfProgram): void {
    this.cmpDel = { prog, ctx: Buffer.alloc(fdbDelCtx.size) };
  }
  get(key: TableKey<N>): TableValue<N> | undefined {
    const v = this.map.lookup(this.codec.key.encode(key));
    return v ? this.codec.value.decode(v) : undefined;
  }
  set(key: TableKey<N>, value: TableValue<N>): void {
    this.map.update(this.codec.key.encode(key), this.codec.value.encode(value), "any");
  }
  delete(key: TableKey<N>): boolean {
    return this.map.delete(this.codec.key.encode(key));
  }
  entries(): [TableKey<N>, TableValue<N>][] {
    const out: [TableKey<N>, TableValue<N>][] = [];
    this.forEach((k, v) => out.push([k, v]));
    return out;
  }
  /** One batched read of the whole map into two Buffers (not two per entry),
   *  each entry decoded from them as `f` takes it. */
  forEach(f: (key: TableKey<N>, value: TableValue<N>) => void, where?: Partial<TableValue<N>>): void {
    const { count, keys, values } = this.map.lookupBatchPacked({ count: BATCH });
    const ks = this.map.keySize;
    const vs = values.length / Math.max(count, 1);
    const match = where ? this.codec.value.matcher(where) : undefined;
    for (let i = 0; i < count; i++) {
      if (match && !match(values, i * vs)) continue;
      f(this.codec.key.decodeAt(keys, i * ks), this.codec.value.decodeAt(values, i * vs));
    }
  }
  setMany(entries: readonly (readonly [TableKey<N>, TableValue<N>])[]): void {
    // encoded a batch at a time: 100k entries never sit encoded all at once
    for (let i = 0; i < entries.length; i += BATCH) {
      const chunk: [Buffer, Buffer][] = [];
      for (const [k, v] of entries.slice(i, i + BATCH)) chunk.push([this.codec.key.encode(k), this.codec.value.encode(v)]);
      this.map.updateBatch(chunk, "any");
    }
  }
  deleteMany(keys: readonly TableKey<N>[]): number {
    let n = 0;
    for (let i = 0; i < keys.length; i += BATCH) n += this.map.deleteBatch(keys.slice(i, i + BATCH).map((k) => this.codec.key.encode(k)));
    return n;
  }
  /** Reused packing buffers for the batches below (grown on demand). */
  private kbuf = Buffer.alloc(0);
  private vbuf = Buffer.alloc(0);
  private pack(entries: readonly (readonly [TableKey<N>, TableValue<N>])[], from: number, to: number): void {
    const n = to - from;
    if (this.kbuf.length < n * this.codec.key.size) this.kbuf = Buffer.alloc(Math.max(n, 64) * this.codec.key.size);
    if (this.vbuf.length < n * this.codec.value.size) this.vbuf = Buffer.alloc(Math.max(n, 64) * this.codec.value.size);
    this.packInto(entries, from, to, this.kbuf, 0, this.vbuf, 0);
  }
  /** Entries [from, to) as packed keys at kb[ko..] and values at vb[vo..]. */
  private packInto(entries: readonly (readonly [TableKey<N>, TableValue<N>])[], from: number, to: number, kb: Buffer, ko: number, vb: Buffer, vo: number): void {
    const ks = this.codec.key.size;
    const vs = this.codec.value.size;
    // entries often share one value object (e.g. every route to one VTEP):
    // encoded once, then copied
    let prev: TableValue<N> | undefined;
    let prevAt = 0;
    for (let i = 0; i < to - from; i++) {
      const e = entries[from + i]!;
      this.codec.key.encodeInto(e[0], kb, ko + i * ks);
      const at = vo + i * vs;
      if (e[1] === prev) vb.copyWithin(at, prevAt, prevAt + vs);
      else {
        this.codec.value.encodeInto(e[1], vb, at);
        prev = e[1];
        prevAt = at;
      }
    }
  }
  /** Packed BPF_MAP_UPDATE_BATCH, BATCH entries per system call; an entry the
   *  kernel refuses is skipped (and reported) and the rest still written. */
  trySetMany(entries: readonly (readonly [TableKey<N>, TableValue<N>])[]): { failed: number[]; error?: string } {
    const failed: number[] = [];
    let error: string | undefined;
    let i = 0;
    while (i < entries.length) {
      const to = Math.min(entries.length, i + BATCH);
      this.pack(entries, i, to);
      const r = this.map.updateBatchPacked(this.kbuf, this.vbuf, to - i);
      if (r.written >= to - i) {
        i = to;
        continue;
      }
      // entry i + written was refused: note it, go on after it
      const bad = i + r.written;
      failed.push(bad);
      error ??= `update of ${this.map.name} refused: ${errnoName(r.errno)}`;
      // the rest of the chunk is packed again from the entry after it
      i = bad + 1;
    }
    return error === undefined ? { failed } : { failed, error };
  }
  /**
   * deleteManyIf by vxg_fdb_del_if, one run per FDB_DEL_BATCH entries (the
   * context: the header, the mask, then the keys and the expected values).
   * Returns the entries done and how many of them were deleted; stops at a run
   * that fails (an older kernel, a closed fd) and gives the program up.
   */
  private deleteManyIfInKernel(entries: readonly (readonly [TableKey<N>, TableValue<N>])[], mask: Buffer): { done: number; deleted: number } {
    const { prog, ctx } = this.cmpDel!;
    mask.copy(ctx, fdbDelCtx.mask);
    let deleted = 0;
    for (let i = 0; i < entries.length; i += constants.FDB_DEL_BATCH) {
      const count = Math.min(constants.FDB_DEL_BATCH, entries.length - i);
      ctx.writeUInt32LE(count, 0);
      ctx.writeUInt32LE(0, 4);
      this.packInto(entries, i, i + count, ctx, fdbDelCtx.keys, ctx, fdbDelCtx.want);
      try {
        prog.runContext(ctx);
      } catch {
        this.cmpDel = undefined;
        return { done: i, deleted };
      }
      deleted += ctx.readUInt32LE(4);
    }
    return { done: entries.length, deleted };
  }
  deleteManyIf(entries: readonly (readonly [TableKey<N>, TableValue<N>])[], mask: TableValue<N>): number {
    const m = this.codec.value.encode(mask);
    let start = 0;
    let n = 0;
    if (this.cmpDel) {
      ({ done: start, deleted: n } = this.deleteManyIfInKernel(entries, m));
      if (start === entries.length) return n;
    }
    // the rest (or all, without the program): a lookup system call per entry, the matches deleted in batches
    for (let i = start; i < entries.length; i += BATCH) {
      const to = Math.min(entries.length, i + BATCH);
      this.pack(entries, i, to);
      n += this.map.deleteBatchIf(this.kbuf, this.vbuf, m, to - i);
    }
    return n;
  }
}

function errnoName(errno: number): string {
  const names: Record<number, string> = { 7: "E2BIG (table full)", 12: "ENOMEM", 28: "ENOSPC", 22: "EINVAL", 1: "EPERM", 13: "EACCES" };
  return names[errno] ?? `errno ${errno}`;
}

/** Entries per batch system call (BPF_MAP_*_BATCH). */
const BATCH = 4096;

export class EbpfTarget implements Target {
  readonly kind = "ebpf";
  private readonly maps = new Map<string, BpfMap>();
  private readonly handles = new Map<string, TableHandle<TableName>>();
  private ring?: RingBuffer;
  private attached: PortAttachment[] = [];
  /** an upgrade whose programs are loaded but not yet on the ports */
  private pendingSwap?: PinnedState;
  adopted = false;

  private eventCallback?: (e: DataPathEvent) => void;
  /** empties the data path's next-hop cache when the kernel's routes, neighbours or links change */
  private nhCache?: NexthopCacheKeeper;
  /** the FDB compare-and-delete program, opened from its pin when first needed (false: not there) */
  private fdbDel?: BpfProgram | false;

  private constructor(private opts: EbpfTargetOptions) {}

  get pinDir(): string {
    return join(this.opts.bpffsRoot ?? BPFFS_ROOT, this.opts.switchName);
  }
  private get stateFile(): string {
    return join(this.opts.runRoot ?? RUN_ROOT, this.opts.switchName, "pinned.json");
  }

  static open(opts: EbpfTargetOptions): EbpfTarget {
    const t = new EbpfTarget(opts);
    t.boot();
    t.nhCache = new NexthopCacheKeeper(() => t.maps.get(tables.vtep_nh.mapName), opts.log.child({ part: "nh-cache" }));
    t.nhCache.start();
    return t;
  }

  /** Remove a switch's pinned fast path without booting it (`vxgate stop` with no daemon). */
  static removePinned(switchName: string, log?: Logger, roots: { bpffsRoot?: string; runRoot?: string } = {}): void {
    const t = new EbpfTarget({ switchName, objectPath: "", hash: "", ports: [], log: log ?? quietLogger, ...roots });
    t.teardown(t.readState());
  }

  /** Look at a switch's pinned fast path without changing anything (`vxgate show`
   * while the control plane is down). Undefined when nothing is pinned. */
  static inspectPinned(switchName: string, roots: { bpffsRoot?: string; runRoot?: string } = {}): EbpfTarget | undefined {
    const t = new EbpfTarget({ switchName, objectPath: "", hash: "", ports: [], log: quietLogger, ...roots });
    const state = t.readState();
    if (!state || !existsSync(join(t.pinDir, "maps"))) return undefined;
    t.openPinnedMaps();
    t.attached = state.ports;
    t.adopted = true;
    return t;
  }

  private boot(): void {
    ensureBpffs();
    const state = this.readState();
    if (state && state.hash === this.opts.hash && this.pinsIntact(state)) {
      this.adopt(state);
    } else if (state && state.netns === currentNetns() && existsSync(join(this.pinDir, "maps"))) {
      this.upgrade(state);
    } else {
      // pins from another namespace (or unreadable state) describe ports that are not ours
      if (existsSync(this.pinDir)) {
        this.opts.log.info("replacing stale pinned fast path", { pins: this.pinDir });
        this.teardown(state);
      }
      try {
        this.loadFresh();
      } catch (e) {
        // half a fast path is worse than none: take back whatever got attached or pinned
        this.release();
        this.teardown(undefined);
        throw e;
      }
    }
    this.refreshXdpTx();
    // until activate() the ports run the old programs: a control plane that
    // dies before then must upgrade again, not adopt
    this.writeState(this.pendingSwap?.hash);
  }

  /** Fill vxg_xdp_tx with the ports XDP can transmit on (see bpf/egress.h): the
   * data path sends frames for every other port through TC. Checked whenever
   * the switch boots (fresh, upgrade or adopt: a port's peer may have changed
   * meanwhile), not while it runs. When no port runs XDP natively every
   * redirect takes the skb path, which any port takes. */
  private refreshXdpTx(): void {
    const native = this.attached.some((p) => p.fastPath === "xdp native");
    const devs = listNetDevs();
    const tx = this.table("xdp_tx");
    const ok = new Set<number>();
    for (const p of this.attached) {
      let c: XdpTxCheck;
      if (!native) c = { ok: true };
      else if (p.fastPath !== "xdp native") c = { ok: false, reason: "its driver has no native XDP (attached in generic mode), so no XDP transmit either" };
      else {
        try {
          c = xdpTxCheck(p.name);
        } catch (e) {
          c = { ok: false, reason: `cannot check its veth peer: ${(e as Error).message}` };
        }
      }
      if (c.ok) {
        ok.add(p.ifindex);
        // an entry rewritten is a new one to the kernel: leave a live one alone
        if (tx.get({ ifindex: p.ifindex })?.ifindex !== p.ifindex) tx.set({ ifindex: p.ifindex }, { ifindex: p.ifindex });
      } else {
        this.opts.log.warn("XDP cannot transmit on this port: frames for it go through TC (slower, but they arrive)", {
          port: p.name,
          peer: c.peer,
          netns: c.netns,
          reason: c.reason,
          fix: c.fix,
        });
      }
      const mtu = devs.get(p.name)?.mtu;
      if (c.peerMtu !== undefined && mtu !== undefined && c.peerMtu < mtu)
        this.opts.log.warn("the port's veth peer has a smaller MTU: frames between the two MTUs are dropped by the kernel after they were counted forwarded", {
          port: p.name,
          mtu,
          peer: c.peer,
          peerMtu: c.peerMtu,
        });
    }
    for (const [k] of tx.entries()) if (!ok.has(k.ifindex)) tx.delete(k);
  }

  /** A different program (config or code change) over a running switch: keep every
   * map whose layout and size are unchanged (learned entries, counters survive),
   * then swap each port's programs. */
  private upgrade(state: PinnedState): void {
    const obj = BpfObject.openFile(this.opts.objectPath);
    const kept: string[] = [];
    try {
      const want = currentLayouts();
      for (const t of Object.values(tables) as TableDecl[]) {
        const pin = this.mapPin(t.mapName);
        if (!existsSync(pin) || state.layouts?.[t.mapName] !== want[t.mapName]) continue;
        // the kernel adds BPF_F_RDONLY_PROG to a devmap's flags, so libbpf never
        // takes a pinned one as compatible: it is rebuilt (refreshXdpTx fills it)
        if (t.kind.startsWith("devmap")) continue;
        const old = BpfMap.openPinned(pin);
        const nm = obj.map(t.mapName);
        const same = old.type === nm.type && old.keySize === nm.keySize && old.valueSize === nm.valueSize && old.maxEntries === nm.maxEntries;
        old.close();
        if (same) {
          obj.reuseMap(t.mapName, pin);
          kept.push(t.mapName);
        }
      }
      obj.load();
      mkdirSync(join(this.pinDir, "progs"), { recursive: true });
      mkdirSync(join(this.pinDir, "links"), { recursive: true });
      for (const t of Object.values(tables) as TableDecl[]) {
        if (kept.includes(t.mapName)) continue;
        rmSync(this.mapPin(t.mapName), { force: true });
        obj.map(t.mapName).pin(this.mapPin(t.mapName));
      }
      this.pinPrograms(obj);
      this.opts.log.info("fast path upgrade loaded: the new programs go live after the first reconcile", {
        old: state.hash,
        new: this.opts.hash,
        mapsKept: kept.length,
        mapsNew: Object.keys(tables).length - kept.length,
      });
    } finally {
      obj.close();
    }
    this.openPinnedMaps();
    // the old programs keep forwarding until activate(): the new ones must not
    // run on maps the control plane has not filled yet
    this.attached = state.ports;
    this.pendingSwap = state;
  }

  /** After an upgrade, once the tables are reconciled: every port that stays
   * gets the new programs by an atomic link update (no moment without a
   * program, no frame lost), new ports are attached, removed ones detached. */
  activate(): void {
    const state = this.pendingSwap;
    if (!state) return;
    this.pendingSwap = undefined;
    const program = (name: string) => BpfProgram.openPinned(this.progPin(name));
    const wanted = new Map(this.opts.ports.map((p) => [p.name, p]));
    const swapped: string[] = [];
    for (const old of state.ports) {
      const w = wanted.get(old.name);
      if (w && w.role === old.role && this.swapPort(old, program)) swapped.push(old.name);
      else this.detachPort(old.name);
    }
    this.attached = state.ports.filter((p) => swapped.includes(p.name));
    for (const p of this.opts.ports) if (!swapped.includes(p.name)) this.attachPort(p, program);
    this.refreshXdpTx();
    this.writeState();
    this.opts.log.info("fast path upgraded in place", {
      hash: this.opts.hash,
      portsSwapped: swapped.length,
      portsAttached: this.opts.ports.length - swapped.length,
      portsRemoved: state.ports.filter((p) => !wanted.has(p.name)).map((p) => p.name),
    });
  }

  /** Both of a port's links move to the new programs; false when a link cannot (then the port is re-attached). */
  private swapPort(p: PortAttachment, program: (name: string) => BpfProgram): boolean {
    const progs = PROGRAMS[p.role];
    try {
      for (const [kind, name] of [["xdp", progs.xdp], ["tc", progs.tc]] as const) {
        const l = BpfLink.openPinned(this.linkPin(kind, p.name));
        const prog = program(name);
        try {
          if (l.info().ifindex !== p.ifindex) return false;
          l.update(prog);
        } finally {
          prog.close();
          l.close();
        }
      }
      return true;
    } catch (e) {
      this.opts.log.warn("atomic program swap failed: re-attaching the port", { port: p.name, error: (e as Error).message });
      return false;
    }
  }

  private readState(): PinnedState | undefined {
    try {
      return JSON.parse(readFileSync(this.stateFile, "utf8")) as PinnedState;
    } catch {
      return undefined;
    }
  }

  private writeState(hash: string = this.opts.hash): void {
    mkdirSync(join(this.opts.runRoot ?? RUN_ROOT, this.opts.switchName), { recursive: true });
    const s: PinnedState = { hash, objectPath: this.opts.objectPath, ports: this.attached, layouts: currentLayouts(), netns: currentNetns() };
    writeFileSync(this.stateFile, JSON.stringify(s, null, 2));
  }

  private mapPin(mapName: string): string {
    return join(this.pinDir, "maps", mapName);
  }
  private progPin(prog: string): string {
    return join(this.pinDir, "progs", prog);
  }
  private linkPin(kind: "xdp" | "tc", port: string): string {
    return join(this.pinDir, "links", `${kind}-${port}`);
  }

  /** Work only through the pins: the object that created them may be closed. */
  private openPinnedMaps(): void {
    for (const t of Object.values(tables) as TableDecl[]) this.maps.set(t.mapName, BpfMap.openPinned(this.mapPin(t.mapName)));
  }

  /** Pin (or re-pin, on upgrade) every program of the object. */
  private pinPrograms(obj: BpfObject): void {
    for (const name of [...Object.values(PROGRAMS).flatMap((role) => Object.values(role)), FDB_DEL_PROGRAM]) {
      rmSync(this.progPin(name), { force: true });
      obj.program(name).pin(this.progPin(name));
    }
  }

  private pinsIntact(state: PinnedState): boolean {
    const mapsOk = Object.values(tables).every((t) => existsSync(this.mapPin(t.mapName)));
    if (state.netns !== currentNetns()) return false;
    const devs = listNetDevs();
    const linksOk = state.ports.every(
      (p) => devs.get(p.name)?.ifindex === p.ifindex && this.linkLive("xdp", p.name, p.ifindex) && this.linkLive("tc", p.name, p.ifindex),
    );
    return mapsOk && linksOk;
  }

  /** A pinned link outlives its device: it must still be attached to this ifindex. */
  private linkLive(kind: "xdp" | "tc", port: string, ifindex: number): boolean {
    const path = this.linkPin(kind, port);
    if (!existsSync(path)) return false;
    try {
      const l = BpfLink.openPinned(path);
      try {
        return l.info().ifindex === ifindex;
      } finally {
        l.close();
      }
    } catch {
      return false;
    }
  }

  private adopt(state: PinnedState): void {
    this.openPinnedMaps();
    const wanted = new Map(this.opts.ports.map((p) => [p.name, p]));
    for (const p of state.ports) {
      const w = wanted.get(p.name);
      if (w && w.role === p.role) {
        this.attached.push(p);
        wanted.delete(p.name);
      } else {
        this.detachPort(p.name);
      }
    }
    for (const p of wanted.values()) this.attachPort(p, (name) => BpfProgram.openPinned(this.progPin(name)));
    this.adopted = true;
    this.opts.log.info("adopted pinned fast path", { hash: this.opts.hash, ports: this.attached.length });
  }

  private loadFresh(): void {
    const obj = BpfObject.openFile(this.opts.objectPath);
    try {
      obj.load();
      mkdirSync(join(this.pinDir, "maps"), { recursive: true });
      mkdirSync(join(this.pinDir, "progs"), { recursive: true });
      mkdirSync(join(this.pinDir, "links"), { recursive: true });
      for (const t of Object.values(tables) as TableDecl[]) {
        const m = obj.map(t.mapName);
        m.pin(this.mapPin(t.mapName));
      }
      this.pinPrograms(obj);
      for (const p of this.opts.ports) this.attachPort(p, (name) => obj.program(name));
    } finally {
      obj.close();
    }
    // the object is closed; work only through the pins from here on
    this.openPinnedMaps();
    this.opts.log.info("fast path loaded", { hash: this.opts.hash, object: this.opts.objectPath, ports: this.attached.length });
  }

  private attachPort(p: PortSpec, program: (name: string) => BpfProgram): void {
    const ifindex = ifindexOf(p.name);
    const progs = PROGRAMS[p.role];
    const xdp = program(progs.xdp).attachXdp(ifindex, { mode: this.opts.xdpMode ?? "auto" });
    const xdpMode = xdp.mode;
    try {
      xdp.pin(this.linkPin("xdp", p.name));
    } finally {
      xdp.close();
    }
    const tc = program(progs.tc).attachTc(ifindex, "ingress");
    const tcKind = tc.kind;
    try {
      tc.pin(this.linkPin("tc", p.name));
    } finally {
      tc.close();
    }
    this.attached.push({
      name: p.name,
      ifindex,
      role: p.role,
      fastPath: `xdp ${xdpMode ?? ""}`.trim(),
      replication: `${tcKind} ingress`,
    });
  }

  private detachPort(name: string): void {
    for (const kind of ["xdp", "tc"] as const) {
      const path = this.linkPin(kind, name);
      if (!existsSync(path)) continue;
      try {
        const l = BpfLink.openPinned(path);
        l.detach();
        l.close();
      } catch (e) {
        this.opts.log.warn("detach failed", { port: name, kind, error: String(e) });
      }
      rmSync(path, { force: true });
    }
    this.attached = this.attached.filter((p) => p.name !== name);
  }

  /** Remove everything pinned under this switch's directory. */
  private teardown(state: PinnedState | undefined): void {
    const linkDir = join(this.pinDir, "links");
    const names = new Set(state?.ports.map((p) => p.name) ?? []);
    if (existsSync(linkDir)) for (const f of readdirSync(linkDir)) names.add(f.replace(/^(xdp|tc)-/, ""));
    for (const n of names) this.detachPort(n);
    rmSync(this.pinDir, { recursive: true, force: true });
    // the switch's run directory (pin state, sessions added through the API) goes with it
    rmSync(join(this.opts.runRoot ?? RUN_ROOT, this.opts.switchName), { recursive: true, force: true });
    this.attached = [];
  }

  table<N extends TableName>(name: N): TableHandle<N> {
    let h = this.handles.get(name);
    if (!h) {
      const m = this.maps.get(tables[name].mapName);
      if (!m) throw new Error(`map ${tables[name].mapName} is not open`);
      const t = new MapTable(m, name);
      if (name === "fdb") {
        const prog = this.fdbDelProgram();
        if (prog) t.useCompareDelete(prog);
      }
      h = t as unknown as TableHandle<TableName>;
      this.handles.set(name, h);
    }
    return h as unknown as TableHandle<N>;
  }

  /** vxg_fdb_del_if through its pin, or undefined (pinned by a vxgate without it: deleteManyIf asks per entry). */
  private fdbDelProgram(): BpfProgram | undefined {
    if (this.fdbDel !== undefined) return this.fdbDel || undefined;
    const pin = this.progPin(FDB_DEL_PROGRAM);
    try {
      this.fdbDel = existsSync(pin) ? BpfProgram.openPinned(pin) : false;
    } catch {
      this.fdbDel = false;
    }
    return this.fdbDel || undefined;
  }

  counters(): Record<CounterName, CounterValue> {
    const m = this.maps.get(tables.counters.mapName)!;
    const codec = tableCodec("counters");
    const out = {} as Record<CounterName, CounterValue>;
    counterNames.forEach((name, id) => {
      const per = m.lookupPerCpu(codec.key.encode({ id })) ?? [];
      let packets = 0n;
      let bytes = 0n;
      for (const b of per) {
        const v = codec.value.decode(b);
        packets += v.packets;
        bytes += v.bytes;
      }
      out[name] = { packets, bytes };
    });
    return out;
  }

  perCpuSum<N extends TableName>(name: N, key: TableKey<N>): TableValue<N> | undefined {
    const m = this.maps.get(tables[name].mapName);
    if (!m) throw new Error(`map ${tables[name].mapName} is not open`);
    const codec = tableCodec(name);
    const per = m.lookupPerCpu(codec.key.encode(key));
    if (!per) return undefined;
    const sum: Record<string, unknown> = {};
    for (const b of per) {
      for (const [f, v] of Object.entries(codec.value.decode(b) as Record<string, unknown>)) {
        sum[f] = typeof v === "bigint" ? ((sum[f] as bigint | undefined) ?? 0n) + v : typeof v === "number" ? ((sum[f] as number | undefined) ?? 0) + v : v;
      }
    }
    return sum as TableValue<N>;
  }

  ports(): PortAttachment[] {
    return [...this.attached];
  }

  private mapCounter?: MapCounter;

  /** Entries per hash table from the kernel's own count (map-count.ts; pinned
   * beside the maps, so `stop` removes it with them), never by walking a map. */
  tableOccupancy(): TableOccupancy[] {
    this.mapCounter ??= new MapCounter(join(this.pinDir, "map_counts"), this.opts.log);
    const counts = this.mapCounter.read();
    return (Object.values(tables) as TableDecl[])
      .filter((t) => t.kind === "hash" && this.maps.has(t.mapName))
      .map((t) => {
        const m = this.maps.get(t.mapName)!;
        const entries = counts?.get(m.id);
        return { table: t.name as TableName, maxEntries: m.maxEntries, ...(entries !== undefined ? { entries } : {}) };
      });
  }

  onEvent(cb: (e: DataPathEvent) => void): void {
    this.ring?.close();
    this.eventCallback = cb;
    this.ring = new RingBuffer(this.maps.get(tables.events.mapName)!, (data) => cb(decodeEvent(data)));
  }

  /** A running switch takes a changed config (`vxgate reload`): another
   * program (when the pipeline changed) and/or other ports. Like a restart
   * that upgrades: maps whose layout is unchanged are kept, the new maps are
   * filled by the caller's reconcile, and activate() then swaps the programs
   * atomically, attaches new ports and detaches removed ones. */
  reconfigure(next: { objectPath: string; hash: string; ports: PortSpec[] }): void {
    const cur = this.readState();
    if (!cur) throw new Error("no pinned state to reconfigure");
    const newProgram = next.hash !== cur.hash;
    this.opts = { ...this.opts, ...next };
    if (newProgram) {
      // our handles point at maps an upgrade may replace
      this.closeHandles();
      this.upgrade(cur);
      if (this.eventCallback) this.onEvent(this.eventCallback);
    } else {
      this.attached = cur.ports;
      this.pendingSwap = cur;
    }
    this.refreshXdpTx();
    this.writeState(cur.hash);
  }

  release(): void {
    this.nhCache?.stop();
    this.closeHandles();
  }

  /** Close everything this process holds open of the fast path: ring, maps, their handles, the FDB program (the pins stay). */
  private closeHandles(): void {
    this.ring?.close();
    this.ring = undefined;
    for (const m of this.maps.values()) m.close();
    this.maps.clear();
    this.handles.clear();
    if (this.fdbDel) this.fdbDel.close();
    this.fdbDel = undefined;
  }

  destroy(): void {
    this.nhCache?.stop();
    const state = this.readState();
    this.closeHandles();
    this.teardown(state ?? { hash: this.opts.hash, objectPath: this.opts.objectPath, ports: this.attached });
  }
}

const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quietLogger };

function ensureBpffs(): void {
  if (bpffsMounted("/sys/fs/bpf")) return;
  try {
    execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"], { stdio: "pipe" });
  } catch (e) {
    throw new Error(`bpffs is not mounted at /sys/fs/bpf and mounting it failed: ${String(e)}`);
  }
}

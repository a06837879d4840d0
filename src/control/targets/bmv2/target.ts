// The P4 fast path on bmv2: the program generated for the config, compiled by
// p4c-bm2-ss, run by simple_switch on the switch's ports, and driven through
// its Thrift runtime. The control plane reads its own copy of the tables and
// writes behind (writer.ts); learning and next-hop misses come back as
// packet-in copies on a CPU port and enter the same event stream the eBPF ring
// buffer feeds. simple_switch runs detached: a restarted control plane finds
// it, adopts what it holds and reconciles while it keeps forwarding.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PacketReceiver } from "libbpf-ts-bindings";
import { constants, counterNames, records, tables, type CounterName, type TableName } from "../../../codegen/tables.ts";
import { P4_CPU_PORT, P4_CPU_SESSION, P4_MIRROR_SESSION_BASE, P4_MIRROR_STAT_CELLS } from "../../../codegen/p4-tables.ts";
import type { Pipeline } from "../../../codegen/pipeline.ts";
import { p4Width } from "../../../codegen/emit-p4.ts";
import { formatIpv4, formatMac } from "../../../config/net.ts";
import type { DataPathEvent, TableKey, TableValue } from "../../codec.ts";
import type { Logger } from "../../log.ts";
import { listNetDevs } from "../../netdev.ts";
import type { CounterValue, PortAttachment, TableHandle, TableOccupancy, Target } from "../target.ts";
import { NexthopResolver } from "./nexthops.ts";
import { guardVxlan, removeVxlanGuard } from "./kernel-guard.ts";
import type { PortMap } from "./p4-codec.ts";
import { ShadowTable } from "./shadow.ts";
import { processAlive, readState, startSwitch, stopSwitch, writeState, type SwitchPort } from "./switch-process.ts";
import { Bmv2Runtime } from "./thrift/runtime.ts";
import { Bmv2Writer } from "./writer.ts";

/** The CPU port's veth pair: simple_switch sends packet-in on the first, we read the second. */
export const CPU_LINK = "vxg-cpu";
export const CPU_PEER = "vxg-cpu-cp";

export interface Bmv2TargetOptions {
  switchName: string;
  jsonPath: string;
  hash: string;
  pipeline: Pipeline;
  ports: { name: string; role: "access" | "uplink" }[];
  thriftPort: number;
  runDir: string;
  log: Logger;
  /** the VTEP address (and the replication point's): VXLAN to them is bmv2's, not the kernel's */
  vxlanAddresses: string[];
  udpPort: number;
  /** the VNIs' ageing times (0: never): how often activity is read back */
  ageingSeconds: number[];
}

const NEXTHOP_REFRESH_MS = 1000;
const COUNTER_REFRESH_MS = 1000;
/** the FDB's activity (bmv2's time since each entry's last hit) is read back at most this often */
const ACTIVITY_REFRESH_MIN_S = 1;

export class Bmv2Target implements Target {
  readonly kind = "bmv2";
  adopted = false;
  private readonly shadows: { [N in TableName]: ShadowTable<N> };
  private rt!: Bmv2Runtime;
  private writer!: Bmv2Writer;
  private receiver?: PacketReceiver;
  private eventCallback?: (e: DataPathEvent) => void;
  private readonly resolver = new NexthopResolver();
  private cachedCounters: Record<CounterName, CounterValue>;
  /** per-group and per-session counters ("<table>/<slot>"), read with the others */
  private readonly slotCounters = new Map<string, TableValue<"mcast_stats"> | TableValue<"mirror_stats">>();
  private readonly timers: NodeJS.Timeout[] = [];
  private flushing?: Promise<void>;
  private flushAgain = false;
  private closed = false;
  private portList: SwitchPort[] = [];
  private readonly portByIfindex = new Map<number, number>();
  private readonly ifindexByPort = new Map<number, number>();
  private attachments: PortAttachment[] = [];
  private pid = 0;

  get hash(): string {
    return this.opts.hash;
  }

  private constructor(private readonly opts: Bmv2TargetOptions) {
    const shadows = {} as Record<string, ShadowTable<TableName>>;
    for (const name of Object.keys(tables) as TableName[]) {
      if (!("key" in tables[name])) continue;
      shadows[name] = new ShadowTable(name, () => this.scheduleFlush());
    }
    this.shadows = shadows as unknown as { [N in TableName]: ShadowTable<N> };
    this.cachedCounters = Object.fromEntries(counterNames.map((n) => [n, { packets: 0n, bytes: 0n }])) as Record<CounterName, CounterValue>;
  }

  static async open(opts: Bmv2TargetOptions): Promise<Bmv2Target> {
    const t = new Bmv2Target(opts);
    try {
      await t.boot();
    } catch (e) {
      t.stopTimers();
      await t.rt?.close().catch(() => undefined);
      t.receiver?.close();
      throw e;
    }
    return t;
  }

  private readonly portMap: PortMap = {
    portOf: (ifindex) => {
      const p = this.portByIfindex.get(ifindex);
      if (p === undefined) throw new Error(`ifindex ${ifindex} is not a port of this bmv2 switch`);
      return p;
    },
    ifindexOf: (port) => {
      const i = this.ifindexByPort.get(port);
      if (i === undefined) throw new Error(`bmv2 port ${port} is not one of this switch's`);
      return i;
    },
  };

  private async boot(): Promise<void> {
    const o = this.opts;
    ensureCpuLink();
    guardVxlan(o.vxlanAddresses, o.udpPort);
    const devs = listNetDevs();
    const wanted = [...o.ports.map((p) => p.name), CPU_LINK];
    for (const name of wanted) if (!devs.has(name)) throw new Error(`interface ${name} not found in this network namespace`);
    // port 0 stays unused: a packet nobody gave an egress port leaves on 0
    const ownNumbering = (): SwitchPort[] => [...o.ports.map((p, i) => ({ port: i + 1, name: p.name })), { port: P4_CPU_PORT, name: CPU_LINK }];
    const prev = readState(o.runDir);
    const ours = prev && !prev.external && processAlive(prev.pid);
    if (ours && prev.hash === o.hash && JSON.stringify(prev.ports) === JSON.stringify(ownNumbering()) && (await this.connect(prev.thriftPort, true))) {
      this.usePorts(prev.ports, devs);
      this.pid = prev.pid;
      this.writer = new Bmv2Writer(this.rt, this.shadows, this.portMap, o.pipeline, o.log);
      const n = await this.writer.adopt();
      this.adopted = true;
      o.log.info("adopted running bmv2 switch", { pid: prev.pid, entries: n });
    } else if (!ours && (await this.connect(o.thriftPort, false).catch(() => false))) {
      await this.attach(prev?.external === true, devs);
    } else {
      if (prev) {
        o.log.info("replacing bmv2 switch", { pid: prev.pid, reason: prev.hash !== o.hash ? "program changed" : "ports changed or switch gone" });
        await stopSwitch(o.runDir);
      }
      disableOffloads(ownNumbering().map((p) => p.name), o.log);
      const state = await startSwitch({ jsonPath: o.jsonPath, hash: o.hash, thriftPort: o.thriftPort, ports: ownNumbering(), runDir: o.runDir });
      this.pid = state.pid;
      this.usePorts(state.ports, devs);
      await this.connect(o.thriftPort, false);
      this.writer = new Bmv2Writer(this.rt, this.shadows, this.portMap, o.pipeline, o.log);
      await this.addSessions();
      o.log.info("bmv2 switch started", { pid: state.pid, thriftPort: o.thriftPort, ports: this.portList.map((p) => `${p.port}@${p.name}`).join(" ") });
    }
    this.attachments = o.ports.map((p) => {
      const ifindex = devs.get(p.name)!.ifindex;
      return { name: p.name, ifindex, role: p.role, fastPath: `bmv2 port ${this.portByIfindex.get(ifindex)}`, replication: "bmv2 PRE" };
    });
    this.receiver = new PacketReceiver(CPU_PEER, (frames) => this.onPacketIn(frames), {
      onError: (e, fatal) => o.log.warn("CPU port receive error", { error: e.message, fatal }),
    });
    this.timers.push(setInterval(() => void this.refreshNexthops(), NEXTHOP_REFRESH_MS));
    this.timers.push(setInterval(() => void this.refreshCounters(), COUNTER_REFRESH_MS));
    // as often as the control plane sweeps for ageing (a quarter of the shortest ageing time, 2..30 s):
    // reading 100k entries back costs bmv2 and us a good part of a core
    const ageings = o.ageingSeconds.filter((a) => a > 0);
    if (o.pipeline.features.learning && ageings.length > 0) {
      const period = Math.min(30, Math.max(ACTIVITY_REFRESH_MIN_S, Math.min(...ageings) / 4)) * 1000;
      this.timers.push(setInterval(() => void this.refreshActivity(), period));
    }
    for (const t of this.timers) t.unref();
  }

  private usePorts(ports: SwitchPort[], devs: Map<string, { ifindex: number }>): void {
    this.portList = ports;
    this.portByIfindex.clear();
    this.ifindexByPort.clear();
    for (const p of ports) {
      const d = devs.get(p.name)!;
      this.portByIfindex.set(d.ifindex, p.port);
      this.ifindexByPort.set(p.port, d.ifindex);
    }
  }

  /** The CPU port's clone session, and one per port for mirror copies. */
  private async addSessions(): Promise<void> {
    const cpu = this.portList.find((p) => p.name === CPU_LINK)!.port;
    await this.rt.mirroringSessionAdd(P4_CPU_SESSION, { port: cpu });
    await Promise.all(this.portList.filter((p) => p.name !== CPU_LINK).map((p) => this.rt.mirroringSessionAdd(P4_MIRROR_SESSION_BASE + p.port, { port: p.port })));
  }

  /**
   * A simple_switch someone else started answers on our Thrift port: use it.
   * It must run our program, or take it (started with --enable-swap); its
   * port numbers stay, the ports it lacks (and the CPU port) are added. It is
   * not ours to stop: `vxgate stop` empties it and gives back what we added.
   */
  private async attach(known: boolean, devs: Map<string, { ifindex: number }>): Promise<void> {
    const o = this.opts;
    let fresh = false;
    if (!(await this.runsOurProgram())) {
      try {
        await this.rt.loadNewConfig(readFileSync(o.jsonPath, "utf8"));
        await this.rt.swapConfigs();
      } catch (e) {
        await this.rt.close();
        throw new Error(
          `a simple_switch already answers on 127.0.0.1:${o.thriftPort} and runs another program, which it would not swap for ours (${(e as Error).message}): start it with "-- --enable-swap", or stop it and let vxgate start its own`,
        );
      }
      fresh = true;
    }
    const have = await this.rt.showPorts();
    const used = new Set(have.map((p) => p.port));
    const ports: SwitchPort[] = [];
    const added: number[] = [];
    for (const name of [...o.ports.map((p) => p.name), CPU_LINK]) {
      const existing = have.find((p) => p.iface === name);
      if (existing) {
        ports.push({ port: existing.port, name });
        continue;
      }
      let port = name === CPU_LINK && !used.has(P4_CPU_PORT) ? P4_CPU_PORT : 1;
      while (used.has(port)) port++;
      used.add(port);
      disableOffloads([name], o.log);
      await this.rt.addPort(name, port);
      added.push(port);
      ports.push({ port, name });
    }
    this.usePorts(ports, devs);
    this.writer = new Bmv2Writer(this.rt, this.shadows, this.portMap, o.pipeline, o.log);
    if (fresh || !known) {
      // a program just swapped in is empty; one we did not fill may hold anything: start from nothing
      if (!fresh) await this.rt.resetState();
      await this.addSessions();
    } else {
      const n = await this.writer.adopt();
      this.adopted = true;
      o.log.info("adopted running bmv2 switch", { entries: n });
    }
    writeState(o.runDir, { pid: 0, external: true, thriftPort: o.thriftPort, hash: o.hash, ports, added });
    o.log.info("attached to a running bmv2 switch", { thriftPort: o.thriftPort, swapped: fresh, ports: ports.map((p) => `${p.port}@${p.name}`).join(" "), added: added.join(" ") });
  }

  /** bmv2 keeps the MD5 of the JSON it runs: is it ours? */
  private async runsOurProgram(): Promise<boolean> {
    const mine = createHash("md5").update(readFileSync(this.opts.jsonPath)).digest();
    return (await this.rt.getConfigMd5()).equals(mine);
  }

  /** Connect to the switch's Thrift server; with `check`, only if it runs our program. */
  private async connect(port: number, check: boolean): Promise<boolean> {
    try {
      this.rt = await Bmv2Runtime.connect({ host: "127.0.0.1", port });
    } catch (e) {
      if (check) return false;
      throw e;
    }
    if (!check) return true;
    if (await this.runsOurProgram()) return true;
    await this.rt.close();
    return false;
  }

  table<N extends TableName>(name: N): TableHandle<N> {
    const t = this.shadows[name];
    if (!t) throw new Error(`table ${name} is not one the control plane writes`);
    return t as unknown as TableHandle<N>;
  }

  counters(): Record<CounterName, CounterValue> {
    return { ...this.cachedCounters };
  }

  perCpuSum<N extends TableName>(name: N, key: TableKey<N>): TableValue<N> | undefined {
    if (name === "mcast_stats" || name === "mirror_stats") {
      // what bmv2 counts, as read with the switch's counters; the shadow says which slots are in use
      const slot = (key as TableKey<"mcast_stats">).slot;
      const zero = this.shadows[name].get(key);
      if (!zero) return undefined;
      return (this.slotCounters.get(`${name}/${slot}`) ?? zero) as TableValue<N>;
    }
    return this.shadows[name]?.get(key);
  }

  ports(): PortAttachment[] {
    return this.attachments;
  }

  tableOccupancy(): TableOccupancy[] {
    const sizes = this.opts.pipeline.sizes;
    return (["fdb", "vteps", "flood", "vnis"] as const).map((t) => ({ table: t, maxEntries: sizes[t], entries: this.shadows[t].size }));
  }

  onEvent(cb: (e: DataPathEvent) => void): void {
    this.eventCallback = cb;
  }

  activate(): void {
    // one program, no swap: the tables were written as they changed
  }

  /** Resolves when bmv2 holds everything the tables hold now. */
  async flush(): Promise<void> {
    while (this.flushing || this.writer.pending) {
      if (this.flushing) await this.flushing;
      else this.scheduleFlush();
    }
  }

  private scheduleFlush(): void {
    if (this.closed || !this.writer) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    // changes of one turn of the event loop travel together
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.writer.flush())
      .catch((e) => this.opts.log.error("bmv2 flush failed", { error: (e as Error).message }))
      .finally(() => {
        this.flushing = undefined;
        if (this.flushAgain || this.writer.pending) {
          this.flushAgain = false;
          this.scheduleFlush();
        }
      });
  }

  private async refreshNexthops(): Promise<void> {
    try {
      const found = await this.resolver.resolve(this.writer.remotes());
      // only uplinks carry VXLAN
      for (const [r, nh] of found) if (!this.portByIfindex.has(nh.ifindex)) found.delete(r);
      this.writer.setNexthops(found);
      if (this.writer.pending) this.scheduleFlush();
    } catch (e) {
      this.opts.log.warn("next-hop refresh failed", { error: (e as Error).message });
    }
  }

  async refreshCounters(): Promise<void> {
    if (this.closed) return;
    try {
      const values = await Promise.all(counterNames.map((_, i) => this.rt.readCounter("counters", i)));
      counterNames.forEach((n, i) => (this.cachedCounters[n] = { packets: values[i].packets, bytes: values[i].bytes }));
      if (this.opts.pipeline.features.mcast) {
        const slots: number[] = [];
        this.shadows.mcast.forEach((_, v) => slots.push(v.slot));
        const read = await Promise.all(
          slots.map((slot) => Promise.all([this.rt.readCounter("mcast_stats", slot), this.rt.readCounter("mcast_copies", 2 * slot), this.rt.readCounter("mcast_copies", 2 * slot + 1)])),
        );
        slots.forEach((slot, i) => {
          const [g, local, remote] = read[i]!;
          this.slotCounters.set(`mcast_stats/${slot}`, { frames: g.packets, bytes: g.bytes, copies_local: local.packets, copies_remote: remote.packets });
        });
      }
      if (this.opts.pipeline.features.mirror) {
        const slots: number[] = [];
        this.shadows.mirror_stats.forEach((k) => slots.push(k.slot));
        const cell = (slot: number, stat: number) => this.rt.readCounter("mirror_stats", slot * P4_MIRROR_STAT_CELLS + stat);
        const c = constants;
        const read = await Promise.all(
          slots.map((slot) => Promise.all([c.MIRROR_STAT_COPY_LOCAL, c.MIRROR_STAT_COPY_REMOTE, c.MIRROR_STAT_TERMINATED, c.MIRROR_STAT_NO_SERVER, c.MIRROR_STAT_OVERSIZE, c.MIRROR_STAT_OTHER].map((st) => cell(slot, st)))),
        );
        slots.forEach((slot, i) => {
          const [local, remote, term, none, over, other] = read[i]!;
          this.slotCounters.set(`mirror_stats/${slot}`, {
            copies_local: local!.packets,
            copies_remote: remote!.packets,
            terminated: term!.packets,
            drop_no_server: none!.packets,
            drop_oversize: over!.packets,
            drop_other: other!.packets,
            bytes: local!.bytes + remote!.bytes + term!.bytes,
          });
        });
      }
    } catch (e) {
      if (!this.closed) this.opts.log.warn("counter read failed", { error: (e as Error).message });
    }
  }

  /** bmv2 knows how long ago each FDB entry was hit by a source lookup: that is the entry's seen_ns. */
  private async refreshActivity(): Promise<void> {
    if (this.closed) return;
    try {
      const entries = await this.rt.getEntries("fdb_src");
      const now = process.hrtime.bigint();
      const fdb = this.shadows.fdb;
      for (const e of entries) {
        if (!e.life || e.key.length !== 2 || e.key[0].kind !== "exact" || e.key[1].kind !== "exact") continue;
        const id = fdb.id({ vni: e.key[0].key.readUIntBE(0, e.key[0].key.length), mac: formatMac(padTo(e.key[1].key, 6)) });
        const seen = now - BigInt(e.life.timeSinceHitMs) * 1_000_000n;
        fdb.touch(id, (v) => {
          if (seen > v.seen_ns) v.seen_ns = seen;
        });
      }
    } catch (e) {
      if (!this.closed) this.opts.log.warn("FDB activity read failed", { error: (e as Error).message });
    }
  }

  /** Packet-in: the event record the data path would have put in the ring buffer. */
  private onPacketIn(frames: Buffer[]): void {
    for (const f of frames) {
      const e = decodePacketIn(f, this.portMap);
      if (!e) continue;
      if (e.kind === constants.EVT_LEARN || e.kind === constants.EVT_MOVE) {
        if (!this.learn(e)) continue;
      } else if (e.kind === constants.EVT_IGMP && e.mac !== "00:00:00:00:00:00") {
        // one packet-in per frame: an IGMP report from a new host is its learning too
        const vni = this.shadows.vnis.get({ vni: e.vni });
        const learnEvent = { ...e, kind: constants.EVT_LEARN, remote: "0.0.0.0" };
        delete learnEvent.packet;
        if (vni && vni.flags & constants.VNI_LEARN_LOCAL && this.learn(learnEvent)) this.eventCallback?.(learnEvent);
      }
      this.eventCallback?.(e);
    }
  }

  /**
   * What the eBPF data path does itself: write the learned (or moved) entry.
   * Packet-in repeats until the entry is in bmv2, so a repeat of what the
   * table already says is not news. Static and frozen entries never move.
   */
  private learn(e: DataPathEvent): boolean {
    const fdb = this.shadows.fdb;
    const key = { vni: e.vni, mac: e.mac };
    const cur = fdb.get(key);
    const kind = e.ifindex ? constants.FDB_LOCAL : constants.FDB_REMOTE;
    const now = process.hrtime.bigint();
    if (cur) {
      if (cur.kind === kind && cur.ifindex === e.ifindex && cur.remote === e.remote && cur.vlan === e.vlan) return false;
      if (cur.flags & (constants.FDB_STATIC | constants.FDB_FROZEN)) return false;
      e.kind = constants.EVT_MOVE;
    } else {
      // a new MAC beyond its port's or VNI's max_macs is not learned (the data path drops its frames once it knows)
      const port = e.ifindex ? this.countLimit(constants.LIMIT_PORT, e.ifindex) : undefined;
      const vni = this.countLimit(constants.LIMIT_VNI, e.vni);
      if (port === false || vni === false) return false;
      e.kind = constants.EVT_LEARN;
      port?.();
      vni?.();
    }
    fdb.set(key, { kind, flags: cur ? cur.flags & constants.FDB_CONTROL : 0, vlan: e.vlan, ifindex: e.ifindex, remote: e.remote, seen_ns: now, event_ns: now });
    return true;
  }

  /** false: the limit is reached; a function: count one more; undefined: no limit. */
  private countLimit(kind: number, id: number): (() => void) | false | undefined {
    const limits = this.shadows.mac_limits;
    const l = limits.get({ kind, id });
    if (!l) return undefined;
    if (l.count >= l.max) return false;
    return () => limits.set({ kind, id }, { ...l, count: l.count + 1 });
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  release(): void {
    this.closed = true;
    this.stopTimers();
    this.receiver?.close();
    void this.rt?.close().catch(() => undefined);
  }

  async destroy(): Promise<void> {
    const state = readState(this.opts.runDir);
    if (state?.external) {
      // not ours to stop: empty it and give back the ports we added
      await emptyAttached(this.rt, state).catch((e) => this.opts.log.warn("could not empty the attached bmv2 switch", { error: (e as Error).message }));
    }
    this.release();
    if (this.pid && processAlive(this.pid)) process.kill(this.pid, "SIGKILL");
    removeCpuLink();
    removeVxlanGuard();
    rmSync(join(this.opts.runDir, "bmv2.json"), { force: true });
  }
}

/** `vxgate stop` without a daemon: the switch process and the CPU port go. */
export async function removeBmv2Switch(runDir: string): Promise<void> {
  const state = readState(runDir);
  if (state?.external) {
    try {
      const rt = await Bmv2Runtime.connect({ host: "127.0.0.1", port: state.thriftPort });
      await emptyAttached(rt, state);
      await rt.close();
    } catch {
      // gone already: nothing of ours is left in it
    }
  }
  await stopSwitch(runDir);
  removeCpuLink();
  removeVxlanGuard();
}

async function emptyAttached(rt: Bmv2Runtime, state: { added?: number[] }): Promise<void> {
  await rt.resetState();
  for (const p of state.added ?? []) await rt.removePort(p);
}

function removeCpuLink(): void {
  try {
    execFileSync("ip", ["link", "del", CPU_LINK], { stdio: "ignore" });
  } catch {
    // gone already
  }
}

function padTo(b: Buffer, n: number): Buffer {
  if (b.length >= n) return b;
  const out = Buffer.alloc(n);
  b.copy(out, n - b.length);
  return out;
}

/** The packet-in header: the event record's fields, padding included, big-endian (emit-p4.ts). */
const eventFields = records.event.fields;
const EVENT_BYTES = eventFields.reduce((n, f) => n + p4Width(f.type) / 8, 0);

export function decodePacketIn(f: Buffer, ports: PortMap): DataPathEvent | undefined {
  if (f.length < EVENT_BYTES) return undefined;
  const out: Record<string, unknown> = {};
  let at = 0;
  for (const fd of eventFields) {
    const n = p4Width(fd.type) / 8;
    if (typeof fd.type !== "object") {
      if (fd.type === "mac") out[fd.name] = formatMac(f.subarray(at, at + 6));
      else if (fd.type === "ipv4") out[fd.name] = formatIpv4(f.readUInt32BE(at));
      else out[fd.name] = f.readUIntBE(at, n);
    }
    at += n;
  }
  const e = out as unknown as DataPathEvent;
  // a control frame (IGMP, PIM) follows its event, as in the ring buffer
  if (e.kind === constants.EVT_IGMP) e.packet = f.subarray(EVENT_BYTES);
  if (e.ifindex) {
    try {
      e.ifindex = ports.ifindexOf(e.ifindex);
    } catch {
      return undefined; // from a port that is not ours: not an event we asked for
    }
  }
  return e;
}

/**
 * Offloads off on the ports bmv2 captures, before it opens them: with
 * segmentation or receive aggregation on, libpcap sizes each slot of its
 * capture ring for a 64 KiB super-frame (its 2 MiB ring then holds ~32
 * frames, and a burst is mostly lost before bmv2 sees it), and an
 * aggregated frame is not one the switch may forward as it came.
 */
export function disableOffloads(ifaces: readonly string[], log: Logger): void {
  for (const i of ifaces) {
    try {
      execFileSync("ethtool", ["-K", i, "gro", "off", "gso", "off", "tso", "off"], { stdio: "ignore" });
    } catch (e) {
      log.warn("could not turn offloads off on a bmv2 port (bursts may be lost in its capture ring)", { port: i, error: (e as Error).message.split("\n")[0] });
    }
  }
}

/** The CPU port's veth pair, up, with nothing of the kernel's own on it. */
function ensureCpuLink(): void {
  const devs = listNetDevs();
  if (!devs.has(CPU_LINK) || !devs.has(CPU_PEER)) {
    if (devs.has(CPU_LINK)) execFileSync("ip", ["link", "del", CPU_LINK]);
    execFileSync("ip", ["link", "add", CPU_LINK, "type", "veth", "peer", "name", CPU_PEER]);
  }
  for (const l of [CPU_LINK, CPU_PEER]) {
    try {
      execFileSync("sysctl", ["-qw", `net.ipv6.conf.${l}.disable_ipv6=1`], { stdio: "ignore" });
    } catch {
      // no IPv6 in this kernel: nothing to keep quiet
    }
    execFileSync("ip", ["link", "set", l, "up"]);
  }
}

// Lab: a disposable set of network namespaces and veth pairs for kernel tests.
//
//   const lab = new Lab("t-decap");
//   const a = lab.ns("a"), b = lab.ns("b", { forwarding: true });
//   const { a: va, b: vb } = lab.veth(a, "v0", b, "v0", { mtu: 9000 });
//   lab.addr(a, va, "10.0.0.1/24");
//   ...
//   lab.cleanup();             // also runs on exit / SIGINT / SIGTERM
//
// Names: every namespace is called `vxh-<pid36>-<seq36>-<name>` so that runs in
// parallel never collide and a leftover can be traced back to the (dead) pid
// that made it; Lab.sweepStale() removes the ones whose owner is gone.
// Interfaces inside a lab namespace keep the names you give them (the namespace
// is private). Interfaces in the root namespace (ns = null) get a per-lab
// prefix `v<tok4>` and an ifalias `vxh:<pid>:<lab>` for the sweeper.
//
// XDP: a frame XDP_REDIRECTed into a veth is only delivered if the veth's
// *peer* runs NAPI, which veth enables when GRO is on (or an XDP program is
// attached to the peer). veth() therefore turns GRO on at both ends by
// default (ethtool -K IF gro on); pass gro: false / {a, b} to change it.
// Namespaces get IPv6 disabled unless asked (no DAD/MLD/RS noise in captures).
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ExecOptions,
  type NsRef,
  type RunResult,
  execAsync,
  execSync,
  isRunning,
  killTree,
  onProcessExit,
  runSync,
  spawnTracked,
  stopChild,
} from "./proc.ts";

export type { NsRef } from "./proc.ts";

/** Prefix of every namespace the harness creates. */
export const HARNESS_PREFIX = "vxh-";
/** ifalias prefix marking root-namespace links the harness created. */
const ALIAS_PREFIX = "vxh:";
/** Linux IFNAMSIZ - 1. */
export const IFNAME_MAX = 15;

export interface NsOptions {
  /** net.ipv4.conf.all.forwarding (and default) = 1. */
  forwarding?: boolean;
  /** net.ipv4.conf.{all,default}.accept_local = 1. */
  acceptLocal?: boolean;
  /** net.ipv4.conf.{all,default}.rp_filter. */
  rpFilter?: 0 | 1 | 2;
  /**
   * Keep IPv6 enabled. Default false: IPv6 is disabled in the namespace so that
   * DAD/MLD/router solicitations don't show up in captures.
   */
  ipv6?: boolean;
  /** Any other sysctls, e.g. {"net.ipv4.conf.all.arp_ignore": 1}. */
  sysctls?: Record<string, string | number>;
}

export interface VethEndOptions {
  mac?: string;
  /** GRO on this end (enables NAPI on veth; needed on the peer of an XDP_REDIRECT target). */
  gro?: boolean;
}

export interface VethOptions {
  mtu?: number;
  macA?: string;
  macB?: string;
  /**
   * GRO for both ends (true/false) or per end. Default: on for both. On veth,
   * GRO on the receiving end turns NAPI on, which XDP_REDIRECT into the peer needs.
   */
  gro?: boolean | { a?: boolean; b?: boolean };
  /**
   * TX checksum offload. Undefined leaves the kernel default (on: locally
   * generated UDP/TCP leaves with a partial checksum that captures show as bad);
   * false makes the stack compute full checksums.
   */
  txChecksum?: boolean;
  /** Leave the links down (default: both up). */
  down?: boolean;
}

export interface VethPair {
  /** Actual ifname of the A end (in nsA). */
  a: string;
  /** Actual ifname of the B end (in nsB). */
  b: string;
  nsA: NsRef;
  nsB: NsRef;
}

export interface RouteOptions {
  via?: string;
  dev?: string;
  src?: string;
  onlink?: boolean;
  metric?: number;
  table?: number | string;
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  mac: string;
  mtu: number;
  up: boolean;
}

export interface LabOptions {
  /** Sweep stale leftovers from dead runs the first time a Lab is made in this process (default true). */
  sweep?: boolean;
}

export interface SweepOptions {
  /** Also remove namespaces whose owning process is still alive (default false). */
  includeLive?: boolean;
}

let labSeq = 0;
let sweptOnce = false;
const liveLabs = new Set<Lab>();

function randomToken(n: number): string {
  let s = "";
  while (s.length < n) s += Math.floor(Math.random() * 36).toString(36);
  return s;
}

function checkIfname(name: string): void {
  if (name.length === 0 || name.length > IFNAME_MAX) {
    throw new Error(`interface name "${name}" must be 1..${IFNAME_MAX} characters`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`interface name "${name}" has unsupported characters`);
}

function ownerAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A recycled pid: only a node process can be a harness owner.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node");
  } catch {
    return false;
  }
}

/** Lists netns names (first column of `ip netns list`). */
export function listNetns(): string[] {
  const out = execSync(null, "ip", ["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.length > 0);
}

function deleteNetnsSync(name: string): void {
  // Kill anything still running in it (a crashed run's tcpdump, say): `ip netns
  // del` only unmounts the name, the namespace lives on while processes hold it.
  const pids = runSync(null, "ip", ["netns", "pids", name], { timeoutMs: 5000 });
  if (pids.status === 0) {
    for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
      const pid = Number(p);
      if (pid !== process.pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
  }
  runSync(null, "ip", ["netns", "del", name], { timeoutMs: 10_000 });
}

export class Lab {
  /** Human label given at construction (used in temp dir names and error messages). */
  readonly label: string;
  /** Unique prefix of this lab's namespaces, e.g. "vxh-1k3f-0-". */
  readonly prefix: string;
  /** Prefix of this lab's root-namespace interface names, e.g. "v4kq9". */
  readonly rootIfPrefix: string;

  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly cleanupFns: Array<() => void> = [];
  private tmp: string | undefined;
  private cleaned = false;
  private readonly unregister: () => void;

  constructor(label = "lab", opts: LabOptions = {}) {
    this.label = label.replace(/[^A-Za-z0-9_.-]/g, "_");
    this.prefix = `${HARNESS_PREFIX}${process.pid.toString(36)}-${(labSeq++).toString(36)}-`;
    this.rootIfPrefix = `v${randomToken(4)}`;
    if (opts.sweep !== false && !sweptOnce) {
      sweptOnce = true;
      Lab.sweepStale();
    }
    liveLabs.add(this);
    this.unregister = onProcessExit(() => this.cleanup());
  }

  // -------------------------------------------------------------------------
  // namespaces

  /** Creates namespace `<prefix><name>`, brings lo up, applies sysctls; returns its real name. */
  ns(name: string, opts: NsOptions = {}): string {
    this.assertLive();
    if (!/^[A-Za-z0-9_.-]{1,24}$/.test(name)) throw new Error(`bad namespace name "${name}"`);
    const full = this.prefix + name;
    if (this.namespaces.includes(full)) throw new Error(`namespace ${full} already exists in this lab`);
    execSync(null, "ip", ["netns", "add", full]);
    this.namespaces.push(full);
    execSync(null, "ip", ["-n", full, "link", "set", "lo", "up"]);
    const sysctls: Record<string, string | number> = {};
    if (!opts.ipv6) {
      sysctls["net.ipv6.conf.all.disable_ipv6"] = 1;
      sysctls["net.ipv6.conf.default.disable_ipv6"] = 1;
    }
    if (opts.forwarding) {
      sysctls["net.ipv4.conf.all.forwarding"] = 1;
      sysctls["net.ipv4.conf.default.forwarding"] = 1;
    }
    if (opts.acceptLocal) {
      sysctls["net.ipv4.conf.all.accept_local"] = 1;
      sysctls["net.ipv4.conf.default.accept_local"] = 1;
    }
    if (opts.rpFilter !== undefined) {
      sysctls["net.ipv4.conf.all.rp_filter"] = opts.rpFilter;
      sysctls["net.ipv4.conf.default.rp_filter"] = opts.rpFilter;
    }
    Object.assign(sysctls, opts.sysctls ?? {});
    for (const [k, v] of Object.entries(sysctls)) this.sysctl(full, k, v);
    return full;
  }

  /** Namespaces created so far (real names). */
  get namespaceNames(): readonly string[] {
    return this.namespaces;
  }

  /** Path usable with setns(2) / `nsenter --net=`. */
  netnsPath(ns: string): string {
    return `/run/netns/${ns}`;
  }

  /** Sets a sysctl inside ns (root namespace when null: use with care). */
  sysctl(ns: NsRef, key: string, value: string | number): void {
    this.exec(ns, "sysctl", ["-q", "-w", `${key}=${value}`]);
  }

  // -------------------------------------------------------------------------
  // links

  /**
   * Creates a veth pair with end `ifA` in nsA and `ifB` in nsB (null = root
   * namespace; such ends get the lab's root prefix) and brings both up.
   */
  veth(nsA: NsRef, ifA: string, nsB: NsRef, ifB: string, opts: VethOptions = {}): VethPair {
    this.assertLive();
    const nameA = nsA === null ? this.rootIfPrefix + ifA : ifA;
    const nameB = nsB === null ? this.rootIfPrefix + ifB : ifB;
    checkIfname(nameA);
    checkIfname(nameB);
    if (nsA === nsB && nameA === nameB) throw new Error(`veth ends must differ (${nameA})`);
    // Create both ends directly in their target namespaces: nothing ever
    // appears in the root namespace under a name another run could also pick.
    const end = (name: string, ns: NsRef, mac: string | undefined): string[] => {
      const a = ["name", name];
      if (mac) a.push("address", mac);
      if (opts.mtu !== undefined) a.push("mtu", String(opts.mtu));
      a.push("netns", ns === null ? String(process.pid) : ns);
      return a;
    };
    execSync(null, "ip", ["link", "add", ...end(nameA, nsA, opts.macA), "type", "veth", "peer", ...end(nameB, nsB, opts.macB)]);
    for (const [ns, name] of [
      [nsA, nameA],
      [nsB, nameB],
    ] as const) {
      if (ns === null) {
        this.rootLinks.push(name);
        execSync(null, "ip", ["link", "set", "dev", name, "alias", `${ALIAS_PREFIX}${process.pid}:${this.label}`]);
        // Keep IPv6 chatter off the root-side end too (per-device, root defaults untouched).
        runSync(null, "sysctl", ["-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=1`]);
      }
    }
    const gro = opts.gro ?? true;
    const groA = typeof gro === "boolean" ? gro : (gro.a ?? true);
    const groB = typeof gro === "boolean" ? gro : (gro.b ?? true);
    this.setGro(nsA, nameA, groA);
    this.setGro(nsB, nameB, groB);
    if (opts.txChecksum !== undefined) {
      const v = opts.txChecksum ? "on" : "off";
      this.exec(nsA, "ethtool", ["-K", nameA, "tx", v]);
      this.exec(nsB, "ethtool", ["-K", nameB, "tx", v]);
    }
    if (!opts.down) {
      this.up(nsA, nameA);
      this.up(nsB, nameB);
    }
    return { a: nameA, b: nameB, nsA, nsB };
  }

  /**
   * GRO on/off via ethtool. On veth, GRO on is what gives the receive side a
   * NAPI instance, which is required for XDP_REDIRECT into its peer.
   */
  setGro(ns: NsRef, ifname: string, on: boolean): void {
    this.exec(ns, "ethtool", ["-K", ifname, "gro", on ? "on" : "off"]);
  }

  up(ns: NsRef, ifname: string): void {
    this.ip(ns, "link", "set", "dev", ifname, "up");
  }

  down(ns: NsRef, ifname: string): void {
    this.ip(ns, "link", "set", "dev", ifname, "down");
  }

  /** Runs `ip [-n ns] args...` and returns stdout. */
  ip(ns: NsRef, ...args: string[]): string {
    return execSync(null, "ip", ns === null ? args : ["-n", ns, ...args]);
  }

  /** `ip addr add cidr dev ifname`. */
  addr(ns: NsRef, ifname: string, cidr: string): void {
    this.ip(ns, "addr", "add", cidr, "dev", ifname);
  }

  /** `ip route replace dst [via] [dev] ...`; dst may be "default". */
  route(ns: NsRef, dst: string, opts: RouteOptions = {}): void {
    const a = ["route", "replace", dst];
    if (opts.via) a.push("via", opts.via);
    if (opts.dev) a.push("dev", opts.dev);
    if (opts.src) a.push("src", opts.src);
    if (opts.onlink) a.push("onlink");
    if (opts.metric !== undefined) a.push("metric", String(opts.metric));
    if (opts.table !== undefined) a.push("table", String(opts.table));
    this.ip(ns, ...a);
  }

  /** Permanent neighbour entry. */
  neigh(ns: NsRef, ifname: string, ip: string, mac: string): void {
    this.ip(ns, "neigh", "replace", ip, "lladdr", mac, "dev", ifname, "nud", "permanent");
  }

  /** ifindex, MAC, MTU, state of a link. */
  link(ns: NsRef, ifname: string): LinkInfo {
    const out = this.ip(ns, "-j", "link", "show", "dev", ifname);
    const j = (JSON.parse(out) as Array<{ ifname: string; ifindex: number; address: string; mtu: number; flags: string[] }>)[0];
    if (!j) throw new Error(`no link ${ifname}`);
    return { ifname: j.ifname, ifindex: j.ifindex, mac: j.address, mtu: j.mtu, up: j.flags.includes("UP") };
  }

  mac(ns: NsRef, ifname: string): string {
    return this.link(ns, ifname).mac;
  }

  // -------------------------------------------------------------------------
  // processes

  /** Runs cmd in ns synchronously; returns stdout, throws with stderr on failure. */
  exec(ns: NsRef, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): string {
    return execSync(ns, cmd, args, opts);
  }

  /** Like exec but never throws; returns status, stdout and stderr. */
  run(ns: NsRef, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): RunResult {
    return runSync(ns, cmd, args, opts);
  }

  /** Async exec (doesn't block the event loop); rejects with stderr on failure. */
  execAsync(ns: NsRef, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<string> {
    return execAsync(ns, cmd, args, opts);
  }

  /**
   * Starts a long-lived process in ns; it is killed (whole process group) at
   * cleanup. stdio defaults to pipes: read stdout/stderr (or pass
   * stdio: "ignore") so a chatty child can't block on a full pipe.
   */
  spawn(ns: NsRef, cmd: string, args: readonly string[] = [], opts: { stdio?: "pipe" | "ignore" | "inherit" } = {}): ChildProcess {
    this.assertLive();
    const child = spawnTracked(ns, cmd, args, opts.stdio ? { stdio: opts.stdio } : {});
    this.track(child);
    return child;
  }

  /** Adopts a child started elsewhere (e.g. a capture) so cleanup kills it. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
  }

  /** Registers an extra synchronous cleanup step (run before namespaces are deleted). */
  defer(fn: () => void): void {
    this.cleanupFns.push(fn);
  }

  /** Per-lab scratch directory, removed at cleanup. */
  get tmpdir(): string {
    this.tmp ??= mkdtempSync(join(tmpdir(), `vxh-${this.label}-`));
    return this.tmp;
  }

  /** Gracefully stops tracked processes (SIGTERM, then SIGKILL), then cleans up. */
  async dispose(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, { graceMs: 1000 })));
    this.cleanup();
  }

  /**
   * Kills tracked processes, deletes every link and namespace this lab
   * created, removes its temp dir. Idempotent; synchronous so it can run from
   * an exit handler.
   */
  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    liveLabs.delete(this);
    this.unregister();
    for (const c of this.children) if (isRunning(c)) killTree(c, "SIGKILL");
    this.children.clear();
    for (const fn of this.cleanupFns.splice(0).reverse()) {
      try {
        fn();
      } catch {
        /* keep going */
      }
    }
    for (const l of this.rootLinks.splice(0)) runSync(null, "ip", ["link", "del", "dev", l], { timeoutMs: 10_000 });
    for (const n of this.namespaces.splice(0).reverse()) deleteNetnsSync(n);
    if (this.tmp && !process.env.VXGATE_KEEP_TMP) rmSync(this.tmp, { recursive: true, force: true });
  }

  get isCleanedUp(): boolean {
    return this.cleaned;
  }

  private assertLive(): void {
    if (this.cleaned) throw new Error(`lab ${this.label} was already cleaned up`);
  }

  // -------------------------------------------------------------------------

  /**
   * Removes leftovers of crashed runs: namespaces named `<prefix>...` (and
   * root-namespace links carrying the harness ifalias) whose owning process is
   * gone. With includeLive, removes everything with the prefix (don't do that
   * while another run may be active). Returns the namespaces removed.
   */
  static sweepStale(prefix: string = HARNESS_PREFIX, opts: SweepOptions = {}): string[] {
    const removed: string[] = [];
    const mine = new Set<string>();
    for (const l of liveLabs) for (const n of l.namespaces) mine.add(n);
    for (const name of listNetns()) {
      if (!name.startsWith(prefix) || mine.has(name)) continue;
      let stale = true;
      if (!opts.includeLive && prefix.startsWith(HARNESS_PREFIX)) {
        const pid36 = name.slice(HARNESS_PREFIX.length).split("-")[0] ?? "";
        stale = !ownerAlive(parseInt(pid36, 36));
      }
      if (!stale) continue;
      deleteNetnsSync(name);
      removed.push(name);
    }
    // Root-namespace ends (only both-ends-in-root pairs can outlive their namespaces).
    const links = runSync(null, "ip", ["-j", "-d", "link", "show"]);
    if (links.status === 0) {
      for (const l of JSON.parse(links.stdout || "[]") as Array<{ ifname: string; ifalias?: string }>) {
        if (!l.ifalias?.startsWith(ALIAS_PREFIX)) continue;
        const pid = Number(l.ifalias.slice(ALIAS_PREFIX.length).split(":")[0]);
        if (pid === process.pid) continue;
        if (opts.includeLive || !ownerAlive(pid)) runSync(null, "ip", ["link", "del", "dev", l.ifname]);
      }
    }
    return removed;
  }
}

/** Alias for readers who think of it as a sandbox. */
export { Lab as NetnsSandbox };

// Outer next hops for remote VTEPs. The data path takes outer MACs from
// bpf_fib_lookup, which only reads the kernel's neighbour table; it cannot
// resolve. For every remote VTEP we know, the next hop gets a kernel-managed
// neighbour entry (NTF_EXT_MANAGED: the kernel resolves it and keeps it
// REACHABLE), so the first frame to a VTEP already finds its MAC.
//
// VTEPs are asked about in batches: every VTEP that turned up in one turn of
// the event loop is routed by one `ip -batch` run, the neighbour table is read
// once, and the next hops that need it are installed by one more run. A
// fabric's VTEPs mostly sit behind the same few next hops, and starting a
// process costs the event loop milliseconds: a first sync with a thousand
// VTEPs (or a burst of learned remote MACs) must not start thousands. A VTEP
// checked less than RECHECK_MS ago is not asked about again, unless the data
// path reports its next hop unresolved.
import { spawn } from "node:child_process";
import { isIP } from "node:net";
import type { Logger } from "./log.ts";

const RECHECK_MS = 10_000;

interface RouteGet {
  dst: string;
  gateway?: string;
  dev: string;
}

interface Neigh {
  dst: string;
  dev?: string;
  state?: string[];
}

/** Runs `ip args`, feeding `input` to it; its stdout (stderr is the error's message when it fails). */
function ip(netns: string | undefined, args: string[], input?: string): Promise<{ stdout: string; stderr: string; ok: boolean }> {
  return new Promise((resolve) => {
    const child = spawn("ip", netns === undefined ? args : ["-n", netns, ...args], { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => resolve({ stdout, stderr: e.message, ok: false }));
    child.on("close", (code) => resolve({ stdout, stderr, ok: code === 0 }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Each line of `ip -j -batch` output is the JSON of one command. */
function jsonLines<T>(out: string): T[] {
  const all: T[] = [];
  for (const line of out.split("\n")) {
    if (!line.trim()) continue;
    try {
      all.push(...(JSON.parse(line) as T[]));
    } catch {
      /* a line that is not ours */
    }
  }
  return all;
}

export class NeighbourKeeper {
  /** VTEP -> "nexthop dev" it was last resolved to */
  private readonly managed = new Map<string, string>();
  /** VTEP -> when its next hop was last found in place (ms) */
  private readonly checkedAt = new Map<string, number>();
  private queued = new Set<string>();
  private batch?: Promise<void>;
  private batchScheduled = false;
  /** `ip` processes started, batches run, VTEPs asked about (show and tests) */
  readonly stats = { ipRuns: 0, batches: 0, vtepsChecked: 0 };

  constructor(
    private readonly log: Logger,
    private readonly opts: {
      now?: () => number;
      /** a named network namespace to work in (tests); default: this process's */
      netns?: string;
    } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Make sure `remote` has a managed neighbour entry for its next hop (done
   * with every other VTEP asked about in this turn of the event loop).
   * `force`: check again even if it was checked lately (the data path found
   * the next hop unresolved).
   */
  ensure(remote: string, opts: { force?: boolean } = {}): Promise<void> {
    const at = this.checkedAt.get(remote);
    if (!opts.force && at !== undefined && this.now() - at < RECHECK_MS) return Promise.resolve();
    this.queued.add(remote);
    return this.schedule();
  }

  /** The next batch (one runs at a time; what is asked meanwhile goes into the one after). */
  private schedule(): Promise<void> {
    const prev = this.batch ?? Promise.resolve();
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      this.batch = prev
        .then(() => new Promise<void>((r) => setImmediate(r)))
        .then(() => {
          this.batchScheduled = false;
          const vteps = [...this.queued];
          this.queued = new Set();
          return vteps.length ? this.run(vteps) : undefined;
        })
        .catch((e: Error) => this.log.warn("neighbours for remote VTEPs not installed", { error: e.message }));
    }
    return this.batch!;
  }

  private async run(asked: string[]): Promise<void> {
    // one line ip cannot parse would garble the JSON of every command after it
    const vteps = asked.filter((v) => isIP(v));
    if (vteps.length < asked.length) this.log.warn("not a VTEP address: no neighbour for it", { vteps: asked.filter((v) => !isIP(v)).slice(0, 10) });
    if (vteps.length === 0) return;
    this.stats.batches++;
    this.stats.vtepsChecked += vteps.length;
    // -force: a VTEP without a route is reported on stderr and the rest go on
    this.stats.ipRuns++;
    const routed = await ip(this.opts.netns, ["-j", "-force", "-batch", "-"], vteps.map((v) => `route get ${v}\n`).join(""));
    const via = new Map<string, { nexthop: string; dev: string }>();
    for (const r of jsonLines<RouteGet>(routed.stdout)) if (r.dst && r.dev) via.set(r.dst, { nexthop: r.gateway ?? r.dst, dev: r.dev });
    const unrouted = vteps.filter((v) => !via.has(v));
    if (unrouted.length) {
      this.log.warn("neighbour for remote VTEP not installed", { vteps: unrouted.slice(0, 10), count: unrouted.length, error: routed.stderr.split("\n")[0] || "no route" });
      // asked again after RECHECK_MS (or when the data path reports it), not on every frame learned from it
      const t = this.now();
      for (const v of unrouted) this.checkedAt.set(v, t);
    }
    if (via.size === 0) return;

    this.stats.ipRuns++;
    const shown = await ip(this.opts.netns, ["-j", "neigh", "show"]);
    const present = new Set(jsonLines<Neigh>(shown.stdout).filter((n) => !(n.state ?? []).includes("FAILED")).map((n) => `${n.dst} ${n.dev}`));
    // next hops to (re)install: not in the table, or not yet made managed by us for a VTEP behind it
    const install = new Map<string, { nexthop: string; dev: string; vteps: string[] }>();
    for (const [vtep, hop] of via) {
      const id = `${hop.nexthop} ${hop.dev}`;
      if (present.has(id) && this.managed.get(vtep) === id) continue;
      let e = install.get(id);
      if (!e) install.set(id, (e = { ...hop, vteps: [] }));
      e.vteps.push(vtep);
    }
    let failed = "";
    if (install.size) {
      this.stats.ipRuns++;
      const done = await ip(this.opts.netns, ["-force", "-batch", "-"], [...install.values()].map((h) => `neigh replace ${h.nexthop} dev ${h.dev} managed\n`).join(""));
      failed = done.ok ? "" : done.stderr.split("\n")[0] || "ip neigh replace failed";
    }
    const t = this.now();
    for (const [vtep, hop] of via) {
      const id = `${hop.nexthop} ${hop.dev}`;
      if (failed && install.has(id)) continue;
      this.managed.set(vtep, id);
      this.checkedAt.set(vtep, t);
    }
    for (const h of install.values()) {
      if (failed) this.log.warn("neighbour for remote VTEP not installed", { nexthop: h.nexthop, dev: h.dev, vteps: h.vteps.slice(0, 10), count: h.vteps.length, error: failed });
      else this.log.info("neighbour managed", { nexthop: h.nexthop, dev: h.dev, vteps: h.vteps.slice(0, 10), count: h.vteps.length });
    }
  }
}

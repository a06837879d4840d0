// The eBPF data path keeps each remote VTEP's outer next hop as the kernel's
// FIB last gave it (vxg_vtep_nh, bpf/vxlan.h: the FIB and neighbour lookup
// were most of an encap's cost). The kernel stays the source of truth: this
// follows its routes, neighbours and links (`ip monitor`, rtnetlink in this
// namespace) and empties the cache on every change, so the next frame to
// each VTEP asks the FIB again. An entry also expires on its own after
// NH_CACHE_NS, which bounds what a missed notification (or a control plane
// that is down) can cost.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Socket } from "node:net";
import type { BpfMap } from "libbpf-ts-bindings";
import type { Logger } from "../../log.ts";

/** A frame that asked the FIB just before a change can write its stale answer
 * just after the first sweep: a second sweep this much later takes it out. */
const RESWEEP_MS = 20;

export class NexthopCacheKeeper {
  private child?: ChildProcess;
  private queued = false;
  private resweep?: NodeJS.Timeout;
  /** sweeps done and entries they removed (show/metrics and tests) */
  readonly stats = { sweeps: 0, removed: 0 };

  constructor(
    private readonly map: () => BpfMap | undefined,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.child) return;
    const child = spawn("ip", ["-o", "monitor", "route", "neigh", "link"], { stdio: ["ignore", "pipe", "ignore"] });
    child.on("error", (e) => this.log.warn("cannot follow the underlay: cached next hops expire on their own", { error: e.message }));
    createInterface({ input: child.stdout! }).on("line", () => this.queue());
    // following the kernel must not keep a process alive that is otherwise done
    child.unref();
    (child.stdout as Socket | null)?.unref();
    this.child = child;
    // a change before the monitor listened is not missed
    this.queue();
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
    clearTimeout(this.resweep);
  }

  private queue(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.sweep();
      clearTimeout(this.resweep);
      this.resweep = setTimeout(() => this.sweep(), RESWEEP_MS).unref();
    });
  }

  /** Empty the cache now; how many entries it held. */
  sweep(): number {
    const map = this.map();
    if (!map) return 0;
    try {
      const { count, keys } = map.lookupBatchPacked();
      if (count === 0) return 0;
      const size = map.keySize;
      const list: Buffer[] = [];
      for (let i = 0; i < count; i++) list.push(keys.subarray(i * size, (i + 1) * size));
      const removed = map.deleteBatch(list);
      this.stats.sweeps++;
      this.stats.removed += removed;
      return removed;
    } catch (e) {
      this.log.warn("emptying the next-hop cache failed: entries expire on their own", { error: (e as Error).message });
      return 0;
    }
  }
}

// Link state of the access ports, followed as it changes (`ip monitor link`,
// which speaks rtnetlink in this network namespace): a port whose link is
// down is left out of the flood lists, so no copy is made for a port that
// cannot take it (each one would fail as err_clone).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "../log.ts";
import { listNetDevs } from "../netdev.ts";

export class LinkWatcher {
  private child?: ChildProcess;
  private queued = false;
  private down = new Set<string>();
  /** how many times a port went down or came back */
  readonly stats = { changes: 0 };

  constructor(
    private readonly ports: readonly string[],
    private readonly onChange: (down: ReadonlySet<string>) => void,
    private readonly log: Logger,
  ) {}

  /** Ports whose link is down (administratively, or no carrier). */
  get portsDown(): ReadonlySet<string> {
    return this.down;
  }

  /** Read the state once (before the first reconcile). */
  readNow(): ReadonlySet<string> {
    const devs = listNetDevs();
    const down = new Set(this.ports.filter((p) => {
      const d = devs.get(p);
      return !d || !d.up || !d.carrier;
    }));
    for (const p of down) if (!this.down.has(p)) this.log.info("port down: left out of flood lists", { port: p });
    for (const p of this.down) if (!down.has(p)) this.log.info("port up: back in its flood lists", { port: p });
    const changed = down.size !== this.down.size || [...down].some((p) => !this.down.has(p));
    if (changed) this.stats.changes++;
    this.down = down;
    return down;
  }

  start(): void {
    if (this.ports.length === 0) return;
    const child = spawn("ip", ["-o", "monitor", "link"], { stdio: ["ignore", "pipe", "ignore"] });
    child.on("error", (e) => this.log.warn("cannot follow link state", { error: e.message }));
    createInterface({ input: child.stdout! }).on("line", () => this.queue());
    this.child = child;
    // a change between the first read and the monitor's start is not missed
    this.queue();
  }

  private queue(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (!this.child) return;
      const before = this.down;
      try {
        const now = this.readNow();
        if (now !== before && (now.size !== before.size || [...now].some((p) => !before.has(p)))) this.onChange(now);
      } catch (e) {
        this.log.warn("link state read failed", { error: (e as Error).message });
      }
    });
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
  }
}

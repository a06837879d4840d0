// Link state of the access ports, followed as it changes (`ip monitor link`,
// which speaks rtnetlink in this network namespace): a port whose link is
// down is left out of the flood lists, so no copy is made for a port that
// cannot take it (each one would fail as err_clone). The state is read once
// at start; after that each change is taken from the monitor's own line (a
// full `ip link show` per change would stall the event loop for milliseconds
// on every flap of every port).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "../log.ts";
import { listNetDevs } from "../netdev.ts";

export class LinkWatcher {
  private child?: ChildProcess;
  private queued = false;
  private down = new Set<string>();
  /** what the monitor said last of each port (true: link up); read into `down` once per turn of the event loop */
  private readonly heard = new Map<string, boolean>();
  /** ifindex -> port name, to see a port renamed away */
  private readonly names = new Map<number, string>();
  /** the next turn reads the whole state (at start: a change before the monitor listened is not missed) */
  private fullRead = false;
  /** how many times a port went down or came back */
  readonly stats = { changes: 0 };

  constructor(
    private readonly ports: readonly string[],
    /** every port down now, and those of them that were up before */
    private readonly onChange: (down: ReadonlySet<string>, wentDown: readonly string[]) => void,
    private readonly log: Logger,
  ) {}

  /** Ports whose link is down (administratively, or no carrier). */
  get portsDown(): ReadonlySet<string> {
    return this.down;
  }

  /** Read the state once (before the first reconcile). */
  readNow(): ReadonlySet<string> {
    const devs = listNetDevs();
    for (const d of devs.values()) if (this.ports.includes(d.name)) this.names.set(d.ifindex, d.name);
    const down = new Set(this.ports.filter((p) => {
      const d = devs.get(p);
      return !d || !d.up || !d.carrier;
    }));
    return this.apply(down);
  }

  private apply(down: Set<string>): ReadonlySet<string> {
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
    createInterface({ input: child.stdout! }).on("line", (line) => this.hear(line));
    this.child = child;
    // a change between the first read and the monitor's start is not missed
    this.fullRead = true;
    this.queue();
  }

  /** One line of `ip -o monitor link`: "[Deleted ]<ifindex>: <name>[@peer]: <FLAGS> ...". */
  private hear(line: string): void {
    const m = /^(Deleted )?(\d+): ([^:@\s]+)(?:@\S*)?: <([^>]*)>/.exec(line);
    if (!m) return;
    const ifindex = Number(m[2]);
    const name = m[3]!;
    const was = this.names.get(ifindex);
    if (was !== undefined && was !== name) {
      this.heard.set(was, false); // renamed away: that port is gone
      this.names.delete(ifindex);
    }
    if (this.ports.includes(name)) {
      const flags = m[4]!.split(",");
      const up = !m[1] && flags.includes("UP") && flags.includes("LOWER_UP");
      this.heard.set(name, up);
      if (up) this.names.set(ifindex, name);
      else if (m[1]) this.names.delete(ifindex);
    }
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
        let now: ReadonlySet<string>;
        if (this.fullRead) {
          this.fullRead = false;
          this.heard.clear();
          now = this.readNow();
        } else {
          const down = new Set(before);
          for (const [p, up] of this.heard) up ? down.delete(p) : down.add(p);
          this.heard.clear();
          now = this.apply(down);
        }
        if (now !== before && (now.size !== before.size || [...now].some((p) => !before.has(p)))) this.onChange(now, [...now].filter((p) => !before.has(p)));
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

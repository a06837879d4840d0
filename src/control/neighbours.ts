// Outer next hops for remote VTEPs. The data path takes outer MACs from
// bpf_fib_lookup, which only reads the kernel's neighbour table; it cannot
// resolve. For every remote VTEP we know, the next hop gets a kernel-managed
// neighbour entry (NTF_EXT_MANAGED: the kernel resolves it and keeps it
// REACHABLE), so the first frame to a VTEP already finds its MAC.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "./log.ts";

const run = promisify(execFile);

interface RouteGet {
  dst: string;
  gateway?: string;
  dev: string;
}

export class NeighbourKeeper {
  private readonly managed = new Map<string, string>(); // remote VTEP -> "nexthop dev"
  private readonly pending = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Make sure `remote` has a managed neighbour entry for its next hop. */
  async ensure(remote: string): Promise<void> {
    if (this.pending.has(remote)) return;
    this.pending.add(remote);
    try {
      const { stdout } = await run("ip", ["-j", "route", "get", remote]);
      const [route] = JSON.parse(stdout) as RouteGet[];
      if (!route) return;
      const nexthop = route.gateway ?? remote;
      const id = `${nexthop} ${route.dev}`;
      if (this.managed.get(remote) === id && (await this.present(nexthop, route.dev))) return;
      await run("ip", ["neigh", "replace", nexthop, "dev", route.dev, "managed"]);
      this.managed.set(remote, id);
      this.log.info("neighbour managed", { vtep: remote, nexthop, dev: route.dev });
    } catch (e) {
      this.log.warn("neighbour for remote VTEP not installed", { vtep: remote, error: (e as Error).message.split("\n")[0] });
    } finally {
      this.pending.delete(remote);
    }
  }

  private async present(ip: string, dev: string): Promise<boolean> {
    const { stdout } = await run("ip", ["-j", "neigh", "show", ip, "dev", dev]);
    const list = JSON.parse(stdout || "[]") as { state?: string[] }[];
    return list.some((n) => !(n.state ?? []).includes("FAILED"));
  }
}

// Outer next hops for the bmv2 target. The eBPF data path asks the kernel's
// FIB itself (and caches the answer per VTEP); bmv2 cannot, so the target
// asks the kernel for each remote VTEP it forwards to (route, then the next
// hop's neighbour entry, which the runtime's NeighbourKeeper keeps resolved)
// and writes the answer into the P4 nexthops table. The kernel stays the
// source of truth; this is its cache.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Nexthop {
  /** the uplink's Linux ifindex */
  ifindex: number;
  smac: string;
  dmac: string;
}

interface RouteGet {
  gateway?: string;
  dev: string;
}

interface NeighEntry {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

interface LinkEntry {
  ifindex: number;
  ifname: string;
  address?: string;
}

/** Routes are re-read this often; neighbours at every resolve. */
const ROUTE_TTL_MS = 10_000;

export class NexthopResolver {
  private readonly routes = new Map<string, { via: string; dev: string; at: number }>();

  /** The next hop of each remote VTEP the kernel can reach now (others absent). */
  async resolve(remotes: Iterable<string>): Promise<Map<string, Nexthop>> {
    const now = Date.now();
    const stale = [...remotes].filter((r) => {
      const c = this.routes.get(r);
      return !c || now - c.at > ROUTE_TTL_MS;
    });
    // a few at a time: thousands of VTEPs must not fork thousands of processes at once
    for (let i = 0; i < stale.length; i += 16) {
      await Promise.all(
        stale.slice(i, i + 16).map(async (r) => {
          try {
            const { stdout } = await run("ip", ["-j", "route", "get", r]);
            const [route] = JSON.parse(stdout) as RouteGet[];
            if (route) this.routes.set(r, { via: route.gateway ?? r, dev: route.dev, at: now });
          } catch {
            this.routes.delete(r); // unreachable now
          }
        }),
      );
    }
    const [neighOut, linkOut] = await Promise.all([run("ip", ["-j", "-4", "neigh", "show"]), run("ip", ["-j", "link", "show"])]);
    const links = new Map((JSON.parse(linkOut.stdout) as LinkEntry[]).map((l) => [l.ifname, l]));
    const neigh = new Map<string, string>();
    for (const n of JSON.parse(neighOut.stdout || "[]") as NeighEntry[]) {
      const st = n.state ?? [];
      if (n.lladdr && !st.includes("FAILED") && !st.includes("INCOMPLETE")) neigh.set(`${n.dst} ${n.dev}`, n.lladdr);
    }
    const out = new Map<string, Nexthop>();
    for (const r of remotes) {
      const route = this.routes.get(r);
      if (!route) continue;
      const dmac = neigh.get(`${route.via} ${route.dev}`);
      const link = links.get(route.dev);
      if (!dmac || !link?.address) continue;
      out.set(r, { ifindex: link.ifindex, smac: link.address, dmac });
    }
    return out;
  }
}

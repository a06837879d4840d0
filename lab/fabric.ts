// A leaf-spine fabric in network namespaces: one spine router, and per switch
// a namespace whose uplink (eth0) is a routed /30 to the spine and whose VTEP
// address sits on lo, with hosts in their own namespaces on its access ports.
// Each switch runs the real `vxgate run` from its own config file. Used by
// `npm run lab` and by the multi-switch kernel tests.
import type { ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { request } from "node:http";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Lab } from "../test/harness/netns.ts";
import { loadConfigFile } from "../src/config/load.ts";
import { reflectorConfig, startFrr } from "./frr.ts";
import { gobgpReflectorConfig, startGobgpReflector } from "./gobgp.ts";
import type { SwitchConfig } from "../src/config/types.ts";

export const REPO = resolve(fileURLToPath(import.meta.url), "../..");
export const CLI = join(REPO, "src/cli/vxgate.ts");

export interface HostSpec {
  /** namespace label, unique in the fabric */
  name: string;
  /** the switch access port this host is cabled to */
  port: string;
  mac: string;
  /** address with prefix length, e.g. 198.51.100.1/24 */
  cidr: string;
}

export interface SwitchSpec {
  configPath: string;
  hosts: HostSpec[];
}

interface SwitchState {
  spec: SwitchSpec;
  cfg: SwitchConfig;
  ns: string;
  proc?: ChildProcess;
  logFile: string;
}

export interface FabricOptions {
  uplinkMtu?: number;
  /** run a standard EVPN route reflector on the spine for every switch with a
   * bgp: section: FRR bgpd (true or "frr") or GoBGP ("gobgp", graceful-restart helper) */
  reflector?: boolean | "frr" | "gobgp";
}

export class Fabric {
  readonly spine: string;
  reflector?: { log: string[] };
  private readonly switches = new Map<string, SwitchState>();
  private readonly hosts = new Map<string, string>();

  /** Build the namespaces and links (switches are not started). */
  constructor(readonly lab: Lab, specs: SwitchSpec[], opts: FabricOptions = {}) {
    this.spine = lab.ns("spine", { forwarding: true });
    specs.forEach((spec, i) => {
      const cfg = loadConfigFile(spec.configPath);
      const name = cfg.switch.name;
      const ns = lab.ns(name, { forwarding: true });
      const uplink = cfg.uplinks[0]!.name;
      const spinePort = `s${i + 1}`;
      lab.veth(ns, uplink, this.spine, spinePort, { mtu: opts.uplinkMtu ?? 1600 });
      const base = 4 * i;
      lab.addr(ns, uplink, `192.0.2.${base + 2}/30`);
      lab.addr(this.spine, spinePort, `192.0.2.${base + 1}/30`);
      lab.addr(ns, "lo", `${cfg.vtep.sourceIp}/32`);
      lab.route(ns, "default", { via: `192.0.2.${base + 1}` });
      lab.route(this.spine, `${cfg.vtep.sourceIp}/32`, { via: `192.0.2.${base + 2}` });
      for (const h of spec.hosts) {
        const hns = lab.ns(h.name);
        // hosts compute their own checksums: a veth would otherwise hand partial
        // (offload) checksums to XDP, which no NIC downstream completes
        lab.veth(hns, "eth0", ns, h.port, { macA: h.mac, txChecksum: false });
        lab.addr(hns, "eth0", h.cidr);
        this.hosts.set(h.name, hns);
      }
      this.switches.set(name, { spec, cfg, ns, logFile: join(lab.tmpdir, `${name}.log`) });
    });
    if (opts.reflector) {
      const clients = specs.flatMap((_, i) => {
        const c = [...this.switches.values()][i]!.cfg;
        return c.bgp ? [`192.0.2.${4 * i + 2}`] : [];
      });
      const asn = [...this.switches.values()].find((s) => s.cfg.bgp)?.cfg.bgp?.asn ?? 65000;
      this.reflector =
        opts.reflector === "gobgp"
          ? startGobgpReflector(lab, this.spine, gobgpReflectorConfig(asn, "192.0.2.1", clients))
          : startFrr(lab, this.spine, reflectorConfig(asn, "192.0.2.1", clients));
    }
  }

  /** Wait until every switch with BGP has its session to the reflector established. */
  async waitEstablished(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const [name, s] of this.switches) {
      if (!s.cfg.bgp) continue;
      for (;;) {
        const rows = await this.api<{ state: string }[]>(name, "bgp/summary").catch(() => []);
        if (rows.length > 0 && rows.every((r) => r.state === "Established")) break;
        if (Date.now() > deadline) throw new Error(`${name}: BGP not established after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  get switchNames(): string[] {
    return [...this.switches.keys()];
  }

  switchNs(name: string): string {
    return this.sw(name).ns;
  }

  hostNs(name: string): string {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  config(name: string): SwitchConfig {
    return this.sw(name).cfg;
  }

  logOf(name: string): string {
    try {
      return readFileSync(this.sw(name).logFile, "utf8");
    } catch {
      return "";
    }
  }

  private sw(name: string): SwitchState {
    const s = this.switches.get(name);
    if (!s) throw new Error(`no switch ${name}`);
    return s;
  }

  /** Start `vxgate run` in the switch's network namespace. nsenter (not `ip netns
   * exec`) keeps the host's mounts, so pins in /sys/fs/bpf outlive the process. */
  async start(name: string, extraArgs: string[] = []): Promise<void> {
    const s = this.sw(name);
    const log = createWriteStream(s.logFile, { flags: "a" });
    const child = this.lab.spawn(null, "nsenter", [
      `--net=${this.lab.netnsPath(s.ns)}`,
      process.execPath,
      "--import",
      "tsx",
      CLI,
      "run",
      "--config",
      s.spec.configPath,
      ...extraArgs,
    ]);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    s.proc = child;
    await this.waitReady(name, 30_000);
  }

  /** Stop the control plane with a signal; the pinned fast path keeps forwarding. */
  async kill(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const s = this.sw(name);
    const p = s.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((ok) => {
      p.once("exit", () => ok());
      p.kill(signal);
    });
    s.proc = undefined;
  }

  /** `vxgate stop`: remove the switch's fast path from the kernel. */
  stopAndRemove(name: string): void {
    const s = this.sw(name);
    this.lab.exec(null, "nsenter", [`--net=${this.lab.netnsPath(s.ns)}`, process.execPath, "--import", "tsx", CLI, "stop", "--config", s.spec.configPath], {
      timeoutMs: 30_000,
    });
  }

  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const p = this.sw(name).proc;
      if (p && p.exitCode !== null) throw new Error(`${name}: vxgate exited (${p.exitCode}):\n${this.logOf(name)}`);
      try {
        await this.api(name, "status");
        return;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${name}: not ready after ${timeoutMs} ms (${String(last)}):\n${this.logOf(name)}`);
  }

  /** One management API view of a running switch. */
  api<T = unknown>(name: string, view: string): Promise<T> {
    const socketPath = this.sw(name).cfg.management.socket;
    return new Promise((ok, fail) => {
      // agent: false, a connection per call: a kept-alive one that the daemon
      // times out (5 s idle) just as it is reused fails the call with EPIPE
      const req = request({ socketPath, path: `/v1/${view}`, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => (res.statusCode === 200 ? ok(JSON.parse(body) as T) : fail(new Error(body))));
      });
      req.on("error", fail);
      req.setTimeout(5000, () => req.destroy(new Error("api timeout")));
      req.end();
    });
  }

  /** Stop every switch and remove its fast path; the Lab removes the namespaces. */
  async shutdown(): Promise<void> {
    for (const name of this.switches.keys()) {
      await this.kill(name);
      try {
        this.stopAndRemove(name);
      } catch {
        // best effort: namespaces go away next, taking the links with them
      }
    }
  }
}

export { Lab };

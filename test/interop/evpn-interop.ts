// Interop plumbing: a vxgate EvpnSpeaker in its own namespace (evpn-driver.ts),
// gobgpd and FRR bgpd started with private config/socket paths.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { BgpConfig, BgpNeighborConfig } from "../../src/control/evpn/config.ts";
import type { Lab } from "../harness/netns.ts";
import type { DriverExtras } from "./evpn-driver.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export type PortCall = [string, ...unknown[]];

export class SpeakerProc {
  readonly calls: PortCall[] = [];
  readonly remote = new Map<string, { vtep: string; seq: number; sticky: boolean }>();
  readonly flood = new Map<number, Set<string>>();
  private seq = 0;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  readonly stderr: string[] = [];
  ready: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    let ok!: () => void;
    this.ready = new Promise((r) => (ok = r));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let m: { ev?: string; call?: PortCall; id?: number; result?: unknown };
      try {
        m = JSON.parse(line);
      } catch {
        return;
      }
      if (m.ev === "ready") ok();
      if (m.ev === "port" && m.call) this.onCall(m.call);
      if (m.id !== undefined) {
        this.waiting.get(m.id)?.(m.result);
        this.waiting.delete(m.id);
      }
    });
    createInterface({ input: child.stderr! }).on("line", (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 2000) this.stderr.shift();
      if (process.env.VXGATE_TEST_LOG) process.stderr.write(`[${name}] ${l}\n`);
    });
  }

  private onCall(c: PortCall): void {
    this.calls.push(c);
    const [fn, vni, a, b, info] = c as [string, number, string, string, { seq: number; sticky: boolean }];
    if (fn === "installRemoteMac") this.remote.set(`${vni}/${a}`, { vtep: b, ...info });
    if (fn === "removeRemoteMac" && this.remote.get(`${vni}/${a}`)?.vtep === b) this.remote.delete(`${vni}/${a}`);
    if (fn === "addFloodVtep") {
      let s = this.flood.get(vni);
      if (!s) this.flood.set(vni, (s = new Set()));
      s.add(a);
    }
    if (fn === "removeFloodVtep") this.flood.get(vni)?.delete(a);
  }

  request<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`${this.name}: no answer to ${cmd}`)), 10_000);
      this.waiting.set(id, (v) => {
        clearTimeout(t);
        ok(v as T);
      });
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + "\n");
    });
  }

  learn(vni: number, mac: string, opts: Record<string, unknown> = {}) {
    return this.request("learn", { vni, mac, opts });
  }
  gone(vni: number, mac: string) {
    return this.request("gone", { vni, mac });
  }
  summary() {
    return this.request<{ neighbor: string; state: string }[]>("summary");
  }
  routes() {
    return this.request<Record<string, unknown>[]>("routes");
  }
  stop() {
    return this.request("stop");
  }
}

/** An EvpnSpeaker process (evpn-driver.ts) in ns; `extra` for the graceful restart tests. */
export function startSpeaker(lab: Lab, ns: string, name: string, bgp: BgpConfig, vtep: string, vnis: number[], extra: DriverExtras = {}): SpeakerProc {
  // a fresh file per start: a restarted speaker may get another config
  const file = join(lab.tmpdir, `${name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ bgp, vtep, vnis, ...extra }));
  const child = lab.spawn(ns, process.execPath, ["--import", "tsx", join(ROOT, "test/interop/evpn-driver.ts"), file]);
  return new SpeakerProc(child, name);
}

export function bgpCfg(p: {
  asn: number;
  routerId: string;
  listen?: string;
  neighbors: (Partial<BgpNeighborConfig> & { address: string; remoteAsn: number })[];
  aggregation?: boolean;
}): BgpConfig {
  return {
    asn: p.asn,
    routerId: p.routerId,
    listen: { host: p.listen ?? "0.0.0.0", port: 179 },
    neighbors: p.neighbors.map((n) => ({ role: "peer", holdTime: 9, passive: false, port: 179, ...n })),
    evpn: {
      advertiseLocalMacs: true,
      aggregation: { enabled: p.aggregation ?? true, windowSeconds: 0 },
      mobility: { dupDetectMoves: 5, dupDetectSeconds: 180 },
      vnis: [],
    },
  };
}

export interface GobgpNeighbor {
  address: string;
  asn: number;
  /** TCP-MD5 (auth-password). */
  authPassword?: string;
  /** GTSM: [neighbors.ttl-security.config] enabled, ttl-min (GoBGP then sends with TTL 255). */
  ttlMin?: number;
  /** Only accept connections (transport passive-mode). */
  passive?: boolean;
}

/** gobgpd with one L2VPN EVPN neighbor per entry; returns a CLI runner. */
export function startGobgp(lab: Lab, ns: string, p: { asn: number; routerId: string; neighbors: GobgpNeighbor[] }) {
  const conf = join(lab.tmpdir, `gobgp-${p.routerId}.toml`);
  const lines = [`[global.config]`, `  as = ${p.asn}`, `  router-id = "${p.routerId}"`, ``];
  for (const n of p.neighbors) {
    lines.push(
      `[[neighbors]]`,
      `  [neighbors.config]`,
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      ...(n.authPassword !== undefined ? [`    auth-password = ${JSON.stringify(n.authPassword)}`] : []),
      `  [neighbors.timers.config]`,
      `    connect-retry = 1`,
      `    hold-time = 9`,
      `    keepalive-interval = 3`,
      ...(n.ttlMin !== undefined ? [`  [neighbors.ttl-security.config]`, `    enabled = true`, `    ttl-min = ${n.ttlMin}`] : []),
      ...(n.passive ? [`  [neighbors.transport.config]`, `    passive-mode = true`] : []),
      `  [[neighbors.afi-safis]]`,
      `    [neighbors.afi-safis.config]`,
      `      afi-safi-name = "l2vpn-evpn"`,
      ``,
    );
  }
  writeFileSync(conf, lines.join("\n"));
  const child = lab.spawn(ns, "gobgpd", ["-f", conf, "--log-level", "info"]);
  const log: string[] = [];
  child.stdout?.on("data", (d) => log.push(String(d)));
  child.stderr?.on("data", (d) => log.push(String(d)));
  const cli = (...args: string[]) => lab.execAsync(ns, "gobgp", args);
  return { child, log, cli };
}

export { startFrr } from "../../lab/frr.ts";

/** zebra + bgpd (advertise-all-vni) with a kernel VXLAN device: FRR as a real VTEP that originates routes. */
export function startFrrVtep(lab: Lab, ns: string, bgpdConfig: string) {
  const dir = join(lab.tmpdir, `frrv-${ns.slice(-6)}`);
  lab.exec(null, "mkdir", ["-p", dir]);
  // zebra refuses to run as root unless root is in the frrvty group: run as frr
  // (it keeps the capabilities it needs), so the paths must be reachable for it.
  lab.exec(null, "chmod", ["755", lab.tmpdir]);
  lab.exec(null, "chmod", ["777", dir]);
  const zconf = join(dir, "zebra.conf");
  writeFileSync(zconf, "hostname z\n");
  const zsock = join(dir, "zserv.api");
  const common = ["--vty_socket", dir, "-u", "frr", "-g", "frr", "--log", "stdout", "-P", "0"];
  const log: string[] = [];
  // -s: a netlink receive buffer for 100k+ FDB notifications (the default
  // overruns in the routes bench and zebra then loses its clients)
  const z = lab.spawn(ns, "/usr/lib/frr/zebra", ["-f", zconf, "-i", join(dir, "zebra.pid"), "-z", zsock, "-s", "67108864", ...common]);
  z.stdout?.on("data", (d) => log.push(String(d)));
  z.stderr?.on("data", (d) => log.push(String(d)));
  const conf = join(dir, "bgpd.conf");
  writeFileSync(conf, bgpdConfig);
  const startBgpd = () => {
    const b = lab.spawn(ns, "/usr/lib/frr/bgpd", ["-f", conf, "-i", join(dir, "bgpd.pid"), "-z", zsock, ...common]);
    b.stdout?.on("data", (d) => log.push(String(d)));
    b.stderr?.on("data", (d) => log.push(String(d)));
    return b;
  };
  const vtysh = async (cmd: string) => lab.execAsync(ns, "vtysh", ["--vty_socket", dir, "-c", cmd]);
  const json = async <T = any>(cmd: string): Promise<T> => JSON.parse(await vtysh(cmd)) as T;
  return { startBgpd, log, vtysh, json, dir, zsock };
}

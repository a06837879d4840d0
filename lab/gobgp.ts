// GoBGP (gobgpd) as a standard L2VPN EVPN route reflector in a namespace, with
// graceful restart helper mode for its clients (so a switch whose control plane
// restarts keeps its routes at the reflector while its fast path forwards).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../test/harness/netns.ts";

export function gobgpReflectorConfig(asn: number, routerId: string, clients: string[], restartTimeS = 120): string {
  const lines = [`[global.config]`, `  as = ${asn}`, `  router-id = "${routerId}"`, ``];
  for (const c of clients) {
    lines.push(
      `[[neighbors]]`,
      `  [neighbors.config]`,
      `    neighbor-address = "${c}"`,
      `    peer-as = ${asn}`,
      `  [neighbors.timers.config]`,
      `    connect-retry = 1`,
      `    hold-time = 9`,
      `    keepalive-interval = 3`,
      `  [neighbors.route-reflector.config]`,
      `    route-reflector-client = true`,
      `    route-reflector-cluster-id = "${routerId}"`,
      `  [neighbors.graceful-restart.config]`,
      `    enabled = true`,
      `    restart-time = ${restartTimeS}`,
      `  [[neighbors.afi-safis]]`,
      `    [neighbors.afi-safis.config]`,
      `      afi-safi-name = "l2vpn-evpn"`,
      `    [neighbors.afi-safis.mp-graceful-restart.config]`,
      `      enabled = true`,
      ``,
    );
  }
  return lines.join("\n");
}

export function startGobgpReflector(lab: Lab, ns: string, config: string) {
  const conf = join(lab.tmpdir, "gobgpd-rr.toml");
  writeFileSync(conf, config);
  const child = lab.spawn(ns, "gobgpd", ["-f", conf, "--log-level", "info", "--api-hosts", "127.0.0.1:50051", "--pprof-disable"]);
  const log: string[] = [];
  child.stdout?.on("data", (d) => log.push(String(d)));
  child.stderr?.on("data", (d) => log.push(String(d)));
  const cli = (...args: string[]) => lab.execAsync(ns, "gobgp", ["-u", "127.0.0.1", "-p", "50051", ...args]);
  return { child, log, cli };
}

// FRR bgpd as a standard route reflector (or peer) in a namespace: private
// config, pid and vty socket paths, no zebra (it only reflects routes, it does
// not install any).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../test/harness/netns.ts";

export function startFrr(lab: Lab, ns: string, config: string) {
  const dir = join(lab.tmpdir, `frr-${ns.slice(-6)}`);
  lab.exec(null, "mkdir", ["-p", dir]);
  const conf = join(dir, "bgpd.conf");
  writeFileSync(conf, config);
  const child = lab.spawn(ns, "/usr/lib/frr/bgpd", [
    "-f", conf, "-i", join(dir, "bgpd.pid"), "--vty_socket", dir, "-Z", "-S", "-n", "-P", "0", "-u", "root", "-g", "root", "--log", "stdout",
  ]);
  const log: string[] = [];
  child.stdout?.on("data", (d) => log.push(String(d)));
  child.stderr?.on("data", (d) => log.push(String(d)));
  const vtysh = async (cmd: string) => lab.execAsync(ns, "vtysh", ["--vty_socket", dir, "-c", cmd]);
  const json = async <T = unknown>(cmd: string): Promise<T> => JSON.parse(await vtysh(cmd)) as T;
  return { child, log, vtysh, json, dir };
}

export type Frr = ReturnType<typeof startFrr>;

/** An iBGP L2VPN EVPN route reflector for the given clients. */
export function reflectorConfig(asn: number, routerId: string, clients: string[]): string {
  return [
    "frr defaults datacenter",
    "hostname spine",
    `router bgp ${asn}`,
    ` bgp router-id ${routerId}`,
    " no bgp default ipv4-unicast",
    ` bgp cluster-id ${routerId}`,
    ...clients.flatMap((c) => [` neighbor ${c} remote-as ${asn}`, ` neighbor ${c} timers 3 9`, ` neighbor ${c} timers connect 1`]),
    " address-family l2vpn evpn",
    ...clients.flatMap((c) => [`  neighbor ${c} activate`, `  neighbor ${c} route-reflector-client`]),
    " exit-address-family",
    "",
  ].join("\n");
}

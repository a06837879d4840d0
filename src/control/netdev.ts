// Interfaces of the network namespace this process runs in, read through
// netlink (iproute2) rather than /sys/class/net: sysfs shows the namespace of
// whoever mounted it, which is not ours when the switch runs under nsenter.
import { execFileSync } from "node:child_process";

export interface NetDev {
  name: string;
  ifindex: number;
  up: boolean;
  /** link has carrier (LOWER_UP) */
  carrier: boolean;
  mtu: number;
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  stats64?: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
}

export function listNetDevs(): Map<string, NetDev> {
  const out = execFileSync("ip", ["-j", "-s", "link", "show"], { encoding: "utf8" });
  const m = new Map<string, NetDev>();
  for (const l of JSON.parse(out) as IpLink[]) {
    m.set(l.ifname, {
      name: l.ifname,
      ifindex: l.ifindex,
      up: l.flags.includes("UP"),
      carrier: l.flags.includes("LOWER_UP"),
      mtu: l.mtu,
      rxPackets: l.stats64?.rx.packets ?? 0,
      txPackets: l.stats64?.tx.packets ?? 0,
      rxDropped: l.stats64?.rx.dropped ?? 0,
      txDropped: l.stats64?.tx.dropped ?? 0,
    });
  }
  return m;
}

export function ifindexOf(name: string): number {
  const d = listNetDevs().get(name);
  if (!d) throw new Error(`interface ${name} does not exist in this network namespace`);
  return d.ifindex;
}

// A stock Linux VTEP beside the fabric: one more leaf on the spine with a
// vxlan device (dstport 4789, flood-and-learn), a bridge and one host behind
// it. BUM from the kernel side goes head-end to the VTEPs in `flood` (all-zeros
// FDB entries), as `bridge fdb append` does it.
import type { Lab } from "./netns.ts";

export interface KernelVtepOptions {
  spine: string;
  /** the spine's port towards it */
  spinePort: string;
  /** the link: kernel side, spine side (/30) */
  addr: string;
  spineAddr: string;
  vtep: string;
  vni: number;
  /** remote VTEPs that get its BUM */
  flood: readonly string[];
  host: { ns: string; mac: string; cidr: string };
}

/** Returns the VTEP's namespace and its host's. */
export function addKernelVtep(lab: Lab, o: KernelVtepOptions): { kv: string; host: string } {
  const kv = lab.ns("kvtep", { forwarding: true });
  lab.veth(kv, "eth0", o.spine, o.spinePort, { mtu: 1600 });
  lab.addr(kv, "eth0", o.addr);
  lab.addr(o.spine, o.spinePort, o.spineAddr);
  lab.addr(kv, "lo", `${o.vtep}/32`);
  lab.route(kv, "default", { via: o.spineAddr.split("/")[0]! });
  lab.route(o.spine, `${o.vtep}/32`, { via: o.addr.split("/")[0]! });
  lab.ip(kv, "link", "add", `vx${o.vni}`, "type", "vxlan", "id", String(o.vni), "local", o.vtep, "dstport", "4789", "learning", "noudpcsum");
  lab.ip(kv, "link", "add", "br0", "type", "bridge");
  lab.ip(kv, "link", "set", `vx${o.vni}`, "master", "br0");
  const host = lab.ns(o.host.ns);
  lab.veth(host, "eth0", kv, "hb", { macA: o.host.mac, txChecksum: false });
  lab.addr(host, "eth0", o.host.cidr);
  lab.ip(kv, "link", "set", "hb", "master", "br0");
  lab.up(kv, `vx${o.vni}`);
  lab.up(kv, "br0");
  for (const v of o.flood) lab.exec(kv, "bridge", ["fdb", "append", "00:00:00:00:00:00", "dev", `vx${o.vni}`, "dst", v]);
  return { kv, host };
}

// Interfaces of the network namespace this process runs in, read through
// netlink (iproute2) rather than /sys/class/net: sysfs shows the namespace of
// whoever mounted it, which is not ours when the switch runs under nsenter.
import { execFileSync } from "node:child_process";

export interface NetDev {
  name: string;
  ifindex: number;
  mac: string;
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
  address?: string;
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
      mac: l.address ?? "00:00:00:00:00:00",
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

const macs = new Map<string, string>();

/** A port's own MAC (on an uplink: the outer destination VXLAN for us
 * carries). Read once per process for all devices, as the runtime reads the
 * ifindexes at boot: a MAC changed while vxgate runs counts from its next start. */
export function macOf(name: string): string {
  if (!macs.has(name)) for (const d of listNetDevs().values()) macs.set(d.name, d.mac);
  const m = macs.get(name);
  if (m === undefined) throw new Error(`interface ${name} does not exist in this network namespace`);
  return m;
}

/** Can the kernel transmit XDP frames (an XDP_REDIRECT from a native-mode
 * program) on a port? For a veth it can only when the veth's peer runs NAPI:
 * veth_xdp_xmit puts the frame on the peer's XDP ring, which only a NAPI
 * instance drains, and veth gives the peer one when an XDP program is
 * attached to it in native mode or when GRO is requested on it (a veth
 * starts with GRO off). Since Linux 6.3 the port's xdp_features says the same
 * (NDO_XMIT), but only through genetlink and not on 6.1; the peer, read here
 * through iproute2 and ethtool, answers on both. Other devices: a driver that
 * runs XDP natively transmits XDP frames too. */
export interface XdpTxCheck {
  ok: boolean;
  /** the veth's other end and the namespace it is in (undefined: ours) */
  peer?: string;
  netns?: string;
  peerMtu?: number;
  /** why the kernel cannot transmit XDP frames on it */
  reason?: string;
  /** what an operator runs to give the port the XDP path */
  fix?: string;
}

interface IpLinkDetail extends IpLink {
  /** IFLA_LINK (a veth's peer): its name when iproute2 can resolve it here, else its ifindex */
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
  /** mode: XDP_ATTACHED_* (1 native, 2 generic, 3 offload, 4 several: see attached) */
  xdp?: { mode: number; attached?: { mode: number }[] };
}

const XDP_ATTACHED_DRV = 1;

function ipLinks(netns: string | undefined, args: string[]): IpLinkDetail[] {
  return JSON.parse(execFileSync("ip", [...(netns ? ["-n", netns] : []), "-j", "-d", "link", "show", ...args], { encoding: "utf8" })) as IpLinkDetail[];
}

export function xdpTxCheck(port: string): XdpTxCheck {
  const self = ipLinks(undefined, ["dev", port])[0];
  if (!self) throw new Error(`interface ${port} does not exist in this network namespace`);
  if (self.linkinfo?.info_kind !== "veth" || (self.link === undefined && self.link_index === undefined)) return { ok: true };
  let netns: string | undefined;
  if (self.link_netnsid !== undefined) {
    const ids = JSON.parse(execFileSync("ip", ["-j", "netns", "list-id"], { encoding: "utf8" }) || "[]") as { nsid: number; name?: string }[];
    netns = ids.find((n) => n.nsid === self.link_netnsid)?.name;
    if (!netns)
      return {
        ok: false,
        reason: `its veth peer (ifindex ${self.link_index}) is in network namespace id ${self.link_netnsid}, which has no name under /run/netns, so whether it runs NAPI cannot be checked`,
        fix: "name that namespace (ip netns attach NAME PID), turn GRO on at the peer (ethtool -K PEER gro on) and restart vxgate",
      };
  }
  const peer = ipLinks(netns, []).find((l) => (self.link_index !== undefined ? l.ifindex === self.link_index : l.ifname === self.link));
  if (!peer) return { ok: false, netns, reason: `its veth peer (${self.link ?? `ifindex ${self.link_index}`}) was not found`, fix: "check the link and restart vxgate" };
  const found = { peer: peer.ifname, netns, peerMtu: peer.mtu };
  const nativeXdp = peer.xdp?.mode === XDP_ATTACHED_DRV || (peer.xdp?.attached ?? []).some((a) => a.mode === XDP_ATTACHED_DRV);
  if (nativeXdp) return { ok: true, ...found };
  const ethtool = ["ethtool", "--json", "-k", peer.ifname];
  const out = netns ? execFileSync("nsenter", [`--net=/run/netns/${netns}`, ...ethtool], { encoding: "utf8" }) : execFileSync(ethtool[0]!, ethtool.slice(1), { encoding: "utf8" });
  const gro = (JSON.parse(out) as Record<string, { active?: boolean; requested?: boolean }>[])[0]?.["generic-receive-offload"];
  // veth looks at the requested state (wanted_features), not the active one
  if (gro?.requested ?? gro?.active) return { ok: true, ...found };
  return {
    ok: false,
    ...found,
    reason: "GRO is off on the veth's peer and no XDP program runs there, so the peer has no NAPI to receive XDP frames",
    fix: `${netns ? `ip netns exec ${netns} ` : ""}ethtool -K ${peer.ifname} gro on`,
  };
}

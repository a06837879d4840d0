// The validated, normalised switch configuration. The loader (load.ts) is the
// only producer; everything downstream (codegen, runtime, CLI) reads this shape
// and never the raw YAML.

import type { BgpConfig } from "../control/evpn/config.ts";
export type { BgpConfig, BgpNeighborConfig, BgpVniOverride } from "../control/evpn/config.ts";
import type { MirrorConfig } from "../control/mirror/config.ts";
export type { MirrorConfig, MirrorDirection, MirrorEndpoint, MirrorSession } from "../control/mirror/config.ts";
import type { MulticastConfig } from "../control/mcast/config.ts";
export type { MulticastConfig, MulticastTimers, MulticastVni, StaticGroup } from "../control/mcast/config.ts";

export type MacString = string; // lower-case "aa:bb:cc:dd:ee:ff"
export type Ipv4String = string; // dotted quad

/** Where something was written in the config file (for messages about it
 *  that only the runtime can make, e.g. a port missing from the kernel). */
export interface SourceRef {
  file: string; // as the file was named to the loader
  line: number;
  col: number;
}

/** "file:line:col" of a SourceRef, the prefix of every config message. */
export function formatSourceRef(at: SourceRef): string {
  return `${at.file}:${at.line}:${at.col}`;
}

export interface SwitchConfig {
  /** Absolute path of the file this came from (for messages). */
  file: string;
  switch: {
    name: string; // [a-z0-9-]{1,32}: names the bpffs pin dir and the mgmt socket
  };
  vtep: {
    sourceIp: Ipv4String;
    udpPort: number; // 1..65535, default 4789
  };
  uplinks: UplinkPort[];
  ports: AccessPort[];
  vnis: VniConfig[];
  tables: TableSizes;
  management: ManagementConfig;
  /** Present when the file has a `bgp:` section (BGP EVPN, src/control/evpn/config.ts). */
  bgp?: BgpConfig;
  /** Match-mirror-encap sessions (src/control/mirror/config.ts); always present,
   *  `{ enabled: true, sessions: [] }` when the file has no `mirror:` section. */
  mirror: MirrorConfig;
  /** IGMP snooping and per-group replication (src/control/mcast/config.ts);
   *  always present, disabled with RFC 3376 timers when the file has no
   *  `multicast:` section. */
  multicast: MulticastConfig;
}

export interface UplinkPort {
  name: string; // kernel interface name
  /** where `name` is in the file (absent for configs not loaded from a file) */
  nameAt?: SourceRef;
}

/** An access port is untagged in one VNI, or a trunk with a VLAN -> VNI map, or both
 *  (untagged frames on a trunk go to `vni` when it is set). */
export interface AccessPort {
  name: string;
  /** where `name` is in the file (absent for configs not loaded from a file) */
  nameAt?: SourceRef;
  vni?: number; // untagged VNI
  vlans: { vlan: number; vni: number }[]; // 802.1Q tags 1..4094, each vlan at most once
  /** learned MACs this port may hold; a new source beyond it is not learned and its frames are dropped (counted) */
  maxMacs?: number;
}

export interface StaticMac {
  mac: MacString;
  /** Exactly one of port / remote. */
  port?: string; // access port name (must carry this VNI)
  remote?: Ipv4String; // remote VTEP
}

export interface VniConfig {
  vni: number; // 1..16777215
  learning: boolean; // default true; off means only static (or EVPN) entries
  ageingSeconds: number; // default 300; 0 disables ageing
  /** learned MACs this VNI may hold (local, and remote in flood-and-learn) */
  maxMacs?: number;
  flood: Ipv4String[]; // static head-end replication list (remote VTEPs)
  staticMacs: StaticMac[];
}

export interface TableSizes {
  fdb: number; // default 65536
  vnis: number; // default 4096
  floodPerVni: number; // max replication targets per VNI (local + remote), default 64, max 256
  remoteVteps: number; // default 4096 (anti-spoof allow list, (vni, ip) pairs)
  eventRing: number; // bytes of the learning-event ring buffer, a power of two, default 8 MiB (~260k events)
  mcastGroups: number; // multicast (vni, source or any, group) entries, default 4096
  mcastMembers: number; // member ports + remote VTEPs per group (the replication loop's bound), default 32, max 256
}

export interface ManagementConfig {
  /** Unix socket path; default /run/vxgate/<name>.sock */
  socket: string;
  /** Optional HTTP listener "HOST:PORT": a loopback address, or any other with tokenFile. */
  http?: { host: string; port: number };
  /** File holding the bearer token every HTTP request must carry (required for a non-loopback http). */
  tokenFile?: string;
}

export class ConfigError extends Error {
  /** Each entry is "file:line:col: message". */
  constructor(public readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

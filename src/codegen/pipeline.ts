// The pipeline model: what the config asks of the fast path (features to
// compile in, table sizes). It is everything codegen depends on, so its hash
// (with the fragment sources) names the cached ELF.
import type { SwitchConfig } from "../config/types.ts";
import { constants, counterNames, type TableName } from "./tables.ts";

export interface Pipeline {
  features: {
    /** 802.1Q trunks: VLAN parse, tag push/pop, the vlans table lookup. */
    vlan: boolean;
    /** data-path learning (any VNI learns); without it the FDB is static/EVPN only. */
    learning: boolean;
    /** match-mirror-encap (mirror.enabled): match on access ingress, copies in TC, termination on the uplink. */
    mirror: boolean;
    /** a port or VNI has max_macs: learning checks and counts its limit */
    macLimits: boolean;
    /** per-group replication (multicast.enabled): IGMP to the control plane, group member lists in TC */
    mcast: boolean;
  };
  /** max_entries per map (bytes for the ring buffer). */
  sizes: Record<TableName, number>;
  /** bound of the replication loop: flood slots per VNI. */
  floodSlots: number;
  /** bound of the group replication loop: member slots per group. */
  mcastSlots: number;
}

export function pipelineFor(cfg: SwitchConfig): Pipeline {
  const t = cfg.tables;
  const floodSlots = Math.min(t.floodPerVni, constants.FLOOD_SLOTS_MAX);
  const mcast = cfg.multicast.enabled;
  const mcastSlots = Math.min(t.mcastMembers, constants.MCAST_MEMBERS_MAX);
  // without the feature its maps exist (one layout for every ELF) but hold nothing
  const groups = mcast ? t.mcastGroups : 1;
  return {
    features: {
      vlan: cfg.ports.some((p) => p.vlans.length > 0),
      learning: cfg.vnis.some((v) => v.learning),
      mirror: cfg.mirror.enabled,
      macLimits: cfg.ports.some((p) => p.maxMacs !== undefined) || cfg.vnis.some((v) => v.maxMacs !== undefined),
      mcast,
    },
    floodSlots,
    mcastSlots,
    sizes: {
      globals: 1,
      ports: 1024,
      xdp_tx: 1024,
      vlans: 65536,
      vnis: t.vnis,
      flood: Math.min(t.vnis * floodSlots, 1 << 20),
      vteps: t.remoteVteps,
      vtep_nh: t.remoteVteps,
      fdb: t.fdb,
      mac_limits: 1024 + t.vnis,
      mirror: 16384,
      mirror_ip: 16384,
      mirror_term: constants.MIRROR_SESSIONS_MAX,
      mirror_stats: constants.MIRROR_SESSIONS_MAX,
      mcast: groups,
      mcast_members: mcast ? Math.min(groups * mcastSlots, 1 << 20) : 1,
      mcast_stats: groups,
      punt_rate: mcast ? 1024 : 1,
      counters: counterNames.length,
      events: t.eventRing,
    },
  };
}

// Every fast-path table, declared once. The C structs and map definitions
// (emit-c.ts) and the runtime's key/value codecs (src/control/codec.ts) are
// both derived from these declarations.
import type { StructDecl, TableDecl } from "./schema.ts";

/** Named constants shared by C and TS (emitted as #defines). */
export const constants = {
  // port_value.role
  PORT_ROLE_ACCESS: 1,
  PORT_ROLE_UPLINK: 2,
  // vni_value.flags
  VNI_LEARN_LOCAL: 1, // learn src MACs seen on access ports
  VNI_LEARN_REMOTE: 2, // flood-and-learn from the overlay; also lifts the VTEP allow-list check
  VNI_MIRROR_MAC: 4, // the VNI has mirror entries keyed by MAC: access frames are looked up
  VNI_MIRROR_IP: 8, // the VNI has mirror entries keyed by IPv4
  VNI_MCAST_SNOOP: 16, // IGMP snooping: IPv4 multicast follows the group's member list, IGMP goes to the control plane
  VNI_MCAST_DROP_UNREG: 32, // multicast for a group nobody joined goes to mrouter ports only (else: flooded)
  // fdb_value.kind
  FDB_LOCAL: 1,
  FDB_REMOTE: 2,
  // fdb_value.flags
  FDB_STATIC: 1, // installed by config (or EVPN): the data path never overwrites or ages it
  FDB_FROZEN: 2, // duplicate-detected by the control plane: no further moves
  FDB_CONTROL: 4, // installed by the control plane (EVPN): never aged, but the data path may move it (MAC mobility)
  FDB_EVENT_PENDING: 8, // data path: a move whose event was rate-limited; sent with the next frame after the limit
  // event.kind
  EVT_LEARN: 1,
  EVT_MOVE: 2,
  EVT_NO_NEIGH: 3,
  EVT_IGMP: 4, // an IGMP frame from an access port: the event is followed by a punt header and the frame
  // flood_value.kind
  FLOOD_LOCAL: 1,
  FLOOD_REMOTE: 2,
  // mac_limit_key.kind
  LIMIT_PORT: 1, // learned MACs on one access port
  LIMIT_VNI: 2, // learned MACs in one VNI (local and, in flood-and-learn, remote)
  // mirror_key.dir / mirror_ip_key.dir
  MIRROR_SRC: 1, // frames from the monitored host (it is local here)
  MIRROR_DST: 2, // frames to the monitored host
  // mirror_value.kind: where the monitoring server is
  MIRROR_TO_LOCAL: 1, // a local port: the copy goes out unchanged
  MIRROR_TO_REMOTE: 2, // behind a remote VTEP: VXLAN-GBP copy with the HOST ID
  MIRROR_NO_SERVER: 3, // nowhere known: no copy, counted
  // mirror_stats_value fields, as the data path's counting switch names them
  MIRROR_STAT_COPY_LOCAL: 1,
  MIRROR_STAT_COPY_REMOTE: 2,
  MIRROR_STAT_TERMINATED: 3,
  MIRROR_STAT_NO_SERVER: 4,
  MIRROR_STAT_OVERSIZE: 5,
  MIRROR_STAT_OTHER: 6,
  // hard bounds
  FLOOD_SLOTS_MAX: 256,
  MIRROR_SESSIONS_MAX: 1024, // counter slots; HOST IDs are 16-bit but a switch watches far fewer hosts
  MCAST_MEMBERS_MAX: 256, // member ports + VTEPs per group: the group replication loop's bound (as FLOOD_SLOTS_MAX)
  PUNT_MAX: 1536, // bytes of a control frame copied to the control plane (an IGMPv3 report fills at most an MTU)
  // minimum interval between refreshes of an entry's timestamp / events for one MAC
  LEARN_REFRESH_NS: 1_000_000_000,
  // longest a cached outer next hop (vtep_nh) is used before the FIB is asked again; the control
  // plane also empties the cache on every route, neighbour and link change it hears of
  NH_CACHE_NS: 1_000_000_000,
  // entries per run of vxg_fdb_del_if (bpf/fdb_ops.h), the control plane's in-kernel compare-and-delete
  FDB_DEL_BATCH: 128,
} as const;

/** Counter ids, in order: index into the per-CPU counters array. */
export const counterNames = [
  "access_rx",
  "uplink_rx",
  "uplink_pass_kernel",
  "local_fwd",
  "encap_fwd",
  "decap_fwd",
  "bum_to_tc",
  "flood_local_copy",
  "flood_remote_copy",
  "learn_new",
  "learn_move",
  "learn_refresh",
  "drop_malformed",
  "drop_bad_vxlan",
  "drop_unknown_vni",
  "drop_spoof",
  "drop_no_port_vni",
  "drop_invalid_smac",
  "drop_same_port",
  "drop_hairpin",
  "drop_no_neigh",
  "drop_fib",
  "drop_mtu",
  "drop_static_conflict",
  "err_learn_full",
  "err_event_ring_full",
  "err_redirect",
  "err_clone",
  "err_adjust",
  "mirror_to_tc",
  "mirror_copy_local",
  "mirror_copy_remote",
  "mirror_terminated",
  "drop_mirror_no_server",
  "drop_mirror_oversize",
  "drop_mirror_unknown_id",
  "drop_mirror_unknown_src",
  "egress_via_tc", // XDP handed a frame to TC because XDP cannot transmit on its egress port (not in xdp_tx)
  "drop_egress_mtu", // longer than the egress port's MTU allows (+ Ethernet header + 4 bytes of VLAN slack, as the kernel sends)
  "drop_outer_dst_mac", // VXLAN for our VTEP whose outer destination MAC is not the uplink's (PACKET_OTHERHOST)
  "drop_bad_outer_src", // VXLAN from 0.0.0.0, loopback, multicast/broadcast or our own address: never a VTEP
  "drop_mac_limit", // a new source MAC beyond its port's or VNI's max_macs: not learned, frame dropped
  "igmp_to_cpu", // IGMP (or PIM) from an access port of a snooping VNI, copied to the control plane
  "igmp_to_mrouter", // an IGMP report or leave sent on to the VNI's local mrouter ports only (RFC 4541)
  "mcast_group_hit", // IPv4 multicast that found its (S,G) or (*,G) entry: replicated to the members
  "mcast_local_copy", // a group member port's copy
  "mcast_remote_copy", // a member VTEP's VXLAN copy
  "mcast_unregistered", // multicast for a group with no entry (flooded, or to mrouter ports when the VNI drops unregistered)
  "drop_igmp_rate", // an IGMP (or PIM) frame beyond its port's multicast.igmp_rate: not copied to the control plane (still forwarded)
  "ignored_own_tx", // bmv2: a frame the switch itself sent out of a port (source = the port's MAC), which bmv2's capture of the port hands back as received
] as const;
export type CounterName = (typeof counterNames)[number];

const mirrorValue = {
  name: "mirror_value",
  fields: [
    { name: "kind", type: "u8", doc: "MIRROR_TO_LOCAL | MIRROR_TO_REMOTE | MIRROR_NO_SERVER" },
    { name: "_pad", type: { pad: 1 } },
    { name: "vlan", type: "u16", doc: "local server: 802.1Q tag on its port, 0 = untagged" },
    { name: "ifindex", type: "u32", doc: "local server: its port" },
    { name: "remote", type: "ipv4", doc: "remote server: the VTEP it is behind" },
    { name: "host_id", type: "u16", doc: "the session's HOST ID (VXLAN Group Policy ID of remote copies)" },
    { name: "slot", type: "u16", doc: "the session's counters in mirror_stats" },
    { name: "server", type: "u32", doc: "identifies the server: one copy per frame per server" },
  ],
} as const satisfies StructDecl;

/** One replication target: a local port (and VLAN) or a remote VTEP (flood lists and group member lists). */
const floodValue = {
  name: "flood_value",
  fields: [
    { name: "kind", type: "u8", doc: "FLOOD_LOCAL | FLOOD_REMOTE" },
    { name: "_pad", type: { pad: 1 } },
    { name: "vlan", type: "u16" },
    { name: "ifindex", type: "u32" },
    { name: "remote", type: "ipv4" },
  ],
} as const satisfies StructDecl;

const mcastKey = {
  name: "mcast_key",
  fields: [
    { name: "vni", type: "u32" },
    { name: "group", type: "ipv4" },
    { name: "source", type: "ipv4", doc: "0.0.0.0: any source, (*,G)" },
  ],
} as const satisfies StructDecl;

const portKey = { name: "port_key", fields: [{ name: "ifindex", type: "u32" }] } as const satisfies StructDecl;

const fdbKey = {
  name: "fdb_key",
  fields: [
    { name: "vni", type: "u32" },
    { name: "mac", type: "mac" },
    { name: "_pad", type: { pad: 2 } },
  ],
} as const satisfies StructDecl;

const fdbValue = {
  name: "fdb_value",
  fields: [
    { name: "kind", type: "u8", doc: "FDB_LOCAL | FDB_REMOTE" },
    { name: "flags", type: "u8", doc: "FDB_STATIC | FDB_FROZEN" },
    { name: "vlan", type: "u16", doc: "802.1Q tag to put on the frame at the local port, 0 = untagged" },
    { name: "ifindex", type: "u32", doc: "local port" },
    { name: "remote", type: "ipv4", doc: "remote VTEP" },
    { name: "_pad", type: { pad: 4 } },
    { name: "seen_ns", type: "u64", doc: "bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC to a jiffy) of the last frame from this MAC (refreshed at most once per LEARN_REFRESH_NS)" },
    { name: "event_ns", type: "u64", doc: "when the last learning event for this MAC was sent (rate limit)" },
  ],
} as const satisfies StructDecl;

export const tables = {
  globals: {
    name: "globals",
    mapName: "vxg_globals",
    kind: "array",
    doc: "Run-time constants of this switch (one entry): kept out of the code so an ELF serves any address",
    key: { name: "globals_key", fields: [{ name: "index", type: "u32" }] },
    value: {
      name: "globals_value",
      fields: [
        { name: "vtep_ip", type: "ipv4" },
        { name: "udp_port", type: "be16" },
        { name: "uplink_mac", type: "mac", doc: "MAC of the fib_ifindex uplink, where most VXLAN arrives: its outer destination, compared without a ports lookup" },
        { name: "fib_ifindex", type: "u32", doc: "uplink whose routing view the outer next hop is looked up in" },
        { name: "replicator_ip", type: "ipv4", doc: "where leaves send this switch, a replication point, the one copy of a group's packet to fan out (0.0.0.0: not one)" },
        { name: "igmp_rate", type: "u32", doc: "IGMP frames per second and access port copied to the control plane (a second's worth may come at once); 0 = no limit" },
        { name: "no_neigh_ns", type: "u64", doc: "data path: when the last no-neighbour event went out (rate limit)" },
      ],
    },
  },
  ports: {
    name: "ports",
    mapName: "vxg_ports",
    kind: "hash",
    doc: "Every port the switch owns, by ifindex",
    key: portKey,
    value: {
      name: "port_value",
      fields: [
        { name: "role", type: "u8", doc: "PORT_ROLE_ACCESS | PORT_ROLE_UPLINK" },
        { name: "_pad", type: { pad: 1 } },
        { name: "mac", type: "mac", doc: "the port's own MAC: on an uplink, the outer destination VXLAN for us must carry" },
        { name: "vni", type: "u32", doc: "untagged frames belong to this VNI; 0 = drop untagged" },
      ],
    },
  },
  xdp_tx: {
    name: "xdp_tx",
    mapName: "vxg_xdp_tx",
    kind: "devmap_hash",
    doc: "Ports XDP can transmit on (bpf_redirect_map target); frames for any other port go through TC. Filled by the target from what it finds at attach time",
    key: portKey,
    // struct bpf_devmap_val without its optional program: the port itself
    value: { name: "xdp_tx_value", fields: [{ name: "ifindex", type: "u32" }] },
  },
  vlans: {
    name: "vlans",
    mapName: "vxg_vlans",
    kind: "hash",
    doc: "Trunk ports: (port, 802.1Q VLAN) -> VNI",
    key: {
      name: "vlan_key",
      fields: [
        { name: "ifindex", type: "u32" },
        { name: "vlan", type: "u16" },
        { name: "_pad", type: { pad: 2 } },
      ],
    },
    value: { name: "vlan_value", fields: [{ name: "vni", type: "u32" }] },
  },
  vnis: {
    name: "vnis",
    mapName: "vxg_vnis",
    kind: "hash",
    doc: "Per-VNI behaviour and the length of its flood list",
    key: { name: "vni_key", fields: [{ name: "vni", type: "u32" }] },
    value: {
      name: "vni_value",
      fields: [
        { name: "flags", type: "u32", doc: "VNI_LEARN_LOCAL | VNI_LEARN_REMOTE" },
        { name: "flood_count", type: "u32", doc: "slots 0..flood_count-1 of the flood table are live" },
      ],
    },
  },
  flood: {
    name: "flood",
    mapName: "vxg_flood",
    kind: "hash",
    doc: "Head-end replication list per VNI: local member ports and remote VTEPs",
    key: {
      name: "flood_key",
      fields: [
        { name: "vni", type: "u32" },
        { name: "slot", type: "u32" },
      ],
    },
    value: floodValue,
  },
  vteps: {
    name: "vteps",
    mapName: "vxg_vteps",
    kind: "hash",
    doc: "Anti-spoofing allow list: remote VTEPs accepted as outer source per VNI",
    key: {
      name: "vtep_key",
      fields: [
        { name: "vni", type: "u32" },
        { name: "remote", type: "ipv4" },
      ],
    },
    value: { name: "vtep_value", fields: [{ name: "refs", type: "u32" }] },
  },
  vtep_nh: {
    name: "vtep_nh",
    mapName: "vxg_vtep_nh",
    kind: "hash",
    doc: "Data path only: the outer next hop of each remote VTEP as bpf_fib_lookup last gave it (the FIB and neighbour lookup cost most of an encap); the control plane empties it when the kernel's routes, neighbours or links change",
    key: { name: "vtep_nh_key", fields: [{ name: "remote", type: "ipv4" }] },
    value: {
      name: "vtep_nh_value",
      fields: [
        { name: "stamp_ns", type: "u64", doc: "bpf_ktime_get_coarse_ns() when the FIB gave it: used for NH_CACHE_NS" },
        { name: "ifindex", type: "u32", doc: "egress port" },
        { name: "mtu", type: "u32", doc: "the route's MTU: the longest outer IPv4 packet it takes" },
        { name: "dmac", type: "mac", doc: "the next hop's MAC" },
        { name: "smac", type: "mac", doc: "the egress port's MAC" },
        { name: "_pad", type: { pad: 4 } },
      ],
    },
  },
  fdb: {
    name: "fdb",
    mapName: "vxg_fdb",
    kind: "hash",
    doc: "Forwarding database (vni, mac) -> local port or remote VTEP",
    key: fdbKey,
    value: fdbValue,
  },
  mac_limits: {
    name: "mac_limits",
    mapName: "vxg_mac_limits",
    kind: "hash",
    doc: "Learned-MAC limits per access port and per VNI: the data path counts up as it learns, the control plane recounts from the FDB",
    key: {
      name: "mac_limit_key",
      fields: [
        { name: "kind", type: "u8", doc: "LIMIT_PORT | LIMIT_VNI" },
        { name: "_pad", type: { pad: 3 } },
        { name: "id", type: "u32", doc: "ifindex or VNI" },
      ],
    },
    value: {
      name: "mac_limit_value",
      fields: [
        { name: "count", type: "u32", doc: "learned entries now (approximate between recounts)" },
        { name: "max", type: "u32" },
      ],
    },
  },
  mirror: {
    name: "mirror",
    mapName: "vxg_mirror",
    kind: "hash",
    doc: "Mirror source/destination entries by MAC: (vni, monitored host MAC, direction) -> where the server is",
    key: {
      name: "mirror_key",
      fields: [
        { name: "vni", type: "u32" },
        { name: "mac", type: "mac" },
        { name: "dir", type: "u8", doc: "MIRROR_SRC | MIRROR_DST" },
        { name: "_pad", type: { pad: 1 } },
      ],
    },
    value: mirrorValue,
  },
  mirror_ip: {
    name: "mirror_ip",
    mapName: "vxg_mirror_ip",
    kind: "hash",
    doc: "Mirror source/destination entries by IPv4 (sessions with match: ip)",
    key: {
      name: "mirror_ip_key",
      fields: [
        { name: "vni", type: "u32" },
        { name: "ip", type: "ipv4" },
        { name: "dir", type: "u8", doc: "MIRROR_SRC | MIRROR_DST" },
        { name: "_pad", type: { pad: 3 } },
      ],
    },
    value: mirrorValue,
  },
  mirror_term: {
    name: "mirror_term",
    mapName: "vxg_mirror_term",
    kind: "hash",
    doc: "Mirror termination entries: HOST ID of a copy from the overlay -> the local server's port",
    key: { name: "mirror_term_key", fields: [{ name: "host_id", type: "u32" }] },
    value: {
      name: "mirror_term_value",
      fields: [
        { name: "ifindex", type: "u32" },
        { name: "vlan", type: "u16" },
        { name: "slot", type: "u16" },
      ],
    },
  },
  mirror_stats: {
    name: "mirror_stats",
    mapName: "vxg_mirror_cnt",
    kind: "percpu_array",
    doc: "Per-session mirror counters, by slot",
    key: { name: "mirror_stats_key", fields: [{ name: "slot", type: "u32" }] },
    value: {
      name: "mirror_stats_value",
      fields: [
        { name: "copies_local", type: "u64" },
        { name: "copies_remote", type: "u64" },
        { name: "terminated", type: "u64" },
        { name: "drop_no_server", type: "u64" },
        { name: "drop_oversize", type: "u64" },
        { name: "drop_other", type: "u64" },
        { name: "bytes", type: "u64" },
      ],
    },
  },
  mcast: {
    name: "mcast",
    mapName: "vxg_mcast",
    kind: "hash",
    doc: "Multicast groups with members: (vni, group, source or 0.0.0.0 for any) -> member count and counter slot; group 0.0.0.0 holds the VNI's mrouter ports",
    key: mcastKey,
    value: {
      name: "mcast_value",
      fields: [
        { name: "count", type: "u32", doc: "member slots 0..count-1 are live" },
        { name: "slot", type: "u32", doc: "the group's counters in mcast_stats" },
      ],
    },
  },
  mcast_members: {
    name: "mcast_members",
    mapName: "vxg_mcast_mbr",
    kind: "hash",
    doc: "A group's replication list: member ports (and mrouter ports) and remote VTEPs with members, by slot",
    key: {
      name: "mcast_member_key",
      fields: [...mcastKey.fields, { name: "slot", type: "u32" }],
    },
    value: floodValue,
  },
  punt_rate: {
    name: "punt_rate",
    mapName: "vxg_punt_rate",
    kind: "hash",
    doc: "Data path only: the token bucket of each access port's control frames to the control plane (IGMP)",
    key: portKey,
    value: {
      name: "punt_rate_value",
      fields: [
        { name: "tokens", type: "u32" },
        { name: "_pad", type: { pad: 4 } },
        { name: "last_ns", type: "u64" },
      ],
    },
  },
  mcast_stats: {
    name: "mcast_stats",
    mapName: "vxg_mcast_cnt",
    kind: "percpu_array",
    doc: "Per-group multicast counters, by slot",
    key: { name: "mcast_stats_key", fields: [{ name: "slot", type: "u32" }] },
    value: {
      name: "mcast_stats_value",
      fields: [
        { name: "frames", type: "u64" },
        { name: "bytes", type: "u64" },
        { name: "copies_local", type: "u64" },
        { name: "copies_remote", type: "u64" },
      ],
    },
  },
  counters: {
    name: "counters",
    mapName: "vxg_counters",
    kind: "percpu_array",
    doc: "Per-CPU packet/byte counters, one per action and drop reason",
    key: { name: "counter_key", fields: [{ name: "id", type: "u32" }] },
    value: {
      name: "counter_value",
      fields: [
        { name: "packets", type: "u64" },
        { name: "bytes", type: "u64" },
      ],
    },
  },
  events: {
    name: "events",
    mapName: "vxg_events",
    kind: "ringbuf",
    doc: "Learning and neighbour events to the control plane",
  },
} as const satisfies Record<string, TableDecl>;

export type TableName = keyof typeof tables;

/** Records that are not table entries but still cross the C/TS boundary. */
export const records = {
  event: {
    name: "vxg_event",
    fields: [
      { name: "kind", type: "u8", doc: "EVT_*" },
      { name: "_pad", type: { pad: 1 } },
      { name: "vlan", type: "u16" },
      { name: "vni", type: "u32" },
      { name: "mac", type: "mac" },
      { name: "_pad2", type: { pad: 2 } },
      { name: "ifindex", type: "u32" },
      { name: "remote", type: "ipv4" },
    ],
  },
  /** vxg_fdb_del_if's context starts with this; then the mask (an fdb_value), FDB_DEL_BATCH fdb_keys and FDB_DEL_BATCH fdb_values */
  fdbDel: {
    name: "vxg_fdb_del_hdr",
    fields: [
      { name: "count", type: "u32", doc: "entries in this run (at most FDB_DEL_BATCH)" },
      { name: "deleted", type: "u32", doc: "out: how many were deleted" },
    ],
  },
  /** after an EVT_IGMP event: how many bytes of the frame follow (at most PUNT_MAX) */
  punt: {
    name: "vxg_punt_hdr",
    fields: [
      { name: "len", type: "u32" },
      { name: "_pad", type: { pad: 4 } },
    ],
  },
} as const satisfies Record<string, StructDecl>;

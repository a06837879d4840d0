// How the tables of tables.ts appear in the P4 program, and the few tables
// only the P4 data path has. A schema table becomes one or more P4 match
// tables ("lookups": a P4 table is applied once per packet, so the FDB is
// looked up by source and by destination in two tables holding the same
// entries); its key fields are the schema's key fields, its hit action's
// parameters the schema's value fields. Replication lists (flood) are not
// tables on bmv2: the target turns them into packet replication engine groups.
import type { StructDecl } from "./schema.ts";
import type { TableName } from "./tables.ts";

/** What the P4 target needs that eBPF gets elsewhere (the FIB, the flood loop). */
export const p4OnlyTables = {
  nexthops: {
    name: "nexthops",
    doc: "Outer next hop of a remote VTEP (eBPF asks the kernel's FIB per packet; bmv2 has no FIB): the target resolves it through the kernel and writes it here",
    key: { name: "nexthop_key", fields: [{ name: "remote", type: "ipv4" }] },
    value: {
      name: "nexthop_value",
      fields: [
        { name: "ifindex", type: "u32", doc: "the uplink (a bmv2 port number once written)" },
        { name: "smac", type: "mac" },
        { name: "dmac", type: "mac" },
      ],
    },
  },
  replicas: {
    name: "replicas",
    doc: "One copy of a replication group (the PRE's multicast group and the copy's egress_rid) -> how egress rewrites it: retag for a local port, VXLAN to a remote VTEP",
    key: {
      name: "replica_key",
      fields: [
        { name: "mgrp", type: "u16" },
        { name: "rid", type: "u16" },
      ],
    },
    value: {
      name: "replica_value",
      fields: [
        { name: "kind", type: "u8", doc: "FLOOD_LOCAL | FLOOD_REMOTE" },
        { name: "vlan", type: "u16" },
        { name: "remote", type: "ipv4" },
        { name: "smac", type: "mac", doc: "remote copies: the outer MACs of the next hop" },
        { name: "dmac", type: "mac" },
      ],
    },
  },
} as const satisfies Record<string, { name: string; doc: string; key: StructDecl; value: StructDecl }>;

export type P4OnlyTableName = keyof typeof p4OnlyTables;

export interface P4Lookup {
  /** the schema table whose entries it holds (or a P4-only table) */
  table: TableName | P4OnlyTableName;
  /** its name in the P4 program and the bmv2 JSON */
  p4: string;
  /** a one-entry table: no key, written as the default action */
  keyless?: boolean;
  /** value fields only the eBPF data path keeps (timestamps it writes): not action parameters */
  omit?: readonly string[];
  /** action parameters the P4 target adds to the schema's value */
  extra?: StructDecl["fields"];
  /** entries keep a time since their last hit (bmv2 ageing): the FDB's activity */
  timeout?: boolean;
  /** compiled in only with this pipeline feature */
  feature?: "vlan" | "learning" | "mcast" | "mirror";
  /** the control that applies it */
  stage: "ingress" | "egress";
}

export const p4Lookups = [
  { table: "globals", p4: "globals", keyless: true, omit: ["no_neigh_ns"], stage: "ingress" },
  { table: "ports", p4: "ports", extra: [{ name: "learn_full", type: "u8", doc: "the port's learned MACs are at its max_macs: a new source is dropped" }], stage: "ingress" },
  { table: "vlans", p4: "vlans", feature: "vlan", stage: "ingress" },
  {
    table: "vnis",
    p4: "vnis",
    extra: [
      { name: "mgrp", type: "u16", doc: "the VNI's flood group in the PRE" },
      { name: "learn_full", type: "u8", doc: "the VNI's learned MACs are at its max_macs" },
    ],
    stage: "ingress",
  },
  { table: "vteps", p4: "vteps", stage: "ingress" },
  { table: "fdb", p4: "fdb", omit: ["seen_ns", "event_ns"], stage: "ingress" },
  { table: "fdb", p4: "fdb_src", omit: ["seen_ns", "event_ns"], timeout: true, feature: "learning", stage: "ingress" },
  // a group's (S,G) entry, its (*,G) entry, and the VNI's mrouter ports (group and source 0.0.0.0): three lookups of one table
  { table: "mcast", p4: "mcast", extra: [{ name: "mgrp", type: "u16", doc: "the group's member list in the PRE" }], feature: "mcast", stage: "ingress" },
  { table: "mcast", p4: "mcast_any", extra: [{ name: "mgrp", type: "u16" }], feature: "mcast", stage: "ingress" },
  { table: "mcast", p4: "mcast_mrouter", extra: [{ name: "mgrp", type: "u16" }], feature: "mcast", stage: "ingress" },
  { table: "nexthops", p4: "nexthops", stage: "ingress" },
  // match-mirror-encap: source and destination entries by MAC and by IPv4 (a table per direction:
  // each is applied once), the copy's outer next hop, and the termination of copies from the overlay
  { table: "mirror", p4: "mirror_src", feature: "mirror", stage: "ingress" },
  { table: "mirror", p4: "mirror_dst", feature: "mirror", stage: "ingress" },
  { table: "mirror_ip", p4: "mirror_ip_src", feature: "mirror", stage: "ingress" },
  { table: "mirror_ip", p4: "mirror_ip_dst", feature: "mirror", stage: "ingress" },
  { table: "nexthops", p4: "mirror_nexthops", feature: "mirror", stage: "ingress" },
  { table: "mirror_term", p4: "mirror_term", feature: "mirror", stage: "ingress" },
  { table: "replicas", p4: "replicas", stage: "egress" },
] as const satisfies readonly P4Lookup[];

/** bmv2 port numbers: 0..510 for ports, 511 is v1model's drop port. */
export const P4_CPU_PORT = 510;
/** the clone session that carries packet-in copies to the CPU port */
export const P4_CPU_SESSION = 1;
/** mirror copies leave through clone session P4_MIRROR_SESSION_BASE + their egress port */
export const P4_MIRROR_SESSION_BASE = 1024;
/** a session's mirror counters are cells slot * P4_MIRROR_STAT_CELLS + MIRROR_STAT_* */
export const P4_MIRROR_STAT_CELLS = 8;

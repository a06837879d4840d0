// What the tables must hold for a config: a pure function of the config and
// the ports' ifindexes and MACs, so it can be tested without a kernel and
// diffed against whatever is in the maps (after a restart, or a config change).
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { TableKey, TableValue } from "../codec.ts";
import { macOf as deviceMac } from "../netdev.ts";

export interface DesiredState {
  globals: TableValue<"globals">;
  ports: Map<number, TableValue<"ports">>;
  vlans: [TableKey<"vlans">, TableValue<"vlans">][];
  vnis: Map<number, TableValue<"vnis">>;
  /** per VNI, the replication list in slot order */
  flood: Map<number, TableValue<"flood">[]>;
  vteps: [TableKey<"vteps">, TableValue<"vteps">][];
  staticFdb: [TableKey<"fdb">, TableValue<"fdb">][];
}

export type IfindexOf = (name: string) => number;
/** A port's own MAC; by default read from the device (netdev.ts). */
export type MacOf = (name: string) => string;

/** The VLAN a port uses for a VNI: 0 when it carries the VNI untagged. */
export function portVlanFor(port: SwitchConfig["ports"][number], vni: number): number | undefined {
  if (port.vni === vni) return 0;
  return port.vlans.find((v) => v.vni === vni)?.vlan;
}

/** What the control plane adds at run time (EVPN): per VNI, remote VTEPs to
 * flood to (type-3 routes) and remote VTEPs to admit as outer sources (the next
 * hops of type-2 routes). */
export interface RuntimeAdditions {
  flood?: ReadonlyMap<number, Iterable<string>>;
  admit?: ReadonlyMap<number, Iterable<string>>;
  /** access ports whose link is down: left out of the flood lists (a copy to them could only fail) */
  portsDown?: ReadonlySet<string>;
}

export function desiredState(cfg: SwitchConfig, ifindexOf: IfindexOf, added?: RuntimeAdditions, macOf: MacOf = deviceMac): DesiredState {
  const uplinkIf = cfg.uplinks.map((u) => ifindexOf(u.name));
  const ports = new Map<number, TableValue<"ports">>();
  // an uplink's MAC: VXLAN for us addressed to any other is not ours (the kernel drops it too)
  for (const [i, u] of cfg.uplinks.entries()) ports.set(uplinkIf[i]!, { role: constants.PORT_ROLE_UPLINK, mac: macOf(u.name), vni: 0 });
  const vlans: DesiredState["vlans"] = [];
  const accessIf = new Map<string, number>();
  for (const p of cfg.ports) {
    const ifindex = ifindexOf(p.name);
    accessIf.set(p.name, ifindex);
    ports.set(ifindex, { role: constants.PORT_ROLE_ACCESS, mac: macOf(p.name), vni: p.vni ?? 0 });
    for (const v of p.vlans) vlans.push([{ ifindex, vlan: v.vlan }, { vni: v.vni }]);
  }

  const vnis = new Map<number, TableValue<"vnis">>();
  const flood = new Map<number, TableValue<"flood">[]>();
  const vtepRefs = new Map<string, number>();
  const staticFdb: DesiredState["staticFdb"] = [];
  const refVtep = (vni: number, ip: string) => {
    const k = `${vni}/${ip}`;
    vtepRefs.set(k, (vtepRefs.get(k) ?? 0) + 1);
  };

  const portsByName = new Map(cfg.ports.map((p) => [p.name, p]));
  for (const v of cfg.vnis) {
    const list: TableValue<"flood">[] = [];
    for (const p of cfg.ports) {
      const vlan = portVlanFor(p, v.vni);
      if (vlan !== undefined && !added?.portsDown?.has(p.name)) list.push({ kind: constants.FLOOD_LOCAL, vlan, ifindex: accessIf.get(p.name)!, remote: "0.0.0.0" });
    }
    const remotes = new Set(v.flood);
    for (const ip of added?.flood?.get(v.vni) ?? []) remotes.add(ip);
    for (const ip of remotes) {
      list.push({ kind: constants.FLOOD_REMOTE, vlan: 0, ifindex: 0, remote: ip });
      refVtep(v.vni, ip);
    }
    flood.set(v.vni, list);
    // with BGP EVPN the overlay's MACs come from routes: learn local hosts only,
    // and admit only VTEPs we know (config or routes)
    const learnFlags = cfg.bgp ? constants.VNI_LEARN_LOCAL : constants.VNI_LEARN_LOCAL | constants.VNI_LEARN_REMOTE;
    vnis.set(v.vni, { flags: v.learning ? learnFlags : 0, flood_count: list.length });
    // per port and per remote VTEP, the value its static MACs in this VNI get:
    // one object shared by them all (100k MACs behind a few places)
    const localValue = new Map<string, TableValue<"fdb">>();
    const remoteValue = new Map<string, TableValue<"fdb">>();
    for (const m of v.staticMacs) {
      const key = { vni: v.vni, mac: m.mac };
      if (m.port !== undefined) {
        let value = localValue.get(m.port);
        if (!value) {
          const port = portsByName.get(m.port)!;
          value = { kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: portVlanFor(port, v.vni) ?? 0, ifindex: accessIf.get(m.port)!, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n };
          localValue.set(m.port, value);
        }
        staticFdb.push([key, value]);
      } else {
        let value = remoteValue.get(m.remote!);
        if (!value) {
          value = { kind: constants.FDB_REMOTE, flags: constants.FDB_STATIC, vlan: 0, ifindex: 0, remote: m.remote!, seen_ns: 0n, event_ns: 0n };
          remoteValue.set(m.remote!, value);
        }
        staticFdb.push([key, value]);
        refVtep(v.vni, m.remote!);
      }
    }
  }

  for (const [vni, ips] of added?.admit ?? new Map<number, Iterable<string>>()) for (const ip of ips) refVtep(vni, ip);

  const vteps: DesiredState["vteps"] = [...vtepRefs].map(([k, refs]) => {
    const [vni, remote] = k.split("/");
    return [{ vni: Number(vni), remote: remote! }, { refs }];
  });

  return {
    globals: { vtep_ip: cfg.vtep.sourceIp, udp_port: cfg.vtep.udpPort, uplink_mac: ports.get(uplinkIf[0]!)!.mac, fib_ifindex: uplinkIf[0]!, replicator_ip: "0.0.0.0", igmp_rate: 0, no_neigh_ns: 0n },
    ports,
    vlans,
    vnis,
    flood,
    vteps,
    staticFdb,
  };
}

// What the mirror tables must hold: a pure function of the sessions and of
// where this switch's forwarding table says each monitored host and each
// monitoring server is. Entries are derived, never hand-placed, so a host or
// server move is not special code: the FDB changed, the entries are
// recomputed.
//   host local here      -> source entry + destination entry
//   host remote/unknown  -> destination entry (frames from local hosts to it)
//   server local         -> copies out of its port; termination entry HOST ID -> port
//   server remote        -> copies VXLAN-GBP encapsulated to its VTEP
//   server unknown       -> no copy, counted (never flooded)
import { constants } from "../../codegen/tables.ts";
import type { TableKey, TableValue } from "../codec.ts";
import type { MirrorSession } from "./config.ts";

export type Location =
  | { kind: "local"; ifindex: number; vlan: number }
  | { kind: "remote"; vtep: string }
  | { kind: "unknown" };

export type MirrorRole = "source" | "destination" | "termination";

export interface SessionPlacement {
  host: Location;
  server: Location;
  roles: MirrorRole[];
  /** an entry key this session needs is held by an earlier session (one entry per key) */
  shadowedBy?: string;
}

export interface MirrorDesired {
  mac: [TableKey<"mirror">, TableValue<"mirror">][];
  ip: [TableKey<"mirror_ip">, TableValue<"mirror_ip">][];
  term: [TableKey<"mirror_term">, TableValue<"mirror_term">][];
  /** per VNI: VNI_MIRROR_MAC / VNI_MIRROR_IP when it has entries of that kind */
  vniFlags: Map<number, number>;
  /** per session name */
  placement: Map<string, SessionPlacement>;
}

/** locate: where the FDB has (vni, mac); slotOf: the session's counter slot. */
export function mirrorDesired(
  sessions: readonly MirrorSession[],
  locate: (vni: number, mac: string) => Location,
  slotOf: (s: MirrorSession) => number,
): MirrorDesired {
  // one id per distinct server, so a frame matched twice for one server is copied once
  const serverIds = new Map<string, number>();
  for (const id of [...new Set(sessions.map((s) => `${s.server.vni}/${s.server.mac}`))].sort()) serverIds.set(id, serverIds.size + 1);

  const out: MirrorDesired = { mac: [], ip: [], term: [], vniFlags: new Map(), placement: new Map() };
  const owners = new Map<string, string>(); // entry key -> session that holds it
  const flag = (vni: number, f: number) => out.vniFlags.set(vni, (out.vniFlags.get(vni) ?? 0) | f);

  for (const s of sessions) {
    const host = locate(s.host.vni, s.host.mac);
    const server = locate(s.server.vni, s.server.mac);
    const roles: MirrorRole[] = [];
    const slot = slotOf(s);
    const value: TableValue<"mirror"> = {
      kind: server.kind === "local" ? constants.MIRROR_TO_LOCAL : server.kind === "remote" ? constants.MIRROR_TO_REMOTE : constants.MIRROR_NO_SERVER,
      vlan: server.kind === "local" ? server.vlan : 0,
      ifindex: server.kind === "local" ? server.ifindex : 0,
      remote: server.kind === "remote" ? server.vtep : "0.0.0.0",
      host_id: s.hostId,
      slot,
      server: serverIds.get(`${s.server.vni}/${s.server.mac}`)!,
    };
    const dirs: number[] = [];
    // frames from the host enter here only where the host is local
    if (host.kind === "local" && s.direction !== "to-host") (dirs.push(constants.MIRROR_SRC), roles.push("source"));
    if (s.direction !== "from-host") (dirs.push(constants.MIRROR_DST), roles.push("destination"));
    let shadowedBy: string | undefined;
    for (const dir of dirs) {
      const id = `${s.match}/${s.host.vni}/${s.match === "ip" ? s.host.ip : s.host.mac}/${dir}`;
      const holder = owners.get(id);
      if (holder) {
        shadowedBy = holder;
        continue;
      }
      owners.set(id, s.name);
      if (s.match === "ip") {
        out.ip.push([{ vni: s.host.vni, ip: s.host.ip!, dir }, value]);
        flag(s.host.vni, constants.VNI_MIRROR_IP);
      } else {
        out.mac.push([{ vni: s.host.vni, mac: s.host.mac, dir }, value]);
        flag(s.host.vni, constants.VNI_MIRROR_MAC);
      }
    }
    if (server.kind === "local") {
      out.term.push([{ host_id: s.hostId }, { ifindex: server.ifindex, vlan: server.vlan, slot }]);
      roles.push("termination");
    }
    out.placement.set(s.name, { host, server, roles, ...(shadowedBy ? { shadowedBy } : {}) });
  }
  return out;
}

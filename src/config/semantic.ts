// Cross-field rules over the schema's output. Each rule reports at the key or
// value that breaks it (positions come from the Report, by YAML path). Rules
// that depend on a field the schema already rejected are skipped, so one
// mistake is not reported again as a string of follow-on errors.
//
// Table capacity: a limit on one thing (a VNI's flood targets) points at that
// thing. A limit on a whole-file count (vnis, remote VTEP pairs, static macs)
// has no single entry to blame: it points at the `tables:` value when the
// file sets one (the number that is too small for what the file declares),
// and otherwise, with the default in force, at the first entry beyond it
// (saying so: there is no `tables:` line to look for).

import type { Path, Pos, RawConfig, Report } from "./schema.ts";
import { checkBgpSemantics } from "../control/evpn/config.ts";
import { checkMirrorSemantics } from "../control/mirror/config.ts";
import { checkMulticastSemantics } from "../control/mcast/config.ts";

interface PortInfo {
  /** VNIs the port carries (untagged or via a VLAN). */
  carries: Set<number>;
  /** False when part of the port's vni/vlans was invalid, so `carries` may be short. */
  complete: boolean;
}

export function checkSemantics(cfg: RawConfig, r: Report): void {
  const at = (path: Path): Pos => r.at(path) ?? { line: 1, col: 1 };
  const srcIp = cfg.vtep?.sourceIp;

  /** " (the default)" after a table size the file does not set. */
  const dflt = (key: string) => (r.has(["tables", key]) ? "" : " (the default)");
  /** A whole-file count of `entries` over the table size `limit` (the
   *  entries' positions are worked out only then). */
  const overLimit = (key: string, limit: number, entries: Pos[] | (() => Pos[]), msg: string) => {
    const all = typeof entries === "function" ? entries() : [...entries];
    const beyond = all.sort((a, b) => a.line - b.line || a.col - b.col)[limit];
    const pos = r.has(["tables", key]) ? at(["tables", key]) : (beyond ?? { line: 1, col: 1 });
    r.error(pos, msg + dflt(key));
  };

  // --- interface names: once across uplinks and ports -----------------------
  const ifaces = new Map<string, { pos: Pos; kind: string }>();
  const uplinkNames = new Set<string>();
  const addIface = (name: string | undefined, path: Path, kind: string) => {
    if (name === undefined) return;
    const first = ifaces.get(name);
    if (first) {
      r.error(at(path), `interface ${name} is used more than once (first as ${first.kind} at line ${first.pos.line})`);
    } else {
      ifaces.set(name, { pos: at(path), kind });
    }
  };
  cfg.uplinks?.forEach((u, i) => {
    addIface(u?.name, ["uplinks", i, "name"], "uplink");
    if (u?.name !== undefined) uplinkNames.add(u.name);
  });
  cfg.ports?.forEach((p, i) => addIface(p?.name, ["ports", i, "name"], "port"));

  // --- VNI declarations -------------------------------------------------------
  const declared = new Map<number, Pos>();
  let allVnisKnown = true; // false when some `vni:` under vnis was invalid
  cfg.vnis?.forEach((v, i) => {
    if (v?.vni === undefined) {
      allVnisKnown = false;
      return;
    }
    const pos = at(["vnis", i, "vni"]);
    const first = declared.get(v.vni);
    if (first) r.error(pos, `duplicate vni ${v.vni} (first declared at line ${first.line})`);
    else declared.set(v.vni, pos);
  });
  const vniLimit = cfg.tables?.vnis;
  if (vniLimit !== undefined && cfg.vnis && cfg.vnis.length > vniLimit) {
    const n = cfg.vnis.length;
    overLimit("vnis", vniLimit, cfg.vnis.map((_v, i) => at(["vnis", i])), `too many vnis: ${n} declared, tables.vnis is ${vniLimit}`);
  }

  // --- access ports -----------------------------------------------------------
  const ports = new Map<string, PortInfo>();
  let allPortNamesKnown = true;
  cfg.ports?.forEach((p, i) => {
    if (!p || p.name === undefined) allPortNamesKnown = false;
    if (!p) return;
    const base = ["ports", i];
    const label = p.name ?? formatIndex("ports", i);
    const carried = new Map<number, Pos>();
    let complete = true;

    const use = (vni: number, path: Path) => {
      const pos = at(path);
      const first = carried.get(vni);
      if (first) {
        r.error(pos, `vni ${vni} is mapped more than once on port ${label} (first at line ${first.line})`);
      } else {
        carried.set(vni, pos);
      }
      if (allVnisKnown && !declared.has(vni)) {
        r.error(pos, `port ${label} uses vni ${vni}, which is not declared under vnis`);
      }
    };

    if (p.vni !== undefined) use(p.vni, [...base, "vni"]);
    else if (r.has([...base, "vni"])) complete = false;

    if (p.vlans === undefined) complete = false;
    const vlans = new Map<number, Pos>();
    p.vlans?.forEach((e, j) => {
      const ep = [...base, "vlans", j];
      if (!e) {
        complete = false;
        return;
      }
      if (e.vlan !== undefined) {
        const pos = at([...ep, "vlan"]);
        const first = vlans.get(e.vlan);
        if (first) r.error(pos, `duplicate vlan ${e.vlan} on port ${label} (first at line ${first.line})`);
        else vlans.set(e.vlan, pos);
      }
      if (e.vni !== undefined) use(e.vni, [...ep, "vni"]);
      else complete = false;
    });

    if (p.vni === undefined && !r.has([...base, "vni"]) && p.vlans !== undefined && p.vlans.length === 0) {
      r.error(at(base), `port ${label} needs a vni or vlans`);
    }
    if (p.name !== undefined && !ports.has(p.name)) {
      ports.set(p.name, { carries: new Set(carried.keys()), complete });
    }
  });

  // --- per-VNI: flood list, static MACs --------------------------------------
  const floodLimit = cfg.tables?.floodPerVni;
  /** (vni, ip) -> where it is first installed */
  const remotePairs = new Map<string, Pos>();
  const addRemote = (vni: number | undefined, ip: string, pos: () => Pos) => {
    const k = `${vni}/${ip}`;
    if (!remotePairs.has(k)) remotePairs.set(k, pos());
  };
  /** static MACs the file installs (their positions matter only over tables.fdb) */
  let staticMacs = 0;
  cfg.vnis?.forEach((v, i) => {
    if (!v) return;
    const base = ["vnis", i];
    const vniLabel = v.vni !== undefined ? `vni ${v.vni}` : formatIndex("vnis", i);

    const flood = new Map<string, Pos>();
    v.flood?.forEach((ip, j) => {
      if (ip === undefined) return;
      const pos = at([...base, "flood", j]);
      const first = flood.get(ip);
      if (ip === srcIp) r.error(pos, `flood entry ${ip} is the local source_ip`);
      else if (first) r.error(pos, `duplicate flood entry ${ip} (first at line ${first.line})`);
      else flood.set(ip, pos);
    });
    for (const [ip, pos] of flood) addRemote(v.vni, ip, () => pos);

    if (v.vni !== undefined && floodLimit !== undefined) {
      let local = 0;
      for (const p of ports.values()) if (p.carries.has(v.vni)) local++;
      const total = flood.size + local;
      if (total > floodLimit) {
        // At the flood list when shortening it is enough; when the access
        // ports alone fill the limit, at the vni (its ports are elsewhere).
        r.error(
          (local <= floodLimit ? r.keyAt([...base, "flood"]) : undefined) ?? at([...base, "vni"]),
          `${vniLabel} has ${total} flood targets (${flood.size} remote + ${local} access ports), more than tables.flood_per_vni ${floodLimit}${dflt("flood_per_vni")}`,
        );
      }
    }

    /** mac -> the index of its first entry (a position only for a duplicate's message) */
    const macs = new Map<string, number>();
    v.staticMacs?.forEach((sm, j) => {
      if (!sm) return;
      const sp = [...base, "static_macs", j];
      staticMacs++;
      const hasPort = r.has([...sp, "port"]);
      const hasRemote = r.has([...sp, "remote"]);
      const what = sm.mac !== undefined ? `static mac ${sm.mac}` : "static mac";
      if (hasPort && hasRemote) {
        r.error(at(sp), `${what} has both port and remote (give exactly one)`);
      } else if (!hasPort && !hasRemote) {
        r.error(at(sp), `${what} has neither port nor remote (give exactly one)`);
      }

      if (sm.mac !== undefined) {
        const first = macs.get(sm.mac);
        if (first !== undefined) r.error(at([...sp, "mac"]), `duplicate static mac ${sm.mac} in ${vniLabel} (first at line ${at([...base, "static_macs", first, "mac"]).line})`);
        else macs.set(sm.mac, j);
      }

      if (sm.port !== undefined && !hasRemote) {
        // Positions only for messages: 100k entries must not pay for them.
        const pos = () => at([...sp, "port"]);
        const port = ports.get(sm.port);
        if (!port) {
          if (uplinkNames.has(sm.port)) {
            r.error(pos(), `static mac port ${sm.port} is an uplink, not an access port`);
          } else if (allPortNamesKnown) {
            r.error(pos(), `static mac port ${sm.port} is not an access port`);
          }
        } else if (v.vni !== undefined && port.complete && !port.carries.has(v.vni)) {
          r.error(pos(), `port ${sm.port} does not carry vni ${v.vni}`);
        }
      }

      if (sm.remote !== undefined && !hasPort) {
        if (sm.remote === srcIp) r.error(at([...sp, "remote"]), `remote ${sm.remote} is the local source_ip`);
        else addRemote(v.vni, sm.remote, () => at([...sp, "remote"]));
      }
    });
  });

  // --- table capacity for what the file itself installs ----------------------
  const remoteLimit = cfg.tables?.remoteVteps;
  if (remoteLimit !== undefined && remotePairs.size > remoteLimit) {
    const n = remotePairs.size;
    overLimit(
      "remote_vteps",
      remoteLimit,
      [...remotePairs.values()],
      `${n} remote VTEP (vni, ip) pairs in flood lists and static macs, more than tables.remote_vteps ${remoteLimit}`,
    );
  }
  const fdbLimit = cfg.tables?.fdb;
  if (fdbLimit !== undefined && staticMacs > fdbLimit) {
    const entries = () => (cfg.vnis ?? []).flatMap((v, i) => (v?.staticMacs ?? []).flatMap((sm, j) => (sm ? [at(["vnis", i, "static_macs", j])] : [])));
    overLimit("fdb", fdbLimit, entries, `${staticMacs} static macs, more than tables.fdb ${fdbLimit}`);
  }

  const knownVnis = allVnisKnown ? new Set(declared.keys()) : undefined;
  if (cfg.bgp) checkBgpSemantics(cfg.bgp, r, knownVnis);
  if (cfg.mirror) checkMirrorSemantics(cfg.mirror, r, knownVnis);
  if (cfg.multicast) checkMulticastSemantics(cfg.multicast, r, { declaredVnis: knownVnis, sourceIp: srcIp, tables: cfg.tables });
}

function formatIndex(list: string, i: number): string {
  return `${list}[${i}]`;
}

// The config loader: YAML text -> validated, normalised SwitchConfig, or a
// ConfigError listing every problem as "file:line:col: message". Pure: it reads
// the file (loadConfigFile) and nothing else.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LineCounter, parseDocument, visit } from "yaml";
import { checkSchema, Report, type LinePositions, type RawConfig } from "./schema.ts";
import { lineStarts, readPlainYaml } from "./plain-yaml.ts";
import { checkSemantics } from "./semantic.ts";
import { placeSyntaxErrors } from "./syntax.ts";
import { buildBgp } from "../control/evpn/config.ts";
import { buildMirror } from "../control/mirror/config.ts";
import { buildMulticast } from "../control/mcast/config.ts";
import { ConfigError, type AccessPort, type SourceRef, type StaticMac, type SwitchConfig, type VniConfig } from "./types.ts";

/** Read and load a config file. Messages name the file as `path` was given;
 *  `SwitchConfig.file` is its absolute path. */
export function loadConfigFile(path: string): SwitchConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ConfigError([`${path}:1:1: cannot read config file (${why})`]);
  }
  return parseWith(text, path, resolve(path));
}

/** Load config text. `fileName` is used in messages and as `SwitchConfig.file`. */
export function parseConfig(text: string, fileName: string): SwitchConfig {
  return parseWith(text, fileName, fileName);
}

function parseWith(text: string, displayName: string, file: string): SwitchConfig {
  // Most files are plain YAML that a fast reader turns into the same tree the
  // `yaml` package would (plain-yaml.ts); the package parses everything else
  // and explains syntax errors. Line numbers are counted only when a position
  // is asked for (an error, or an interface name's place).
  const plain = readPlainYaml(text);
  if (plain) return check(new Report(displayName, plain, lazyLines(text)), file);
  const lc = new LineCounter();
  // Duplicate keys are reported by the schema walk (with both positions).
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const r = new Report(displayName, doc, lc);

  // Syntax errors stop here: a half-parsed tree would only add noise. Each is
  // placed where the mistake is (syntax.ts), not where the parser noticed it.
  if (doc.errors.length > 0) {
    for (const p of placeSyntaxErrors(text, doc.errors)) r.error(r.posAt(p.offset), `YAML syntax error: ${p.msg}`);
    throw new ConfigError(r.problems());
  }
  visit(doc, {
    Alias(_k, a) {
      if (!a.resolve(doc)) r.error(r.posOf(a), `YAML syntax error: unknown alias *${a.source}`);
    },
  });
  if (r.count > 0) throw new ConfigError(r.problems());
  return check(r, file);
}

/** Schema and semantic checks over a parsed document, then the SwitchConfig. */
function check(r: Report, file: string): SwitchConfig {
  const raw = checkSchema(r);
  if (raw) checkSemantics(raw, r);
  if (r.count > 0 || !raw) throw new ConfigError(r.problems());
  return build(raw, file, r);
}

/** `{line, col}` of an offset in text without CR, the line starts counted on first use. */
function lazyLines(text: string): LinePositions {
  let lc: LineCounter | undefined;
  return {
    linePos(offset) {
      if (!lc) {
        lc = new LineCounter();
        for (const start of lineStarts(text)) lc.addNewLine(start);
      }
      return lc.linePos(offset);
    },
  };
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`config loader bug: ${what} missing after a clean check`);
  return v;
}

/** Raw (checked, error-free) -> SwitchConfig. `r` still knows where every key
 *  sat: interface names keep theirs, so the runtime can point at a port the
 *  kernel does not have. */
function build(raw: RawConfig, file: string, r: Report): SwitchConfig {
  const at = (path: (string | number)[]): SourceRef => {
    const pos = need(r.keyAt(path), path.join("."));
    return { file: r.file, line: pos.line, col: pos.col };
  };
  const sw = need(raw.switch, "switch");
  const vtep = need(raw.vtep, "vtep");
  const tables = need(raw.tables, "tables");
  const mgmt = raw.management ?? {};
  const name = need(sw.name, "switch.name");

  const ports: AccessPort[] = need(raw.ports, "ports").map((p, i) => {
    const port = need(p, "port");
    return {
      name: need(port.name, "port.name"),
      nameAt: at(["ports", i, "name"]),
      ...(port.vni !== undefined ? { vni: port.vni } : {}),
      vlans: need(port.vlans, "port.vlans").map((e) => ({
        vlan: need(e?.vlan, "vlan"),
        vni: need(e?.vni, "vlan vni"),
      })),
      ...(port.maxMacs !== undefined ? { maxMacs: port.maxMacs } : {}),
    };
  });

  const vnis: VniConfig[] = need(raw.vnis, "vnis").map((v) => {
    const vc = need(v, "vni entry");
    return {
      vni: need(vc.vni, "vni"),
      learning: need(vc.learning, "learning"),
      ageingSeconds: need(vc.ageing, "ageing"),
      ...(vc.maxMacs !== undefined ? { maxMacs: vc.maxMacs } : {}),
      flood: need(vc.flood, "flood").map((ip) => need(ip, "flood entry")),
      staticMacs: need(vc.staticMacs, "static_macs").map((s) => {
        const sm = need(s, "static mac");
        const out: StaticMac = { mac: need(sm.mac, "mac") };
        if (sm.port !== undefined) out.port = sm.port;
        if (sm.remote !== undefined) out.remote = sm.remote;
        return out;
      }),
    };
  });

  const config: SwitchConfig = {
    file,
    switch: { name },
    vtep: { sourceIp: need(vtep.sourceIp, "source_ip"), udpPort: need(vtep.udpPort, "udp_port") },
    uplinks: need(raw.uplinks, "uplinks").map((u, i) => ({ name: need(u?.name, "uplink name"), nameAt: at(["uplinks", i, "name"]) })),
    ports,
    vnis,
    tables: {
      fdb: need(tables.fdb, "tables.fdb"),
      vnis: need(tables.vnis, "tables.vnis"),
      floodPerVni: need(tables.floodPerVni, "tables.flood_per_vni"),
      remoteVteps: need(tables.remoteVteps, "tables.remote_vteps"),
      eventRing: need(tables.eventRing, "tables.event_ring"),
      mcastGroups: need(tables.mcastGroups, "tables.mcast_groups"),
      mcastMembers: need(tables.mcastMembers, "tables.mcast_members"),
    },
    management: { socket: mgmt.socket ?? `/run/vxgate/${name}.sock` },
    mirror: buildMirror(need(raw.mirror, "mirror")),
    multicast: buildMulticast(need(raw.multicast, "multicast")),
  };
  if (mgmt.http) config.management.http = mgmt.http;
  if (mgmt.tokenFile) config.management.tokenFile = mgmt.tokenFile;
  if (raw.bgp !== undefined) config.bgp = buildBgp(raw.bgp);
  return config;
}

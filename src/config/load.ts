// The config loader: YAML text -> validated, normalised SwitchConfig, or a
// ConfigError listing every problem as "file:line:col: message". Pure: it reads
// the file (loadConfigFile) and nothing else.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LineCounter, parseDocument, visit } from "yaml";
import { checkSchema, Report, type RawConfig } from "./schema.ts";
import { checkSemantics } from "./semantic.ts";
import { buildBgp } from "../control/evpn/config.ts";
import { buildMirror } from "../control/mirror/config.ts";
import { ConfigError, type AccessPort, type StaticMac, type SwitchConfig, type VniConfig } from "./types.ts";

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
  const lc = new LineCounter();
  // Duplicate keys are reported by the schema walk (with both positions).
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const r = new Report(displayName, doc, lc);

  // Syntax errors stop here: a half-parsed tree would only add noise. One
  // error per position (the parser often reports follow-ons at the same spot).
  const seen = new Set<number>();
  for (const e of doc.errors) {
    if (seen.has(e.pos[0])) continue;
    seen.add(e.pos[0]);
    const msg =
      e.code === "MULTIPLE_DOCS"
        ? "the file must hold a single YAML document"
        : e.message.replace(/ at line \d+, column \d+[\s\S]*$/, "").split("\n")[0];
    r.error(r.posAt(e.pos[0]), `YAML syntax error: ${msg}`);
  }
  visit(doc, {
    Alias(_k, a) {
      if (!a.resolve(doc)) r.error(r.posOf(a), `YAML syntax error: unknown alias *${a.source}`);
    },
  });
  if (r.count > 0) throw new ConfigError(r.problems());

  const raw = checkSchema(r);
  if (raw) checkSemantics(raw, r);
  if (r.count > 0 || !raw) throw new ConfigError(r.problems());
  return build(raw, file);
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`config loader bug: ${what} missing after a clean check`);
  return v;
}

/** Raw (checked, error-free) -> SwitchConfig. */
function build(raw: RawConfig, file: string): SwitchConfig {
  const sw = need(raw.switch, "switch");
  const vtep = need(raw.vtep, "vtep");
  const tables = need(raw.tables, "tables");
  const mgmt = raw.management ?? {};
  const name = need(sw.name, "switch.name");

  const ports: AccessPort[] = need(raw.ports, "ports").map((p) => {
    const port = need(p, "port");
    return {
      name: need(port.name, "port.name"),
      ...(port.vni !== undefined ? { vni: port.vni } : {}),
      vlans: need(port.vlans, "port.vlans").map((e) => ({
        vlan: need(e?.vlan, "vlan"),
        vni: need(e?.vni, "vlan vni"),
      })),
    };
  });

  const vnis: VniConfig[] = need(raw.vnis, "vnis").map((v) => {
    const vc = need(v, "vni entry");
    return {
      vni: need(vc.vni, "vni"),
      learning: need(vc.learning, "learning"),
      ageingSeconds: need(vc.ageing, "ageing"),
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
    uplinks: need(raw.uplinks, "uplinks").map((u) => ({ name: need(u?.name, "uplink name") })),
    ports,
    vnis,
    tables: {
      fdb: need(tables.fdb, "tables.fdb"),
      vnis: need(tables.vnis, "tables.vnis"),
      floodPerVni: need(tables.floodPerVni, "tables.flood_per_vni"),
      remoteVteps: need(tables.remoteVteps, "tables.remote_vteps"),
    },
    management: { socket: mgmt.socket ?? `/run/vxgate/${name}.sock` },
    mirror: buildMirror(need(raw.mirror, "mirror")),
  };
  if (mgmt.http) config.management.http = mgmt.http;
  if (raw.bgp !== undefined) config.bgp = buildBgp(raw.bgp);
  return config;
}

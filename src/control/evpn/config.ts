// The `bgp:` section (issue 3): schema, cross-field rules and the typed
// BgpConfig it becomes. Hooked into schema.ts (bgpSchema), semantic.ts
// (checkBgpSemantics) and load.ts (buildBgp); same "file:line:col: message"
// quality as the rest of the file.
//
//   bgp:
//     asn: 65001                     # 1..4294967295
//     router_id: 10.0.0.1            # IPv4, not 0.0.0.0
//     listen: 0.0.0.0:179            # HOST, HOST:PORT or [V6]:PORT; default 0.0.0.0:179
//     neighbors:
//       - address: 10.0.0.254        # IPv4 or IPv6
//         remote_asn: 65000          # == asn: iBGP, else eBGP
//         role: peer                 # peer | rr-client (we reflect to it; iBGP only)
//         description: spine1
//         hold_time: 90              # 0 or 3..65535, default 90
//         passive: false             # only accept, never connect
//         port: 179                  # the peer's TCP port (default 179)
//         aggregation: true          # per-peer override of evpn.aggregation.enabled
//         md5_password: "s3cret"     # TCP-MD5 (RFC 2385): 1..80 printable ASCII characters, the peer's password
//         ttl_security: 1            # GTSM (RFC 5082), FRR's `ttl-security hops N`: 1..254; send with TTL 255,
//                                    #   accept only TTL >= 256 - N (1 = directly connected)
//         max_prefixes: 10000        # more accepted EVPN routes than this: Cease / Maximum Number of
//                                    #   Prefixes Reached (RFC 4486), its routes dropped, session Idle
//         max_prefixes_restart: 300  # 0..86400 s before the session starts again (0, the default: it
//                                    #   stays down until an operator resets it); FRR's `restart` is in minutes
//         smet: false                # true: the peer speaks the standard multicast carriers: RFC 9251 type-6
//                                    #   (SMET) routes, the Multicast Flags extended community, RFC 9574 assisted
//                                    #   replication (AR routes, PMSI T field). Default false: never for FRR or
//                                    #   GoBGP (FRR drops type 6, GoBGP resets the session on it); they get the
//                                    #   same membership in the optional transitive attribute 243 on type 3
//     route_reflector:
//       cluster_id: 10.0.0.1         # default router_id
//     graceful_restart:              # RFC 4724 (+ RFC 8538 N bit) for L2VPN EVPN; absent = these defaults
//       enabled: true                # advertise the capability: helper for peers' restarts, restarting speaker for ours
//       restart_time: 120            # 1..4095 s we ask peers to keep our routes while our control plane restarts
//       stale_time: 360              # 1..4095 s we keep a restarted peer's stale routes waiting for its End-of-RIB
//     evpn:
//       advertise_local_macs: true
//       aggregation: { enabled: true, window_seconds: 5 }     # 0..600
//       mobility: { dup_detect_moves: 5, dup_detect_seconds: 180 }
//       vnis:
//         - { vni: 100, rd: "10.0.0.1:7", import_rt: ["65001:100", "*:100"], export_rt: ["65001:100"] }
//
// Auto-derived values (what FRR does when a VNI has no explicit config):
//   RD  = router_id:<index> (type 1), index = 1, 2, ... in the order the VNIs
//         are declared under the top-level `vnis:` (FRR allocates a local
//         index per VNI; only uniqueness matters to receivers).
//   RT  = (asn & 0xffff):<vni> (type 0, 2-octet AS form even for a 4-octet
//         AS, so that a 24-bit VNI fits), import and export alike. Like FRR,
//         an auto-derived import RT also matches any AS with the same VNI
//         ("*:<vni>"), so eBGP peers in other ASes import each other's routes.
// TCP-MD5 (RFC 2385) and GTSM (RFC 5082) need setsockopt(TCP_MD5SIG /
// IP_TTL / IP_MINTTL), which node:net does not expose: the sessions create
// those sockets through the native addon (session/tcp.ts). The listener
// carries the key of every neighbor with a password; a password is never
// echoed in an error message.

import { isIPv4, isIPv6 } from "node:net";
import { isScalar } from "yaml";
import { type AdminAssigned, formatAdminValue, parseAdminValue } from "./bgp/rd.ts";
import { tryParseIpv4 } from "../../config/net.ts";
import { bool, int, list, obj, opt, req, section, str, type Path, type Pos, type Report, type V } from "../../config/schema.ts";

export interface BgpNeighborConfig {
  address: string;
  remoteAsn: number;
  role: "peer" | "rr-client";
  description?: string;
  holdTime: number;
  passive: boolean;
  /** The peer's TCP port (not in FRR's per-neighbor syntax; used by tests and non-standard peers). */
  port: number;
  /** Per-peer override of evpn.aggregation.enabled; absent = the global setting. */
  aggregation?: boolean;
  /** TCP-MD5 (RFC 2385) password: 1..80 printable ASCII characters. */
  md5Password?: string;
  /** GTSM (RFC 5082) hops, 1..254: send with TTL 255, accept only TTL >= 256 - hops. */
  ttlSecurity?: number;
  /** Most accepted EVPN routes from this peer; one more: Cease / Maximum Number of Prefixes Reached (RFC 4486). */
  maxPrefixes?: number;
  /** Seconds before a session ended by maxPrefixes starts again; absent or 0: only an operator's reset starts it. */
  maxPrefixesRestart?: number;
  /**
   * The peer understands RFC 9251 type-6 (SMET) routes, the Multicast Flags
   * extended community and the RFC 9574 assisted-replication signalling:
   * only such peers are sent them (ours or reflected). Absent = false.
   */
  smet?: boolean;
}

export interface BgpVniOverride {
  vni: number;
  /** Canonical RD text ("10.0.0.1:3", "65001:7"). */
  rd?: string;
  /** Canonical RT texts; "*:N" matches any AS. */
  importRt?: string[];
  exportRt?: string[];
}

export interface GracefulRestartConfig {
  enabled: boolean;
  /** Seconds (1..4095), advertised in our Graceful Restart capability. */
  restartTime: number;
  /** Seconds (1..4095) a re-established peer's stale routes wait for its End-of-RIB. */
  staleTime: number;
}

export const GRACEFUL_RESTART_DEFAULTS: Readonly<GracefulRestartConfig> = Object.freeze({ enabled: true, restartTime: 120, staleTime: 360 });

/** The graceful restart settings in force (the defaults when the section is absent). */
export function resolveGracefulRestart(bgp: BgpConfig): GracefulRestartConfig {
  return { ...GRACEFUL_RESTART_DEFAULTS, ...(bgp.gracefulRestart ?? {}) };
}

export interface BgpConfig {
  asn: number;
  routerId: string;
  listen: { host: string; port: number };
  neighbors: BgpNeighborConfig[];
  /** Present when this switch reflects routes (RFC 4456). */
  routeReflector?: { clusterId: string };
  /** Present when the config has a graceful_restart section; absent = GRACEFUL_RESTART_DEFAULTS (see resolveGracefulRestart). */
  gracefulRestart?: GracefulRestartConfig;
  evpn: {
    advertiseLocalMacs: boolean;
    aggregation: { enabled: boolean; windowSeconds: number };
    mobility: { dupDetectMoves: number; dupDetectSeconds: number };
    vnis: BgpVniOverride[];
  };
}

// ---------------------------------------------------------------------------
// Validators

function ipProblem(s: string): string | undefined {
  if (isIPv4(s)) {
    const n = tryParseIpv4(s);
    if (n === undefined) return "is not a valid IP address";
    if (n === 0) return "is the unspecified address";
    if (n >>> 28 === 0xe) return "is a multicast address";
    if (n === 0xffffffff) return "is the broadcast address";
    return undefined;
  }
  if (isIPv6(s)) {
    if (/^::0*$/.test(s)) return "is the unspecified address";
    if (/^ff/i.test(s)) return "is a multicast address";
    return undefined;
  }
  return "is not a valid IP address";
}

/** A peer address: IPv4 or IPv6 unicast (loopback allowed: tests and same-box peers). */
const peerAddress = str((s, label) => {
  const why = ipProblem(s);
  return why ? `${label} ${JSON.stringify(s)} ${why}` : undefined;
});

const routerId = str((s, label) => {
  const n = tryParseIpv4(s);
  if (n === undefined) return `${label} ${JSON.stringify(s)} is not a valid IPv4 address`;
  if (n === 0) return `${label} must not be 0.0.0.0 (RFC 6286 §2.1)`;
  return undefined;
});

/** "HOST", "HOST:PORT" or "[V6]:PORT"; normalised to { host, port }. */
const listenAddr: V<{ host: string; port: number }> = (node, r, path, label, anchor) => {
  const s = str()(node, r, path, label, anchor);
  if (s === undefined) return undefined;
  const pos = r.at(path) ?? anchor;
  let host: string;
  let portText = "179";
  const m6 = /^\[([^\]]*)\](?::([^:]*))?$/.exec(s);
  const m4 = /^([^:[\]]+)(?::([^:]*))?$/.exec(s);
  if (m6) {
    host = m6[1]!;
    if (m6[2] !== undefined) portText = m6[2];
    if (!isIPv6(host)) {
      r.error(pos, `${label} host ${host} is not an IPv6 address`);
      return undefined;
    }
  } else if (m4) {
    host = m4[1]!;
    if (m4[2] !== undefined) portText = m4[2];
    if (tryParseIpv4(host) === undefined) {
      r.error(pos, `${label} host ${host} is not an IPv4 address (write IPv6 as [addr]:port)`);
      return undefined;
    } 
  } else if (isIPv6(s)) {
    host = s;
  } else {
    r.error(pos, `${label} ${JSON.stringify(s)} must be HOST or HOST:PORT, e.g. 0.0.0.0:179 or [::]:179`);
    return undefined;
  }
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) {
    r.error(pos, `${label} port ${portText} out of range 1..65535`);
    return undefined;
  }
  return { host, port };
};

const ASN_MAX = 4294967295;

/** RD / RT text; `wildcard` allows "*:N" (import RTs only). Normalised to canonical text. */
function adminValue(what: "rd" | "rt", wildcard = false): V<string> {
  return str((s, label) => {
    if (wildcard) {
      const m = /^\*:([0-9]+)$/.exec(s);
      if (m) {
        const n = Number(m[1]);
        return n <= 0xffffffff ? { value: `*:${n}` } : `${label} ${JSON.stringify(s)}: the number after '*:' must fit 32 bits`;
      }
    }
    const v = parseAdminValue(s);
    if (!v) {
      const forms =
        what === "rd"
          ? "ASN:N (2-octet ASN, 32-bit N), IP:N or ASN:N (4-octet ASN, 16-bit N)"
          : `ASN:N, IP:N or 4-octet-ASN:N${wildcard ? ", or *:N" : ""}`;
      return `${label} ${JSON.stringify(s)} is not a valid ${what === "rd" ? "route distinguisher" : "route target"} (want ${forms})`;
    }
    return { value: formatAdminValue(v) };
  });
}

const holdTime: V<number> = (node, r, path, label, anchor) => {
  const v = int(0, 65535)(node, r, path, label, anchor);
  if (v === undefined) return undefined;
  if (v === 1 || v === 2) {
    r.error(r.at(path) ?? anchor, `${label} ${v} is not allowed: must be 0 or 3..65535 (RFC 4271 §4.2)`);
    return undefined;
  }
  return v;
};

/** TCP_MD5SIG_MAXKEYLEN */
export const MD5_PASSWORD_MAX = 80;

/**
 * A TCP-MD5 password: 1..80 printable ASCII characters (the key bytes must be
 * the same on both routers whatever their config encoding). The value is never
 * echoed in a message.
 */
const md5Password: V<string> = (node, r, path, label, anchor) => {
  const n = r.resolve(node);
  const pos = r.at(path) ?? anchor;
  if (!isScalar(n) || typeof n.value !== "string") {
    r.error(pos, `${label} must be a string (put the password in quotes)`);
    return undefined;
  }
  const s = n.value;
  if (s.length < 1 || s.length > MD5_PASSWORD_MAX) {
    r.error(pos, `${label} must be 1..${MD5_PASSWORD_MAX} characters long, got ${s.length}`);
    return undefined;
  }
  const bad = [...s].findIndex((c) => c < " " || c > "~");
  if (bad >= 0) {
    r.error(pos, `${label}: character ${bad + 1} is not printable ASCII (space to ~)`);
    return undefined;
  }
  return s;
};

const role = str((s, label) =>
  s === "peer" || s === "rr-client" ? undefined : `${label} ${JSON.stringify(s)} must be peer or rr-client`,
);

export const bgpSchema = obj({
  asn: req(int(1, ASN_MAX)),
  router_id: req(routerId),
  listen: opt(listenAddr, () => ({ host: "0.0.0.0", port: 179 })),
  neighbors: opt(
    list(
      obj({
        address: req(peerAddress),
        remote_asn: req(int(1, ASN_MAX)),
        role: opt(role, "peer"),
        description: opt(str()),
        hold_time: opt(holdTime, 90),
        passive: opt(bool(), false),
        port: opt(int(1, 65535), 179),
        aggregation: opt(bool()),
        md5_password: opt(md5Password),
        ttl_security: opt(int(1, 254)),
        max_prefixes: opt(int(1, 4294967295)),
        max_prefixes_restart: opt(int(0, 86400)),
        smet: opt(bool()),
      }),
    ),
    () => [],
  ),
  route_reflector: opt(obj({ cluster_id: opt(routerId) })),
  graceful_restart: opt(
    obj({
      enabled: opt(bool(), GRACEFUL_RESTART_DEFAULTS.enabled),
      restart_time: opt(int(1, 4095), GRACEFUL_RESTART_DEFAULTS.restartTime),
      stale_time: opt(int(1, 4095), GRACEFUL_RESTART_DEFAULTS.staleTime),
    }),
  ),
  evpn: section(
    obj({
      advertise_local_macs: opt(bool(), true),
      aggregation: section(
        obj({
          enabled: opt(bool(), true),
          window_seconds: opt(int(0, 600), 5),
        }),
      ),
      mobility: section(
        obj({
          dup_detect_moves: opt(int(2, 1000), 5),
          dup_detect_seconds: opt(int(1, 3600), 180),
        }),
      ),
      vnis: opt(
        list(
          obj({
            vni: req(int(1, 16777215)),
            rd: opt(adminValue("rd")),
            import_rt: opt(list(adminValue("rt", true), { min: 1, itemLabel: "import_rt entry" })),
            export_rt: opt(list(adminValue("rt"), { min: 1, itemLabel: "export_rt entry" })),
          }),
        ),
        () => [],
      ),
    }),
  ),
});

export type RawBgp = NonNullable<ReturnType<typeof bgpSchema>>;

// ---------------------------------------------------------------------------
// Cross-field rules

/** `declaredVnis`: the top-level VNIs (undefined when some were invalid: skip the membership check). */
export function checkBgpSemantics(bgp: RawBgp, r: Report, declaredVnis: Set<number> | undefined): void {
  const at = (path: Path): Pos => r.at(path) ?? { line: 1, col: 1 };
  const keyAt = (path: Path): Pos => r.keyAt(path) ?? at(path);
  const base = ["bgp"];

  const seen = new Map<string, Pos>();
  bgp.neighbors?.forEach((n, i) => {
    if (!n) return;
    const p = [...base, "neighbors", i];
    const who = n.address ?? `neighbors[${i}]`;
    if (n.address !== undefined) {
      const key = n.address.toLowerCase();
      const first = seen.get(key);
      if (first) r.error(at([...p, "address"]), `duplicate neighbor ${n.address} (first at line ${first.line})`);
      else seen.set(key, at([...p, "address"]));
      if (n.address === bgp.routerId && bgp.routerId !== undefined) {
        r.error(at([...p, "address"]), `neighbor ${n.address} is this switch's own router_id`);
      }
    }
    if (n.role === "rr-client" && n.remoteAsn !== undefined && bgp.asn !== undefined && n.remoteAsn !== bgp.asn) {
      r.error(
        at([...p, "role"]),
        `neighbor ${who} is an rr-client but remote_asn ${n.remoteAsn} is not asn ${bgp.asn} (route reflection is iBGP only, RFC 4456)`,
      );
    }
    if (r.has([...p, "max_prefixes_restart"]) && !r.has([...p, "max_prefixes"])) {
      r.error(keyAt([...p, "max_prefixes_restart"]), `neighbor ${who}: max_prefixes_restart needs max_prefixes`);
    }
  });

  const vnis = new Map<number, Pos>();
  const rds = new Map<string, Pos>();
  bgp.evpn?.vnis?.forEach((v, i) => {
    if (!v) return;
    const p = [...base, "evpn", "vnis", i];
    if (v.vni !== undefined) {
      const pos = at([...p, "vni"]);
      const first = vnis.get(v.vni);
      if (first) r.error(pos, `duplicate evpn vni ${v.vni} (first at line ${first.line})`);
      else vnis.set(v.vni, pos);
      if (declaredVnis && !declaredVnis.has(v.vni)) r.error(pos, `evpn vni ${v.vni} is not declared under vnis`);
    }
    if (v.rd !== undefined) {
      const pos = at([...p, "rd"]);
      const first = rds.get(v.rd);
      if (first) r.error(pos, `rd ${v.rd} is used by more than one vni (first at line ${first.line})`);
      else rds.set(v.rd, pos);
    }
  });
}

// ---------------------------------------------------------------------------
// Build

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`config loader bug: bgp ${what} missing after a clean check`);
  return v;
}

export function buildBgp(raw: RawBgp): BgpConfig {
  const evpn = need(raw.evpn, "evpn");
  const agg = need(evpn.aggregation, "evpn.aggregation");
  const mob = need(evpn.mobility, "evpn.mobility");
  const routerIdV = need(raw.routerId, "router_id");
  const out: BgpConfig = {
    asn: need(raw.asn, "asn"),
    routerId: routerIdV,
    listen: need(raw.listen, "listen"),
    neighbors: need(raw.neighbors, "neighbors").map((n0) => {
      const n = need(n0, "neighbor");
      const nb: BgpNeighborConfig = {
        address: need(n.address, "neighbor address"),
        remoteAsn: need(n.remoteAsn, "remote_asn"),
        role: need(n.role, "role") as "peer" | "rr-client",
        holdTime: need(n.holdTime, "hold_time"),
        passive: need(n.passive, "passive"),
        port: need(n.port, "port"),
      };
      if (n.description !== undefined) nb.description = n.description;
      if (n.aggregation !== undefined) nb.aggregation = n.aggregation;
      if (n.md5Password !== undefined) nb.md5Password = n.md5Password;
      if (n.ttlSecurity !== undefined) nb.ttlSecurity = n.ttlSecurity;
      if (n.maxPrefixes !== undefined) nb.maxPrefixes = n.maxPrefixes;
      if (n.maxPrefixesRestart !== undefined) nb.maxPrefixesRestart = n.maxPrefixesRestart;
      if (n.smet === true) nb.smet = true;
      return nb;
    }),
    evpn: {
      advertiseLocalMacs: need(evpn.advertiseLocalMacs, "advertise_local_macs"),
      aggregation: { enabled: need(agg.enabled, "aggregation.enabled"), windowSeconds: need(agg.windowSeconds, "window_seconds") },
      mobility: { dupDetectMoves: need(mob.dupDetectMoves, "dup_detect_moves"), dupDetectSeconds: need(mob.dupDetectSeconds, "dup_detect_seconds") },
      vnis: need(evpn.vnis, "evpn.vnis").map((v0) => {
        const v = need(v0, "evpn vni");
        const o: BgpVniOverride = { vni: need(v.vni, "vni") };
        if (v.rd !== undefined) o.rd = v.rd;
        if (v.importRt !== undefined) o.importRt = v.importRt.map((x) => need(x, "import_rt"));
        if (v.exportRt !== undefined) o.exportRt = v.exportRt.map((x) => need(x, "export_rt"));
        return o;
      }),
    },
  };
  const gr = raw.gracefulRestart;
  if (gr !== undefined) {
    out.gracefulRestart = {
      enabled: need(gr.enabled, "graceful_restart.enabled"),
      restartTime: need(gr.restartTime, "graceful_restart.restart_time"),
      staleTime: need(gr.staleTime, "graceful_restart.stale_time"),
    };
  }
  const rr = raw.routeReflector;
  const anyClient = out.neighbors.some((n) => n.role === "rr-client");
  if (rr !== undefined || anyClient) out.routeReflector = { clusterId: rr?.clusterId ?? routerIdV };
  return out;
}

// ---------------------------------------------------------------------------
// Per-VNI RD / RT resolution (auto-derivation documented at the top)

/** A route target to match on import: a concrete value, or "any AS, this number". */
export type ImportRt = { kind: "exact"; rt: AdminAssigned } | { kind: "any-as"; value: number };

export interface ResolvedEvpnVni {
  vni: number;
  rd: AdminAssigned;
  importRts: ImportRt[];
  exportRts: AdminAssigned[];
}

export function autoRouteTarget(asn: number, vni: number): AdminAssigned {
  return { format: "as2", asn: asn & 0xffff, value: vni };
}

function parseRt(s: string): ImportRt {
  const m = /^\*:([0-9]+)$/.exec(s);
  if (m) return { kind: "any-as", value: Number(m[1]) };
  const v = parseAdminValue(s);
  if (!v) throw new Error(`bad route target ${s} after a clean config check`);
  return { kind: "exact", rt: v };
}

/** RD and RTs for each local VNI, in the order given (which decides the auto RD index). */
export function resolveEvpnVnis(bgp: BgpConfig, localVnis: readonly number[]): ResolvedEvpnVni[] {
  const over = new Map(bgp.evpn.vnis.map((v) => [v.vni, v]));
  return localVnis.map((vni, i) => {
    const o = over.get(vni);
    const auto = autoRouteTarget(bgp.asn, vni);
    const rd: AdminAssigned = o?.rd !== undefined ? parseAdminValue(o.rd)! : { format: "ipv4", ip: bgp.routerId, value: i + 1 };
    const importRts: ImportRt[] = o?.importRt
      ? o.importRt.map(parseRt)
      : [
          { kind: "exact", rt: auto },
          { kind: "any-as", value: vni },
        ];
    const exportRts = o?.exportRt ? o.exportRt.map((s) => parseAdminValue(s)!) : [auto];
    return { vni, rd, importRts, exportRts };
  });
}

/** Does a route target match an import rule? */
export function importMatches(rule: ImportRt, rt: AdminAssigned): boolean {
  if (rule.kind === "any-as") return rt.format !== "ipv4" && rt.value === rule.value;
  return rule.rt.format === rt.format && rt.value === rule.rt.value && (rt.format === "ipv4" ? rt.ip === (rule.rt as { ip: string }).ip : (rt as { asn: number }).asn === (rule.rt as { asn: number }).asn);
}

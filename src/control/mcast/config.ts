// The `multicast:` section of the switch config (IGMP snooping and per-group
// replication), and the same rules for a group's remote list an external
// controller sends over the management API as JSON. The multicast feature owns
// its section: hooked into src/config/schema.ts (multicastSchema, and
// mcastMembersSchema for tables.mcast_members), semantic.ts
// (checkMulticastSemantics) and load.ts (buildMulticast), with the same
// "file:line:col: message" quality as the rest of the file.
//
//   multicast:
//     enabled: true                  # default false: the stage is not compiled into the fast path
//     query_interval: 125            # seconds, ms precision (RFC 3376 defaults throughout)
//     query_response_interval: 10    # seconds, < query_interval
//     last_member_query_interval: 1  # seconds
//     last_member_query_count: 2     # default = robustness
//     robustness: 2                  # 1..7
//     startup_query_interval: 31.25  # default query_interval / 4
//     startup_query_count: 2         # default = robustness
//     max_groups_per_port: 256
//     igmp_rate: 100                 # IGMP frames per second and port to the control plane (0 = no limit); beyond it dropped, counted
//     replicator_address: 10.0.0.101 # where leaves send the one copy when this switch is a VNI's replication point
//                                    # (unicast, not vtep.source_ip; on lo and routed in the underlay like the VTEP address)
//     vnis:
//       - vni: 100                   # declared under vnis, once here
//         snooping: true             # default true
//         querier: false             # default false
//         querier_address: 0.0.0.0   # default 0.0.0.0 (proxy querier, RFC 4541); else unicast
//         unregistered: flood        # flood | drop
//         replicator: false          # this switch fans out the VNI's group traffic for the others (needs replicator_address)
//         groups:                    # static remote members
//           - group: 239.1.1.1       # 224.0.0.0/4, not 224.0.0.0/24
//             source: 10.1.0.5       # optional: (S,G); absent = (*,G)
//             remotes: [10.0.0.2]    # unicast, not vtep.source_ip, no duplicates
//
// One set of validators and group rules serves both paths: the schema
// validators run over the YAML AST, or over the JSON body turned into one
// (ValueReport, which names fields by path instead of line:col); the group
// rules yield Issues that each path words in its own way.

import { isScalar } from "yaml";
import { constants } from "../../codegen/tables.ts";
import { ipv4UnicastProblem, tryParseIpv4 } from "../../config/net.ts";
import {
  VNI_MAX,
  VNI_MIN,
  ValueReport,
  bool,
  describe,
  formatPath,
  int,
  ipv4Unicast,
  list,
  obj,
  opt,
  req,
  str,
  type Path,
  type Pos,
  type Report,
  type V,
} from "../../config/schema.ts";
import type { SwitchConfig } from "../../config/types.ts";

export interface MulticastTimers {
  queryIntervalMs: number; // default 125 s
  queryResponseIntervalMs: number; // default 10 s, < queryIntervalMs
  lastMemberQueryIntervalMs: number; // default 1 s
  lastMemberQueryCount: number; // default robustness
  robustness: number; // 1..7, default 2
  startupQueryIntervalMs: number; // default queryIntervalMs / 4
  startupQueryCount: number; // default robustness
}

/** Remote VTEPs with members of one group, set by config or a controller. */
export interface StaticGroup {
  group: string; // dotted quad in 224.0.0.0/4, outside 224.0.0.0/24
  /** (S,G) when present (unicast); (*,G) when absent. */
  source?: string;
  remotes: string[]; // unicast, not the local source_ip, no duplicates
}

export interface MulticastVni {
  vni: number; // declared under vnis
  snooping: boolean; // default true
  querier: boolean; // default false
  querierAddress: string; // default "0.0.0.0" (proxy querier); else unicast
  unregistered: "flood" | "drop"; // default "flood"
  replicator: boolean; // default false
  groups: StaticGroup[];
}

export interface MulticastConfig {
  enabled: boolean; // default false: the stage is not compiled in
  timers: MulticastTimers;
  maxGroupsPerPort: number; // default 256
  igmpRate: number; // IGMP frames per second and access port copied to the control plane, default 100, 0 = no limit
  /** where leaves send the one copy of a group packet for this switch to fan out (a VNI with replicator: true needs it) */
  replicatorAddress?: string;
  vnis: MulticastVni[];
}

export const MULTICAST_UNREGISTERED: readonly MulticastVni["unregistered"][] = ["flood", "drop"];

/** tables.mcast_groups / tables.mcast_members when the file does not set them. */
export const MCAST_GROUPS_DEFAULT = 4096;
export const MCAST_MEMBERS_DEFAULT = 32;
/** The most tables.mcast_members may be: the group replication loop's bound. */
export const MCAST_MEMBERS_MAX: number = constants.MCAST_MEMBERS_MAX;

/** RFC 3376 defaults, in milliseconds (the counts follow robustness). */
const QUERY_INTERVAL_MS = 125_000;
const QUERY_RESPONSE_INTERVAL_MS = 10_000;
const LAST_MEMBER_QUERY_INTERVAL_MS = 1_000;
const ROBUSTNESS = 2;
/** The largest intervals an IGMPv3 query can carry (QQIC; Max Resp Code), in seconds. */
const QQIC_MAX_S = 31744;
const MAX_RESP_MAX_S = 3174.4;

// ---------------------------------------------------------------------------
// Validators

/** Seconds (decimals allowed, to the millisecond) in (0, max], as milliseconds. */
function seconds(max: number): V<number> {
  return (node, r, _path, label, anchor) => {
    const n = r.resolve(node);
    const pos = r.posOf(n, anchor);
    if (!isScalar(n) || typeof n.value !== "number" || !Number.isFinite(n.value)) {
      r.error(pos, `${label} must be a number of seconds, got ${describe(n)}`);
      return undefined;
    }
    const s = n.value;
    const shown = describe(n);
    if (s <= 0) {
      r.error(pos, `${label} ${shown} must be more than 0 seconds`);
      return undefined;
    }
    if (s > max) {
      r.error(pos, `${label} ${shown} must be at most ${max} seconds (the most an IGMPv3 query can carry)`);
      return undefined;
    }
    const ms = Math.round(s * 1000);
    if (Math.abs(s * 1000 - ms) > 1e-6) {
      r.error(pos, `${label} ${shown} must be a whole number of milliseconds (at most 3 decimals)`);
      return undefined;
    }
    return ms;
  };
}

function word<T extends string>(words: readonly T[]): V<T> {
  return str((s, label) =>
    (words as readonly string[]).includes(s) ? undefined : `${label} ${JSON.stringify(s)} must be one of: ${words.join(", ")}`,
  ) as V<T>;
}

/** An IPv4 group address: 224.0.0.0/4 but not the link-local 224.0.0.0/24. */
const groupAddress = str((s, label) => {
  const n = tryParseIpv4(s);
  if (n === undefined) return `${label} ${JSON.stringify(s)} is not a valid IPv4 address`;
  if (n >>> 28 !== 0xe) return `${label} ${s} is not a multicast group address (224.0.0.0/4)`;
  if (n >>> 8 === 0xe00000) return `${label} ${s} is a link-local group (224.0.0.0/24): those are always flooded, never snooped`;
  return undefined;
});

/** The querier's source address: unicast, or 0.0.0.0 (proxy querier). */
const querierAddress = str((s, label) => {
  const n = tryParseIpv4(s);
  if (n === undefined) return `${label} ${JSON.stringify(s)} is not a valid IPv4 address`;
  const why = n === 0 ? undefined : ipv4UnicastProblem(n);
  return why ? `${label} ${s} must be a unicast IPv4 address or 0.0.0.0 (${why})` : undefined;
});

/** A remote VTEP of a group: named "remote" in a file, by its path in JSON. */
const remote: V<string> = (node, r, path, _label, anchor) =>
  ipv4Unicast(node, r, path, r instanceof ValueReport ? r.label(path) : "remote", anchor);

/** `tables.mcast_members`: 1..MCAST_MEMBERS_MAX, the bound of the loop that
 *  copies a group's frames to its member ports and remote VTEPs. */
export const mcastMembersSchema: V<number> = (node, r, path, label, anchor) => {
  const n = r.resolve(node);
  if (isScalar(n) && typeof n.value === "number" && n.value > MCAST_MEMBERS_MAX) {
    r.error(
      r.posOf(n, anchor),
      `${label} ${describe(n)} is more than ${MCAST_MEMBERS_MAX}: the fast path copies a group's frames to at most ${MCAST_MEMBERS_MAX} member ports and remote VTEPs`,
    );
    return undefined;
  }
  return int(1, MCAST_MEMBERS_MAX)(node, r, path, label, anchor);
};

// Built on first use: schema.ts imports this module, so its constants
// (ipv4Unicast, VNI_MIN) are not initialised yet while this module loads.
function makeSchemas() {
  const vni = int(VNI_MIN, VNI_MAX);
  const count = int(1, 255);
  const group = obj({
    group: req(groupAddress),
    source: opt(ipv4Unicast),
    remotes: req(list(remote, { min: 1 })),
  });
  const vniEntry = obj({
    vni: req(vni),
    snooping: opt(bool(), true),
    querier: opt(bool(), false),
    querier_address: opt(querierAddress, "0.0.0.0"),
    unregistered: opt(word(MULTICAST_UNREGISTERED), "flood"),
    replicator: opt(bool(), false),
    groups: opt(list(group), () => []),
  });
  const multicast = obj({
    enabled: opt(bool(), false),
    query_interval: opt(seconds(QQIC_MAX_S), QUERY_INTERVAL_MS),
    query_response_interval: opt(seconds(MAX_RESP_MAX_S), QUERY_RESPONSE_INTERVAL_MS),
    last_member_query_interval: opt(seconds(MAX_RESP_MAX_S), LAST_MEMBER_QUERY_INTERVAL_MS),
    last_member_query_count: opt(count),
    robustness: opt(int(1, 7), ROBUSTNESS),
    startup_query_interval: opt(seconds(QQIC_MAX_S)),
    startup_query_count: opt(count),
    max_groups_per_port: opt(int(1, 1048576), 256),
    igmp_rate: opt(int(0, 1000000), 100),
    replicator_address: opt(ipv4Unicast),
    vnis: opt(list(vniEntry), () => []),
  });
  // A controller's remote list: an empty one means "no remote members".
  const remoteGroup = obj({
    vni: req(vni),
    group: req(groupAddress),
    source: opt(ipv4Unicast),
    remotes: req(list(remote)),
  });
  return { group, multicast, remoteGroup };
}

type Schemas = ReturnType<typeof makeSchemas>;
let schemas: Schemas | undefined;
const schema = (): Schemas => (schemas ??= makeSchemas());

export type RawMulticast = NonNullable<ReturnType<Schemas["multicast"]>>;
/** A group as the schema leaves it (remotes may hold undefined for a bad entry). */
type RawGroup = NonNullable<ReturnType<Schemas["group"]>>;

/** The `multicast:` section's validator (absent section = its defaults, disabled). */
export const multicastSchema: V<RawMulticast> = (...a) => schema().multicast(...a);

// ---------------------------------------------------------------------------
// Group rules, shared by the file and the JSON path

/** One broken rule of a group, worded by the path that found it. */
interface Issue {
  /** The field, relative to the group (YAML / JSON keys). */
  path: Path;
  /** In a file, point at the field's key rather than its value. */
  key?: boolean;
  /** How a file names the field ("remote"). */
  what: string;
  /** The offending value, shown after the field's name. */
  value?: string;
  text: string;
  /** In JSON, the text when it differs from a file's. */
  json?: string;
  /** What this repeats (relative to the group). */
  first?: Path;
}

function jsonText(x: Issue): string {
  const value = x.value !== undefined ? `${x.value} ` : "";
  const first = x.first ? ` (first at ${formatPath(x.first)})` : "";
  return `${formatPath(x.path)}: ${value}${x.json ?? x.text}${first}`;
}

/** Rules within one group's remote list. `members`: the replication bound,
 *  and what to add after it in a message ("(the default)"). */
function groupIssues(g: RawGroup, sourceIp: string | undefined, members: { limit: number; note: string } | undefined): Issue[] {
  const out: Issue[] = [];
  const seen = new Map<string, number>();
  g.remotes?.forEach((ip, j) => {
    if (ip === undefined) return;
    const path = ["remotes", j];
    const first = seen.get(ip);
    if (ip === sourceIp) out.push({ path, what: "remote", value: ip, text: "is the local source_ip" });
    else if (first !== undefined) out.push({ path, what: "remote", value: ip, text: "is listed more than once", first: ["remotes", first] });
    else seen.set(ip, j);
  });
  if (members && seen.size > members.limit) {
    const n = seen.size;
    const what = g.group !== undefined ? `group ${g.group}` : "group";
    const bound = `more than tables.mcast_members ${members.limit}${members.note}`;
    out.push({ path: ["remotes"], key: true, what, text: `has ${n} remote VTEPs, ${bound}`, json: `${n} remote VTEPs, ${bound}` });
  }
  return out;
}

/** "(S, G)" of a group entry, for messages. */
function groupName(g: { group?: string; source?: string }): string {
  return `group ${g.group}${g.source !== undefined ? ` (source ${g.source})` : " (any source)"}`;
}

/** `declaredVnis`: the top-level VNIs (undefined when some were invalid: skip
 *  the membership check). `sourceIp`: vtep.source_ip when valid. `tables`:
 *  the (raw) table sizes, where valid. */
export function checkMulticastSemantics(
  m: RawMulticast,
  r: Report,
  ctx: {
    declaredVnis: ReadonlySet<number> | undefined;
    sourceIp: string | undefined;
    tables: { mcastGroups?: number; mcastMembers?: number } | undefined;
  },
): void {
  const at = (path: Path): Pos => r.at(path) ?? { line: 1, col: 1 };
  const base = ["multicast"];
  /** " (the default)" after a value the file does not set. */
  const dflt = (path: Path) => (r.has(path) ? "" : " (the default)");
  const secs = (ms: number) => String(ms / 1000);

  // --- timers -----------------------------------------------------------------
  const qi = m.queryInterval;
  const qri = m.queryResponseInterval;
  if (qi !== undefined && qri !== undefined && qri >= qi) {
    const qiPath = [...base, "query_interval"];
    const qriPath = [...base, "query_response_interval"];
    if (r.has(qriPath)) {
      r.error(at(qriPath), `query_response_interval ${secs(qri)} must be less than query_interval ${secs(qi)}${dflt(qiPath)}`);
    } else {
      r.error(at(qiPath), `query_interval ${secs(qi)} must be more than query_response_interval ${secs(qri)} (the default)`);
    }
  }

  if (m.enabled === false && m.vnis !== undefined && m.vnis.length > 0) {
    r.error(r.keyAt([...base, "vnis"]) ?? at(base), "multicast.enabled is false: remove the vnis or enable multicast");
  }

  // --- per VNI ----------------------------------------------------------------
  const membersLimit = ctx.tables?.mcastMembers;
  const members = membersLimit !== undefined ? { limit: membersLimit, note: dflt(["tables", "mcast_members"]) } : undefined;
  const listed = new Map<number, Pos>();
  /** where each static group entry is (for tables.mcast_groups) */
  const groups: Path[] = [];
  if (m.replicatorAddress !== undefined && m.replicatorAddress === ctx.sourceIp) {
    r.error(at([...base, "replicator_address"]), `replicator_address ${m.replicatorAddress} is vtep.source_ip: a replication point needs an address of its own (leaves' copies to it are told apart by it)`);
  }
  m.vnis?.forEach((v, i) => {
    if (!v) return;
    const vp = [...base, "vnis", i];
    if (v.replicator === true && m.replicatorAddress === undefined && !r.has([...base, "replicator_address"])) {
      r.error(at([...vp, "replicator"]), `${v.vni !== undefined ? `vni ${v.vni}` : "this vni"} is a replication point: multicast.replicator_address must say where leaves send to it`);
    }
    if (v.vni !== undefined) {
      const pos = at([...vp, "vni"]);
      const first = listed.get(v.vni);
      if (first) r.error(pos, `multicast vni ${v.vni} is listed more than once (first at line ${first.line})`);
      else listed.set(v.vni, pos);
      if (ctx.declaredVnis && !ctx.declaredVnis.has(v.vni)) r.error(pos, `multicast vni ${v.vni} is not declared under vnis`);
    }

    /** "source/group" -> where its first entry's group is */
    const entries = new Map<string, Pos>();
    v.groups?.forEach((g, j) => {
      if (!g) return;
      const gp = [...vp, "groups", j];
      groups.push(gp);
      if (g.group !== undefined && (g.source !== undefined || !r.has([...gp, "source"]))) {
        const k = `${g.source ?? "*"}/${g.group}`;
        const pos = at([...gp, "group"]);
        const first = entries.get(k);
        const inVni = v.vni !== undefined ? ` in vni ${v.vni}` : "";
        if (first) r.error(pos, `${groupName(g)} is listed more than once${inVni} (first at line ${first.line})`);
        else entries.set(k, pos);
      }
      for (const x of groupIssues(g, ctx.sourceIp, members)) {
        const q = [...gp, ...x.path];
        const value = x.value !== undefined ? ` ${x.value}` : "";
        const first = x.first ? ` (first at line ${at([...gp, ...x.first]).line})` : "";
        r.error((x.key ? r.keyAt(q) : undefined) ?? at(q), `${x.what}${value} ${x.text}${first}`);
      }
    });
  });

  // --- table capacity -----------------------------------------------------------
  const groupLimit = ctx.tables?.mcastGroups;
  if (groupLimit !== undefined && groups.length > groupLimit) {
    const key = ["tables", "mcast_groups"];
    const beyond = groups.map((p) => at(p)).sort((a, b) => a.line - b.line || a.col - b.col)[groupLimit];
    const pos = r.has(key) ? at(key) : (beyond ?? { line: 1, col: 1 });
    r.error(pos, `${groups.length} static multicast groups, more than tables.mcast_groups ${groupLimit}${dflt(key)}`);
  }
}

// ---------------------------------------------------------------------------
// Build

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`config loader bug: multicast ${what} missing after a clean check`);
  return v;
}

function buildGroup(g: RawGroup | undefined): StaticGroup {
  const raw = need(g, "group");
  const out: StaticGroup = { group: need(raw.group, "group address"), remotes: need(raw.remotes, "remotes").map((ip) => need(ip, "remote")) };
  if (raw.source !== undefined) out.source = raw.source;
  return out;
}

/** Raw (checked, error-free) -> MulticastConfig: seconds become milliseconds,
 *  the derived defaults are filled. */
export function buildMulticast(raw: RawMulticast): MulticastConfig {
  const robustness = need(raw.robustness, "robustness");
  const queryIntervalMs = need(raw.queryInterval, "query_interval");
  return {
    enabled: need(raw.enabled, "enabled"),
    timers: {
      queryIntervalMs,
      queryResponseIntervalMs: need(raw.queryResponseInterval, "query_response_interval"),
      lastMemberQueryIntervalMs: need(raw.lastMemberQueryInterval, "last_member_query_interval"),
      lastMemberQueryCount: raw.lastMemberQueryCount ?? robustness,
      robustness,
      startupQueryIntervalMs: raw.startupQueryInterval ?? Math.max(1, Math.round(queryIntervalMs / 4)),
      startupQueryCount: raw.startupQueryCount ?? robustness,
    },
    maxGroupsPerPort: need(raw.maxGroupsPerPort, "max_groups_per_port"),
    igmpRate: need(raw.igmpRate, "igmp_rate"),
    ...(raw.replicatorAddress !== undefined ? { replicatorAddress: raw.replicatorAddress } : {}),
    vnis: need(raw.vnis, "vnis").map((e) => {
      const v = need(e, "vni entry");
      return {
        vni: need(v.vni, "vni"),
        snooping: need(v.snooping, "snooping"),
        querier: need(v.querier, "querier"),
        querierAddress: need(v.querierAddress, "querier_address"),
        unregistered: need(v.unregistered, "unregistered"),
        replicator: need(v.replicator, "replicator"),
        groups: need(v.groups, "groups").map(buildGroup),
      };
    }),
  };
}

// ---------------------------------------------------------------------------
// Remote lists over the management API

/** Check a group's remote list a controller sent as JSON
 *  (`{ vni, group, source?, remotes }`, the YAML entry's keys) against the
 *  switch's config: the vni must be one of its multicast VNIs, and the group
 *  follows the file's rules; an empty `remotes` means "no remote members".
 *  Problems name the field: `remotes[1]: 10.0.0.1 is the local source_ip`. */
export function parseRemoteGroupJson(
  body: unknown,
  cfg: SwitchConfig,
): { ok: true; value: { vni: number } & StaticGroup } | { ok: false; errors: string[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    const got = body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`;
    return { ok: false, errors: [`body must be a JSON object, got ${got}`] };
  }
  const r = new ValueReport(body);
  const raw = schema().remoteGroup(r.root, r, [], "group", { line: 1, col: 1 });
  if (raw) {
    const issues: string[] = [];
    if (raw.vni !== undefined && !cfg.multicast.vnis.some((v) => v.vni === raw.vni)) {
      const why = cfg.multicast.enabled ? "" : " (multicast is disabled)";
      issues.push(`vni: ${raw.vni} is not a multicast VNI on this switch${why}`);
    }
    const members = { limit: cfg.tables.mcastMembers, note: "" };
    for (const x of groupIssues(raw, cfg.vtep.sourceIp, members)) issues.push(jsonText(x));
    for (const msg of issues) r.error({ line: 1, col: 1 }, msg);
  }
  if (r.count > 0 || !raw) return { ok: false, errors: r.problems() };
  return { ok: true, value: { vni: need(raw.vni, "vni"), ...buildGroup(raw) } };
}
